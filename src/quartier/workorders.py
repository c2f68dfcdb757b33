"""Maintenance work orders: what is to be repaired, by whom, and how it was closed.

A work order is made by hand (``POST /api/workorders``) or, once per alert, when a rule
with ``"workOrder": true`` opens an alert (in the engine's transaction; the unique
``alert_id`` keeps it at one even with several workers). Its status goes ``open`` →
``in_progress`` → ``done``; ``done`` needs a closing note, and a done work order is closed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quartier.errors import BadRequest, Conflict, NotFound
from quartier.model.parse import known_members, parse_id
from quartier.model.times import format_instant
from quartier.model.values import TIME
from quartier.store import Store

STATUSES = ("open", "in_progress", "done")
MAX_TEXT = 2_000
_COLUMNS = ("id, alert_id, thing_id, title, description, status, assignee, closing_note, "
            "created_by, created_at, updated_at, closed_at")
_CREATE = {"title", "description", "thingId", "alertId", "assignee", "createdBy", "status",
           "closingNote"}
_CHANGE = {"title", "description", "assignee", "status", "closingNote"}


def _text(body: dict[str, Any], key: str, limit: int, required: bool = False) -> str | None:
    raw = body.get(key)
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest(f"{key} must be a non-empty string")
    if len(raw) > limit:
        raise BadRequest(f"{key} is at most {limit} characters")
    return raw.strip()


def _id(body: dict[str, Any], key: str) -> int | None:
    raw = body.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise BadRequest(f"{key} must be an @iot.id (a whole number from 1)")
    return parse_id(raw, key)  # and within range


def _status(raw: Any, note: str | None) -> str:
    if raw not in STATUSES:
        raise BadRequest(f"status is one of {', '.join(STATUSES)}, not {raw!r}")
    if raw == "done" and not note:
        raise BadRequest('a work order is done with a closing note: {"status": "done", '
                         '"closingNote": "lamp replaced"}')
    return str(raw)


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest(f"{what} takes a JSON object")
    return body


class WorkOrders:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.dialect = store.dialect

    def _t(self, value: datetime | None) -> Any:
        return self.dialect.encode(TIME, value)

    def _json(self, row: Any) -> dict[str, Any]:
        names = [c.strip() for c in _COLUMNS.split(",")]
        raw = dict(zip(names, row, strict=True))
        for key in ("created_at", "updated_at", "closed_at"):
            value = self.dialect.decode(TIME, raw[key])
            raw[key] = format_instant(value) if value is not None else None
        return {"id": raw["id"], "alertId": raw["alert_id"], "thingId": raw["thing_id"],
                "title": raw["title"], "description": raw["description"], "status": raw["status"],
                "assignee": raw["assignee"], "closingNote": raw["closing_note"],
                "createdBy": raw["created_by"], "createdAt": raw["created_at"],
                "updatedAt": raw["updated_at"], "closedAt": raw["closed_at"]}

    # -- from an alert, inside the engine's transaction -------------------------------

    async def for_alert(self, conn: Any, tenant_id: int, alert_id: int, thing_id: int | None,
                        title: str) -> None:
        """The work order of a fault alert; nothing when it has one already."""
        now = self._t(datetime.now(UTC))
        await conn.execute(
            "INSERT INTO workorders (tenant_id, alert_id, thing_id, title, description, status, "
            "created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'open', 'rules', ?, ?) "
            "ON CONFLICT (alert_id) DO NOTHING",
            (tenant_id, alert_id, thing_id, title[:200], title, now, now))

    # -- by people --------------------------------------------------------------------

    async def create(self, tenant_id: int, body: Any) -> dict[str, Any]:
        body = _object(body, "a work order")
        known_members(body, _CREATE, "a work order")
        title = _text(body, "title", 200, required=True)
        description = _text(body, "description", MAX_TEXT) or ""
        note = _text(body, "closingNote", MAX_TEXT)
        status = _status(body.get("status", "open"), note)
        thing_id, alert_id = _id(body, "thingId"), _id(body, "alertId")
        assignee, by = _text(body, "assignee", 200), _text(body, "createdBy", 200)
        now = datetime.now(UTC)
        async with self.store.transaction() as conn:
            if thing_id is not None and await conn.fetchval(
                    "SELECT 1 FROM things WHERE id = ? AND tenant_id = ?", (thing_id, tenant_id)) is None:
                raise BadRequest(f"thingId: no Thing with @iot.id {thing_id}")
            if alert_id is not None:
                await self._free_alert(conn, tenant_id, alert_id)
            new_id = await conn.fetchval(
                "INSERT INTO workorders (tenant_id, alert_id, thing_id, title, description, status, "
                "assignee, closing_note, created_by, created_at, updated_at, closed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (tenant_id, alert_id, thing_id, title, description, status, assignee, note, by,
                 self._t(now), self._t(now), self._t(now if status == "done" else None)))
            return await self._one(conn, tenant_id, int(new_id))

    async def _free_alert(self, conn: Any, tenant_id: int, alert_id: int) -> None:
        if await conn.fetchval("SELECT 1 FROM alerts WHERE id = ? AND tenant_id = ?",
                               (alert_id, tenant_id)) is None:
            raise BadRequest(f"alertId: no alert {alert_id}")
        taken = await conn.fetchval("SELECT id FROM workorders WHERE alert_id = ?", (alert_id,))
        if taken is not None:
            raise Conflict(f"alert {alert_id} has work order {taken} already", workOrder=taken)

    async def update(self, tenant_id: int, order_id: int, body: Any) -> dict[str, Any]:
        body = _object(body, "a work order change")
        known_members(body, _CHANGE, "a work order change")
        if not body:
            raise BadRequest(f"give at least one of {', '.join(sorted(_CHANGE))}")
        changes: dict[str, Any] = {}
        for key, column, limit in (("title", "title", 200), ("description", "description", MAX_TEXT),
                                   ("assignee", "assignee", 200), ("closingNote", "closing_note", MAX_TEXT)):
            if key in body:
                changes[column] = _text(body, key, limit, required=key == "title")
        async with self.store.transaction() as conn:
            current = await self._one(conn, tenant_id, order_id, lock=True)
            if current["status"] == "done":
                raise Conflict(f"work order {order_id} is done; it is closed")
            if "status" in body:
                note = changes.get("closing_note", current["closingNote"])
                changes["status"] = _status(body["status"], note)
                if changes["status"] == "done":
                    changes["closed_at"] = self._t(datetime.now(UTC))
            changes["updated_at"] = self._t(datetime.now(UTC))
            assignments = ", ".join(f"{column} = ?" for column in changes)
            await conn.execute(f"UPDATE workorders SET {assignments} WHERE id = ?",
                               (*changes.values(), order_id))
            return await self._one(conn, tenant_id, order_id)

    # -- reading ----------------------------------------------------------------------

    async def _one(self, conn: Any, tenant_id: int, order_id: int, lock: bool = False
                   ) -> dict[str, Any]:
        suffix = " FOR UPDATE" if lock and self.dialect.name == "postgresql" else ""
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM workorders WHERE id = ? AND tenant_id = ?"
                                  f"{suffix}", (order_id, tenant_id))
        if row is None:
            raise NotFound(f"no work order {order_id}")
        return self._json(row)

    async def find(self, tenant_id: int, order_id: int) -> dict[str, Any]:
        async with self.store.reader() as conn:
            return await self._one(conn, tenant_id, order_id)

    async def listing(self, tenant_id: int, status: list[str], assignee: str | None,
                      limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        where: list[str] = ["tenant_id = ?"]
        params: list[Any] = [tenant_id]
        if status:
            where.append(f"status IN ({', '.join('?' for _ in status)})")
            params += status
        if assignee is not None:
            where.append("assignee = ?")
            params.append(assignee)
        condition = " AND ".join(where)
        async with self.store.reader() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM workorders WHERE {condition}", params)
            rows = await conn.fetch(f"SELECT {_COLUMNS} FROM workorders WHERE {condition} "
                                    "ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset])
        return [self._json(r) for r in rows], int(total)
