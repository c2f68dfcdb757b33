"""What each lamp is doing now, and the lamps of each circuit counted by that.

A lamp is ``on`` (full light), ``dimmed`` (lit below 100 %), ``off``, ``failed`` or
``unknown`` (nothing heard for :data:`SILENT_AFTER`, or never). Failed means dark while
its circuit is lit: the lamp reported ``off`` at or after the moment the circuit's lit
lamps reported ``on``, and most of the circuit's lamps that are heard from are lit. A
whole circuit that goes dark at night (a cabinet's outage) shows in the cabinet's
voltage, which the circuit table gives beside the counts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
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
from quartier.usecases.members import Member, edge_values, members

STATUSES = ("on", "dimmed", "off", "failed", "unknown")
SILENT_AFTER = timedelta(hours=26)  # lamps report at least every few hours, day and night
LAMP_FIELDS = ("state", "dimming", "power", "energy")
CABINET_FIELDS = ("voltage", "load")


def lit(state: Any) -> bool | None:
    """Whether a reported state means lit: "on"/"off" (also German), true/false, a number."""
    if isinstance(state, bool):
        return state
    if isinstance(state, str):
        word = state.strip().lower()
        if word in ("on", "an", "ein", "true", "1"):
            return True
        if word in ("off", "aus", "false", "0"):
            return False
    if isinstance(state, int | float):
        return state > 0
    return None


def lamp_status(lamp: dict[str, Any], lit_since: datetime | None, now: datetime) -> str:
    """The status of one lamp (its latest ``state``, ``dimming`` and their ``time``)
    given since when its circuit is lit (None when it is dark)."""
    when: datetime | None = lamp["_time"]
    burning = lit(lamp["state"])
    if when is None or burning is None or now - when > SILENT_AFTER:
        return "unknown"
    if burning:
        dimming = lamp["dimming"]
        return "dimmed" if isinstance(dimming, int | float) and 0 < dimming < 100 else "on"
    return "failed" if lit_since is not None and when >= lit_since else "off"


def _circuit_lit_since(lamps: list[dict[str, Any]], now: datetime) -> datetime | None:
    """Since when a circuit is lit: the earliest latest-"on" report of its lit lamps, if
    most of its lamps heard from lately are lit; else None."""
    heard = [lamp for lamp in lamps if lamp["_time"] is not None and now - lamp["_time"] <= SILENT_AFTER]
    burning = [lamp for lamp in heard if lit(lamp["state"])]
    if not heard or len(burning) * 2 <= len(heard):
        return None
    return min(lamp["_time"] for lamp in burning)


async def lighting_status(store: Store, tenant_id: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    lamps = await members(store, tenant_id, LAMP)
    cabinets = cabinets_by_id(await members(store, tenant_id, CABINET))
    wanted = [m.datastreams[f] for m in [*lamps] for f in LAMP_FIELDS if f in m.datastreams]
    wanted += [c.datastreams[f] for c in cabinets.values() for f in CABINET_FIELDS if f in c.datastreams]
    latest = await edge_values(store, wanted)

    def value(member: Member, key: str) -> tuple[datetime | None, Any]:
        found = latest.get(member.datastreams.get(key, -1))
        return found if found is not None else (None, None)

    by_circuit: dict[CircuitKey, list[dict[str, Any]]] = defaultdict(list)
    for lamp in lamps:
        when, state = value(lamp, "state")
        item = {"id": lamp.id, "name": lamp.name, **circuit_of(lamp).json(),
                "street": lamp.properties.get("street"), "district": lamp.properties.get("district"),
                "lonlat": lamp.lonlat, "state": state,
                "dimming": value(lamp, "dimming")[1], "power": value(lamp, "power")[1],
                "energy": value(lamp, "energy")[1], "datastreams": lamp.datastreams, "_time": when}
        by_circuit[circuit_of(lamp)].append(item)
    out_lamps: list[dict[str, Any]] = []
    circuits = []
    for key in sorted(by_circuit, key=sort_key):
        group = by_circuit[key]
        lit_since = _circuit_lit_since(group, now)
        counts = dict.fromkeys(STATUSES, 0)
        for item in group:
            item["status"] = lamp_status(item, lit_since, now)
            counts[item["status"]] += 1
            when = item.pop("_time")
            item["time"] = format_instant(when) if when is not None else None
            out_lamps.append(item)
        cabinet = cabinets.get(key.cabinet)
        voltage_time, voltage = value(cabinet, "voltage") if cabinet else (None, None)
        circuits.append({**key.json(), "cabinetName": cabinet.name if cabinet else None,
                         "cabinetThing": cabinet.id if cabinet else None, "lit": lit_since is not None,
                         "lamps": len(group), "counts": counts, "voltage": voltage,
                         "load": value(cabinet, "load")[1] if cabinet else None,
                         "cabinetTime": format_instant(voltage_time) if voltage_time else None})
    return {"time": format_instant(now), "lamps": out_lamps, "circuits": circuits}
