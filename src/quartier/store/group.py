"""Group commit: concurrent write batches share one transaction and one disk flush.

Each batch still succeeds or fails on its own: it runs inside a SAVEPOINT, and a batch
that fails is rolled back to it and gets its error, while the others commit. A caller
hears of success only after the commit, so an acknowledged write is on disk. Under load
this turns one flush (and one lock on a hot Datastream row) per request into one per
group; a lone request waits for nobody.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from quartier.model.changes import Batch, ChangeEvent
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect

log = logging.getLogger(__name__)

MAX_GROUP = 200  # batches per transaction; bounds the work lost to one failed commit


@dataclass
class _Pending:
    tenant_id: int
    batch: Batch
    done: asyncio.Future[Any]
    events: list[ChangeEvent] = field(default_factory=list)
    result: Any = None


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
        self._task: asyncio.Task[None] | None = None

    async def write(self, tenant_id: int, batch: Batch) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(tenant_id, batch, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="quartier-group-commit")
        return await done

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                await self._commit(group)
            except BaseException as exc:  # the commit failed: nobody's batch was written
                for item in group:
                    if not item.done.done():
                        item.done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for item in group:
                if item.result is None:  # this batch failed and was rolled back
                    continue
                await self._publish(item.events)  # committed: published even if nobody waits
                if not item.done.done():
                    item.done.set_result(item.result)

    async def _commit(self, group: list[_Pending]) -> None:
        from quartier.store.base import WriteResult
        from quartier.store.write import BatchWriter

        async with self._transaction() as conn:
            for item in group:
                await conn.execute("SAVEPOINT quartier_batch")
                writer = BatchWriter(conn, self._dialect, item.tenant_id)
                try:
                    ids = await writer.apply(item.batch)
                except Exception as exc:
                    await conn.execute("ROLLBACK TO SAVEPOINT quartier_batch")
                    if not item.done.done():  # its caller may have gone away meanwhile
                        item.done.set_exception(exc)
                    continue
                await conn.execute("RELEASE SAVEPOINT quartier_batch")
                item.events = writer.events
                item.result = WriteResult(ids, writer.rows)
