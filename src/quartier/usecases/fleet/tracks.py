"""A vehicle's track over a time range.

Trackers send latitude and longitude as two Datastreams (fields ``latitude`` and
``longitude``) with the same phenomenon time; each such pair is a point of the track.
A Thing without them has its track from its HistoricalLocations (Things whose
Locations are set through the SensorThings API). The length of a track is the sum of
great-circle distances between its points.
"""

from __future__ import annotations

import math
from datetime import datetime
from itertools import pairwise
from typing import Any

from quartier.errors import NotFound
from quartier.model.times import format_instant
from quartier.model.values import JSON, TIME
from quartier.store import Store, audience
from quartier.usecases.members import Member, values_between

Point = tuple[float, float, datetime]  # lon, lat, time
EARTH_RADIUS_KM = 6371.0088


def pair_positions(latitudes: list[tuple[datetime, Any]],
                   longitudes: list[tuple[datetime, Any]]) -> list[Point]:
    """Points from latitude and longitude values of the same time, in time order."""
    lons = {when: value for when, value in longitudes if isinstance(value, int | float)}
    out = []
    for when, lat in latitudes:
        lon = lons.get(when)
        if lon is not None and isinstance(lat, int | float) and -90 <= lat <= 90 and -180 <= lon <= 180:
            out.append((float(lon), float(lat), when))
    return out


def length_km(points: list[Point]) -> float:
    total = 0.0
    for (lon1, lat1, _), (lon2, lat2, _) in pairwise(points):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        a = (math.sin((p2 - p1) / 2) ** 2
             + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
        total += 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
    return total


async def history_tracks(store: Store, vehicles: list[Member], start: datetime,
                         end: datetime) -> dict[int, list[Point]]:
    """Thing id -> its HistoricalLocations' points in [start, end), in time order."""
    if not vehicles:
        return {}
    decode, encode = store.dialect.decode, store.dialect.encode
    ids = [v.id for v in vehicles]
    async with store.reader() as conn:
        rows = await conn.fetch(
            "SELECT h.thing_id, h.time, l.location FROM historical_locations h "
            "JOIN historical_locations_locations hl ON hl.historical_location_id = h.id "
            "JOIN locations l ON l.id = hl.location_id "
            f"WHERE h.thing_id IN ({', '.join('?' for _ in ids)}) AND h.time >= ? AND h.time < ? "
            "ORDER BY h.thing_id, h.time, h.id", [*ids, encode(TIME, start), encode(TIME, end)])
    out: dict[int, list[Point]] = {}
    for thing_id, when, raw in rows:
        geometry = decode(JSON, raw)
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            lon, lat = geometry["coordinates"][:2]
            out.setdefault(int(thing_id), []).append((float(lon), float(lat), decode(TIME, when)))
    return out


def track_json(points: list[Point]) -> list[list[Any]]:
    return [[round(lon, 6), round(lat, 6), format_instant(when)] for lon, lat, when in points]


async def thing_track(store: Store, tenant_id: int, thing_id: int, start: datetime,
                      end: datetime) -> tuple[str, list[Point]]:
    """Where one Thing was in [start, end): from its position Datastreams when it has
    them, else from its HistoricalLocations; and which of the two it was. An anonymous
    reader finds no internal Thing, and gets no points (source ``internal``) when its
    position Datastreams are internal."""
    decode = store.dialect.decode
    reader = audience.reader_of(store, tenant_id)
    thing_seen, thing_params = audience.sees(reader, "Thing", "t")
    stream_seen, stream_params = audience.sees(reader, "Datastream", "d")
    async with store.reader() as conn:
        found = await conn.fetchrow(f"SELECT t.id, t.name, t.properties FROM things t "
                                    f"WHERE t.id = ? AND {thing_seen}", (thing_id, *thing_params))
        if found is None:
            raise NotFound(f"no Thing {thing_id}")
        streams = await conn.fetch(f"SELECT d.id, d.properties, CASE WHEN {stream_seen} THEN 1 ELSE 0 END "
                                   "FROM datastreams d WHERE d.thing_id = ? ORDER BY d.id",
                                   (*stream_params, thing_id))
    fields: dict[str, int] = {}
    for datastream_id, raw, seen in streams:
        properties = decode(JSON, raw) or {}
        if isinstance(properties, dict) and isinstance(properties.get("field"), str):
            if not seen and properties["field"] in ("latitude", "longitude"):
                return "internal", []
            fields.setdefault(properties["field"], int(datastream_id))
    if "latitude" in fields and "longitude" in fields:
        values = await values_between(store, [fields["latitude"], fields["longitude"]], start, end)
        return "datastreams", pair_positions(values.get(fields["latitude"], []),
                                             values.get(fields["longitude"], []))
    member = Member(thing_id, str(found[1]), decode(JSON, found[2]) or {})
    return "history", (await history_tracks(store, [member], start, end)).get(thing_id, [])
