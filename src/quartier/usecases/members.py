"""The Things of one kind with their Datastreams by field, and reads of their values.

A use case finds its devices by the Thing property ``kind`` (``streetlight``, ``vehicle``)
and each device's Datastreams by the Datastream property ``field`` (``energy``,
``state``, ``latitude``), as the device registry and the demo town write them. Every
read goes through the store's reader and ``observation_rows``, so archived Observations
(PostgreSQL) count as much as recent ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from quartier.model.values import JSON, TIME, decode_result
from quartier.store import Store, audience
from quartier.store.connection import Connection


@dataclass
class Member:
    """A Thing of the use case: where it is and its Datastreams (field -> id)."""

    id: int
    name: str
    properties: dict[str, Any]
    lonlat: tuple[float, float] | None = None
    datastreams: dict[str, int] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)  # fields of Datastreams the reader may not see


def _json_text(store: Store, column: str) -> str:
    """SQL for the text of a top-level JSON member of ``column``; the member's name is
    the next parameter (see :func:`_json_key`)."""
    if store.dialect.name == "postgresql":
        return f"({column} ->> ?::text)"
    return f"json_extract({column}, ?)"


def _json_key(store: Store, key: str) -> str:
    return key if store.dialect.name == "postgresql" else f'$."{key}"'


def _marks(values: Iterable[Any]) -> str:
    return ", ".join("?" for _ in values)


async def members(store: Store, tenant_id: int, kind: str) -> list[Member]:
    """Every Thing whose ``properties/kind`` is ``kind`` that the reader sees
    (:mod:`quartier.store.audience`: the tenant's own, a region's granted ones, only
    public ones for an anonymous reader), by name. The fields of Datastreams of those
    Things that the reader may not see go to ``hidden`` rather than to ``datastreams``."""
    decode = store.dialect.decode
    reader = audience.reader_of(store, tenant_id)
    things_sql, things_params = audience.sees(reader, "Thing", "t")
    streams_sql, streams_params = audience.sees(reader, "Datastream", "d")
    kind_sql = _json_text(store, "t.properties")
    where = f"{things_sql} AND {kind_sql} = ?"
    params = (*things_params, _json_key(store, "kind"), kind)
    async with store.reader() as conn:
        things = await conn.fetch(f"SELECT t.id, t.name, t.properties FROM things t WHERE {where} "
                                  "ORDER BY t.name, t.id", params)
        places = await conn.fetch(
            "SELECT tl.thing_id, l.location FROM things t JOIN things_locations tl ON tl.thing_id = t.id "
            f"JOIN locations l ON l.id = tl.location_id WHERE {where} ORDER BY l.id", params)
        streams = await conn.fetch(
            f"SELECT d.thing_id, d.id, d.properties, CASE WHEN {streams_sql} THEN 1 ELSE 0 END "
            f"FROM things t JOIN datastreams d ON d.thing_id = t.id WHERE {where} ORDER BY d.id",
            (*streams_params, *params))
    out = {int(r[0]): Member(int(r[0]), str(r[1]), decode(JSON, r[2]) or {}) for r in things}
    for thing_id, raw in places:
        geometry = decode(JSON, raw)
        member = out[int(thing_id)]
        if member.lonlat is None and isinstance(geometry, dict) and geometry.get("type") == "Point":
            lon, lat = geometry["coordinates"][:2]
            member.lonlat = (float(lon), float(lat))
    for thing_id, datastream_id, raw, seen in streams:
        properties = decode(JSON, raw) or {}
        key = properties.get("field") if isinstance(properties, dict) else None
        if isinstance(key, str) and not seen:
            out[int(thing_id)].hidden.add(key)
        elif isinstance(key, str):
            out[int(thing_id)].datastreams.setdefault(key, int(datastream_id))
    return list(out.values())


def _block_skip(store: Store, op: str) -> str:
    """PostgreSQL: a condition that skips archive blocks wholly on the wrong side of an
    instant (the next parameter); ``op`` is how a wanted row's time compares to it."""
    if store.dialect.name != "postgresql":
        return ""
    if op in ("<", "<="):
        return f" AND (o.block_first IS NULL OR o.block_first {op} ?)"
    return f" AND (o.block_last IS NULL OR o.block_last {op} ?)"


