"""Local user accounts of a tenant: a name, a role and a password hash; disabled, never deleted
(the audit log names them for good).

Changing a password or disabling an account ends the account's sessions at once. A tenant
keeps at least one enabled admin account once it has one: its last admin can be neither
demoted nor disabled (409), so that nobody locks the town out of its own dashboard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from quartier.auth import passwords
from quartier.auth.roles import Role
from quartier.errors import BadRequest, Conflict, NotFound
from quartier.model.times import now_utc
from quartier.model.values import TIME
from quartier.store import Store
from quartier.store.audit import AuditTrail
from quartier.store.connection import Connection

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
_NAMES = ("id", "tenant_id", "name", "role", "password_hash", "created_at", "created_by",
          "disabled_at")
_COLUMNS = ", ".join(_NAMES)


def user_name(text: object) -> str:
    """``text`` if it may name an account; 400 saying what may."""
    if not isinstance(text, str) or _NAME.fullmatch(text) is None:
        raise BadRequest("a user name must be 1 to 100 letters, digits or . _ @ - "
                         "(beginning with a letter or digit)")
    return text


@dataclass(frozen=True)
class UserChange:
    """What to change of an account; None: leave as it is."""

    role: Role | None = None
    disabled: bool | None = None
    password: str | None = None


class UserBook:
    """The user accounts of every tenant, in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, tenant_id: int, name: str, role: Role, password: str, created_by: str,
                     trail: AuditTrail | None = None) -> dict[str, Any]:
        """Make an account; 409 when the tenant has one of that name. With ``trail``, the
        audit row is written in the same transaction."""
        name = user_name(name)
        password_hash = await passwords.hashed(password)
        dialect = self.store.dialect
        async with self.store.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO users (tenant_id, name, role, password_hash, created_at, created_by) "
                f"VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
                (tenant_id, name, role.label, password_hash,
                 dialect.encode(TIME, now_utc()), created_by))
            if row is None:
                raise Conflict(f"there is a user {name!r} already")
            described = self._describe(row)
            if trail is not None:
                trail.target = f"{trail.target}/{name}"
                await trail.write(conn, dialect, user=public(described))
        return described

    async def listing(self, tenant_id: int) -> list[dict[str, Any]]:
        async with self.store.reader() as conn:
            rows = await conn.fetch(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = ? ORDER BY name",
                                    (tenant_id,))
        return [self._describe(r) for r in rows]

    async def find(self, tenant_id: int, name: str) -> dict[str, Any] | None:
        async with self.store.reader() as conn:
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE tenant_id = ? AND name = ?",
                                      (tenant_id, name))
        return None if row is None else self._describe(row)

    async def change(self, tenant_id: int, name: str, change: UserChange,
                     trail: AuditTrail | None = None) -> dict[str, Any]:
        """Change an account's role, state or password; 404 for one the tenant lacks."""
        password_hash = None if change.password is None else await passwords.hashed(change.password)
        dialect = self.store.dialect
        async with self.store.transaction() as conn:
            # The tenant's enabled admins, locked: two admins demoting each other at once
            # must not both succeed.
            admins = {str(r[0]) for r in await conn.fetch(
                "SELECT name FROM users WHERE tenant_id = ? AND role = ? AND disabled_at IS NULL"
                f" ORDER BY id{dialect.lock_row}", (tenant_id, Role.ADMIN.label))}
            before = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM users WHERE tenant_id = ? AND name = ?", (tenant_id, name))
            if before is None:
                raise NotFound(f"no user {name!r}")
            user = self._describe(before)
            demoted = change.role is not None and change.role is not Role.ADMIN
            if admins == {name} and (demoted or change.disabled):
                raise Conflict(f"{name!r} is the tenant's last enabled admin: make another "
                               "account admin first")
            if change.role is not None:
                await conn.execute("UPDATE users SET role = ? WHERE id = ?", (change.role.label, user["id"]))
            if change.disabled is not None and change.disabled != (user["disabled_at"] is not None):
                await conn.execute("UPDATE users SET disabled_at = ? WHERE id = ?",
                                   (dialect.encode(TIME, now_utc()) if change.disabled else None,
                                    user["id"]))
            if password_hash is not None:
                await conn.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                                   (password_hash, user["id"]))
            if change.disabled or password_hash is not None:
                await end_sessions(conn, user["id"])
            after = self._describe(await self._row(conn, user["id"]))
            if trail is not None:
                await trail.write(conn, dialect, user=public(after),
                                  changed=[k for k in ("role", "disabled", "password")
                                           if getattr(change, k) is not None])
        return after

    @staticmethod
    async def _row(conn: Connection, user_id: int) -> Sequence[Any]:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
        assert row is not None
        return row

    def _describe(self, row: Sequence[Any]) -> dict[str, Any]:
        out = dict(zip(_NAMES, row, strict=True))
        for name in ("created_at", "disabled_at"):
            out[name] = self.store.dialect.decode(TIME, out[name])
        out["id"] = int(out["id"])
        out["tenant_id"] = int(out["tenant_id"])
        return out


async def end_sessions(conn: Connection, user_id: int) -> None:
    await conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def public(described: dict[str, Any]) -> dict[str, Any]:
    """An account as the API shows it: never its password hash."""
    return {"name": described["name"], "role": described["role"],
            "created": _time(described["created_at"]), "createdBy": described["created_by"],
            "disabled": _time(described["disabled_at"])}
