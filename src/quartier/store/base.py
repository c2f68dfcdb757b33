"""The Store: the one contract both backends fulfil.

A backend supplies connections (``transaction`` for the single write path, ``reader``
for queries) and a :class:`Dialect`; everything else, writing a batch and reading
entities, is shared SQL code in :mod:`quartier.store.write` and :mod:`quartier.store.read`.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quartier.model.changes import Batch, ChangeEvent
from quartier.store import audit, device_scope
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect
from quartier.store.group import GroupWriter

log = logging.getLogger(__name__)

_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")

@dataclass
class WriteResult:
    """What a committed batch did."""

    ids: list[int]  # the id each change created or touched, in batch order
    rows: dict[int, dict[str, Any]]  # some created entities as stored, by change index


EventListener = Callable[[Sequence[ChangeEvent]], Any]
SignalReceiver = Callable[[str], None]


class Store(ABC):
    """Entities of every tenant, in one database."""

    dialect: Dialect

    def __init__(self) -> None:
        self._listeners: list[EventListener] = []
        self._tenants: dict[str, int] = {}
        self._regions: set[int] = set()  # region tenants looked up so far (fixed at creation)
        self._group: GroupWriter | None = None

    @abstractmethod
    async def open(self) -> None:
        """Connect, and create or migrate the schema."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A connection inside a write transaction, committed when the block ends."""

    @abstractmethod
    def reader(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads that sees committed data."""

    @property
    @abstractmethod
    def description(self) -> str:
        """Where the data is, for logs (no password)."""

    def subscribe(self, listener: EventListener) -> None:
        """Call ``listener`` with the events of each batch, after its commit."""
        self._listeners.append(listener)

    # -- signals between the worker processes of one database ----------------------

    signalling = False  # whether :meth:`signal` reaches the other processes

    async def signal(self, channel: str, payload: str) -> None:
        """Tell every process listening on ``channel`` (this one too) ``payload``, a
        short text; nothing where the backend has no signals (SQLite)."""
        return None

    async def listen_signals(self, channel: str, receive: SignalReceiver) -> None:
        """Call ``receive`` with each payload signalled on ``channel``, until cancelled;
        reconnects after the database was away. Returns at once where the backend has
        no signals."""
        return None

    async def write(self, tenant_id: int, batch: Batch) -> WriteResult:
        """Apply a batch atomically: all of it is committed, or nothing. Returns after the
        commit; concurrent batches share a transaction (see :mod:`quartier.store.group`).
        A region tenant's view is read-only: 405."""
        if tenant_id in self._regions:
            raise _read_only()
        thing = device_scope.bound_thing.get()
        if thing is not None:  # a device credential's request: its own Thing's Observations only
            async with self.reader() as conn:
                await device_scope.check(conn, self.dialect, tenant_id, batch, thing)
        trail = audit.current.get()
        if trail is not None and not trail.recorded and trail.tenant_id == tenant_id:
            # The request's audit row, in the batch's transaction (once per request).
            batch = Batch(batch.changes, [*batch.records,
                                          trail.record(self.dialect, changes=len(batch.changes))])
        result: WriteResult = await self._group_writer().write(tenant_id, batch)
        if trail is not None and trail.tenant_id == tenant_id:
            trail.recorded = True
        return result

    async def write_many(self, batches: Sequence[tuple[int, Batch]]) -> list[WriteResult | Exception]:
        """Apply several (tenant id, batch) at once, each atomically and on its own: the
        :class:`WriteResult` of each, or the exception that kept it from being written
        (a region tenant's batch: 405)."""
        refused = {i: _read_only() for i, (tenant_id, _) in enumerate(batches) if tenant_id in self._regions}
        kept = [b for i, b in enumerate(batches) if i not in refused]
        written = iter(await self._group_writer().write_many(kept) if kept else [])
        return [refused[i] if i in refused else next(written) for i in range(len(batches))]

    def _group_writer(self) -> GroupWriter:
        if self._group is None:
            self._group = GroupWriter(self.transaction, self.dialect, self._publish)
        return self._group

    async def _publish(self, events: Sequence[ChangeEvent]) -> None:
        for listener in self._listeners:
            try:
                result = listener(events)
                if hasattr(result, "__await__"):
                    await result
            except Exception:  # a subscriber's failure must not undo a committed write
                log.exception("event listener %r failed", listener)

    async def archive(self, older_than: datetime, keep_newest_day: bool = True) -> int:
        """Pack the Observations whose phenomenonTime starts before ``older_than`` into
        the archive, one Datastream per transaction; returns how many moved. Unless
        ``keep_newest_day`` is false, each Datastream's newest (UTC) day stays as rows.
        Does nothing where the backend has no archive (SQLite)."""
        from quartier.store import archive

        if not self.dialect.archive:
            return 0
        async with self.reader() as conn:
            todo = await archive.candidates(conn, older_than, keep_newest_day)
        moved = 0
        for datastream_id, cutoff in todo:
            async with self.transaction() as conn:
                moved += await archive.archive_datastream(conn, datastream_id, cutoff)
        return moved

    async def create_tenant(self, name: str, region: bool = False) -> int:
        """Add a tenant (a municipality), or with ``region`` a region tenant (a district
        that reads what its member tenants grant it); 409 when the name is taken."""
        from quartier.errors import BadRequest, Conflict

        if not _TENANT_NAME.fullmatch(name):
            raise BadRequest(
                f"tenant names are 1 to 63 lower-case letters, digits and dashes, not {name!r}"
            )
        async with self.transaction() as conn:
            if await conn.fetchval("SELECT id FROM tenants WHERE name = ?", (name,)) is not None:
                raise Conflict(f"a tenant named {name!r} exists already")
            return int(await conn.fetchval(
                "INSERT INTO tenants (name, region) VALUES (?, ?) RETURNING id", (name, region)
            ))

    async def tenant_names(self) -> list[str]:
        async with self.reader() as conn:
            return [str(r[0]) for r in await conn.fetch("SELECT name FROM tenants ORDER BY id")]

    async def tenant_id(self, name: str) -> int | None:
        cached = self._tenants.get(name)
        if cached is not None:
            return cached
        if not _TENANT_NAME.fullmatch(name):
            return None
        async with self.reader() as conn:
            row = await conn.fetchrow("SELECT id, region FROM tenants WHERE name = ?", (name,))
        if row is None:
            return None
        found = int(row[0])
        if row[1]:
            self._regions.add(found)
        self._tenants[name] = found
        return found

    def is_region(self, tenant_id: int) -> bool:
        """Whether a tenant (looked up by :meth:`tenant_id` before) is a region."""
        return tenant_id in self._regions

    def check_writable(self, tenant_id: int) -> None:
        """405 for a region tenant, whose view is read-only; for writers that do not go
        through :meth:`write`."""
        if tenant_id in self._regions:
            raise _read_only()


def _read_only() -> Exception:
    from quartier.errors import MethodNotAllowed

    return MethodNotAllowed("a region's view is read-only: it shows what its member tenants "
                            "share with it", allowed=["GET", "HEAD"])
