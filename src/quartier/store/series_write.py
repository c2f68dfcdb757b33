"""Many new Observations of one Datastream at once, given column by column: a historic
series (CSV import).

The general bulk path (:mod:`quartier.store.bulk`) takes a batch of one ``Create`` per
Observation, each of which may name its own Datastream and FeatureOfInterest. A series
has one Datastream, and so one FeatureOfInterest made from (or found for) its Thing's
Location, as the general path makes it; its rows are plain columns, which go to
PostgreSQL as one binary ``COPY`` stream, built without a Python object per value, and to
SQLite with ``executemany``. The Datastream's phenomenonTime and observedArea are then
widened once, as for any batch.
"""

from __future__ import annotations

import bisect
import struct
from array import array
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from typing import Any

import orjson

from quartier.errors import NotFound
from quartier.import_times import EPOCH, from_micros
from quartier.model.values import JSON, encode_result
from quartier.store.write import BatchWriter

# The result types of whole numbers (below 2**53) and decimals: ``kinds`` of a row whose
# result is in ``numbers`` alone.
INT_KIND, FLOAT_KIND = encode_result(1)[0], encode_result(1.5)[0]
_HOUR = 3_600_000_000
_MINUTES_SECONDS = [f"{s // 60:02d}:{s % 60:02d}" for s in range(3600)]  # "MM:SS" of the hour


@dataclass
class ObservationSeries:
    """New Observations of one Datastream, column by column (about 17 bytes a row):
    ``times`` in microseconds since :data:`~quartier.import_times.EPOCH` (UTC),
    ``kinds`` and ``numbers`` as :func:`~quartier.model.values.encode_result` stores a
    result; a result of any other kind than a whole or decimal number keeps its stored
    columns (number, text, JSON) in ``others``, by row."""

    times: array[int] = field(default_factory=lambda: array("q"))
    kinds: array[int] = field(default_factory=lambda: array("b"))
    numbers: array[float] = field(default_factory=lambda: array("d"))
    others: dict[int, tuple[float | None, str | None, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.times)

    def add(self, micros: int, result: Any) -> None:
        """One row (the reader inlines this for numbers)."""
        kind, number, text, data = encode_result(result)
        if kind in (INT_KIND, FLOAT_KIND):
            self.numbers.append(number)  # type: ignore[arg-type]
        else:
            self.others[len(self.times)] = (number, text, data)
            self.numbers.append(0.0)
        self.times.append(micros)
        self.kinds.append(kind)

    def span(self) -> tuple[datetime, datetime]:
        return from_micros(min(self.times)), from_micros(max(self.times))


async def write_series(
    writer: BatchWriter, datastream_id: int, series: ObservationSeries, chunk: int
) -> int:
    """Write the series into the Datastream (of the writer's tenant; locked while the
    transaction lasts), ``chunk`` rows per piece; the number of rows written."""
    if not series:
        return 0
    state = await writer.datastream(datastream_id, NotFound)
    feature = await writer.observation_feature(state, None)
    tenant = writer.tenant_id
    if writer.dialect.binary_copy:
        await writer.conn.copy_binary("observations", _COPY_COLUMNS,
                                      _stream(_copy_pieces(series, tenant, datastream_id,
                                                           feature, chunk)))
    else:
        await writer.conn.executemany(
            f"INSERT INTO observations ({', '.join(_INSERT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})",
            _sqlite_rows(series, tenant, datastream_id, feature,
                         lambda value: writer.dialect.encode(JSON, value)))
    first, last = series.span()
    writer.note_observation(state, feature, {"phenomenonTime": (first, last)})
    await writer.finish()
    return len(series)


# -- PostgreSQL: binary COPY ----------------------------------------------------------

# The columns that are the same in every row come first, and the text and JSON results
# (NULL in most rows) before the rest: a row of a number is then that prefix and one
# fixed-size pack. The ids come from the table's identity, in row order.
_COPY_COLUMNS = ["tenant_id", "datastream_id", "feature_id", "result_string", "result_json",
                 "phenomenon_time_start", "result_type", "result_number"]
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_BIGINT = struct.Struct(">iq")
_NUMBER_TAIL = struct.Struct(">iqihid")  # time, result type, result number
_TYPE_TAIL = struct.Struct(">iqih")  # time, result type (the number follows or is NULL)
_FLOAT = struct.Struct(">id")


def _copy_pieces(series: ObservationSeries, tenant: int, datastream: int, feature: int,
                 chunk: int) -> Iterator[bytes]:
    fixed = struct.pack(">h", len(_COPY_COLUMNS)) + b"".join(
        _BIGINT.pack(8, v) for v in (tenant, datastream, feature))
    plain = fixed + _NULL + _NULL  # no text, no JSON
    special = sorted(series.others)
    yield _COPY_HEADER
    for start in range(0, len(series), chunk):
        stop = min(start + chunk, len(series))
        times, kinds, numbers = (series.times[start:stop], series.kinds[start:stop],
                                 series.numbers[start:stop])
        if bisect.bisect_left(special, start) == bisect.bisect_left(special, stop):
            yield plain + plain.join(map(_NUMBER_TAIL.pack, repeat(8), times, repeat(2), kinds,
                                         repeat(8), numbers))
            continue
        rows = []
        for index in range(start, stop):
            other = series.others.get(index)
            if other is None:
                rows.append(plain + _NUMBER_TAIL.pack(8, series.times[index], 2,
                                                      series.kinds[index], 8,
                                                      series.numbers[index]))
                continue
            number, text, data = other
            rows.append(b"".join((
                fixed,
                _NULL if text is None else _sized(text.encode()),
                # jsonb's binary form: a version byte, then the JSON text
                _NULL if data is None else _sized(b"\x01" + orjson.dumps(data)),
                _TYPE_TAIL.pack(8, series.times[index], 2, series.kinds[index]),
                _NULL if number is None else _FLOAT.pack(8, number),
            )))
        yield b"".join(rows)
    yield _COPY_TRAILER


def _sized(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


async def _stream(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


# -- SQLite: executemany ----------------------------------------------------------------

_INSERT_COLUMNS = ["tenant_id", "datastream_id", "feature_id", "phenomenon_time_start",
                   "result_type", "result_number", "result_string", "result_json"]


def _sqlite_rows(series: ObservationSeries, tenant: int, datastream: int, feature: int,
                 encode_json: Any) -> Iterator[tuple[Any, ...]]:
    """The rows as SQLite stores them: times as fixed-width UTC text (see
    :func:`~quartier.model.times.fixed_width_utc`), made once per hour and completed."""
    hours: dict[int, str] = {}
    others = series.others
    for index, (micros, kind, number) in enumerate(zip(series.times, series.kinds,
                                                       series.numbers, strict=True)):
        hour, rest = divmod(micros, _HOUR)
        prefix = hours.get(hour)
        if prefix is None:
            start = EPOCH + timedelta(microseconds=hour * _HOUR)
            prefix = hours[hour] = start.replace(tzinfo=None).isoformat()[:14]
        second, micro = divmod(rest, 1_000_000)
        stamp = (prefix + _MINUTES_SECONDS[second]
                 + (f".{micro:06d}Z" if micro else ".000000Z"))
        other = others.get(index) if others else None
        if other is None:
            yield (tenant, datastream, feature, stamp, kind, number, None, None)
        else:
            yield (tenant, datastream, feature, stamp, kind, other[0], other[1],
                   None if other[2] is None else encode_json(other[2]))
