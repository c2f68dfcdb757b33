"""Failed logins, kept in the database so that every worker counts them alike: after
``login_max_failures`` failures to one account, or from one address, within
``login_lockout_minutes``, further logins there are refused until the oldest ages out."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from quartier.errors import TooManyRequests
from quartier.model.values import TIME
from quartier.settings import Settings
from quartier.store import Store


class Lockout:
    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.limit = settings.login_max_failures
        self.window = timedelta(minutes=settings.login_lockout_minutes)
        self.clock = clock

    async def check(self, tenant_id: int, name: str, address: str) -> None:
        """429 when the account or the address has failed too often of late."""
        now = self.clock()
        since = self.store.dialect.encode(TIME, now - self.window)
        async with self.store.reader() as conn:
            by_name = await conn.fetch(
                "SELECT at FROM login_failures WHERE tenant_id = ? AND name = ? AND at > ? "
                "ORDER BY at DESC LIMIT ?", (tenant_id, name, since, self.limit))
            by_address = await conn.fetch(
                "SELECT at FROM login_failures WHERE address = ? AND at > ? ORDER BY at DESC LIMIT ?",
                (address, since, self.limit))
        for rows, what in ((by_name, "this account"), (by_address, "your address")):
            if len(rows) >= self.limit:
                # Free again once the oldest of the last ``limit`` failures ages out.
                oldest = self.store.dialect.decode(TIME, rows[-1][0])
                wait = max(1, math.ceil((oldest + self.window - now).total_seconds()))
                raise TooManyRequests(
                    f"too many failed logins to {what}; try again in {math.ceil(wait / 60)} "
                    "minutes, or ask an administrator to set a new password", wait)

    async def failed(self, tenant_id: int, name: str, address: str) -> None:
        dialect = self.store.dialect
        async with self.store.transaction() as conn:
            await conn.execute(
                "INSERT INTO login_failures (tenant_id, name, address, at) VALUES (?, ?, ?, ?)",
                (tenant_id, name, address, dialect.encode(TIME, self.clock())))
            # Nothing older than the window counts: keep the table small as it goes.
            await conn.execute("DELETE FROM login_failures WHERE at < ?",
                               (dialect.encode(TIME, self.clock() - self.window),))

    async def succeeded(self, tenant_id: int, name: str, address: str) -> None:
        """A good login forgets that account's failures from that address."""
        async with self.store.transaction() as conn:
            await conn.execute(
                "DELETE FROM login_failures WHERE tenant_id = ? AND name = ? AND address = ?",
                (tenant_id, name, address))
