"""HTTP API of a tenant's API keys (admins only). Every path also works under ``/t/{tenant}``.

    POST   /api/keys        {"name", "role", "scopes"?, "expires"?} -> 201, the key once;
                            {"name", "device": THING_ID, "expires"?}: a device credential
    GET    /api/keys        {"keys": [...]}: names, roles, prefixes; never a key or its hash
    DELETE /api/keys/{id}   revoke; 200 with the revoked key's description
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
from quartier.auth.keys import KeyBook, KeyRequest, expiry, public
from quartier.auth.principal import ALL_AREAS
from quartier.auth.roles import Role
from quartier.errors import BadRequest, NotFound
from quartier.settings import Settings
from quartier.store import Store, audit


class KeyApi:
    def __init__(self, store: Store, settings: Settings, keys: KeyBook) -> None:
        self.store = store
        self.settings = settings
        self.keys = keys

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/keys", self.create, methods=["POST"]),
            Route(prefix + "/api/keys", self.listing, methods=["GET"]),
            Route(prefix + "/api/keys/{id}", self.revoke, methods=["DELETE"]),
        ]

    async def create(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        body = await read_json(request, self.settings.max_body_bytes)
        wanted = key_request(body)
        principal = current_principal.get()
        key, described = await self.keys.create(
            tenant_id, wanted, principal.id if principal else "", audit.current.get())
        return json_response({**public(described), "key": key}, 201)

    async def listing(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"value": [public(k) for k in await self.keys.listing(tenant_id)]})

    async def revoke(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        raw = request.path_params["id"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise NotFound(f"no API key {raw!r}")
        described = await self.keys.revoke(tenant_id, int(raw), audit.current.get())
        return json_response(public(described))


def key_request(body: Any) -> KeyRequest:
    """A new key's description from a request body; 400 for anything amiss."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with name and role")
    unknown = sorted(set(body) - {"name", "role", "scopes", "expires", "device"})
    if unknown:
        raise BadRequest(f"unknown members {', '.join(unknown)}")
    if "device" in body:
        if "role" in body or "scopes" in body:
            raise BadRequest("a device credential has no role or scopes: it may only create "
                             "Observations of its Thing; leave role and scopes out")
        return KeyRequest.for_device(body.get("name"), body["device"], expiry(body.get("expires")))
    scopes = body.get("scopes", [ALL_AREAS])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise BadRequest("scopes must be a list of API areas, or ['*']")
    name = body.get("name")
    if not isinstance(name, str):
        raise BadRequest("name must be text")
    return KeyRequest(name, Role.parse(body.get("role")), tuple(scopes),
                      expiry(body.get("expires")))
