"""A calendar day in a time zone, as the UTC range the database compares with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quartier.errors import BadRequest
from quartier.model.times import format_instant


@dataclass(frozen=True)
class LocalDay:
    """One day from local midnight to local midnight (23 or 25 hours when the clocks
    change)."""

    day: date
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.day + timedelta(days=1), time(), self.zone).astimezone(UTC)

    def as_json(self) -> dict[str, str]:
        return {"date": self.day.isoformat(), "timezone": self.zone.key,
                "from": format_instant(self.start), "to": format_instant(self.end)}


def parse_zone(text: str | None) -> ZoneInfo:
    """An IANA time zone such as ``Europe/Berlin``; UTC when not given."""
    if not text:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"tz must name a time zone such as Europe/Berlin, not {text!r}") from None


def parse_local_day(date_text: str | None, zone_text: str | None, now: datetime) -> LocalDay:
    """The day ``date_text`` (YYYY-MM-DD) in zone ``zone_text``; today there when not given."""
    zone = parse_zone(zone_text)
    if not date_text:
        return LocalDay(now.astimezone(zone).date(), zone)
    try:
        day = date.fromisoformat(date_text)
    except ValueError:
        raise BadRequest(f"date must be a day such as 2026-11-22, not {date_text!r}") from None
    if not 1 < day.year < 9999:
        raise BadRequest(f"date lies outside the years 2 to 9998: {date_text!r}")
    return LocalDay(day, zone)
