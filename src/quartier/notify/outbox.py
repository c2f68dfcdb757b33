"""The outbox: deliveries made from alert events, one per (event, channel), and the claims
that let several workers send them without sending any twice.

* **Fan-out.** Each alert event is turned into deliveries once: a mark in
  ``notification_fanout`` (its primary key is the event) is inserted in the same
  transaction as the deliveries, so a second worker that reaches the same event finds the
  mark and leaves it. A cursor in ``notification_cursor`` keeps the scan short: it moves up
  to events marked more than :data:`CURSOR_LAG` ago, since an event with a lower id whose
  transaction had not committed yet could still appear below newer ones until then.
* **Claims.** A worker claims due deliveries (:mod:`quartier.claims`), sends them, and
  records the outcome. A claim that runs out (the worker died) makes the delivery due
  again, so a delivery is sent at least once, and twice only when a worker dies between
  sending and recording: receivers drop repeats by the event id.
* An alert's deliveries on one channel go out in the order of its events: a delivery waits
  while an earlier one of the same alert and channel is still pending.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from quartier import claims
from quartier.model.times import format_instant
from quartier.model.values import JSON, TIME
from quartier.notify import cap, channels, routing
from quartier.notify.channels import Channel
from quartier.store import Store

log = logging.getLogger(__name__)

CURSOR_LAG = timedelta(minutes=15)  # longer than any transaction that writes an alert event
CLAIM_FOR = timedelta(minutes=2)  # longer than one send may take (timeouts are shorter)
FANOUT_BATCH = 200
MAX_BACKOFF = timedelta(hours=1)
_CURSOR = "alert_events"
_EVENT_COLUMNS = ("e.id, e.tenant_id, e.alert_id, e.kind, e.at, e.by_person, e.comment, e.alert, "
                  "a.rule_id, t.name")


class DeliveryError(Exception):
    """A delivery did not arrive; the message says why."""


@dataclass(frozen=True)
class Event:
    """An alert event as notifications see it."""

    id: int
    tenant_id: int
    tenant: str
    alert_id: int
    kind: str
    at: datetime
    by: str | None
    comment: str | None
    alert: dict[str, Any]
    rule_id: int | None

    def as_json(self) -> dict[str, Any]:
        """What webhooks and MQTT carry, and e-mails tell."""
        return {"id": self.id, "kind": self.kind, "at": format_instant(self.at), "by": self.by,
                "comment": self.comment, "tenant": self.tenant, "alert": self.alert}


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery, with what it needs to be sent."""

    id: int
    channel: Channel
    event: Event
    attempts: int


def _now() -> datetime:
    return datetime.now(UTC)


def _event(store: Store, row: Any) -> Event:
    decode = store.dialect.decode
    return Event(int(row[0]), int(row[1]), str(row[9]), int(row[2]), str(row[3]),
                 decode(TIME, row[4]), row[5], row[6], decode(JSON, row[7]),
                 None if row[8] is None else int(row[8]))


async def _rule(conn: Any, store: Store, rule_id: int | None,
                cache: dict[int, tuple[list[str] | None, dict[str, Any]]]
                ) -> tuple[list[str] | None, dict[str, Any]]:
    """The rule's ``notify`` list (None: every channel) and what it says for CAP (its
    ``category``)."""
    if rule_id is None:
        return None, {}
    if rule_id not in cache:
        raw = await conn.fetchval("SELECT definition FROM rules WHERE id = ?", (rule_id,))
        definition = store.dialect.decode(JSON, raw) if raw is not None else {}
        notify = definition.get("notify") if isinstance(definition, dict) else None
        notify = [n for n in notify if isinstance(n, str)] if isinstance(notify, list) else None
        cap_texts: dict[str, Any] = {}
        if isinstance(definition, dict) and definition.get("category") in channels.CAP_CATEGORIES:
            cap_texts["category"] = definition["category"]
        cache[rule_id] = (notify, cap_texts)
    return cache[rule_id]


async def fan_out(store: Store) -> int:
    """Turn alert events that have no deliveries yet into deliveries; returns how many
    events this call handled."""
    async with store.reader() as conn:
        position = await conn.fetchval("SELECT position FROM notification_cursor WHERE name = ?",
                                       (_CURSOR,)) or 0
        rows = await conn.fetch(
            f"SELECT {_EVENT_COLUMNS} FROM alert_events e LEFT JOIN alerts a ON a.id = e.alert_id "
            "JOIN tenants t ON t.id = e.tenant_id WHERE e.id > ? AND NOT EXISTS "
            "(SELECT 1 FROM notification_fanout f WHERE f.event_id = e.id) ORDER BY e.id LIMIT ?",
            (position, FANOUT_BATCH))
    if not rows:
        return 0
    events = [_event(store, row) for row in rows]
    handled = 0
    async with store.transaction() as conn:
        now = _now()
        rules: dict[int, tuple[list[str] | None, dict[str, Any]]] = {}
        by_tenant: dict[int, list[Channel]] = {}
        for event in events:
            marked = await conn.fetchval(
                "INSERT INTO notification_fanout (event_id, at) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING RETURNING event_id",
                (event.id, store.dialect.encode(TIME, now)))
            if marked is None:  # another worker got there first
                continue
            handled += 1
            if event.tenant_id not in by_tenant:
                by_tenant[event.tenant_id] = await channels.listing(store, event.tenant_id, conn)
            targets = by_tenant[event.tenant_id]
            if not targets:
                continue
            notify, rule_cap = await _rule(conn, store, event.rule_id, rules)
            reported = {int(r[0]) for r in await conn.fetch(
                "SELECT DISTINCT channel_id FROM notification_deliveries WHERE alert_id = ?",
                (event.alert_id,))}
            for channel in targets:
                if routing.routes(channel, event.kind, event.at, event.alert, notify,
                                  channel.id in reported):
                    await _add_delivery(conn, store, channel, event, now, rule_cap)
    return handled


