"""Parking lots: how many bays are free now, and how full each lot was through a day.

A bay is a Thing with ``properties.kind = "parking_bay"`` and ``properties.lot`` naming its
lot (``properties.lot_name`` its display name); its truth Datastream says whether a car
stands in it. Bays report when a car comes or goes (and as a heartbeat), so a bay's state
at any moment is its latest Observation up to then. Occupancy counts only bays with a
known state: occupied / (occupied + free).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from quartier.errors import BadRequest
from quartier.model.times import format_instant
from quartier.store import Store
from quartier.store.audience import reader_of
from quartier.usecases.localday import LocalDay
from quartier.usecases.readings import DatastreamInfo, Reading, Readings, by_thing

BAY_KIND = "parking_bay"
TRUTH = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_TruthObservation"
MIN_STEP, MAX_STEP = 60, 86_400


@dataclass
class Lot:
    key: str
    name: str
    bays: list[int] = field(default_factory=list)  # the bays' Datastreams
    points: list[list[float]] = field(default_factory=list)

    def position(self) -> list[float] | None:
        if not self.points:
            return None
        return [round(sum(p[i] for p in self.points) / len(self.points), 6) for i in (0, 1)]


def occupied(result: Any) -> bool | None:
    """A bay's state from its result: true/false (or 1/0); None when unreadable."""
    if isinstance(result, bool):
        return result
    if isinstance(result, int | float) and result in (0, 1):
        return bool(result)
    return None


def _figures(states: dict[int, bool | None], bays: list[int]) -> dict[str, Any]:
    taken = sum(1 for b in bays if states.get(b) is True)
    free = sum(1 for b in bays if states.get(b) is False)
    known = taken + free
    return {"bays": len(bays), "occupied": taken, "free": free, "unknown": len(bays) - known,
            "occupancy": round(100 * taken / known, 1) if known else None}


def _bay_datastream(datastreams: list[DatastreamInfo]) -> DatastreamInfo | None:
    truth = [d for d in datastreams if d.observation_type == TRUTH]
    chosen = truth or datastreams
    return chosen[0] if chosen else None


class Parking:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def _lots(self, reads: Readings) -> list[Lot]:
        ids = await reads.thing_ids_where("kind", BAY_KIND)
        things = await reads.things(ids)
        streams = by_thing(await reads.datastreams(ids))
        lots: dict[str, Lot] = {}
        for thing in things:
            key = thing.properties.get("lot")
            bay = _bay_datastream(streams.get(thing.id, []))
            if not isinstance(key, str) or bay is None:
                continue
            name = thing.properties.get("lot_name")
            lot = lots.setdefault(key, Lot(key, name if isinstance(name, str) else key))
            lot.bays.append(bay.id)
            if thing.position:
                lot.points.append(thing.position)
        return sorted(lots.values(), key=lambda lot: lot.name)

    async def now(self, tenant_id: int) -> dict[str, Any]:
        """Every lot with its bays, free, occupied and occupancy now, and each bay's state
        (so that a page can apply new values itself)."""
        async with self.store.reader() as conn:
            reads = Readings(conn, self.store.dialect, reader_of(self.store, tenant_id))
            lots = await self._lots(reads)
            latest = await reads.latest([b for lot in lots for b in lot.bays])
        out = []
        for lot in lots:
            states = {b: occupied(latest[b].result) for b in lot.bays if b in latest}
            times = [latest[b].time for b in lot.bays if b in latest]
            out.append({"lot": lot.key, "name": lot.name, "position": lot.position(),
                        **_figures(states, lot.bays),
                        "updated": format_instant(max(times)) if times else None,
                        "bayStates": [[b, states.get(b), _time(latest.get(b))] for b in lot.bays]})
        return {"value": out}

    async def day(self, tenant_id: int, day: LocalDay, step: int, now: datetime) -> dict[str, Any]:
        """Each lot's occupancy every ``step`` seconds through ``day`` (up to ``now``)."""
        if not MIN_STEP <= step <= MAX_STEP:
            raise BadRequest(f"step must be between {MIN_STEP} and {MAX_STEP} seconds")
        stop = min(day.end, now)
        async with self.store.reader() as conn:
            reads = Readings(conn, self.store.dialect, reader_of(self.store, tenant_id))
            lots = await self._lots(reads)
            ids = [b for lot in lots for b in lot.bays]
            before = await reads.latest(ids, before=day.start)
            changes = await reads.changes(ids, day.start, stop) if stop > day.start else []
        states: dict[int, bool | None] = {b: occupied(r.result) for b, r in before.items()}
        curves: dict[str, list[list[Any]]] = {lot.key: [] for lot in lots}
        moment, i = day.start, 0
        while moment <= stop and moment < day.end:
            while i < len(changes) and changes[i][1] <= moment:
                states[changes[i][0]] = occupied(changes[i][2])
                i += 1
            for lot in lots:
                f = _figures(states, lot.bays)
                curves[lot.key].append([format_instant(moment), f["occupied"], f["free"],
                                        f["occupancy"]])
            moment += timedelta(seconds=step)
        out = []
        for lot in lots:
            values = curves[lot.key]
            known = [v for v in values if v[3] is not None]
            peak = max(known, key=lambda v: v[3]) if known else None
            out.append({"lot": lot.key, "name": lot.name, "bays": len(lot.bays), "values": values,
                        "peak": {"time": peak[0], "occupancy": peak[3]} if peak else None,
                        "mean": round(sum(v[3] for v in known) / len(known), 1) if known else None})
        return {**day.as_json(), "step": step, "value": out}


def _time(reading: Reading | None) -> str | None:
    return format_instant(reading.time) if reading else None
