"""A fleet's daily report: per vehicle and for the whole fleet its distance, operating and
idle hours, energy used and number of trips.

Distance, operating and idle time are the fleet's day (:func:`fleet_day`); the trips are
:func:`fleet_trips`. Energy used is how far the fuel or charge level (percent) fell over
the day: the sum of its drops between consecutive readings (refuelling and charging do
not count against it). The fleet's total adds every column, except that the energy
used is added up only when every vehicle has the same kind of level (else it is null:
percent points of tanks and of batteries are no one quantity); ``energyByField`` adds
the energy used of the vehicles with fuel and of those with a charge level apart.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from itertools import pairwise
from typing import Any

from quartier.store import Store
from quartier.usecases.fleet.day import LEVELS, fleet_day
from quartier.usecases.fleet.trips import fleet_trips
from quartier.usecases.members import values_between
from quartier.usecases.periods import Period

COLUMNS = ("vehicle", "name", "distance_km", "operating_hours", "driving_hours", "idle_hours",
           "energy_field", "energy_used_percent", "trips")


def level_used(levels: list[tuple[datetime, Any]]) -> float:
    """Percent points consumed: the sum of the drops between consecutive levels."""
    numbers = [v for _, v in levels if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(max(0.0, a - b) for a, b in pairwise(numbers))


async def fleet_report(store: Store, tenant_id: int, day: Period) -> dict[str, Any]:
    figures = await fleet_day(store, tenant_id, day)
    trips = {v["id"]: v["trips"] for v in await fleet_trips(store, tenant_id, day)}
    fields = {v["id"]: next(((f, v["datastreams"][f]) for f in LEVELS if f in v["datastreams"]), None)
              for v in figures["vehicles"]}
    levels = await values_between(store, [f[1] for f in fields.values() if f], day.start, day.end)
    rows = []
    for vehicle in figures["vehicles"]:
        level = fields[vehicle["id"]]
        rows.append({
            "vehicle": vehicle["id"], "name": vehicle["name"], "distance_km": vehicle["distance"],
            "operating_hours": round(vehicle["operating"] / 3600, 3),
            "driving_hours": round(vehicle["driving"] / 3600, 3),
            "idle_hours": round(vehicle["idle"] / 3600, 3),
            "energy_field": level[0] if level else None,
            "energy_used_percent": round(level_used(levels.get(level[1], [])), 1) if level else None,
            "trips": len(trips.get(vehicle["id"], [])),
        })
    total: dict[str, Any] = {"vehicle": None, "name": "fleet", "energy_field": None}
    for column in ("distance_km", "operating_hours", "driving_hours", "idle_hours",
                   "energy_used_percent", "trips"):
        total[column] = round(sum(r[column] or 0 for r in rows), 3)
    # Percent points of tanks and of batteries are no one quantity: each by itself, and a
    # total only for a fleet with one kind.
    by_field: dict[str, float] = {}
    for r in rows:
        if r["energy_field"]:
            used = by_field.get(r["energy_field"], 0.0) + r["energy_used_percent"]
            by_field[r["energy_field"]] = round(used, 1)
    if len(by_field) > 1:
        total["energy_used_percent"] = None
    elif by_field:
        total["energy_field"] = next(iter(by_field))
    return {"date": figures["date"], "from": figures["from"], "to": figures["to"],
            "vehicles": rows, "fleet": total, "energyByField": by_field}


def report_csv(report: dict[str, Any]) -> str:
    """The report as CSV: a header row, a row per vehicle and the fleet's total last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", *COLUMNS])
    for row in [*report["vehicles"], report["fleet"]]:
        writer.writerow([report["date"], *("" if row[c] is None else row[c] for c in COLUMNS)])
    return out.getvalue()
