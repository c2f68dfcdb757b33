"""Definitions a tenant keeps by name (saved groups of lamps, switching schedules): rows
of ``(tenant_id, name, definition)`` with the definition as JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quartier.errors import Conflict, NotFound
from quartier.model.values import JSON
from quartier.store import Store
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect

UPDATE_ATTEMPTS = 5


class NamedDefinitions:
    """The definitions in ``table`` (a fixed name, never from a request); ``what`` names
    one in messages, e.g. "lighting group"."""

    def __init__(self, table: str, what: str) -> None:
        self.table = table
        self.what = what

    async def create(self, store: Store, tenant_id: int, name: str, definition: dict[str, Any]) -> None:
        async with store.transaction() as conn:
            stored = await conn.fetchval(
                f"INSERT INTO {self.table} (tenant_id, name, definition) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING id",
                (tenant_id, name, store.dialect.encode(JSON, definition)))
        if stored is None:
            raise Conflict(f"a {self.what} named {name!r} exists already")

    async def put(self, conn: Connection, dialect: Dialect, tenant_id: int, name: str,
                  definition: dict[str, Any]) -> str:
        """Create or replace the definition on ``conn``, inside the caller's transaction:
        "created", "updated" or "unchanged"."""
        row = await conn.fetchrow(f"SELECT id, definition FROM {self.table} WHERE tenant_id = ? "
                                  "AND name = ?", (tenant_id, name))
        if row is None:
            await conn.execute(f"INSERT INTO {self.table} (tenant_id, name, definition) "
                               "VALUES (?, ?, ?)", (tenant_id, name, dialect.encode(JSON, definition)))
            return "created"
        if dialect.decode(JSON, row[1]) == definition:
            return "unchanged"
        await conn.execute(f"UPDATE {self.table} SET definition = ? WHERE id = ?",
                           (dialect.encode(JSON, definition), row[0]))
        return "updated"

    async def replace(self, store: Store, tenant_id: int, name: str, definition: dict[str, Any]) -> None:
        """The definition of ``name`` becomes ``definition``; 404 when there is none."""
        async with store.transaction() as conn:
            stored = await conn.fetchval(
                f"UPDATE {self.table} SET definition = ? WHERE tenant_id = ? AND name = ? RETURNING id",
                (store.dialect.encode(JSON, definition), tenant_id, name))
        if stored is None:
            raise NotFound(f"no {self.what} {name!r}")

    async def listing(self, store: Store, tenant_id: int) -> list[dict[str, Any]]:
        async with store.reader() as conn:
            rows = await conn.fetch(f"SELECT name, definition FROM {self.table} WHERE tenant_id = ? "
                                    "ORDER BY name", (tenant_id,))
        return [{"name": r[0], **store.dialect.decode(JSON, r[1])} for r in rows]

    async def find(self, store: Store, tenant_id: int, name: str) -> dict[str, Any]:
        async with store.reader() as conn:
            raw = await conn.fetchval(f"SELECT definition FROM {self.table} WHERE tenant_id = ? "
                                      "AND name = ?", (tenant_id, name))
        if raw is None:
            raise NotFound(f"no {self.what} {name!r}")
        return {"name": name, **store.dialect.decode(JSON, raw)}

    async def update(self, store: Store, tenant_id: int, name: str,
                     change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Store ``change(definition)`` (which may raise to refuse), unless someone changed
        the definition meanwhile: then ``change`` sees the newer one (a few times, then 409)."""
        encode = store.dialect.encode
        for _ in range(UPDATE_ATTEMPTS):
            found = await self.find(store, tenant_id, name)
            old = {k: v for k, v in found.items() if k != "name"}
            new = change(dict(old))
            async with store.transaction() as conn:
                done = await conn.fetchval(
                    f"UPDATE {self.table} SET definition = ? WHERE tenant_id = ? AND name = ? "
                    "AND definition = ? RETURNING id",
                    (encode(JSON, new), tenant_id, name, encode(JSON, old)))
            if done is not None:
                return {"name": name, **new}
        raise Conflict(f"the {self.what} {name!r} is being changed by others; try again")

    async def delete(self, store: Store, tenant_id: int, name: str) -> None:
        async with store.transaction() as conn:
            gone = await conn.fetchval(f"DELETE FROM {self.table} WHERE tenant_id = ? AND name = ? "
                                       "RETURNING id", (tenant_id, name))
        if gone is None:
            raise NotFound(f"no {self.what} {name!r}")
