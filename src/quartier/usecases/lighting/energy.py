"""Energy of each lighting circuit per local day or month, from the lamps' meters.

A lamp's energy Datastream is a meter counter (kWh since installation). The energy of a
period is the meter's reading at the period's end minus its reading at the start, where
the reading at an instant is the last value at or before it. A meter whose first value
falls inside a period counts from that first value. A reading lower than the one before
(a replaced meter) gives no figure for that lamp and period, and is counted in
``resets``. The readings are read in the database (one index lookup per lamp and period
boundary), never by loading every meter value.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quartier.model.times import format_instant
from quartier.store import Store
from quartier.usecases.lighting.circuits import (
    CABINET,
    LAMP,
    CircuitKey,
    cabinets_by_id,
    circuit_of,
    sort_key,
)
from quartier.usecases.members import edge_values, members, readings_at
from quartier.usecases.periods import Period

ENERGY = "energy"
DIGITS = 3  # kWh to the watt-hour


@dataclass
class _Circuit:
    lamps: int = 0
    metered: int = 0
    resets: int = 0


def lamp_energy(readings: list[float | None], first: tuple[datetime, float] | None,
                periods: list[Period]) -> tuple[list[float | None], int]:
    """One meter's energy per period from its readings at the period boundaries
    (``len(periods) + 1`` of them, None before its first value) and its first value;
    and how many periods showed a reset."""
    out: list[float | None] = []
    resets = 0
    for i, period in enumerate(periods):
        start, end = readings[i], readings[i + 1]
        if start is None and first is not None and period.start < first[0] <= period.end:
            start = first[1]
        if start is None or end is None:
            out.append(None)
        elif end < start:
            out.append(None)
            resets += 1
        else:
            out.append(end - start)
    return out, resets


async def circuit_energy(store: Store, tenant_id: int, periods: list[Period]) -> dict[str, Any]:
    """Per circuit, the kWh of each period; also per period the sum of all circuits."""
    lamps = [lamp for lamp in await members(store, tenant_id, LAMP) if ENERGY in lamp.datastreams]
    cabinets = cabinets_by_id(await members(store, tenant_id, CABINET))
    meters = [lamp.datastreams[ENERGY] for lamp in lamps]
    now = datetime.now(UTC)
    # A boundary still to come reads the meters as they are now.
    readings: dict[datetime, dict[int, float]] = {}
    at = []
    for boundary in [periods[0].start, *(p.end for p in periods)] if periods else []:
        instant = min(boundary, now)
        if instant not in readings:
            readings[instant] = await readings_at(store, meters, instant)
        at.append(readings[instant])
    firsts = await edge_values(store, meters, newest=False)
    energy: dict[CircuitKey, list[float]] = {}
    info: dict[CircuitKey, _Circuit] = defaultdict(_Circuit)
    for lamp in lamps:
        key = circuit_of(lamp)
        meter = lamp.datastreams[ENERGY]
        first = firsts.get(meter)
        first_value = (first[0], float(first[1])) if first and isinstance(first[1], int | float) else None
        values, resets = lamp_energy([reading.get(meter) for reading in at], first_value, periods)
        sums = energy.setdefault(key, [0.0] * len(periods))
        for i, value in enumerate(values):
            if value is not None:
                sums[i] += value
        info[key].lamps += 1
        info[key].metered += any(v is not None for v in values)
        info[key].resets += resets
    started = [p.start < now for p in periods]  # a period yet to begin has no figure

    def shown(values: list[float]) -> list[float | None]:
        return [round(v, DIGITS) if s else None for v, s in zip(values, started, strict=True)]

    circuits = []
    for key in sorted(energy, key=sort_key):
        cabinet = cabinets.get(key.cabinet)
        circuits.append({**key.json(), "cabinetName": cabinet.name if cabinet else None,
                         "cabinetThing": cabinet.id if cabinet else None,
                         "lamps": info[key].lamps, "metered": info[key].metered,
                         "resets": info[key].resets, "energy": shown(energy[key]),
                         "total": round(sum(energy[key]), DIGITS)})
    totals = [sum(energy[k][i] for k in energy) for i in range(len(periods))]
    return {
        "unit": "kWh",
        "periods": [{"period": p.label, "start": format_instant(p.start), "end": format_instant(p.end)}
                    for p in periods],
        "circuits": circuits, "total": shown(totals), "sum": round(sum(totals), DIGITS),
    }
