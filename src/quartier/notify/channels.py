"""Notification channels: where alerts go out, and which of them.

A channel has a name, a type and its routing::

    {"name": "leitstelle", "type": "webhook", "url": "https://ops.example.de/hooks/quartier",
     "minSeverity": "moderate", "area": {GeoJSON Polygon}, "timezone": "Europe/Berlin",
     "quietPeriods": [{"from": "22:00", "to": "06:00"}], "remindEvery": "PT30M"}

Types: ``webhook`` (``url``; each POST is signed with the channel's secret, shown once
when the channel is created), ``mqtt`` (``topic`` on the platform's broker), ``email``
(``to``: addresses) and ``cap`` (the public warning feed; ``cap``: sender and texts).
"""

from __future__ import annotations

import re
import secrets
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shapely.geometry.base import BaseGeometry

from quartier.errors import BadRequest, Conflict, NotFound
from quartier.model.geometry import geometry_of
from quartier.model.parse import known_members
from quartier.model.values import JSON, TIME
from quartier.redact import url_without_password
from quartier.settings import Settings
from quartier.store import Store

KINDS = ("webhook", "mqtt", "email", "cap")
SEVERITIES = ("minor", "moderate", "severe", "extreme")
EVENT_KINDS = ("opened", "escalated", "deescalated", "acknowledged", "commented", "resolved",
               "reminder")
DEFAULT_EVENTS = ("opened", "escalated", "deescalated", "acknowledged", "resolved", "reminder")
CAP_CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
                  "Transport", "Infra", "CBRNE", "Other")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")
# CAP forbids spaces, commas, '<' and '&' in a sender.
_CAP_SENDER = re.compile(r"[^\s,<&]+")
_COMMON = {"name", "type", "enabled", "minSeverity", "area", "timezone", "quietPeriods",
           "remindEvery", "events"}
_OWN = {"webhook": {"url"}, "mqtt": {"topic", "retain"}, "email": {"to", "subjectPrefix"},
        "cap": {"cap"}}
_CAP_KEYS = {"sender", "senderName", "language", "category", "expiresHours", "web",
             "instruction"}
_COLUMNS = "id, tenant_id, name, kind, config, secret"


@dataclass(frozen=True)
class QuietPeriod:
    """A local clock range, ``start`` to ``end`` (crossing midnight when end <= start),
    on the given weekdays (the day it starts; every day when empty)."""

    start: time
    end: time  # time(0) with ``until_midnight`` for 24:00
    until_midnight: bool
    days: frozenset[int]

    def covers(self, local: datetime) -> bool:
        clock = local.time().replace(tzinfo=None)
        end_of_range = time.max if self.until_midnight else self.end
        if self.until_midnight or self.start < self.end:
            return self._on(local.weekday()) and self.start <= clock < end_of_range
        # Crosses midnight: the evening part belongs to today, the morning to yesterday.
        if clock >= self.start:
            return self._on(local.weekday())
        return clock < self.end and self._on((local.weekday() - 1) % 7)

    def _on(self, weekday: int) -> bool:
        return not self.days or weekday in self.days


@dataclass(frozen=True)
class Channel:
    """A stored channel; ``config`` is what the API shows."""

    id: int
    tenant_id: int
    name: str
    kind: str
    config: dict[str, Any]
    secret: str | None

    @property
    def enabled(self) -> bool:
        return bool(self.config.get("enabled", True))

    @property
    def min_severity(self) -> int:
        return SEVERITIES.index(self.config.get("minSeverity", "minor"))

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(self.config.get("events", DEFAULT_EVENTS))

    @property
    def area(self) -> BaseGeometry | None:
        area = self.config.get("area")
        return None if area is None else geometry_of(area, "area")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.get("timezone", "Europe/Berlin"))

    @property
    def quiet_periods(self) -> list[QuietPeriod]:
        return [_quiet_period(item, "") for item in self.config.get("quietPeriods", [])]

    @property
    def remind_every(self) -> timedelta | None:
        raw = self.config.get("remindEvery")
        return None if raw is None else _interval(raw)

    def as_json(self) -> dict[str, Any]:
        shown = {**self.config, "name": self.name, "type": self.kind}
        if "url" in shown:  # a webhook's URL may carry a password
            shown["url"] = url_without_password(shown["url"])
        return shown


