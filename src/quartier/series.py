"""A Datastream's values over a time range, small enough for a chart.

A chart has room for a few thousand points. When a range holds more Observations than
that, the database groups them into equal time buckets and returns each bucket's mean,
minimum, maximum and count, so a year of minute values arrives as a few thousand rows
instead of half a million. Only numeric results (booleans count as 0 and 1) are grouped;
a short range comes back as the values themselves, whatever their kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quartier.errors import BadRequest, NotFound
from quartier.model.times import format_instant
from quartier.model.values import JSON, TIME, decode_result
from quartier.store import Store, audience

MAX_POINTS = 10_000
DEFAULT_POINTS = 2_000
MAX_RANGE = timedelta(days=3660)


@dataclass(frozen=True)
class SeriesRequest:
    datastream_id: int
    start: datetime
    end: datetime
    points: int = DEFAULT_POINTS

    def check(self) -> None:
        if self.end <= self.start:
            raise BadRequest("'to' must be later than 'from'")
        if self.end - self.start > MAX_RANGE:
            raise BadRequest("a series spans at most ten years")
        if not 10 <= self.points <= MAX_POINTS:
            raise BadRequest(f"points must be between 10 and {MAX_POINTS}")


def bucket_sql(dialect: str) -> str:
    """SQL for the bucket number of an Observation: whole bucket widths (the second
    parameter, in seconds) since the range's start (the first)."""
    if dialect == "postgresql":
        return "floor(extract(epoch FROM (o.phenomenon_time_start - ?::timestamptz)) / ?::float8)::bigint"
    # Whole milliseconds first: julianday's floating point puts 10:00:00 at 9:59:59.99999…,
    # which would land a value on the hour in the bucket before.
    return ("(CAST(round((julianday(o.phenomenon_time_start) - julianday(?)) * 86400000.0) AS INTEGER)"
            " / CAST(? * 1000 AS INTEGER))")


def block_skip(dialect: str) -> str:
    """Conditions that let PostgreSQL skip archive blocks outside the range (parameters:
    start, end); nothing on SQLite, which has no archive."""
    if dialect != "postgresql":
        return ""
    return " AND (o.block_last IS NULL OR o.block_last >= ?) AND (o.block_first IS NULL OR o.block_first < ?)"


class Series:
    """Reads chart series from one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dialect = store.dialect

    async def read(self, tenant_id: int, request: SeriesRequest) -> dict[str, Any]:
        request.check()
        t = self.dialect.encode
        start, end = t(TIME, request.start), t(TIME, request.end)
        skip = block_skip(self.dialect.name)
        skip_params: tuple[Any, ...] = (start, end) if skip else ()
        seen, seen_params = audience.sees(audience.reader_of(self.store, tenant_id), "Datastream", "d")
        async with self.store.reader() as conn:
            # The owner's id (a region reads its members' Datastreams) keeps the
            # Observations' (tenant, datastream, time) index in use.
            owner = await conn.fetchval(f"SELECT d.tenant_id FROM datastreams d WHERE d.id = ? AND {seen}",
                                        (request.datastream_id, *seen_params))
            if owner is None:
                raise NotFound(f"no Datastream {request.datastream_id}")
            where = ("o.datastream_id = ? AND o.tenant_id = ? AND o.phenomenon_time_start >= ? "
                     "AND o.phenomenon_time_start < ?" + skip)
            params = (request.datastream_id, owner, start, end, *skip_params)
            count = int(await conn.fetchval(f"SELECT count(*) FROM observation_rows o WHERE {where}",
                                            params))
            out: dict[str, Any] = {
                "datastream": request.datastream_id, "from": format_instant(request.start),
                "to": format_instant(request.end), "count": count,
            }
            if count <= request.points:
                rows = await conn.fetch(
                    "SELECT o.phenomenon_time_start, o.result_type, o.result_number, o.result_string, "
                    f"o.result_json FROM observation_rows o WHERE {where} "
                    "ORDER BY o.phenomenon_time_start, o.id", params)
                out.update(aggregated=False, interval=None, values=[
                    [format_instant(self.dialect.decode(TIME, r[0])),
                     decode_result(r[1], r[2], r[3], self.dialect.decode(JSON, r[4]))] for r in rows])
                return out
            seconds = (request.end - request.start).total_seconds()
            width = max(1, math.ceil(seconds / request.points))
            bucket = bucket_sql(self.dialect.name)
            rows = await conn.fetch(
                f"SELECT {bucket} AS b, avg(o.result_number), min(o.result_number), "
                f"max(o.result_number), count(*) FROM observation_rows o WHERE {where} "
                "AND o.result_number IS NOT NULL GROUP BY b ORDER BY b",
                (start, float(width), *params))
        out.update(aggregated=True, interval=width, values=[
            [format_instant(request.start + timedelta(seconds=int(r[0]) * width)),
             float(r[1]), float(r[2]), float(r[3]), int(r[4])] for r in rows])
        return out
