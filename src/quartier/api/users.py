"""HTTP API of a tenant's dashboard user accounts (admins only). Every path also works
under ``/t/{tenant}``.

    GET    /api/users          {"value": [...]}: names, roles, states; never a password hash
    POST   /api/users          {"name", "role", "password"} -> 201, the account
    GET    /api/users/{name}   one account
    PATCH  /api/users/{name}   {"role"?, "disabled"?, "password"?} -> 200, the account
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.auth.context import current_principal
from quartier.auth.roles import Role
from quartier.auth.users import UserBook, UserChange, public
from quartier.errors import BadRequest, NotFound
from quartier.settings import Settings
from quartier.store import Store, audit


class UserApi:
    def __init__(self, store: Store, settings: Settings, users: UserBook) -> None:
        self.store = store
        self.settings = settings
        self.users = users

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/users", self.listing, methods=["GET"]),
            Route(prefix + "/api/users", self.create, methods=["POST"]),
            Route(prefix + "/api/users/{name}", self.show, methods=["GET"]),
            Route(prefix + "/api/users/{name}", self.change, methods=["PATCH"]),
        ]

    async def listing(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"value": [public(u) for u in await self.users.listing(tenant_id)]})

    async def create(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        body = _object(await read_json(request, self.settings.max_body_bytes),
                       {"name", "role", "password"}, required=True)
        principal = current_principal.get()
        user = await self.users.create(tenant_id, body["name"], Role.parse(body["role"]),
                                       body["password"], principal.id if principal else "",
                                       audit.current.get())
        return json_response(public(user), 201)

    async def show(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        user = await self.users.find(tenant_id, request.path_params["name"])
        if user is None:
            raise NotFound(f"no user {request.path_params['name']!r}")
        return json_response(public(user))

    async def change(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        body = _object(await read_json(request, self.settings.max_body_bytes),
                       {"role", "disabled", "password"}, required=False)
        disabled = body.get("disabled")
        if disabled is not None and not isinstance(disabled, bool):
            raise BadRequest("disabled must be true or false")
        role = body.get("role")
        wanted = UserChange(None if role is None else Role.parse(role), disabled, body.get("password"))
        user = await self.users.change(tenant_id, request.path_params["name"], wanted,
                                       audit.current.get())
        return json_response(public(user))


def _object(body: Any, members: set[str], required: bool) -> dict[str, Any]:
    """``body`` as a JSON object of (all, when ``required``, else some of) ``members``."""
    names = ", ".join(sorted(members))
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object with {names}")
    unknown = sorted(set(body) - members)
    if unknown:
        raise BadRequest(f"unknown members {', '.join(unknown)}; known are {names}")
    missing = sorted(members - set(body)) if required else ([] if body else sorted(members))
    if missing and required:
        raise BadRequest(f"the body lacks {', '.join(missing)}")
    if missing:
        raise BadRequest(f"the body must hold at least one of {names}")
    return body
