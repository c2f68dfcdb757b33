"""Dashboard sessions: kept in the database (any worker serves any request), found by the
SHA-256 of the random id that only the browser's ``HttpOnly`` cookie holds.

A session ends after ``session_idle_minutes`` without a request, ``session_max_hours``
after its login in any case, at logout, and when its account is disabled or gets a new
password. Each login makes a new id (the one the browser brought, if any, is dropped), so
an id planted before the login is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import cookie_parser
from starlette.responses import Response

from quartier.auth import csrf
from quartier.auth.principal import Principal
from quartier.auth.roles import Role
from quartier.model.times import now_utc
from quartier.model.values import TIME
from quartier.settings import Settings
from quartier.store import Store
from quartier.store.audit import AuditTrail

COOKIE = "quartier_session"
SOURCE = "session"
# A session's last request is noted at most this often: idle timeouts are minutes long,
# and a write per request would cost more than it tells.
_TOUCH_EVERY = timedelta(seconds=30)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Session:
    """A live session, and the account it is of."""

    id: str  # the id in the cookie; never stored
    tenant_id: int
    user: str
    role: Role
    created: datetime
    expires: datetime  # the absolute end

    @property
    def principal(self) -> Principal:
        return Principal(self.tenant_id, self.role, f"user:{self.user}", self.user, SOURCE)

    @property
    def csrf_token(self) -> str:
        return csrf.token_for(self.id)


def session_id(scope: Any) -> str | None:
    """The session id the request's cookie carries, if any."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            found = cookie_parser(value.decode("latin-1")).get(COOKIE)
            if found:
                return found
    return None


class SessionBook:
    """The sessions of every tenant, in the store. ``clock`` tells the time (tests turn it)."""

    def __init__(self, store: Store, settings: Settings,
                 clock: Callable[[], datetime] = now_utc) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.idle = timedelta(minutes=settings.session_idle_minutes)
        self.lifetime = timedelta(hours=settings.session_max_hours)

    async def open(self, tenant_id: int, user: dict[str, Any], replaced: str | None,
                   trail: AuditTrail) -> Session:
        """A new session of ``user``, in place of the ``replaced`` one; the login is
        recorded in the audit log in the same transaction."""
        new_id = secrets.token_urlsafe(32)
        now = self.clock()
        dialect = self.store.dialect
        async with self.store.transaction() as conn:
            if replaced:
                await conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(replaced),))
            # Sessions past their absolute end are of no use to anyone: logins tidy them away.
            await conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (dialect.encode(TIME, now),))
            await conn.execute(
                "INSERT INTO sessions (id_hash, tenant_id, user_id, created_at, last_seen_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (_hash(new_id), tenant_id, user["id"], dialect.encode(TIME, now),
                 dialect.encode(TIME, now), dialect.encode(TIME, now + self.lifetime)))
            await trail.write(conn, dialect)
        return Session(new_id, tenant_id, user["name"], Role.parse(user["role"]), now, now + self.lifetime)

    async def current(self, scope: Any, tenant_id: int) -> Session | None:
        """The live session the request's cookie names in ``tenant_id``; None for none, one
        that ended (it is dropped), a disabled account's, or another tenant's."""
        raw = session_id(scope)
        if raw is None or not raw.isascii():
            return None
        digest = _hash(raw)
        dialect = self.store.dialect
        async with self.store.reader() as conn:
            row = await conn.fetchrow(
                "SELECT s.tenant_id, u.name, u.role, u.disabled_at, s.created_at, s.last_seen_at, "
                "s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?",
                (digest,))
        if row is None:
            return None
        tenant, name, role, disabled, created, seen, expires = row
        created, seen, expires = (dialect.decode(TIME, v) for v in (created, seen, expires))
        now = self.clock()
        if now >= expires or now - seen >= self.idle or disabled is not None:
            await self.close(raw)
            return None
        if int(tenant) != tenant_id:
            return None
        if now - seen >= _TOUCH_EVERY:
            async with self.store.transaction() as conn:
                await conn.execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?",
                                   (dialect.encode(TIME, now), digest))
        return Session(raw, int(tenant), name, Role.parse(role), created, expires)

    async def principal(self, scope: Any, tenant_id: int) -> Principal | None:
        found = await self.current(scope, tenant_id)
        return None if found is None else found.principal

    def check_csrf(self, scope: Any) -> None:
        """403 unless a write the session cookie authenticates is safe from forgery."""
        raw = session_id(scope)
        assert raw is not None  # a session principal came from it
        csrf.check(scope, raw, self.settings.base_url)

    async def close(self, raw: str) -> None:
        async with self.store.transaction() as conn:
            await conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_hash(raw),))

    def set_cookie(self, response: Response, scope: Any, session: Session | None) -> None:
        """Give the browser the session's cookie, or (None) take it away."""
        secure = bool(self.settings.session_cookie_secure) or scope.get("scheme") == "https"
        if session is None:
            response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
        else:
            response.set_cookie(COOKIE, session.id, path="/", secure=secure, httponly=True,
                                samesite="strict")
