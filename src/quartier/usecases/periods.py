"""Local calendar days and months as UTC instants, for figures per day or month.

An operator's day runs from local midnight to local midnight, so a day in Europe/Berlin
is 23, 24 or 25 hours long; months likewise start at local midnight on their first day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quartier.errors import BadRequest

MAX_DAYS = 366
MAX_MONTHS = 120
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")


@dataclass(frozen=True)
class Period:
    """One day or month: its label (``2026-12-05`` or ``2026-12``) and its UTC bounds."""

    label: str
    start: datetime
    end: datetime


def zone(name: str | None) -> ZoneInfo:
    """The IANA time zone ``name`` (UTC when not given); 400 for an unknown one."""
    if not name:
        return ZoneInfo("UTC")
    if len(name) > 64 or not _ZONE.fullmatch(name):
        raise BadRequest(f"tz must be an IANA time zone such as Europe/Berlin, not {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"no time zone {name!r}") from None


def parse_day(text: str, what: str) -> date:
    """A calendar day, ``YYYY-MM-DD``."""
    if not _DAY.fullmatch(text):
        raise BadRequest(f"{what} must be a day as YYYY-MM-DD, not {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{what}: there is no day {text!r}") from None


def parse_month(text: str, what: str) -> date:
    """The first day of a month given as ``YYYY-MM`` (or any day of it, ``YYYY-MM-DD``)."""
    if _MONTH.fullmatch(text):
        text += "-01"
    elif not _DAY.fullmatch(text):
        raise BadRequest(f"{what} must be a month as YYYY-MM, not {text!r}")
    return parse_day(text, what).replace(day=1)


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz``."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def days(first: date, last: date, tz: ZoneInfo) -> list[Period]:
    """Each day from ``first`` to ``last``, both included."""
    count = (last - first).days + 1
    if count < 1:
        raise BadRequest("'to' must not be before 'from'")
    if count > MAX_DAYS:
        raise BadRequest(f"at most {MAX_DAYS} days at once")
    out = []
    for n in range(count):
        day = date.fromordinal(first.toordinal() + n)
        following = date.fromordinal(day.toordinal() + 1)
        out.append(Period(day.isoformat(), midnight(day, tz), midnight(following, tz)))
    return out


def months(first: date, last: date, tz: ZoneInfo) -> list[Period]:
    """Each month from the one of ``first`` to the one of ``last``, both included."""
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    if count < 1:
        raise BadRequest("'to' must not be before 'from'")
    if count > MAX_MONTHS:
        raise BadRequest(f"at most {MAX_MONTHS} months at once")
    out = []
    for n in range(count):
        index = first.year * 12 + first.month - 1 + n
        start = date(index // 12, index % 12 + 1, 1)
        end = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
        out.append(Period(start.isoformat()[:7], midnight(start, tz), midnight(end, tz)))
    return out