async def _add_delivery(conn: Any, store: Store, channel: Channel, event: Event, now: datetime,
                        rule_cap: dict[str, Any]) -> None:
    encode = store.dialect.encode
    published = channel.kind == "cap"
    delivery_id = await conn.fetchval(
        "INSERT INTO notification_deliveries (tenant_id, channel_id, event_id, alert_id, kind, "
        "status, next_attempt_at, created_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING RETURNING id",
        (event.tenant_id, channel.id, event.id, event.alert_id, event.kind,
         "delivered" if published else "pending", encode(TIME, now), encode(TIME, now),
         encode(TIME, now) if published else None))
    if delivery_id is None or not published:
        return
    # A CAP message is published the moment it is made: it is the feed's content.
    earlier = [store.dialect.decode(JSON, r[0]) for r in await conn.fetch(
        "SELECT message FROM notification_deliveries WHERE channel_id = ? AND alert_id = ? "
        "AND message IS NOT NULL ORDER BY event_id", (channel.id, event.alert_id))]
    texts = dict(rule_cap)
    thing_id = event.alert.get("thingId")
    if "areaDesc" not in texts and isinstance(thing_id, int):
        # Where it is, in words: the Thing's name (a gauge, a lamp), not the subject's id.
        thing = await conn.fetchval("SELECT name FROM things WHERE id = ?", (thing_id,))
        if thing:
            texts["areaDesc"] = thing
    message = cap.build_message(
        message_id=int(delivery_id), tenant=event.tenant, kind=event.kind, at=event.at,
        alert=event.alert, config=channel.config["cap"], rule_cap=texts, earlier=earlier)
    await conn.execute("UPDATE notification_deliveries SET message = ?, attempts = 1 WHERE id = ?",
                       (encode(JSON, message), delivery_id))


async def advance_cursor(store: Store) -> None:
    """Move the fan-out cursor up to events marked long enough ago, and forget the marks
    below it."""
    limit = store.dialect.encode(TIME, _now() - CURSOR_LAG)
    async with store.reader() as conn:
        top = await conn.fetchval("SELECT max(event_id) FROM notification_fanout WHERE at < ?",
                                  (limit,))
    if top is None:
        return
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO notification_cursor (name, position) VALUES (?, ?) ON CONFLICT (name) "
            "DO UPDATE SET position = excluded.position "
            "WHERE notification_cursor.position < excluded.position", (_CURSOR, int(top)))
        await conn.execute("DELETE FROM notification_fanout WHERE event_id < ?", (int(top),))


# -- sending -----------------------------------------------------------------------------

async def claim(store: Store, limit: int = 20) -> list[Delivery]:
    """Claim due deliveries for this worker; each one's attempt count goes up by one."""
    now = _now()
    if not await claims.any_due(store, "notification_deliveries", now):
        return []
    async with store.transaction() as conn:
        rows = await claims.claim_due(
            conn, store, "notification_deliveries", "id", "id, channel_id, event_id, attempts",
            now, CLAIM_FOR, limit,
            also="NOT EXISTS (SELECT 1 FROM notification_deliveries p WHERE p.status = 'pending' "
                 "AND p.channel_id = d.channel_id AND p.alert_id = d.alert_id "
                 "AND p.event_id < d.event_id)")
        if not rows:
            return []
        # delivery id -> (channel id, event id, attempts)
        claimed = {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}
        event_ids = {e for _, e, _ in claimed.values()}
        marks = ", ".join("?" for _ in event_ids)
        events = {int(r[0]): _event(store, r) for r in await conn.fetch(
            f"SELECT {_EVENT_COLUMNS} FROM alert_events e LEFT JOIN alerts a ON a.id = e.alert_id "
            f"JOIN tenants t ON t.id = e.tenant_id WHERE e.id IN ({marks})", tuple(event_ids))}
        channel_ids = {c for c, _, _ in claimed.values()}
        marks = ", ".join("?" for _ in channel_ids)
        found = {c.id: c for c in [channels._from_row(store, r) for r in await conn.fetch(
            "SELECT id, tenant_id, name, kind, config, secret FROM notification_channels "
            f"WHERE id IN ({marks})", tuple(channel_ids))]}
    return sorted(
        (Delivery(d, found[c], events[e], n) for d, (c, e, n) in claimed.items()
         if e in events and c in found), key=lambda d: d.id)


