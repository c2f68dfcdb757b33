"""The life of an alert: opened, escalated or eased, acknowledged, commented, resolved.

Every change updates the ``alerts`` row and adds an ``alert_events`` row with the alert as
it is afterwards, in the caller's transaction, so that the history is complete and the
notifiers (which read the events) see each change exactly once. The functions that take a
``conn`` run inside a transaction someone else holds; the others open their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quartier.errors import BadRequest, Conflict, NotFound
from quartier.model.times import format_instant
from quartier.model.values import JSON, TIME
from quartier.rules.definition import Rule
from quartier.store import Store, audience
from quartier.workorders import WorkOrders

_COLUMNS = ("id, tenant_id, rule_id, rule_name, subject, datastream_id, thing_id, status, level, "
            "level_name, severity, message, value, peak, observed_at, area, estimate, opened_at, updated_at, "
            "acknowledged_at, acknowledged_by, resolved_at, resolved_by")
_TIMES = ("observed_at", "opened_at", "updated_at", "acknowledged_at", "resolved_at")
STATUSES = ("open", "acknowledged", "resolved")
MAX_TEXT = 2_000


def now() -> datetime:
    return datetime.now(UTC)


def _json(store_dialect: Any, row: Any) -> dict[str, Any]:
    """An alert row as the API and the events show it."""
    names = [c.strip() for c in _COLUMNS.split(",")]
    raw = dict(zip(names, row, strict=True))
    for key in _TIMES:
        value = store_dialect.decode(TIME, raw[key])
        raw[key] = format_instant(value) if value is not None else None
    for key in ("value", "peak", "area", "estimate"):
        raw[key] = store_dialect.decode(JSON, raw[key])
    return {
        "id": raw["id"], "rule": raw["rule_name"], "ruleId": raw["rule_id"],
        "subject": raw["subject"], "datastreamId": raw["datastream_id"],
        "thingId": raw["thing_id"], "status": raw["status"], "level": raw["level"],
        "levelName": raw["level_name"], "severity": raw["severity"], "message": raw["message"],
        "value": raw["value"], "peak": raw["peak"], "observedAt": raw["observed_at"],
        "area": raw["area"], "estimate": raw["estimate"], "openedAt": raw["opened_at"],
        "updatedAt": raw["updated_at"],
        "acknowledgedAt": raw["acknowledged_at"], "acknowledgedBy": raw["acknowledged_by"],
        "resolvedAt": raw["resolved_at"], "resolvedBy": raw["resolved_by"],
    }


class Alerts:
    """Alert changes on one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dialect = store.dialect

    def _t(self, value: datetime | None) -> Any:
        return self.dialect.encode(TIME, value)

    def _j(self, value: Any) -> Any:
        return self.dialect.encode(JSON, value)

    async def snapshot(self, conn: Any, alert_id: int) -> dict[str, Any]:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        return _json(self.dialect, row)

    async def record(self, conn: Any, tenant_id: int, alert_id: int, kind: str,
                     by: str | None = None, comment: str | None = None) -> dict[str, Any]:
        alert = await self.snapshot(conn, alert_id)
        await conn.execute(
            "INSERT INTO alert_events (tenant_id, alert_id, kind, at, by_person, comment, alert) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tenant_id, alert_id, kind, self._t(now()), by, comment, self._j(alert)))
        return alert

    # -- by the engine, inside its transaction ---------------------------------------

    async def open(self, conn: Any, rule: Rule, subject: str, context: dict[str, Any], level: int,
                   value: Any, observed: datetime) -> int:
        assert rule.id is not None and rule.tenant_id is not None
        named = rule.level(level)
        at = self._t(now())
        alert_id = int(await conn.fetchval(
            "INSERT INTO alerts (tenant_id, rule_id, rule_name, subject, datastream_id, thing_id, "
            "status, level, level_name, severity, message, value, peak, observed_at, area, estimate, "
            "opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            (rule.tenant_id, rule.id, rule.name, subject, context.get("datastream_id"),
             context.get("thing_id"), level, named.name, named.severity,
             message(rule, level, context, value), self._j(value), self._j(value),
             self._t(observed), self._j(context.get("area")), self._j(context.get("estimate")),
             at, at)))
        await self.record(conn, rule.tenant_id, alert_id, "opened")
        if rule.work_order:  # a fault: someone has to go and repair it
            await WorkOrders(self.store).for_alert(conn, rule.tenant_id, alert_id,
                                                   context.get("thing_id"),
                                                   message(rule, level, context, value))
        return alert_id

    async def change_level(self, conn: Any, rule: Rule, alert_id: int, context: dict[str, Any],
                           old: int, level: int, value: Any, observed: datetime) -> None:
        assert rule.tenant_id is not None
        named = rule.level(level)
        # Worse news needs a person again, even after an acknowledgement.
        status = "open" if level > old else None
        await conn.execute(
            "UPDATE alerts SET level = ?, level_name = ?, severity = ?, message = ?, value = ?, "
            "observed_at = ?, estimate = ?, updated_at = ?, status = coalesce(?, status) WHERE id = ?",
            (level, named.name, named.severity, message(rule, level, context, value), self._j(value),
             self._t(observed), self._j(context.get("estimate")), self._t(now()), status, alert_id))
        await self.record(conn, rule.tenant_id, alert_id, "escalated" if level > old else "deescalated")

    async def note_value(self, conn: Any, alert_id: int, value: Any, observed: datetime,
                         higher_is_worse: bool, estimate: dict[str, Any] | None) -> None:
        """The latest value of an open alert, its peak and the estimate of the next level
        (no event: not news by itself)."""
        row = await conn.fetchrow("SELECT peak FROM alerts WHERE id = ?", (alert_id,))
        peak = self.dialect.decode(JSON, row[0]) if row is not None else None
        worse = (isinstance(value, int | float) and isinstance(peak, int | float)
                 and (value > peak if higher_is_worse else value < peak))
        await conn.execute(
            "UPDATE alerts SET value = ?, observed_at = ?, peak = ?, estimate = ? WHERE id = ?",
            (self._j(value), self._t(observed), self._j(value if worse else peak),
             self._j(estimate), alert_id))

    async def close(self, conn: Any, tenant_id: int, alert_id: int, by: str | None = None,
                    comment: str | None = None) -> dict[str, Any] | None:
        """Resolve an alert that is not resolved yet; None when it already was."""
        done = await conn.fetchval(
            "UPDATE alerts SET status = 'resolved', resolved_at = ?, resolved_by = ?, updated_at = ? "
            "WHERE id = ? AND status <> 'resolved' RETURNING id",
            (self._t(now()), by, self._t(now()), alert_id))
        if done is None:
            return None
        await conn.execute("UPDATE rule_states SET alert_id = NULL WHERE alert_id = ?", (alert_id,))
        return await self.record(conn, tenant_id, alert_id, "resolved", by, comment)

    # -- by people, through the API --------------------------------------------------

    async def acknowledge(self, tenant_id: int, alert_id: int, by: Any, comment: Any) -> dict[str, Any]:
        person, text = _person(by), _text(comment, required=False)
        async with self.store.transaction() as conn:
            status = await self._status(conn, tenant_id, alert_id)
            if status == "resolved":
                raise Conflict(f"alert {alert_id} is resolved; it cannot be acknowledged")
            await conn.execute(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, "
                "updated_at = ? WHERE id = ?",
                (self._t(now()), person, self._t(now()), alert_id))
            return await self.record(conn, tenant_id, alert_id, "acknowledged", person, text)

    async def comment(self, tenant_id: int, alert_id: int, by: Any, comment: Any) -> dict[str, Any]:
        person, text = _person(by), _text(comment, required=True)
        async with self.store.transaction() as conn:
            await self._status(conn, tenant_id, alert_id)
            await conn.execute("UPDATE alerts SET updated_at = ? WHERE id = ?",
                               (self._t(now()), alert_id))
            return await self.record(conn, tenant_id, alert_id, "commented", person, text)

    async def resolve(self, tenant_id: int, alert_id: int, by: Any, comment: Any) -> dict[str, Any]:
        person, text = _person(by), _text(comment, required=False)
        async with self.store.transaction() as conn:
            await self._status(conn, tenant_id, alert_id)
            closed = await self.close(conn, tenant_id, alert_id, person, text)
            if closed is None:
                raise Conflict(f"alert {alert_id} is resolved already")
            return closed

    async def _status(self, conn: Any, tenant_id: int, alert_id: int) -> str:
        status = await conn.fetchval("SELECT status FROM alerts WHERE id = ? AND tenant_id = ?",
                                     (alert_id, tenant_id))
        if status is None:
            raise NotFound(f"no alert {alert_id}")
        return str(status)

    # -- reading ----------------------------------------------------------------------

    def _seen(self, tenant_id: int) -> tuple[str, tuple[Any, ...]]:
        """Which alerts the reader of ``tenant_id`` sees: those about Datastreams and
        Things it may see (:func:`quartier.store.audience.alerts`)."""
        return audience.alerts(audience.reader_of(self.store, tenant_id), "alerts")

    async def find(self, tenant_id: int, alert_id: int) -> dict[str, Any]:
        async with self.store.reader() as conn:
            seen, seen_params = self._seen(tenant_id)
            row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM alerts WHERE id = ? AND {seen}",
                                      (alert_id, *seen_params))
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            events = await conn.fetch(
                "SELECT id, kind, at, by_person, comment, alert FROM alert_events "
                "WHERE alert_id = ? ORDER BY id", (alert_id,))
        alert = _json(self.dialect, row)
        alert["history"] = [
            {"id": e[0], "kind": e[1], "at": format_instant(self.dialect.decode(TIME, e[2])),
             "by": e[3], "comment": e[4], "level": self.dialect.decode(JSON, e[5])["level"],
             "severity": self.dialect.decode(JSON, e[5])["severity"]}
            for e in events]
        return alert

    async def listing(self, tenant_id: int, status: list[str], severity: list[str],
                      since: datetime | None, until: datetime | None, area: Any,
                      limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        seen, seen_params = self._seen(tenant_id)
        where: list[str] = [seen]
        params: list[Any] = [*seen_params]
        if status:
            where.append(f"status IN ({', '.join('?' for _ in status)})")
            params += status
        if severity:
            where.append(f"severity IN ({', '.join('?' for _ in severity)})")
            params += severity
        if since is not None:
            where.append("opened_at >= ?")
            params.append(self._t(since))
        if until is not None:
            where.append("opened_at < ?")
            params.append(self._t(until))
        sql = f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)} ORDER BY opened_at DESC, id DESC"
        async with self.store.reader() as conn:
            rows = await conn.fetch(sql, params)
        found = [_json(self.dialect, r) for r in rows]
        if area is not None:
            found = [a for a in found if _within(a.get("area"), area)]
        return found[offset:offset + limit], len(found)


