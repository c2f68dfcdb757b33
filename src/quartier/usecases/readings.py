"""Reads the use-case views share: Things by a property, their Datastreams, each
Datastream's latest value, and means over a time range, for many Datastreams at once.

Plain SQL with bound parameters on ``observation_rows`` (which on PostgreSQL also holds
the archived Observations), so the figures are the same on both backends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quartier.model.values import JSON, TIME, decode_result
from quartier.series import block_skip, bucket_sql
from quartier.store import audience
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect
from quartier.store.tenancy import Reader

_CHUNK = 900  # ids per IN (…) list


def chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def marks(ids: Sequence[Any]) -> str:
    return ", ".join("?" * len(ids))


@dataclass(frozen=True)
class ThingInfo:
    id: int
    name: str
    properties: dict[str, Any]
    position: list[float] | None  # [lon, lat] of its first Location, when it is a point


@dataclass(frozen=True)
class DatastreamInfo:
    id: int
    thing_id: int
    name: str
    unit: dict[str, Any]
    observation_type: str
    definition: str  # of its ObservedProperty
    properties: dict[str, Any]


@dataclass(frozen=True)
class Reading:
    time: datetime
    result: Any


class Readings:
    """The shared reads, on one connection, of what ``reader`` may see
    (:mod:`quartier.store.audience`): a tenant's own rows, or a region's granted ones;
    public ones only for an anonymous reader."""

    def __init__(self, conn: Connection, dialect: Dialect, reader: Reader) -> None:
        self.conn = conn
        self.dialect = dialect
        self._things = audience.sees(reader, "Thing", "t")
        self._streams = audience.sees(reader, "Datastream", "d")
        self._observations = audience.sees(reader, "Observation", "o")

    def _property_text(self, column: str, key: str) -> tuple[str, str]:
        """SQL for a JSON member of ``column`` as text, and the parameter naming it."""
        if self.dialect.name == "postgresql":
            return f"({column} ->> ?)", key
        return f"json_extract({column}, ?)", '$."' + key.replace('"', '""') + '"'

    def _range(self, start: datetime, end: datetime) -> tuple[Any, ...]:
        """Parameters of a time range's conditions: its bounds, and PostgreSQL's block skip."""
        t = self.dialect.encode
        skip = (start, end) if block_skip(self.dialect.name) else ()
        return (t(TIME, start), t(TIME, end), *skip)

    async def thing_ids_where(self, key: str, value: str) -> list[int]:
        """Things whose ``properties.<key>`` is the text ``value``."""
        member, path = self._property_text("t.properties", key)
        rows = await self.conn.fetch(
            f"SELECT t.id FROM things t WHERE {self._things[0]} AND {member} = ? ORDER BY t.id",
            (*self._things[1], path, value))
        return [int(r[0]) for r in rows]

    async def thing_ids_measuring(self, definitions: Sequence[str]) -> list[int]:
        """Things with a Datastream of an ObservedProperty with one of these definitions."""
        rows = await self.conn.fetch(
            "SELECT DISTINCT d.thing_id FROM datastreams d JOIN observed_properties p "
            f"ON p.id = d.observed_property_id WHERE {self._streams[0]} AND p.definition IN "
            f"({marks(definitions)}) ORDER BY d.thing_id", (*self._streams[1], *definitions))
        return [int(r[0]) for r in rows]

    async def thing_ids_of_type(self, observation_type: str) -> list[int]:
        """Things with a Datastream of this observationType."""
        rows = await self.conn.fetch(
            f"SELECT DISTINCT d.thing_id FROM datastreams d WHERE {self._streams[0]} AND "
            "d.observation_type = ? ORDER BY d.thing_id", (*self._streams[1], observation_type))
        return [int(r[0]) for r in rows]

    async def things(self, ids: Sequence[int]) -> list[ThingInfo]:
        out: list[ThingInfo] = []
        for part in chunks(ids):
            rows = await self.conn.fetch(
                "SELECT t.id, t.name, t.properties, (SELECT l.location FROM things_locations tl "
                "JOIN locations l ON l.id = tl.location_id WHERE tl.thing_id = t.id "
                f"ORDER BY l.id LIMIT 1) FROM things t WHERE {self._things[0]} AND t.id IN "
                f"({marks(part)})", (*self._things[1], *part))
            for r in rows:
                location = self.dialect.decode(JSON, r[3])
                point = None
                if isinstance(location, dict) and location.get("type") == "Point":
                    point = [float(c) for c in location["coordinates"][:2]]
                out.append(ThingInfo(int(r[0]), str(r[1]), self.dialect.decode(JSON, r[2]) or {},
                                     point))
        return sorted(out, key=lambda t: (t.name, t.id))

    async def datastreams(self, thing_ids: Sequence[int]) -> list[DatastreamInfo]:
        out: list[DatastreamInfo] = []
        for part in chunks(thing_ids):
            rows = await self.conn.fetch(
                "SELECT d.id, d.thing_id, d.name, d.unit_of_measurement, d.observation_type, "
                "p.definition, d.properties FROM datastreams d JOIN observed_properties p "
                f"ON p.id = d.observed_property_id WHERE {self._streams[0]} AND d.thing_id IN "
                f"({marks(part)}) ORDER BY d.id", (*self._streams[1], *part))
            decode = self.dialect.decode
            out += [DatastreamInfo(int(r[0]), int(r[1]), str(r[2]), decode(JSON, r[3]) or {},
                                   str(r[4]), str(r[5]), decode(JSON, r[6]) or {}) for r in rows]
        return out

    async def latest(self, ids: Sequence[int], before: datetime | None = None) -> dict[int, Reading]:
        """Each Datastream's newest Observation (by phenomenonTime; the highest id among
        equals), or the newest one before ``before``."""
        out: dict[int, Reading] = {}
        bound = "" if before is None else " AND o2.phenomenon_time_start < ?"
        extra: tuple[Any, ...] = () if before is None else (self.dialect.encode(TIME, before),)
        for part in chunks(ids):
            rows = await self.conn.fetch(
                "SELECT o.datastream_id, o.id, o.phenomenon_time_start, o.result_type, "
                "o.result_number, o.result_string, o.result_json FROM observation_rows o JOIN "
                "(SELECT d.id AS ds, (SELECT max(o2.phenomenon_time_start) FROM observation_rows o2 "
                f"WHERE o2.datastream_id = d.id{bound}) AS at FROM datastreams d "
                f"WHERE {self._streams[0]} AND d.id IN ({marks(part)})) newest "
                "ON o.datastream_id = newest.ds AND o.phenomenon_time_start = newest.at "
                "ORDER BY o.id", (*extra, *self._streams[1], *part))
            for r in rows:  # ordered by id: the last of equal times wins
                out[int(r[0])] = Reading(self.dialect.decode(TIME, r[2]), decode_result(
                    r[3], r[4], r[5], self.dialect.decode(JSON, r[6])))
        return out

    async def changes(self, ids: Sequence[int], start: datetime, end: datetime
                      ) -> list[tuple[int, datetime, Any]]:
        """(Datastream, time, result) of every Observation in [start, end), in time order."""
        out: list[tuple[int, datetime, Any]] = []
        for part in chunks(ids):
            rows = await self.conn.fetch(
                "SELECT o.datastream_id, o.phenomenon_time_start, o.result_type, o.result_number, "
                f"o.result_string, o.result_json FROM observation_rows o WHERE {self._observations[0]} AND "
                f"o.datastream_id IN ({marks(part)}) AND o.phenomenon_time_start >= ? AND "
                "o.phenomenon_time_start < ?" + block_skip(self.dialect.name),
                (*self._observations[1], *part, *self._range(start, end)))
            out += [(int(r[0]), self.dialect.decode(TIME, r[1]),
                     decode_result(r[2], r[3], r[4], self.dialect.decode(JSON, r[5]))) for r in rows]
        out.sort(key=lambda c: c[1])
        return out

    async def means(self, ids: Sequence[int], start: datetime, end: datetime
                    ) -> dict[int, tuple[float, int]]:
        """(mean, count) of each Datastream's numeric results in [start, end)."""
        out: dict[int, tuple[float, int]] = {}
        for part in chunks(ids):
            rows = await self.conn.fetch(
                "SELECT o.datastream_id, avg(o.result_number), count(*) FROM observation_rows o "
                f"WHERE {self._observations[0]} AND o.datastream_id IN ({marks(part)}) AND "
                "o.phenomenon_time_start >= ? AND o.phenomenon_time_start < ? AND "
                "o.result_number IS NOT NULL" + block_skip(self.dialect.name)
                + " GROUP BY o.datastream_id",
                (*self._observations[1], *part, *self._range(start, end)))
            out.update({int(r[0]): (float(r[1]), int(r[2])) for r in rows})
        return out

    async def buckets(self, ids: Sequence[int], start: datetime, end: datetime, width: int
                      ) -> list[tuple[int, int, float, float, int]]:
        """(Datastream, bucket number, mean, sum, count) of the numeric results in [start,
        end), in buckets of ``width`` seconds from ``start``."""
        t = self.dialect.encode
        bucket = bucket_sql(self.dialect.name)
        out: list[tuple[int, int, float, float, int]] = []
        for part in chunks(ids):
            rows = await self.conn.fetch(
                f"SELECT o.datastream_id, {bucket} AS b, avg(o.result_number), sum(o.result_number), "
                f"count(*) FROM observation_rows o WHERE {self._observations[0]} AND o.datastream_id IN "
                f"({marks(part)}) AND o.phenomenon_time_start >= ? AND o.phenomenon_time_start < ? "
                "AND o.result_number IS NOT NULL" + block_skip(self.dialect.name)
                + " GROUP BY o.datastream_id, b ORDER BY o.datastream_id, b",
                (t(TIME, start), float(width), *self._observations[1], *part,
                 *self._range(start, end)))
            out += [(int(r[0]), int(r[1]), float(r[2]), float(r[3]), int(r[4])) for r in rows]
        return out


def by_thing(datastreams: Iterable[DatastreamInfo]) -> dict[int, list[DatastreamInfo]]:
    out: dict[int, list[DatastreamInfo]] = {}
    for d in datastreams:
        out.setdefault(d.thing_id, []).append(d)
    return out

