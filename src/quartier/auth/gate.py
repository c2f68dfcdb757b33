"""The access gate: resolves each request's principal and lets it pass only as the rules allow.

ASGI middleware in front of every route. It reads credentials from
``Authorization: Bearer <key>`` or ``X-API-Key`` (a bearer token shaped like a JWT goes to
:mod:`quartier.auth.oidc`; a device credential is held to :mod:`quartier.auth.devices`),
else a dashboard session's cookie (whose writes must pass the CSRF check of
:mod:`quartier.auth.csrf`), checks the rule of :mod:`quartier.auth.access` for the request,
and answers 401 (no, a bad, expired or revoked key, or another tenant's) or 403 (a role or
scope too small) in the one JSON error shape.
A request it lets pass carries its principal, the reader's visibility and, for writes,
an audit trail, in context variables for the layers below.
"""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

from quartier.api.responses import error_response
from quartier.auth import access, devices
from quartier.auth.context import current_principal
from quartier.auth.keys import KeyBook
from quartier.auth.oidc import TokenCheck, is_token
from quartier.auth.principal import Principal
from quartier.auth.sessions import SOURCE as SESSION
from quartier.auth.sessions import SessionBook
from quartier.errors import Forbidden, QuartierError, Unauthorized
from quartier.store import Store, audit, visibility

log = logging.getLogger(__name__)

_WRITES = ("POST", "PUT", "PATCH", "DELETE")


def credentials(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The API key a request presents, if any: ``X-API-Key``, ``Authorization: Bearer``,
    or ``Authorization: Basic`` with the key as the password (the user name is ignored),
    for clients that know only Basic auth, such as frost-sta-client."""
    for name, value in headers:
        if name == b"x-api-key":
            return value.decode("latin-1").strip()
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            if scheme.lower() == "basic" and token.strip():
                return _basic_password(token.strip())
    return None


def _basic_password(token: str) -> str:
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""  # not a key: refused as malformed
    return decoded.partition(":")[2]


class AccessGate:
    """Middleware: who is asking, and may they?"""

    def __init__(self, app: Any, store: Store, keys: KeyBook, sessions: SessionBook,
                 tokens: TokenCheck | None = None) -> None:
        self.app = app
        self.store = store
        self.keys = keys
        self.sessions = sessions
        self.tokens = tokens or TokenCheck(store, None)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        tenant, path = access.split_tenant(scope["path"])
        rule = access.rule_for(method, path)
        if rule.own_credentials:
            await self.app(scope, receive, send)
            return
        tenant_id = await self.store.tenant_id(tenant)
        if tenant_id is None:  # the route answers 404 for a tenant that does not exist
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._principal(scope, tenant_id)
            devices.admit(rule, principal, method, path)
            self._check(rule, principal, path)
            if method not in ("GET", "HEAD") and principal is not None and principal.source == SESSION:
                self.sessions.check_csrf(scope)
        except QuartierError as exc:
            await error_response(exc)(scope, receive, send)
            return
        current_principal.set(principal)
        visibility.public_only.set(principal is None or principal.device is not None)
        if method not in _WRITES or principal is None:
            await self.app(scope, receive, send)
            return
        trail = audit.AuditTrail(
            tenant_id, uuid.uuid4().hex, principal.id, principal.name, principal.role.label,
            access.action(method, path), scope["path"], _address(scope), {"method": method},
        )
        audit.current.set(trail)
        await self.app(scope, receive, self._recording(trail, send))

    async def _principal(self, scope: Any, tenant_id: int) -> Principal | None:
        key = credentials(scope["headers"])
        if key is None:  # a dashboard session's cookie, if any
            return await self.sessions.principal(scope, tenant_id)
        if is_token(key):  # an OpenID Connect token, not an API key
            return await self.tokens.principal(key, tenant_id)
        return await self.keys.principal(key, tenant_id)

    @staticmethod
    def _check(rule: access.Rule, principal: Principal | None, path: str) -> None:
        if rule.need is None:
            return
        if principal is None:
            raise Unauthorized(f"this needs the role {rule.need.label} or above: log in, or send "
                               "an API key or an OpenID Connect token")
        if principal.role < rule.need:
            raise Forbidden(f"this needs the role {rule.need.label}; {_who(principal)} has the role "
                            f"{principal.role.label}")
        area = access.area(path)
        if not principal.covers(area):
            raise Forbidden(f"the scopes of {_who(principal)} do not include {area!r}")

    def _recording(self, trail: audit.AuditTrail, send: Any) -> Any:
        """``send``, which first records a successful write that nothing recorded yet."""

        async def recording_send(message: Any) -> None:
            if (message["type"] == "http.response.start" and message["status"] < 400
                    and not trail.recorded):
                try:
                    async with self.store.transaction() as conn:
                        await trail.write(conn, self.store.dialect, status=message["status"])
                except Exception:  # the write is done; tell the operator, not the client
                    log.exception("could not record %s on %s in the audit log", trail.action,
                                  trail.target)
            await send(message)

        return recording_send


def _who(principal: Principal) -> str:
    """How a message names the principal: ``the API key qk_3f9a1c2b``, ``the user weber``."""
    kind = {"api-key": "API key", "session": "user", "oidc": "token of",
            "device": "device credential"}.get(principal.source, principal.source)
    return f"the {kind} {principal.name}"


def _address(scope: Any) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""