def message(rule: Rule, level: int, context: dict[str, Any], value: Any) -> str:
    named = rule.level(level)
    thing, stream = context.get("thing"), context.get("datastream")
    if thing and stream and stream.startswith(thing):
        thing = None  # "Pegel Lind Wasserstand" names its Thing already
    what = ", ".join(p for p in (thing, stream) if p)
    unit = context.get("unit") or ""
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list):
        shown = "position " + ", ".join(f"{v:.5f}" for v in value[:2])
    text = f"{named.name}: {what or context.get('subject', '')} {shown}{' ' + unit if unit else ''}"
    return text[:MAX_TEXT]


def _person(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest('"by" must name the person, e.g. {"by": "M. Weber", "comment": "…"}')
    if len(raw) > 200:
        raise BadRequest('"by" is at most 200 characters')
    return raw.strip()


def _text(raw: Any, required: bool) -> str | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or (required and not raw.strip()):
        raise BadRequest('"comment" must be a non-empty string')
    if len(raw) > MAX_TEXT:
        raise BadRequest(f'"comment" is at most {MAX_TEXT} characters')
    return raw


def _within(geometry: Any, area: Any) -> bool:
    from shapely.geometry import shape

    if not isinstance(geometry, dict):
        return False
    try:
        return bool(shape(geometry).intersects(area))
    except Exception:
        return False
