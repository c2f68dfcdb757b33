"""Energy of each lighting circuit, district and lamp per local day or month, from the
lamps' meters, with what the same burning hours would have taken at full power.

A lamp's energy Datastream is a meter counter (kWh since installation). The energy of a
period is the meter's reading at the period's end minus its reading at the start, where
the reading at an instant is the last value at or before it. A meter whose first value
falls inside a period counts from that first value. A reading lower than the one before
(a replaced meter) gives no figure for that lamp and period, and is counted in
``resets``. The readings are read in the database (one index lookup per lamp and period
boundary), never by loading every meter value.

Beside the metered energy: ``fullPower``, the lamp's rated power (``properties/ratedPower``,
W) times the hours it burned (from its on/off state, see :mod:`burning`), and ``saving``,
full power minus metered energy: what dimming (and anything else that draws less than
the rating) saved. Both count only lamps with a rated power and a metered figure, so
for a circuit or district ``fullPower - saving`` is the metered energy of those lamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from quartier.model.times import format_instant
from quartier.store import Store
from quartier.usecases.lighting.burning import burning_hours
from quartier.usecases.lighting.circuits import (
    CABINET,
    LAMP,
    RATED_POWER,
    CircuitKey,
    cabinets_by_id,
    circuit_of,
    sort_key,
)
from quartier.usecases.members import Member, edge_values, members, readings_at
from quartier.usecases.periods import Period

ENERGY = "energy"
STATE = "state"
DIGITS = 3  # kWh to the watt-hour


@dataclass
class _Sums:
    """The figures of a circuit or district, summed over its lamps."""

    periods: int
    lamps: int = 0
    metered: int = 0
    resets: int = 0
    energy: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)  # the lamps with a rated power
    saving: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.energy, self.full, self.saving = ([0.0] * self.periods for _ in range(3))

    def add(self, lamp: _Lamp) -> None:
        self.lamps += 1
        self.metered += any(v is not None for v in lamp.energy)
        self.resets += lamp.resets
        for i, value in enumerate(lamp.energy):
            if value is not None:
                self.energy[i] += value
            full, saving = lamp.full[i], lamp.saving[i]
            if full is not None and saving is not None:
                self.full[i] += full
                self.saving[i] += saving


@dataclass
class _Lamp:
    """One lamp's figures per period: metered energy, hours burning, energy at full power
    for those hours (rated power times hours) and the saving (full minus metered)."""

    member: Member
    energy: list[float | None]
    resets: int
    hours: list[float]
    rated: float | None

    @property
    def full(self) -> list[float | None]:
        rated = self.rated
        return [None if rated is None else rated * h / 1000 for h in self.hours]

    @property
    def saving(self) -> list[float | None]:
        return [None if f is None or e is None else f - e
                for f, e in zip(self.full, self.energy, strict=True)]


def rated_power(lamp: Member) -> float | None:
    """A lamp's rated power in W (``properties/ratedPower``), None when not known."""
    raw = lamp.properties.get(RATED_POWER)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        return None
    return float(raw)


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


async def _lamps(store: Store, tenant_id: int, periods: list[Period], now: datetime) -> list[_Lamp]:
    """Every metered lamp with its figures per period."""
    lamps = [lamp for lamp in await members(store, tenant_id, LAMP) if ENERGY in lamp.datastreams]
    meters = [lamp.datastreams[ENERGY] for lamp in lamps]
    # A boundary still to come reads the meters as they are now.
    readings: dict[datetime, dict[int, float]] = {}
    at = []
    for boundary in [periods[0].start, *(p.end for p in periods)] if periods else []:
        instant = min(boundary, now)
        if instant not in readings:
            readings[instant] = await readings_at(store, meters, instant)
        at.append(readings[instant])
    firsts = await edge_values(store, meters, newest=False)
    hours = await burning_hours(store, {m.id: m.datastreams[STATE] for m in lamps
                                        if STATE in m.datastreams}, periods, now)
    out = []
    for lamp in lamps:
        meter = lamp.datastreams[ENERGY]
        first = firsts.get(meter)
        first_value = (first[0], float(first[1])) if first and isinstance(first[1], int | float) else None
        values, resets = lamp_energy([reading.get(meter) for reading in at], first_value, periods)
        out.append(_Lamp(lamp, values, resets, hours.get(lamp.id, [0.0] * len(periods)),
                         rated_power(lamp) if lamp.id in hours else None))
    return out


async def circuit_energy(store: Store, tenant_id: int, periods: list[Period]) -> dict[str, Any]:
    """Per circuit, district and lamp the kWh of each period, the kWh at full power for
    the same burning hours and the saving; also per period the sum of all circuits."""
    now = datetime.now(UTC)
    lamps = await _lamps(store, tenant_id, periods, now)
    cabinets = cabinets_by_id(await members(store, tenant_id, CABINET))
    circuits: dict[CircuitKey, _Sums] = {}
    districts: dict[str, _Sums] = {}
    for lamp in lamps:
        circuits.setdefault(circuit_of(lamp.member), _Sums(len(periods))).add(lamp)
        districts.setdefault(_district(lamp.member), _Sums(len(periods))).add(lamp)
    started = [p.start < now for p in periods]  # a period yet to begin has no figure

    def shown(values: list[float | None]) -> list[float | None]:
        return [round(v, DIGITS) if s and v is not None else None
                for v, s in zip(values, started, strict=True)]

    def figures(sums: _Sums) -> dict[str, Any]:
        return {"lamps": sums.lamps, "metered": sums.metered, "resets": sums.resets,
                "energy": shown(list(sums.energy)), "total": round(sum(sums.energy), DIGITS),
                "fullPower": shown(list(sums.full)), "saving": shown(list(sums.saving)),
                "totalFullPower": round(sum(sums.full), DIGITS),
                "totalSaving": round(sum(sums.saving), DIGITS)}

    by_circuit = []
    for key in sorted(circuits, key=sort_key):
        cabinet = cabinets.get(key.cabinet)
        by_circuit.append({**key.json(), "cabinetName": cabinet.name if cabinet else None,
                           "cabinetThing": cabinet.id if cabinet else None,
                           **figures(circuits[key])})
    totals = [sum(c.energy[i] for c in circuits.values()) for i in range(len(periods))]
    return {
        "unit": "kWh",
        "periods": [{"period": p.label, "start": format_instant(p.start), "end": format_instant(p.end)}
                    for p in periods],
        "circuits": by_circuit,
        "districts": [{"district": name or None, **figures(districts[name])}
                      for name in sorted(districts)],
        "lamps": [{"id": lamp.member.id, "name": lamp.member.name, **circuit_of(lamp.member).json(),
                   "district": _district(lamp.member) or None, "ratedPower": lamp.rated,
                   "hoursOn": shown(list(lamp.hours)), "energy": shown(lamp.energy),
                   "fullPower": shown(lamp.full), "saving": shown(lamp.saving)}
                  for lamp in lamps],
        "total": shown(list(totals)), "sum": round(sum(totals), DIGITS),
        "totalFullPower": shown([sum(c.full[i] for c in circuits.values())
                                 for i in range(len(periods))]),
        "totalSaving": shown([sum(c.saving[i] for c in circuits.values())
                              for i in range(len(periods))]),
    }


def _district(lamp: Member) -> str:
    district = lamp.properties.get("district")
    return "" if district is None else str(district)
