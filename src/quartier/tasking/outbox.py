"""The Task outbox: each new Task's delivery row (written with the Task), claimed by one
worker at a time (:mod:`quartier.claims`), and the stages that move a Task's status.

A stage ("sent", then "final": confirmed or failed) is recorded once, in the same
transaction as the Task's new status, so a Task is marked sent once and decided once,
whatever the number of workers; the status changes go through the one write path, so
they are announced over MQTT like every other change. A Task is sent at most once per
claim; it is sent twice only when a worker dies between sending it and recording that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from quartier import claims
from quartier.errors import Conflict, NotFound
from quartier.model.changes import Batch, IdRef, Record, Update
from quartier.model.entities import ENTITY_TYPES
from quartier.model.times import now_utc
from quartier.model.values import TIME
from quartier.store import Store

CLAIM_FOR = timedelta(minutes=2)  # longer than one send may take
MAX_BACKOFF = timedelta(hours=1)
_TASK = ENTITY_TYPES["Task"]
_UNDECIDED = "NOT EXISTS (SELECT 1 FROM task_outcomes o WHERE o.task_id = d.task_id)"
# Of task_outcomes o: a Task that was sent and waits for its confirmation (or its timeout).
AWAITING = ("o.stage = 'sent' AND NOT EXISTS (SELECT 1 FROM task_outcomes f "
            "WHERE f.task_id = o.task_id AND f.stage = 'final')")


class StageTaken(Conflict):
    """The stage was recorded already (by another worker, or the timeout)."""


@dataclass(frozen=True, order=True)
class Claimed:
    task_id: int
    tenant_id: int
    attempts: int


async def claim(store: Store, limit: int = 50) -> list[Claimed]:
    """Claim Tasks that are due to be sent; each one's attempt count goes up by one."""
    now = now_utc()
    if not await claims.any_due(store, "task_deliveries", now):
        return []
    async with store.transaction() as conn:
        rows = await claims.claim_due(conn, store, "task_deliveries", "task_id",
                                      "task_id, tenant_id, attempts", now, CLAIM_FOR, limit,
                                      also=_UNDECIDED)
    return sorted(Claimed(int(r[0]), int(r[1]), int(r[2])) for r in rows) if rows else []


async def move(store: Store, tenant_id: int, task_id: int, stage: str, status: str,
               reason: str | None = None) -> bool:
    """Record the stage and set the Task's status, in one transaction; False when the
    stage was recorded already or the Task is gone."""
    now = now_utc()
    batch = Batch()
    batch.add(Update(IdRef(_TASK, task_id),
                     {"status": status, "statusTime": now, "statusReason": reason}))
    batch.records.append(Record(
        "task_outcomes", {"task_id": task_id, "stage": stage, "status": status,
                          "at": store.dialect.encode(TIME, now)},
        unique=StageTaken(f"Task {task_id} is {stage} already")))
    try:
        await store.write(tenant_id, batch)
    except (StageTaken, NotFound):
        return False
    return True


async def delivery_done(store: Store, task_id: int, status: str, error: str | None = None) -> None:
    """Close the Task's delivery row: ``sent`` or ``failed``."""
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE task_deliveries SET status = ?, claimed_until = NULL, last_error = ? "
            "WHERE task_id = ?", (status, None if error is None else error[:2000], task_id))


async def retry_later(store: Store, claimed: Claimed, error: str, retry_base: float) -> None:
    """A failed attempt: due again after an exponential backoff."""
    wait = min(timedelta(seconds=retry_base * 2 ** (claimed.attempts - 1)), MAX_BACKOFF)
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE task_deliveries SET next_attempt_at = ?, claimed_until = NULL, last_error = ? "
            "WHERE task_id = ?",
            (store.dialect.encode(TIME, now_utc() + wait), error[:2000], claimed.task_id))


async def any_awaiting(store: Store) -> bool:
    """Whether any sent Task waits for its confirmation (or its timeout)."""
    async with store.reader() as conn:
        return await conn.fetchval(
            f"SELECT 1 FROM task_outcomes o WHERE {AWAITING} LIMIT 1") is not None


async def overdue(store: Store, wait: timedelta, limit: int = 200) -> Sequence[tuple[int, int]]:
    """(tenant id, task id) of Tasks sent longer than ``wait`` ago and not decided yet."""
    async with store.reader() as conn:
        rows = await conn.fetch(
            "SELECT t.tenant_id, o.task_id FROM task_outcomes o JOIN tasks t ON t.id = o.task_id "
            f"WHERE {AWAITING} AND o.at < ? ORDER BY o.at LIMIT ?",
            (store.dialect.encode(TIME, now_utc() - wait), limit))
    return [(int(r[0]), int(r[1])) for r in rows]
