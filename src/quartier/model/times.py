"""ISO 8601 time instants and intervals, as SensorThings uses them. Stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import ciso8601

from quartier.errors import BadRequest


def parse_instant(text: object, what: str) -> datetime:
    """A time instant with a UTC offset, converted to UTC."""
    if not isinstance(text, str):
        raise BadRequest(f"{what} must be an ISO 8601 time string, not {_json_kind(text)}")
    try:
        value = ciso8601.parse_rfc3339(text.strip())
    except ValueError:
        try:
            value = ciso8601.parse_datetime(text.strip())
        except ValueError:
            raise BadRequest(
                f"{what} is not a valid ISO 8601 time: {text!r} "
                "(expected e.g. 2026-11-22T10:00:00Z)"
            ) from None
    if value.tzinfo is None:
        raise BadRequest(
            f"{what} needs a UTC offset: {text!r} (write e.g. 2026-11-22T10:00:00Z "
            "or 2026-11-22T11:00:00+01:00)"
        )
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadRequest(f"{what} lies outside the years 1 to 9999 in UTC: {text!r}") from None


def parse_interval(text: object, what: str) -> tuple[datetime, datetime]:
    """An interval ``start/end``; the end may not lie before the start."""
    if not isinstance(text, str) or "/" not in text:
        raise BadRequest(
            f"{what} must be an ISO 8601 interval 'start/end', e.g. "
            "2026-11-22T10:00:00Z/2026-11-22T11:00:00Z"
        )
    start_text, _, end_text = text.partition("/")
    start = parse_instant(start_text, what)
    end = parse_instant(end_text, what)
    if end < start:
        raise BadRequest(f"{what} ends before it starts: {text!r}")
    return start, end


def parse_instant_or_interval(text: object, what: str) -> tuple[datetime, datetime | None]:
    if isinstance(text, str) and "/" in text:
        return parse_interval(text, what)
    return parse_instant(text, what), None


@lru_cache(maxsize=16_384)  # the same times are read again and again (a Datastream's span)
def format_instant(value: datetime) -> str:
    """UTC, with as many fractional digits as the value needs (none, 3 or 6)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    micro = value.microsecond
    # In UTC, isoformat() ends in +00:00, which becomes Z.
    if micro == 0 or micro % 1000:  # no fraction or six digits: isoformat's own choice
        return value.isoformat()[:-6] + "Z"
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def fixed_width_utc(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, always 27 characters, so that such texts
    sort as the times do (the embedded backend stores times this way)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def format_interval(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    if end is None:
        return format_instant(start)
    return f"{format_instant(start)}/{format_instant(end)}"


def now_utc() -> datetime:
    return datetime.now(UTC)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
