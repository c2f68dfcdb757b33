"""Importing a historic series from a CSV file into one Datastream, on the bulk path.

Every row is read and checked first; a bad row is reported with its line number, and
then nothing is written unless bad rows are to be skipped. The good rows are kept as
columns (:class:`~quartier.store.series_write.ObservationSeries`, a few bytes a row) and
written in one transaction: one binary COPY on PostgreSQL, :data:`CHUNK` rows a piece.
History is not announced over MQTT: it is not news.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from quartier.errors import BadRequest, NotFound
from quartier.import_times import TimeReader, format_pattern
from quartier.store import Store
from quartier.store.series_write import FLOAT_KIND, INT_KIND, ObservationSeries, write_series
from quartier.store.write import BatchWriter

CHUNK = 10_000
MAX_REPORTED = 20  # bad rows listed in a report; the count covers all of them
_MAX_EXACT_INT = 2**53  # larger whole numbers are kept as JSON too (encode_result)


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


def read_rows(lines: Iterable[str], layout: CsvLayout, report: Report) -> ObservationSeries:
    """The good rows, as columns; bad rows go into the report."""
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
        format_pattern(layout.time_format)  # a format that cannot work is the request's fault
    read_time = TimeReader(layout.time_format, zone).read
    series = ObservationSeries()
    # This loop runs once per row of files of millions: no attribute look-ups in it, and
    # a number goes straight into the columns (as ObservationSeries.add would put it).
    add_time, add_kind, add_number = (series.times.append, series.kinds.append,
                                      series.numbers.append)
    add = series.add
    width = len(header)
    rows = 0
    for cells in reader:
        if len(cells) != width or width == 1:
            if not cells or cells == [""]:
                continue
            if len(cells) != width:
                rows += 1
                _bad(report, reader.line_num,
                     f"{len(cells)} fields where the header has {len(header)}")
                continue
        rows += 1
        try:
            micros = read_time(cells[time_at].strip())
            value = _value(cells[value_at].strip())
        except BadRequest as exc:
            _bad(report, reader.line_num, exc.message)
            continue
        kind = type(value)
        if kind is float:
            add_number(value)
            add_kind(FLOAT_KIND)
            add_time(micros)
        elif kind is int and -_MAX_EXACT_INT < value < _MAX_EXACT_INT:
            add_number(float(value))
            add_kind(INT_KIND)
            add_time(micros)
        else:
            add(micros, value)
    report.rows = rows
    return series


def _bad(report: Report, line: int, message: str) -> None:
    report.bad_count += 1
    if len(report.bad) < MAX_REPORTED:
        report.bad.append((line, message))


def _value(text: str) -> Any:
    """A number where the text is one (a lone decimal comma is read as a point), else
    the text itself."""
    if text.isdecimal() or (text[:1] in ("-", "+") and text[1:].isdecimal()):
        whole = int(text)  # the common case, read without raising
        if -(2**63) <= whole < 2**63:
            return whole
    if not text:
        raise BadRequest("the value is empty")
    if "\x00" in text:
        raise BadRequest("the value holds a NUL character")
    normal = text.replace(",", ".") if text.count(",") == 1 and "." not in text else text
    if "." not in normal:  # int() takes no point: a decimal goes straight to float()
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
    # In a thread: a million rows take seconds, in which the server's event loop serves
    # other requests (the thread lets go of the GIL every few milliseconds).
    series = await asyncio.to_thread(read_rows, lines, layout, report)
    if report.bad_count and not skip_bad_rows:
        return report
    async with store.transaction() as conn:
        writer = BatchWriter(conn, store.dialect, tenant_id)
        report.written = await write_series(writer, datastream_id, series, CHUNK)
    return report


def text_lines(data: bytes) -> io.StringIO:
    """An uploaded file as lines of text (UTF-8, with or without a byte order mark)."""
    try:
        return io.StringIO(data.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the CSV file is not UTF-8 text (byte {exc.start})") from None
