"""The write path's part in Tasking: a new Task gets its server-kept fields, is checked
against its TaskingCapability's DataRecord, and gets its delivery row, all in the
transaction that writes it; a written Task's command does not change afterwards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quartier.errors import BadRequest
from quartier.model.changes import Update
from quartier.model.swe import check_parameters, parse_data_record
from quartier.model.times import now_utc
from quartier.model.values import JSON, TIME

if TYPE_CHECKING:
    from quartier.store.write import BatchWriter

CREATED = "created"


def new_task_values(values: dict[str, Any]) -> dict[str, Any]:
    """A new Task's values with what the server sets: its creation time and status."""
    now = now_utc()
    return {**values, "creationTime": now, "status": CREATED, "statusTime": now,
            "statusReason": None}


async def check_task(writer: BatchWriter, capability_id: int, values: dict[str, Any]) -> None:
    """400 unless the Task's taskingParameters fit its TaskingCapability's."""
    raw = await writer.conn.fetchval(
        "SELECT tasking_parameters FROM tasking_capabilities WHERE id = ? AND tenant_id = ?",
        (capability_id, writer.tenant_id))
    if raw is None:
        raise BadRequest(f"no TaskingCapability with @iot.id {capability_id}")
    record = writer.dialect.decode(JSON, raw)
    try:
        rules = parse_data_record(record)
    except BadRequest as exc:
        raise BadRequest(f"TaskingCapability {capability_id} takes no Tasks: {exc.message}") from None
    check_parameters(rules, values.get("taskingParameters"))


async def add_delivery(writer: BatchWriter, task_id: int) -> None:
    """The Task's row in the delivery outbox, due now."""
    await writer.conn.execute(
        "INSERT INTO task_deliveries (task_id, tenant_id, status, next_attempt_at) "
        "VALUES (?, ?, 'pending', ?)",
        (task_id, writer.tenant_id, writer.dialect.encode(TIME, now_utc())))


def check_update(change: Update) -> None:
    """A Task is a command already on its way: only the server moves its status."""
    if "taskingParameters" in change.values or change.foreign_keys:
        raise BadRequest("a Task's taskingParameters and TaskingCapability cannot change once "
                         "it is created; create a new Task instead")
