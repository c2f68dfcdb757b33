"""Group commit: concurrent write batches share one transaction and one disk flush.

Each batch still succeeds or fails on its own: it runs inside a SAVEPOINT, and a batch
that fails is rolled back to it and gets its error, while the others commit. A caller
hears of success only after the commit, so an acknowledged write is on disk. Under load
this turns one flush (and one lock on a hot Datastream row) per request into one per
group; a lone request waits for nobody.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from quartier.model.changes import Batch, ChangeEvent, Create, IdRef
from quartier.store.bulk import is_bulk_batch
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect

log = logging.getLogger(__name__)

MAX_GROUP = 200  # batches per transaction; bounds the work lost to one failed commit
RETRIES = 5


@dataclass
class _Pending:
    tenant_id: int
    batch: Batch
    done: asyncio.Future[Any]
    events: list[ChangeEvent] = field(default_factory=list)
    result: Any = None
    error: Exception | None = None
    bulk: bool = False  # merged with the group's other bulk batches (bulk.is_bulk_batch)

    def __post_init__(self) -> None:
        self.bulk = is_bulk_batch(self.batch)


class GroupWriter:
    """Feeds queued batches, a group at a time, through one writing task."""

    def __init__(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[Connection]],
        dialect: Dialect,
        publish: Callable[[Sequence[ChangeEvent]], Awaitable[None]],
    ) -> None:
        self._transaction = transaction
        self._dialect = dialect
        self._publish = publish
        self._queue: list[_Pending] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, tenant_id: int, batch: Batch) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(tenant_id, batch, done))
        self._start_drain()
        return await done

    async def write_many(self, batches: Sequence[tuple[int, Batch]]) -> list[Any]:
        """Queue several (tenant id, batch) at once; each one's result or exception, in
        order, once all of them are decided. Each batch succeeds or fails on its own, as
        with :meth:`write`."""
        if not batches:
            return []
        loop = asyncio.get_running_loop()
        items = [_Pending(tenant_id, batch, loop.create_future()) for tenant_id, batch in batches]
        self._queue.extend(items)
        self._start_drain()
        out: list[Any] = []
        for item in items:
            try:
                out.append(await item.done)
            except Exception as exc:
                out.append(exc)
        return out

    def _start_drain(self) -> None:
        # While every running group waits on the database, another transaction may start
        # (PostgreSQL); row locks on the Datastreams keep their derived fields right.
        # A task that has just finished may still be in the set until its callback runs.
        running = sum(1 for task in self._tasks if not task.done())
        if running < self._dialect.concurrent_writers:
            # In a context of its own: the writing task serves every caller, not the
            # request that happened to start it (its principal, its audit trail).
            task = asyncio.create_task(self._drain(), name="quartier-group-commit",
                                       context=contextvars.Context())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                await self._commit_with_retries(group)
            except BaseException as exc:  # the commit failed: nobody's batch was written
                for item in group:
                    if not item.done.done():
                        item.done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            # The committed batches' events go to the listeners in one call (published even
            # if nobody waits), before their callers hear of the commit.
            committed = [e for item in group if item.error is None for e in item.events]
            if committed:
                await self._publish(committed)
            for item in group:
                if item.done.done():  # its caller went away meanwhile
                    continue
                if item.error is not None:  # this batch failed and was rolled back
                    item.done.set_exception(item.error)
                else:
                    item.done.set_result(item.result)

    async def _commit_with_retries(self, group: list[_Pending]) -> None:
        """Commit the group; start it again when the database gave it up to break a
        deadlock with another process (nothing of it was written then)."""
        for attempt in range(1, RETRIES + 1):
            try:
                await self._commit(group)
                return
            except Exception as exc:
                if attempt == RETRIES or not self._dialect.is_transient(exc):
                    raise
                log.info("write group of %d retried after %s", len(group), type(exc).__name__)
                await asyncio.sleep(0.005 * attempt)

    async def _commit(self, group: list[_Pending]) -> None:
        from quartier.store.base import WriteResult
        from quartier.store.bulk import is_observation_batch
        from quartier.store.write import BatchWriter

        async with self._transaction() as conn:
            if len(group) == 1:  # alone: no savepoint, its failure rolls back the transaction
                item = group[0]
                item.error, item.result, item.events = None, None, []
                bulk = is_observation_batch(item.batch)
                if not bulk:  # a bulk batch locks its Datastreams all at once, in order
                    await self._lock_datastreams(conn, group)
                writer = BatchWriter(conn, self._dialect, item.tenant_id)
                ids = await writer.apply(item.batch, bulk)
                item.events = writer.events
                item.result = WriteResult(ids, writer.rows)
                return
            if not _bulk_of_one_tenant(group):  # else the bulk write locks them, in order
                await self._lock_datastreams(conn, group)
            rest = await self._write_bulk_batches(conn, group)
            opened = False
            for item in rest:
                item.error, item.result, item.events = None, None, []
                # One round trip closes the last batch's savepoint and opens the next.
                await conn.execute(self._dialect.next_savepoint(opened))
                opened = True
                writer = BatchWriter(conn, self._dialect, item.tenant_id)
                try:
                    ids = await writer.apply(item.batch)
                except Exception as exc:
                    if self._dialect.is_transient(exc):
                        raise  # the whole transaction is lost: retry the group
                    await conn.execute("ROLLBACK TO SAVEPOINT quartier_batch")
                    item.error = exc
                    continue
                item.events = writer.events
                item.result = WriteResult(ids, writer.rows)

    async def _write_bulk_batches(
        self, conn: Connection, group: list[_Pending]
    ) -> list[_Pending]:
        """Write the group's batches of plain Observations together; return the others."""
        from quartier.store.base import WriteResult
        from quartier.store.bulk import write_bulk_batches
        from quartier.store.write import BatchWriter

        bulk: dict[int, list[_Pending]] = {}
        rest = []
        for item in group:
            if item.bulk:
                bulk.setdefault(item.tenant_id, []).append(item)
            else:
                rest.append(item)
        for tenant_id, items in bulk.items():
            writer = BatchWriter(conn, self._dialect, tenant_id)
            outcomes = await write_bulk_batches(writer, [i.batch for i in items])
            for item, outcome in zip(items, outcomes, strict=True):
                item.error, item.events, item.result = outcome.error, outcome.events or [], None
                if outcome.error is None:
                    item.result = WriteResult(outcome.ids, outcome.rows)
        return rest

    async def _lock_datastreams(self, conn: Connection, group: list[_Pending]) -> None:
        """Lock the group's Datastreams in id order before any batch does, so that two
        processes writing the same Datastreams cannot deadlock."""
        if not self._dialect.lock_for_update:
            return
        ids: set[int] = set()
        for item in group:
            for change in item.batch.changes:
                if isinstance(change, Create) and change.etype.name == "Observation":
                    parent = change.foreign_keys.get("Datastream")
                    if isinstance(parent, IdRef):
                        ids.add(parent.id)
        if len(ids) > 1:  # one row is locked where it is read; only several can deadlock
            among, params = self._dialect.among("d.id", sorted(ids))
            await conn.fetch(
                f"SELECT d.id FROM datastreams d WHERE {among} ORDER BY d.id"
                + self._dialect.lock_for_update,
                params,
            )


def _bulk_of_one_tenant(group: list[_Pending]) -> bool:
    return len({item.tenant_id for item in group}) == 1 and all(item.bulk for item in group)
