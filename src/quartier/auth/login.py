"""Logging in to the dashboard: a user name and password of the tenant make a session,
unless the account or the address is locked out after too many failures."""

from __future__ import annotations

import uuid
from typing import Any

from quartier.auth import passwords
from quartier.auth.lockout import Lockout
from quartier.auth.sessions import Session, SessionBook, session_id
from quartier.auth.users import UserBook
from quartier.errors import Forbidden, Unauthorized
from quartier.store.audit import AuditTrail

_WRONG = "the user name or the password is wrong"


class Login:
    def __init__(self, users: UserBook, sessions: SessionBook) -> None:
        self.users = users
        self.sessions = sessions
        self.lockout = Lockout(sessions.store, sessions.settings, lambda: self.sessions.clock())

    async def log_in(self, scope: Any, tenant_id: int, name: str, password: str,
                     address: str) -> Session:
        """A new session for the account ``name``; 401 for a wrong name or password, 403
        for a disabled account, 429 while locked out."""
        await self.lockout.check(tenant_id, name, address)
        user = await self.users.find(tenant_id, name)
        if not await passwords.matches(None if user is None else user["password_hash"], password):
            await self.lockout.failed(tenant_id, name, address)
            raise Unauthorized(_WRONG)
        assert user is not None
        if user["disabled_at"] is not None:
            raise Forbidden(f"the account {name!r} is disabled; ask an administrator of the tenant")
        await self.lockout.succeeded(tenant_id, name, address)
        trail = AuditTrail(tenant_id, uuid.uuid4().hex, f"user:{name}", name, user["role"],
                           "session.create", scope["path"], address)
        return await self.sessions.open(tenant_id, user, session_id(scope), trail)
