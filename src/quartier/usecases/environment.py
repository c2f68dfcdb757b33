"""The environment view: air-quality stations now and through a day, and the day's counts
of the counting sensors.

A station is a Thing with a Datastream of an air pollutant (see :mod:`airquality`); its
temperature and humidity come from its Datastreams of those QUDT quantity kinds. A
counting sensor is a Thing with count Datastreams (``OM_CountObservation``), each giving
the road users of one interval.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from quartier.model.times import format_instant
from quartier.store import Store
from quartier.store.audience import reader_of
from quartier.usecases.airquality import POLLUTANTS, definitions, pollutant_of, weather_of
from quartier.usecases.localday import LocalDay
from quartier.usecases.readings import DatastreamInfo, Readings, by_thing

COUNT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"
HOUR = 3600


def _role(d: DatastreamInfo) -> str | None:
    pollutant = pollutant_of(d.definition)
    return pollutant.key if pollutant else weather_of(d.definition)


def _iso_hours(seconds: float) -> str:
    return f"PT{int(seconds // 3600)}H"


class Environment:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def _stations(self, reads: Readings) -> tuple[list[Any], dict[int, dict[str, DatastreamInfo]]]:
        ids = await reads.thing_ids_measuring(definitions())
        roles: dict[int, dict[str, DatastreamInfo]] = {}
        for thing_id, streams in by_thing(await reads.datastreams(ids)).items():
            for d in streams:
                role = _role(d)
                if role and role not in roles.setdefault(thing_id, {}):
                    roles[thing_id][role] = d
        return await reads.things(ids), roles

    async def now(self, tenant_id: int, at: datetime) -> dict[str, Any]:
        """Each station's latest values, and each pollutant's mean over its averaging
        period up to ``at``, rated."""
        async with self.store.reader() as conn:
            reads = Readings(conn, self.store.dialect, reader_of(self.store, tenant_id))
            things, roles = await self._stations(reads)
            all_ids = [d.id for r in roles.values() for d in r.values()]
            latest = await reads.latest(all_ids)
            means = {}
            for p in POLLUTANTS:
                ids = [r[p.key].id for r in roles.values() if p.key in r]
                means[p.key] = await reads.means(ids, at - p.window, at) if ids else {}
        stations = []
        for thing in things:
            readings: dict[str, Any] = {}
            for role, d in roles.get(thing.id, {}).items():
                reading = latest.get(d.id)
                item: dict[str, Any] = {
                    "datastream": d.id, "unit": d.unit,
                    "value": reading.result if reading else None,
                    "time": format_instant(reading.time) if reading else None}
                pollutant = pollutant_of(d.definition)
                if pollutant:
                    mean = means[pollutant.key].get(d.id)
                    item.update(window=_iso_hours(pollutant.window.total_seconds()),
                                mean=round(mean[0], 1) if mean else None,
                                count=mean[1] if mean else 0)
                    item.update(pollutant.rate(mean[0]) if mean else
                                {"index": None, "rating": None, "limit": pollutant.limit,
                                 "exceeded": False})
                readings[role] = item
            indexes = [r["index"] for r in readings.values() if r.get("index")]
            stations.append({"id": thing.id, "name": thing.name, "position": thing.position,
                             "index": max(indexes) if indexes else None, "readings": readings})
        return {"at": format_instant(at), "value": stations,
                "pollutants": [{"key": p.key, "name": p.name, "window": _iso_hours(p.window.total_seconds()),
                                "bands": list(p.bands), "limit": p.limit, "annualLimit": p.annual_limit}
                               for p in POLLUTANTS]}

    async def day(self, tenant_id: int, day: LocalDay) -> dict[str, Any]:
        """Hourly means of each pollutant at each station through ``day``, and each counting
        sensor's counts: in all, per Datastream and per hour."""
        async with self.store.reader() as conn:
            reads = Readings(conn, self.store.dialect, reader_of(self.store, tenant_id))
            things, roles = await self._stations(reads)
            pollutant_ids = [r[p.key].id for r in roles.values() for p in POLLUTANTS if p.key in r]
            hourly = await reads.buckets(pollutant_ids, day.start, day.end, HOUR)
            counter_ids = await reads.thing_ids_of_type(COUNT)
            counters = await reads.things(counter_ids)
            count_streams = [d for d in await reads.datastreams(counter_ids) if d.observation_type == COUNT]
            counts = await reads.buckets([d.id for d in count_streams], day.start, day.end, HOUR)
        by_stream: dict[int, list[list[Any]]] = {}
        for ds, bucket, mean, _total, n in hourly:
            by_stream.setdefault(ds, []).append([self._hour(day, bucket), round(mean, 2), n])
        pollutants = []
        for p in POLLUTANTS:
            series = [{"id": t.id, "name": t.name, "datastream": roles[t.id][p.key].id,
                       "unit": roles[t.id][p.key].unit,
                       "values": by_stream.get(roles[t.id][p.key].id, [])}
                      for t in things if p.key in roles.get(t.id, {})]
            if series:
                pollutants.append({"key": p.key, "name": p.name, "limit": p.limit,
                                   "window": _iso_hours(p.window.total_seconds()), "stations": series})
        return {**day.as_json(), "pollutants": pollutants,
                "counters": self._counters(day, counters, count_streams, counts)}

    def _counters(self, day: LocalDay, counters: list[Any], streams: list[DatastreamInfo],
                  counts: list[tuple[int, int, float, float, int]]) -> list[dict[str, Any]]:
        totals: dict[int, float] = {}
        hours: dict[int, dict[int, float]] = {}
        thing_of = {d.id: d.thing_id for d in streams}
        for ds, bucket, _mean, total, _n in counts:
            totals[ds] = totals.get(ds, 0) + total
            per_hour = hours.setdefault(thing_of[ds], {})
            per_hour[bucket] = per_hour.get(bucket, 0) + total
        out = []
        for thing in counters:
            own = [d for d in streams if d.thing_id == thing.id]
            out.append({
                "id": thing.id, "name": thing.name, "position": thing.position,
                "total": _whole(sum(totals.get(d.id, 0) for d in own)),
                "datastreams": [{"id": d.id, "name": d.name, "total": _whole(totals.get(d.id, 0))}
                                for d in own],
                "hourly": [[self._hour(day, b), _whole(v)]
                           for b, v in sorted(hours.get(thing.id, {}).items())],
            })
        return out

    @staticmethod
    def _hour(day: LocalDay, bucket: int) -> str:
        return format_instant(day.start + timedelta(seconds=bucket * HOUR))


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 2)