async def edge_values(store: Store, datastream_ids: list[int],
                      newest: bool = True) -> dict[int, tuple[datetime, Any]]:
    """The newest (or the first) value of each Datastream: id -> (time, result)."""
    if not datastream_ids:
        return {}
    order = "DESC" if newest else "ASC"
    async with store.reader() as conn:
        picked = await conn.fetch(
            f"SELECT d.id, (SELECT o.id FROM observation_rows o WHERE o.datastream_id = d.id "
            f"ORDER BY o.phenomenon_time_start {order}, o.id {order} LIMIT 1) FROM datastreams d "
            f"WHERE d.id IN ({_marks(datastream_ids)})", datastream_ids)
        ids = [int(r[1]) for r in picked if r[1] is not None]
        if not ids:
            return {}
        rows = await _rows(conn, store, f"o.id IN ({_marks(ids)}) AND o.datastream_id IN "
                           f"({_marks(datastream_ids)})", [*ids, *datastream_ids])
    return {datastream: values[0] for datastream, values in rows.items()}


async def values_between(store: Store, datastream_ids: list[int], start: datetime,
                         end: datetime) -> dict[int, list[tuple[datetime, Any]]]:
    """Each Datastream's values with a phenomenon time in [start, end), in time order."""
    if not datastream_ids:
        return {}
    encode = store.dialect.encode
    skip = _block_skip(store, ">=") + _block_skip(store, "<")
    bounds = [encode(TIME, start), encode(TIME, end)]
    params = [*datastream_ids, *bounds, *(bounds if skip else [])]
    async with store.reader() as conn:
        return await _rows(conn, store, f"o.datastream_id IN ({_marks(datastream_ids)}) AND "
                           f"o.phenomenon_time_start >= ? AND o.phenomenon_time_start < ?{skip}", params)


async def _rows(conn: Connection, store: Store, where: str,
                params: list[Any]) -> dict[int, list[tuple[datetime, Any]]]:
    decode = store.dialect.decode
    rows = await conn.fetch(
        "SELECT o.datastream_id, o.phenomenon_time_start, o.result_type, o.result_number, "
        f"o.result_string, o.result_json FROM observation_rows o WHERE {where} "
        "ORDER BY o.datastream_id, o.phenomenon_time_start, o.id", params)
    out: dict[int, list[tuple[datetime, Any]]] = defaultdict(list)
    for r in rows:
        out[int(r[0])].append((decode(TIME, r[1]), decode_result(r[2], r[3], r[4], decode(JSON, r[5]))))
    return dict(out)


async def readings_at(store: Store, datastream_ids: list[int], instant: datetime) -> dict[int, float]:
    """The last numeric value of each Datastream at or before ``instant`` (a meter's
    reading then); Datastreams with none are left out."""
    if not datastream_ids:
        return {}
    skip = _block_skip(store, "<=")
    at = store.dialect.encode(TIME, instant)
    async with store.reader() as conn:
        rows = await conn.fetch(
            "SELECT d.id, (SELECT o.result_number FROM observation_rows o WHERE o.datastream_id = d.id "
            f"AND o.phenomenon_time_start <= ? AND o.result_number IS NOT NULL{skip} "
            "ORDER BY o.phenomenon_time_start DESC, o.id DESC LIMIT 1) "
            f"FROM datastreams d WHERE d.id IN ({_marks(datastream_ids)})",
            [at, *([at] if skip else []), *datastream_ids])
    return {int(r[0]): float(r[1]) for r in rows if r[1] is not None}
