"""Reading the times of an imported CSV file, fast: as microseconds since 2000-01-01 UTC.

A million rows of local wall-clock times would each need a datetime and a time-zone
conversion. A zone's offset changes only at its transitions, so the importer converts the
start of each local hour once and adds the minutes, seconds and fraction to it; it does so
only for an hour whose start and end have the same offset. Times in an hour with a
transition (or outside the years 1 to 9999 in UTC), and formats other than plain numbers
(``%b``, ``%p``, ...), take the exact way, row by row: :func:`exact_time`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

import ciso8601

from quartier.errors import BadRequest
from quartier.model.times import parse_instant

# PostgreSQL's epoch: its timestamptz is these microseconds, so they go in as they are.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = EPOCH.replace(tzinfo=None)
_EPOCH_DAY = EPOCH.toordinal()
_MICRO = timedelta(microseconds=1)
_MINUTE, _SECOND = 60_000_000, 1_000_000
_REST_OF_HOUR = timedelta(minutes=59, seconds=59, microseconds=999_999)
# The first and last instant a time may be in UTC (a datetime's range).
_FIRST = (datetime.min.replace(tzinfo=UTC) - EPOCH) // _MICRO
_LAST = (datetime.max.replace(tzinfo=UTC) - EPOCH) // _MICRO
_UNKNOWN = object()
# Minutes and seconds as a format's one or two digits give them ("7", "07", "59").
_SIXTY = {**{f"{n}": n for n in range(60)}, **{f"{n:02d}": n for n in range(10)}}


def to_micros(value: datetime) -> int:
    """An aware datetime as microseconds since :data:`EPOCH`."""
    return (value - EPOCH) // _MICRO


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class TimeReader:
    """Reads the times of one file: ``read(text)`` is the instant in microseconds since
    :data:`EPOCH`, or raises :class:`BadRequest` as :func:`exact_time` does."""

    def __init__(self, time_format: str, zone: tzinfo) -> None:
        self.time_format = time_format
        self.zone = zone
        # By the text of a local hour (or its numbers): its start in UTC microseconds, or
        # None when the hour must be read the exact way.
        self._hours: dict[Any, int | None] = {}
        self._offsets: dict[Any, int] = {}  # ISO 8601 offsets (parsed once each) in microseconds
        self.read: Callable[[str], int] = self._iso
        if time_format:
            pattern = format_pattern(time_format)
            self.read = self._exact if pattern is None else self._formatted_reader(pattern)

    def _exact(self, text: str) -> int:
        return to_micros(exact_time(text, self.time_format, self.zone))

    def _iso(self, text: str) -> int:
        try:
            if text and (text.endswith("Z") or "+" in text[10:] or "-" in text[10:]):
                value = ciso8601.parse_rfc3339(text)
                # From the fields: subtracting two aware datetimes costs twice as much.
                offset = self._offsets.get(value.tzinfo)
                if offset is None:
                    offset = self._offsets[value.tzinfo] = value.utcoffset() // _MICRO  # type: ignore[operator]
                micros = ((((value.toordinal() - _EPOCH_DAY) * 24 + value.hour) * 60
                           + value.minute) * 60 + value.second) * _SECOND + value.microsecond
                micros -= offset
                return micros if _FIRST <= micros <= _LAST else self._exact(text)
            local = ciso8601.parse_rfc3339(text + "Z")  # the exact way reads it so too
        except ValueError:
            return self._exact(text)  # other ISO 8601 forms, and the error
        key = (local.year, local.month, local.day, local.hour)
        start = self._hours.get(key, _UNKNOWN)
        if start is _UNKNOWN:
            start = self._hours[key] = self._hour_start(datetime(*key))
        if start is None:
            return self._exact(text)
        return (start + local.minute * _MINUTE + local.second * _SECOND  # type: ignore[operator]
                + local.microsecond)

    def _formatted_reader(self, pattern: re.Pattern[str]) -> Callable[[str], int]:
        """``read`` for a :func:`format_pattern` format: a closure, as it runs per row."""
        match, time_format, hours = pattern.match, self.time_format, self._hours
        exact, hour_start = self._exact, self._hour_start
        hour_names = tuple(n for n in "YmdH" if n in pattern.groupindex)
        rest = tuple((n, scale) for n, scale in (("M", _MINUTE), ("S", _SECOND))
                     if n in pattern.groupindex)
        fraction = "f" in pattern.groupindex
        hour_group = pattern.groupindex.get("hour", 0)

        def read(text: str) -> int:
            found = match(text)
            if found is None:
                raise _mismatch(text, time_format)
            key = found[hour_group] if hour_group else found.group(*hour_names)
            start = hours.get(key, _UNKNOWN)
            if start is _UNKNOWN:
                numbers = {name: int(found[name]) for name in hour_names}
                try:
                    local = datetime(numbers["Y"], numbers.get("m", 1), numbers.get("d", 1),
                                     numbers.get("H", 0))
                except ValueError:  # a day or hour out of range
                    raise _mismatch(text, time_format) from None
                start = hours[key] = hour_start(local)
            if start is None:
                return exact(text)
            micros: int = start  # type: ignore[assignment]
            for name, scale in rest:
                digits = found[name]
                count = _SIXTY.get(digits)
                if count is None:  # 60 or more, or digits of another script
                    count = int(digits)
                    if count > 59:
                        raise _mismatch(text, time_format)
                micros += count * scale
            if fraction:
                micros += int(found["f"].ljust(6, "0"))
            return micros

        return read

    def _hour_start(self, local: datetime) -> int | None:
        """The UTC microseconds of a local hour's start, when the whole hour has that
        one offset and lies within the years 1 to 9999 in UTC; else None."""
        first = local.replace(tzinfo=self.zone)
        last = (local + _REST_OF_HOUR).replace(tzinfo=self.zone)
        try:
            offset = first.utcoffset()
            if offset is None or offset != last.utcoffset():
                return None
            first.astimezone(UTC)
            last.astimezone(UTC)
        except (OverflowError, ValueError):
            return None
        # Two transitions within one hour, back to the same offset, occur in no zone.
        return (local - _NAIVE_EPOCH) // _MICRO - offset // _MICRO


def _mismatch(text: str, time_format: str) -> BadRequest:
    return BadRequest(f"time {text!r} does not match the format {time_format!r}")


def exact_time(text: str, time_format: str, zone: tzinfo) -> datetime:
    """One time of the file in UTC, the plain way: ISO 8601 (a time without an offset is
    in ``zone``) or ``time_format`` (strptime) in ``zone``."""
    if not time_format:
        if text and (text.endswith("Z") or "+" in text[10:] or "-" in text[10:]):
            return parse_instant(text, "time")
        value = parse_instant(text + "Z", "time").replace(tzinfo=None)
    else:
        value = _formatted_time(text, time_format)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadRequest(f"time {text!r} lies outside the years 1 to 9999 in UTC") from None


_DIRECTIVES = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{1,2})", "d": r"(?P<d>\d{1,2})",
               "H": r"(?P<H>\d{1,2})", "M": r"(?P<M>\d{1,2})", "S": r"(?P<S>\d{1,2})",
               "f": r"(?P<f>\d{1,6})"}


@lru_cache(maxsize=32)
def format_pattern(time_format: str) -> re.Pattern[str] | None:
    """A regular expression for a strptime format made only of %Y %m %d %H %M %S %f and
    literal text, %Y among them (much faster than strptime); None for any other format."""
    parts = re.split(r"(%.)", time_format)
    pieces: list[str] = []
    directives: list[str] = []  # of each piece, "" for literal text
    for part in parts:
        if part.startswith("%") and len(part) == 2:
            if part[1] in directives:
                raise BadRequest(f"the time format {time_format!r} names {part} twice")
            if part[1] not in _DIRECTIVES:
                return None
            pieces.append(_DIRECTIVES[part[1]])
            directives.append(part[1])
        else:
            pieces.append(re.escape(part))
            directives.append("")
    if "Y" not in directives:
        return None  # strptime's default year
    # The text from the first to the last of Y m d H, when no M S f lies within, is one
    # group, "hour": the key the reader looks the hour up by (one string is quicker to
    # hash than four).
    where = [i for i, d in enumerate(directives) if d in "YmdH" and d]
    if not any(d in "MSf" and d for d in directives[where[0]:where[-1]]):
        pieces[where[0]] = "(?P<hour>" + pieces[where[0]]
        pieces[where[-1]] += ")"
    return re.compile("".join(pieces) + r"\Z")


def _formatted_time(text: str, time_format: str) -> datetime:
    pattern = format_pattern(time_format)
    try:
        if pattern is None:
            try:
                return datetime.strptime(text, time_format)
            except re.error:
                raise BadRequest(f"the time format {time_format!r} cannot be used") from None
        found = pattern.match(text)
        if found is None:
            raise _mismatch(text, time_format)
        part = found.groupdict()
        return datetime(
            int(part["Y"]), int(part.get("m") or 1), int(part.get("d") or 1),
            int(part.get("H") or 0), int(part.get("M") or 0), int(part.get("S") or 0),
            int((part.get("f") or "0").ljust(6, "0")),
        )
    except ValueError:  # strptime's mismatch, or a day or hour out of range
        raise _mismatch(text, time_format) from None