def parse_channel(body: Any, settings: Settings, name: str | None = None) -> dict[str, Any]:
    """The channel's configuration from a request body; 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest('a channel is a JSON object: {"name": "leitstelle", "type": "webhook", '
                         '"url": "https://…"}')
    kind = body.get("type")
    if kind not in KINDS:
        raise BadRequest(f"type must be one of {', '.join(KINDS)}, not {kind!r}")
    known_members(body, _COMMON | _OWN[kind], f"a {kind} channel")
    given = body.get("name", name)
    if name is not None and given != name:
        raise BadRequest(f"the name of a channel cannot change (it is {name!r})")
    if not isinstance(given, str) or not _NAME.fullmatch(given):
        raise BadRequest(f"name must be 1 to 63 lower-case letters, digits and dashes, not {given!r}")
    config: dict[str, Any] = {"name": given, "type": kind}
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("enabled must be true or false")
    config["enabled"] = enabled
    severity = body.get("minSeverity", "minor")
    if severity not in SEVERITIES:
        raise BadRequest(f"minSeverity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    config["minSeverity"] = severity
    if body.get("area") is not None:
        area = body["area"]
        geometry_of(area, "area")
        if not isinstance(area, dict) or area.get("type") not in ("Polygon", "MultiPolygon"):
            raise BadRequest("area must be a GeoJSON Polygon or MultiPolygon")
        config["area"] = area
    zone = body.get("timezone", "Europe/Berlin")
    try:
        ZoneInfo(zone) if isinstance(zone, str) and zone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if not isinstance(zone, str) or not zone:
        raise BadRequest(f"timezone must be an IANA time zone such as Europe/Berlin, not "
                         f"{body.get('timezone')!r}")
    config["timezone"] = zone
    quiet = body.get("quietPeriods", [])
    if not isinstance(quiet, list):
        raise BadRequest('quietPeriods must be a list like [{"from": "22:00", "to": "06:00"}]')
    for i, item in enumerate(quiet):
        _quiet_period(item, f"quietPeriods[{i}]")
    config["quietPeriods"] = quiet
    if body.get("remindEvery") is not None:
        _interval(body["remindEvery"])
        config["remindEvery"] = body["remindEvery"]
    events = body.get("events", list(DEFAULT_EVENTS))
    if (not isinstance(events, list) or not events
            or any(e not in EVENT_KINDS for e in events)):
        raise BadRequest(f"events must be a non-empty list of {', '.join(EVENT_KINDS)}")
    config["events"] = list(dict.fromkeys(events))
    config.update(_own_config(kind, body, settings))
    return config


def _own_config(kind: str, body: dict[str, Any], settings: Settings) -> dict[str, Any]:
    if kind == "webhook":
        url = body.get("url")
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise BadRequest(f"url must be an http:// or https:// URL, not {url!r}")
        return {"url": url}
    if kind == "mqtt":
        if not settings.mqtt:
            raise BadRequest("mqtt channels publish on the platform's broker, and none is set "
                             "(start Quartier with --mqtt)")
        topic = body.get("topic")
        if (not isinstance(topic, str) or not topic or any(c in topic for c in "#+\x00")
                or topic.startswith("$")):
            raise BadRequest(f"topic must be an MQTT topic without wildcards, not {topic!r}")
        retain = body.get("retain", False)
        if not isinstance(retain, bool):
            raise BadRequest("retain must be true or false")
        return {"topic": topic, "retain": retain}
    if kind == "email":
        if not settings.smtp_host:
            raise BadRequest("email channels need an SMTP server, and none is set "
                             "(start Quartier with --smtp-host)")
        to = body.get("to")
        if isinstance(to, str):
            to = [to]
        if (not isinstance(to, list) or not to
                or not all(isinstance(a, str) and _ADDRESS.fullmatch(a) for a in to)):
            raise BadRequest(f"to must be an e-mail address or a list of them, not {to!r}")
        prefix = body.get("subjectPrefix", "[Quartier]")
        if not isinstance(prefix, str) or "\n" in prefix or "\r" in prefix:
            raise BadRequest("subjectPrefix must be one line of text")
        return {"to": to, "subjectPrefix": prefix}
    return {"cap": _cap_config(body.get("cap", {}))}


def _cap_config(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest('cap must be an object such as {"sender": "warnung@stadt.example", '
                         '"senderName": "Stadt Lindbrück", "language": "de-DE"}')
    known_members(raw, _CAP_KEYS, "cap")
    out: dict[str, Any] = {
        "sender": raw.get("sender", "quartier@localhost"),
        "language": raw.get("language", "de-DE"),
        "expiresHours": raw.get("expiresHours", 24),
    }
    if not isinstance(out["sender"], str) or not _CAP_SENDER.fullmatch(out["sender"]):
        raise BadRequest("cap.sender must identify the sender without spaces, commas, '<' or '&' "
                         f"(e.g. warnung@stadt.example), not {out['sender']!r}")
    if not isinstance(out["language"], str) or not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*",
                                                                out["language"]):
        raise BadRequest(f"cap.language must be a language tag such as de-DE, not {out['language']!r}")
    hours = out["expiresHours"]
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 8760:
        raise BadRequest("cap.expiresHours must be a number of hours between 0 and 8760")
    category = raw.get("category")
    if category is not None:
        if category not in CAP_CATEGORIES:
            raise BadRequest(f"cap.category must be one of {', '.join(CAP_CATEGORIES)}, "
                             f"not {category!r}")
        out["category"] = category
    for key in ("senderName", "web", "instruction"):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key].strip():
                raise BadRequest(f"cap.{key} must be a non-empty string")
            out[key] = raw[key]
    return out


def _quiet_period(item: Any, what: str) -> QuietPeriod:
    if not isinstance(item, dict) or not set(item) <= {"from", "to", "days"}:
        raise BadRequest(f'{what} must be like {{"from": "22:00", "to": "06:00"}}, optionally '
                         'with "days": ["sat", "sun"]')
    start, end = _clock(item.get("from"), f"{what}.from"), _clock(item.get("to"), f"{what}.to")
    if start == "24:00":
        raise BadRequest(f"{what}.from must be a time before 24:00")
    days = item.get("days", [])
    if not isinstance(days, list) or any(d not in _DAYS for d in days):
        raise BadRequest(f"{what}.days must be a list of {', '.join(_DAYS)}")
    return QuietPeriod(_time(start), _time(end) if end != "24:00" else time(0), end == "24:00",
                       frozenset(_DAYS.index(d) for d in days))


def _clock(raw: Any, what: str) -> str:
    if not isinstance(raw, str) or not _CLOCK.fullmatch(raw):
        raise BadRequest(f"{what} must be a local time HH:MM, not {raw!r}")
    return raw


def _time(text: str) -> time:
    return time(int(text[:2]), int(text[3:]))


def _interval(raw: Any) -> timedelta:
    from quartier.query.expr import parse_duration

    what = 'remindEvery must be an ISO 8601 duration such as "PT30M"'
    if not isinstance(raw, str):
        raise BadRequest(f"{what}, not {raw!r}")
    try:
        parsed = parse_duration(raw)
    except ValueError:
        raise BadRequest(f"{what}, not {raw!r}") from None
    if parsed.months or parsed.micros < 1_000_000:
        raise BadRequest(f"{what} of at least one second and without years or months, not {raw!r}")
    return timedelta(microseconds=parsed.micros)


# -- storage ---------------------------------------------------------------------------

async def create(store: Store, tenant_id: int, config: dict[str, Any]) -> tuple[Channel, str | None]:
    """Store a new channel; returns it and, for a webhook, its secret (shown only now)."""
    secret = secrets.token_urlsafe(32) if config["type"] == "webhook" else None
    now = store.dialect.encode(TIME, datetime.now(UTC))
    async with store.transaction() as conn:
        row = await conn.fetchrow(
            "INSERT INTO notification_channels (tenant_id, name, kind, config, secret, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING " + _COLUMNS,
            (tenant_id, config["name"], config["type"], store.dialect.encode(JSON, config), secret,
             now, now))
    if row is None:
        raise Conflict(f"a channel named {config['name']!r} exists already")
    return _from_row(store, row), secret


async def replace(store: Store, tenant_id: int, config: dict[str, Any]) -> Channel:
    """Change a channel (its type may change; a webhook keeps its secret)."""
    now = store.dialect.encode(TIME, datetime.now(UTC))
    async with store.transaction() as conn:
        old = await conn.fetchrow(
            "SELECT secret FROM notification_channels WHERE tenant_id = ? AND name = ?",
            (tenant_id, config["name"]))
        if old is None:
            raise NotFound(f"no channel {config['name']!r}")
        secret = old[0] if old[0] is not None or config["type"] != "webhook" else \
            secrets.token_urlsafe(32)
        row = await conn.fetchrow(
            "UPDATE notification_channels SET kind = ?, config = ?, secret = ?, updated_at = ? "
            "WHERE tenant_id = ? AND name = ? RETURNING " + _COLUMNS,
            (config["type"], store.dialect.encode(JSON, config), secret, now, tenant_id,
             config["name"]))
    assert row is not None
    return _from_row(store, row)


async def new_secret(store: Store, tenant_id: int, name: str) -> str:
    """Give a webhook channel a new secret; returns it (shown only now)."""
    secret = secrets.token_urlsafe(32)
    async with store.transaction() as conn:
        kind = await conn.fetchval(
            "UPDATE notification_channels SET secret = ? WHERE tenant_id = ? AND name = ? "
            "RETURNING kind", (secret, tenant_id, name))
        if kind is not None and kind != "webhook":
            raise BadRequest(f"channel {name!r} is not a webhook; only webhooks have a secret")
    if kind is None:
        raise NotFound(f"no channel {name!r}")
    return secret


async def find(store: Store, tenant_id: int, name: str) -> Channel:
    async with store.reader() as conn:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM notification_channels WHERE tenant_id = ? AND name = ?",
            (tenant_id, name))
    if row is None:
        raise NotFound(f"no channel {name!r}")
    return _from_row(store, row)


async def listing(store: Store, tenant_id: int | None = None, conn: Any = None) -> list[Channel]:
    """The channels of a tenant, or of every tenant."""
    where, params = ("WHERE tenant_id = ?", (tenant_id,)) if tenant_id is not None else ("", ())
    sql = f"SELECT {_COLUMNS} FROM notification_channels {where} ORDER BY id"
    if conn is not None:
        rows = await conn.fetch(sql, params)
    else:
        async with store.reader() as reader:
            rows = await reader.fetch(sql, params)
    return [_from_row(store, row) for row in rows]


async def delete(store: Store, tenant_id: int, name: str) -> None:
    async with store.transaction() as conn:
        gone = await conn.fetchval(
            "DELETE FROM notification_channels WHERE tenant_id = ? AND name = ? RETURNING id",
            (tenant_id, name))
    if gone is None:
        raise NotFound(f"no channel {name!r}")


def _from_row(store: Store, row: Any) -> Channel:
    return Channel(int(row[0]), int(row[1]), str(row[2]), str(row[3]),
                   store.dialect.decode(JSON, row[4]), row[5])
