"""Reminders: while an alert stays open and nobody has acknowledged it, each channel with
``remindEvery`` tells of it again, once per interval after the alert opened.

A reminder is an alert event of kind ``reminder`` (part of the alert's history), made in
one transaction with its claim in ``notification_reminders``, whose key (alert, channel,
interval number) lets only one worker make it, and with its deliveries. An interval that
passed while no worker ran is not made up for: the next reminder is the current one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quartier.model.times import format_instant
from quartier.model.values import JSON, TIME
from quartier.notify import channels, routing
from quartier.notify.channels import Channel
from quartier.rules.alerts import Alerts
from quartier.store import Store

_ALERT_COLUMNS = ("a.id, a.tenant_id, a.rule_id, a.rule_name, a.subject, a.datastream_id, "
                  "a.thing_id, a.status, a.level, a.level_name, a.severity, a.message, a.value, "
                  "a.peak, a.observed_at, a.area, a.opened_at, a.updated_at, a.acknowledged_at, "
                  "a.acknowledged_by, a.resolved_at, a.resolved_by")


def snapshot(store: Store, row: Any) -> dict[str, Any]:
    """The alert row as alert events carry it (what routing looks at; the reminder event
    itself carries the rules engine's own snapshot)."""
    decode = store.dialect.decode

    def when(value: Any) -> str | None:
        return None if value is None else format_instant(decode(TIME, value))

    return {
        "id": int(row[0]), "rule": row[3], "ruleId": row[2], "subject": row[4],
        "datastreamId": row[5], "thingId": row[6], "status": row[7], "level": row[8],
        "levelName": row[9], "severity": row[10], "message": row[11],
        "value": decode(JSON, row[12]), "peak": decode(JSON, row[13]),
        "observedAt": when(row[14]), "area": decode(JSON, row[15]), "openedAt": when(row[16]),
        "updatedAt": when(row[17]), "acknowledgedAt": when(row[18]), "acknowledgedBy": row[19],
        "resolvedAt": when(row[20]), "resolvedBy": row[21],
    }


async def remind(store: Store) -> int:
    """Make the reminders that are due now; returns how many reminder events were made."""
    everyone = [c for c in await channels.listing(store) if c.remind_every is not None
                and c.kind != "cap" and "reminder" in c.events and c.enabled]
    if not everyone:
        return 0
    now = datetime.now(UTC)
    async with store.reader() as conn:
        rows = await conn.fetch(
            f"SELECT {_ALERT_COLUMNS}, r.definition FROM alerts a LEFT JOIN rules r "
            "ON r.id = a.rule_id WHERE a.status = 'open' ORDER BY a.id")
        claimed = {(int(r[0]), int(r[1]), int(r[2])) for r in await conn.fetch(
            "SELECT m.alert_id, m.channel_id, m.seq FROM notification_reminders m "
            "JOIN alerts a ON a.id = m.alert_id WHERE a.status = 'open'")}
    made = 0
    for row in rows:
        alert = snapshot(store, row)
        definition = store.dialect.decode(JSON, row[22]) if row[22] is not None else {}
        notify = definition.get("notify") if isinstance(definition, dict) else None
        notify = notify if isinstance(notify, list) else None
        opened = store.dialect.decode(TIME, row[16])
        due: list[tuple[Channel, int]] = []
        for channel in everyone:
            interval = channel.remind_every
            assert interval is not None
            seq = int((now - opened) / interval)
            if (channel.tenant_id == int(row[1]) and seq >= 1
                    and (alert["id"], channel.id, seq) not in claimed
                    and routing.routes(channel, "reminder", now, alert, notify, False)):
                due.append((channel, seq))
        if due and await _make(store, alert, int(row[1]), due, now):
            made += 1
    return made


async def _make(store: Store, alert: dict[str, Any], tenant_id: int,
                due: list[tuple[Channel, int]], now: datetime) -> bool:
    encode = store.dialect.encode
    lock = " FOR UPDATE" if store.dialect.name == "postgresql" else ""
    async with store.transaction() as conn:
        row = await conn.fetchrow(f"SELECT {_ALERT_COLUMNS} FROM alerts a WHERE a.id = ?{lock}",
                                  (alert["id"],))
        if row is None or row[7] != "open":  # acknowledged or resolved meanwhile
            return False
        won = []
        for channel, seq in due:
            if await conn.fetchval(
                    "INSERT INTO notification_reminders (alert_id, channel_id, seq, event_id) "
                    "VALUES (?, ?, ?, 0) ON CONFLICT DO NOTHING RETURNING channel_id",
                    (alert["id"], channel.id, seq)) is not None:
                won.append((channel, seq))
        if not won:
            return False
        current = await Alerts(store).snapshot(conn, alert["id"])
        event_id = int(await conn.fetchval(
            "INSERT INTO alert_events (tenant_id, alert_id, kind, at, alert) "
            "VALUES (?, ?, 'reminder', ?, ?) RETURNING id",
            (tenant_id, alert["id"], encode(TIME, now), encode(JSON, current))))
        # Marked as fanned out: only the channels whose reminder is due send it.
        await conn.execute("INSERT INTO notification_fanout (event_id, at) VALUES (?, ?)",
                           (event_id, encode(TIME, now)))
        for channel, seq in won:
            await conn.execute(
                "UPDATE notification_reminders SET event_id = ? WHERE alert_id = ? "
                "AND channel_id = ? AND seq = ?", (event_id, alert["id"], channel.id, seq))
            await conn.execute(
                "INSERT INTO notification_deliveries (tenant_id, channel_id, event_id, alert_id, "
                "kind, status, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'reminder', "
                "'pending', ?, ?)",
                (tenant_id, channel.id, event_id, alert["id"], encode(TIME, now), encode(TIME, now)))
    return True
