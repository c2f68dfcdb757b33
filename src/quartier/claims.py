"""Claims on outbox rows: how several workers share the rows that are due to be sent, so
that each is sent by one of them at a time.

An outbox table has ``status`` ('pending' while due), ``next_attempt_at``,
``claimed_until`` and ``attempts``. A worker claims due rows by setting ``claimed_until``
and counting the attempt, in one statement; PostgreSQL skips rows another worker has
locked meanwhile, SQLite has one writer. A claim that runs out (its worker died) makes the
row due again. The notification outbox and the Task outbox both claim this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from quartier.model.values import TIME
from quartier.store import Store
from quartier.store.connection import Connection

_Row = TypeVar("_Row")
_DUE = ("d.status = 'pending' AND d.next_attempt_at <= ? "
        "AND (d.claimed_until IS NULL OR d.claimed_until < ?)")


async def any_due(store: Store, table: str, now: datetime) -> bool:
    """Whether a row of ``table`` is due; read outside a write transaction, since most
    passes find nothing."""
    at = store.dialect.encode(TIME, now)
    async with store.reader() as conn:
        return await conn.fetchval(f"SELECT 1 FROM {table} d WHERE {_DUE} LIMIT 1",
                                   (at, at)) is not None


async def claim_due(
    conn: Connection, store: Store, table: str, key: str, returning: str, now: datetime,
    claim_for: timedelta, limit: int, also: str = "", also_params: Sequence[Any] = (),
) -> list[Any]:
    """Claim up to ``limit`` due rows of ``table`` (oldest ``key`` first) inside the
    caller's transaction; ``also`` narrows them further (SQL on alias ``d``). Returns the
    ``returning`` columns of each claimed row."""
    encode = store.dialect.encode
    skip_locked = " FOR UPDATE SKIP LOCKED" if store.dialect.name == "postgresql" else ""
    extra = f" AND {also}" if also else ""
    return list(await conn.fetch(
        f"UPDATE {table} SET claimed_until = ?, attempts = attempts + 1 WHERE {key} IN ("
        f"SELECT d.{key} FROM {table} d WHERE {_DUE}{extra} ORDER BY d.{key} LIMIT ?"
        f"{skip_locked}) RETURNING {returning}",
        (encode(TIME, now + claim_for), encode(TIME, now), encode(TIME, now), *also_params,
         limit)))


async def send_claimed(claim: Callable[[], Awaitable[Sequence[_Row]]],
                       send: Callable[[_Row], Coroutine[Any, Any, None]],
                       sending: set[asyncio.Task[None]]) -> None:
    """Claim due rows and send each, batch after batch, until none is due. Sends under way
    are kept in ``sending`` and shielded: stopping the dispatcher lets them finish and be
    recorded."""
    while claimed := await claim():
        tasks = [asyncio.create_task(send(row)) for row in claimed]
        for task in tasks:
            sending.add(task)
            task.add_done_callback(sending.discard)
        await asyncio.shield(asyncio.gather(*tasks))
