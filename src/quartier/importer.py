"""Importing a historic series from a CSV file into one Datastream, on the bulk path.

Every row is read and checked first; a bad row is reported with its line number, and
then nothing is written unless bad rows are to be skipped. The good rows are written in
one transaction (COPY on PostgreSQL), :data:`CHUNK` rows per bulk write. History is not
announced over MQTT: it is not news.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quartier.errors import BadRequest, NotFound
from quartier.model.changes import Batch, Create, IdRef
from quartier.model.entities import ENTITY_TYPES
from quartier.model.times import parse_instant
from quartier.store import Store
from quartier.store.write import BatchWriter

CHUNK = 10_000
MAX_REPORTED = 20  # bad rows listed in a report; the count covers all of them
_OBSERVATION = ENTITY_TYPES["Observation"]


@dataclass(frozen=True)
class CsvLayout:
    """Which columns hold what, and how times are written."""

    time_column: str
    value_column: str
    delimiter: str = ","
    time_format: str = ""  # strptime format; empty: ISO 8601
    timezone: str = "UTC"  # for times without an offset

    def zone(self) -> tzinfo:
        try:
            return UTC if self.timezone == "UTC" else ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, too long
            raise BadRequest(f"unknown time zone {self.timezone[:100]!r}; e.g. Europe/Berlin") from None


@dataclass
class Report:
    """What an import found and did."""

    rows: int = 0  # data rows read
    written: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), the first ones
    bad_count: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "written": self.written, "badRows": self.bad_count,
                "errors": [{"line": line, "message": msg} for line, msg in self.bad]}


def read_rows(lines: Iterable[str], layout: CsvLayout, report: Report) -> list[tuple[datetime, Any]]:
    """(time, value) of each good row; bad rows go into the report."""
    reader = csv.reader(lines, delimiter=layout.delimiter)
    header = next(reader, None)
    if header is None:
        raise BadRequest("the CSV file is empty; its first line names the columns")
    header = [name.strip().lstrip("\ufeff") for name in header]
    missing = [c for c in (layout.time_column, layout.value_column) if c not in header]
    if missing:
        raise BadRequest(f"the CSV header has no column {', '.join(map(repr, missing))}; "
                         f"it has {', '.join(map(repr, header))}")
    time_at, value_at = header.index(layout.time_column), header.index(layout.value_column)
    zone = layout.zone()
    if layout.time_format:
        _format_pattern(layout.time_format)  # a format that cannot work is the request's fault
    out: list[tuple[datetime, Any]] = []
    for cells in reader:
        if not cells or cells == [""]:
            continue
        report.rows += 1
        try:
            if len(cells) != len(header):
                raise BadRequest(f"{len(cells)} fields where the header has {len(header)}")
            out.append((_time(cells[time_at].strip(), layout.time_format, zone),
                        _value(cells[value_at].strip())))
        except BadRequest as exc:
            report.bad_count += 1
            if len(report.bad) < MAX_REPORTED:
                report.bad.append((reader.line_num, exc.message))
    return out


_DIRECTIVES = {"Y": r"(?P<Y>\d{4})", "m": r"(?P<m>\d{1,2})", "d": r"(?P<d>\d{1,2})",
               "H": r"(?P<H>\d{1,2})", "M": r"(?P<M>\d{1,2})", "S": r"(?P<S>\d{1,2})",
               "f": r"(?P<f>\d{1,6})"}


@lru_cache(maxsize=32)
def _format_pattern(time_format: str) -> re.Pattern[str] | None:
    """A regular expression for a strptime format made only of %Y %m %d %H %M %S %f and
    literal text (much faster than strptime); None for any other format."""
    parts = re.split(r"(%.)", time_format)
    pattern = ""
    seen: set[str] = set()
    for part in parts:
        if part.startswith("%") and len(part) == 2:
            if part in seen:
                raise BadRequest(f"the time format {time_format!r} names {part} twice")
            seen.add(part)
            if part[1] not in _DIRECTIVES:
                return None
            pattern += _DIRECTIVES[part[1]]
        else:
            pattern += re.escape(part)
    return re.compile(pattern + r"\Z")


def _time(text: str, time_format: str, zone: tzinfo) -> datetime:
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


def _formatted_time(text: str, time_format: str) -> datetime:
    wrong = BadRequest(f"time {text!r} does not match the format {time_format!r}")
    pattern = _format_pattern(time_format)
    try:
        if pattern is None:
            try:
                return datetime.strptime(text, time_format)
            except re.error:
                raise BadRequest(f"the time format {time_format!r} cannot be used") from None
        found = pattern.match(text)
        if found is None:
            raise wrong
        part = found.groupdict()
        return datetime(
            int(part["Y"]), int(part.get("m") or 1), int(part.get("d") or 1),
            int(part.get("H") or 0), int(part.get("M") or 0), int(part.get("S") or 0),
            int((part.get("f") or "0").ljust(6, "0")),
        )
    except ValueError:  # strptime's mismatch, or a day or hour out of range
        raise wrong from None


def _value(text: str) -> Any:
    """A number where the text is one (a lone decimal comma is read as a point), else
    the text itself."""
    if not text:
        raise BadRequest("the value is empty")
    if "\x00" in text:
        raise BadRequest("the value holds a NUL character")
    normal = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
    try:
        whole = int(normal)
        if -(2**63) <= whole < 2**63:
            return whole
    except ValueError:
        pass
    try:
        number = float(normal)
    except ValueError:
        return text  # a text result
    if not math.isfinite(number):
        raise BadRequest(f"the value {text!r} is not a finite number")
    return number


async def import_csv(
    store: Store, tenant_id: int, datastream_id: int, lines: Iterable[str], layout: CsvLayout,
    skip_bad_rows: bool = False,
) -> Report:
    """Read, check and (all or, with ``skip_bad_rows``, the good) write the rows."""
    report = Report()
    async with store.reader() as conn:
        found = await conn.fetchval("SELECT 1 FROM datastreams WHERE id = ? AND tenant_id = ?",
                                    (datastream_id, tenant_id))
    if found is None:
        raise NotFound(f"no Datastream with @iot.id {datastream_id}")
    rows = read_rows(lines, layout, report)
    if report.bad_count and not skip_bad_rows:
        return report
    parent = IdRef(ENTITY_TYPES["Datastream"], datastream_id)
    async with store.transaction() as conn:
        for start in range(0, len(rows), CHUNK):
            batch = Batch()
            for when, value in rows[start:start + CHUNK]:
                batch.add(Create(_OBSERVATION, {"phenomenonTime": (when, None), "result": value},
                                 {"Datastream": parent}))
            writer = BatchWriter(conn, store.dialect, tenant_id)
            if len(batch.changes) > 1:
                await writer.apply(batch, observations_only=True)
            else:
                await writer.apply(batch)
            report.written += len(batch.changes)
    return report


def text_lines(data: bytes) -> io.StringIO:
    """An uploaded file as lines of text (UTF-8, with or without a byte order mark)."""
    try:
        return io.StringIO(data.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the CSV file is not UTF-8 text (byte {exc.start})") from None
