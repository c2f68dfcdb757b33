"""HTTP API of dashboard sessions. Every path also works under ``/t/{tenant}``.

    POST   /api/session   {"name", "password"} -> 200, the session (and its cookie)
    GET    /api/session   who is asking: the user, role and CSRF token of the session, if any
    DELETE /api/session   log out: the session ends and its cookie is taken away
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.auth import csrf
from quartier.auth.context import current_principal
from quartier.auth.login import Login
from quartier.auth.sessions import Session, SessionBook, session_id
from quartier.errors import BadRequest
from quartier.settings import Settings
from quartier.store import Store


def describe(session: Session) -> dict[str, Any]:
    return {"user": session.user, "role": session.role.label, "principal": session.principal.id,
            "source": session.principal.source, "csrfToken": session.csrf_token,
            "expires": session.expires.isoformat().replace("+00:00", "Z")}


class SessionApi:
    def __init__(self, store: Store, settings: Settings, sessions: SessionBook, login: Login) -> None:
        self.store = store
        self.settings = settings
        self.sessions = sessions
        self.login = login

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/session", self.create, methods=["POST"]),
            Route(prefix + "/api/session", self.show, methods=["GET"]),
            Route(prefix + "/api/session", self.delete, methods=["DELETE"]),
        ]

    async def create(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        # Against login forgery: another site's page may not log a browser in.
        csrf.check_origin(request.scope, self.settings.base_url)
        body = await read_json(request, self.settings.max_body_bytes)
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
                or not isinstance(body.get("password"), str):
            raise BadRequest("the body must be a JSON object with the name and password as text")
        address = request.client.host if request.client else ""
        session = await self.login.log_in(request.scope, tenant_id, body["name"], body["password"],
                                          address)
        response = json_response(describe(session))
        self.sessions.set_cookie(response, request.scope, session)
        return response

    async def show(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        principal = current_principal.get()
        if principal is not None and principal.source == "session":
            session = await self.sessions.current(request.scope, tenant_id)
            if session is not None:
                return json_response(describe(session))
        if principal is None:
            return json_response({"user": None, "role": None, "principal": None, "source": None,
                                  "csrfToken": None, "expires": None})
        return json_response({"user": None, "role": principal.role.label, "principal": principal.id,
                              "source": principal.source, "csrfToken": None, "expires": None})

    async def delete(self, request: Request) -> Response:
        await request_tenant(self.store, request)
        raw = session_id(request.scope)
        if raw is not None and raw.isascii():
            await self.sessions.close(raw)
        response = json_response({"user": None})
        self.sessions.set_cookie(response, request.scope, None)
        return response