async def delivered(store: Store, delivery: Delivery) -> None:
    now = store.dialect.encode(TIME, _now())
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE notification_deliveries SET status = 'delivered', delivered_at = ?, "
            "claimed_until = NULL, last_error = NULL WHERE id = ?", (now, delivery.id))
        await _attempt(conn, delivery, now, None)


async def failed(store: Store, delivery: Delivery, error: str, retry_base: float,
                 max_attempts: int) -> None:
    """Record a failed attempt: due again after an exponential backoff, or given up."""
    now = _now()
    wait = min(timedelta(seconds=retry_base * 2 ** (delivery.attempts - 1)), MAX_BACKOFF)
    give_up = delivery.attempts >= max_attempts
    encode = store.dialect.encode
    async with store.transaction() as conn:
        await conn.execute(
            "UPDATE notification_deliveries SET status = ?, next_attempt_at = ?, "
            "claimed_until = NULL, last_error = ? WHERE id = ?",
            ("failed" if give_up else "pending", encode(TIME, now + wait), error[:2000],
             delivery.id))
        await _attempt(conn, delivery, encode(TIME, now), error[:2000])
    log.warning("delivery %d of alert event %d on channel %r failed (attempt %d%s): %s",
                delivery.id, delivery.event.id, delivery.channel.name, delivery.attempts,
                ", given up" if give_up else "", error)


async def _attempt(conn: Any, delivery: Delivery, at: Any, error: str | None) -> None:
    await conn.execute(
        "INSERT INTO notification_attempts (delivery_id, attempt, at, error) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING", (delivery.id, delivery.attempts, at, error))


async def retry(store: Store, channel: Channel, delivery_id: int) -> bool:
    """Make a delivery due again now (after it was given up); False when there is none."""
    now = store.dialect.encode(TIME, _now())
    async with store.transaction() as conn:
        found = await conn.fetchval(
            "UPDATE notification_deliveries SET status = 'pending', next_attempt_at = ? "
            "WHERE id = ? AND channel_id = ? AND status <> 'delivered' RETURNING id",
            (now, delivery_id, channel.id))
    return found is not None


# -- reading -----------------------------------------------------------------------------

_DELIVERY_COLUMNS = ("id, event_id, alert_id, kind, status, attempts, next_attempt_at, last_error, "
                     "created_at, delivered_at")


async def deliveries(store: Store, channel: Channel, status: str | None, limit: int,
                     offset: int, delivery_id: int | None = None
                     ) -> tuple[list[dict[str, Any]], int]:
    """A channel's deliveries, newest first, with their attempts; and how many there are."""
    where, params = "channel_id = ?", list[Any]([channel.id])
    if delivery_id is not None:
        where += " AND id = ?"
        params.append(delivery_id)
    if status is not None:
        where += " AND status = ?"
        params.append(status)
    async with store.reader() as conn:
        rows = await conn.fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM notification_deliveries WHERE {where} "
            "ORDER BY id DESC LIMIT ? OFFSET ?", (*params, limit, offset))
        total = int(await conn.fetchval(
            f"SELECT count(*) FROM notification_deliveries WHERE {where}", tuple(params)))
        attempts: dict[int, list[dict[str, Any]]] = {}
        if rows:
            marks = ", ".join("?" for _ in rows)
            for r in await conn.fetch(
                    "SELECT delivery_id, attempt, at, error FROM notification_attempts "
                    f"WHERE delivery_id IN ({marks}) ORDER BY delivery_id, attempt",
                    tuple(int(r[0]) for r in rows)):
                attempts.setdefault(int(r[0]), []).append(
                    {"attempt": int(r[1]), "at": _time(store, r[2]), "error": r[3]})
    return [_delivery(store, row, attempts.get(int(row[0]), [])) for row in rows], total


async def delivery(store: Store, channel: Channel, delivery_id: int) -> dict[str, Any] | None:
    found, _ = await deliveries(store, channel, None, 1, 0, delivery_id)
    return found[0] if found else None


def _time(store: Store, value: Any) -> str | None:
    return None if value is None else format_instant(store.dialect.decode(TIME, value))


def _delivery(store: Store, row: Any, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    status = str(row[4])
    return {
        "id": int(row[0]), "eventId": int(row[1]), "alertId": int(row[2]), "kind": row[3],
        "status": status, "attempts": int(row[5]),
        "nextAttemptAt": _time(store, row[6]) if status == "pending" else None,
        "lastError": row[7], "createdAt": _time(store, row[8]),
        "deliveredAt": _time(store, row[9]), "attemptLog": attempts,
    }
