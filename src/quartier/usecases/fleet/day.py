"""A fleet's day: per vehicle its track, distance, and its operating and idle time.

``lonlat`` is where the vehicle is now: its newest GPS fix, else its Location. The
tracker's operating state (field ``state``) says ``driving``, ``stopped`` or
``depot``. A state holds from its report until the next one, but at most
:data:`HOLD` (a tracker silent for longer is not known to be doing anything). Operating
time is time driving or stopped; idle time is the stopped part of it, with the engine
running while the vehicle does not move.

A vehicle whose position Datastreams the reader may not see (internal, for an anonymous
reader) shows no track and no position, not even its Location.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from quartier.model.times import format_instant
from quartier.store import Store
from quartier.usecases.fleet.tracks import history_tracks, length_km, pair_positions, track_json
from quartier.usecases.members import edge_values, members, values_between
from quartier.usecases.periods import Period

VEHICLE = "vehicle"
HOLD = timedelta(hours=1)
DRIVING = frozenset({"driving", "moving"})
IDLE = frozenset({"stopped", "idle", "idling"})
LEVELS = ("fuel", "charge")
POSITION = frozenset({"latitude", "longitude"})


def state_seconds(states: list[tuple[datetime, Any]], start: datetime, end: datetime) -> dict[str, float]:
    """Seconds in [start, end) spent in each state; ``states`` in time order, the first
    of them may lie before ``start``."""
    out: dict[str, float] = {}
    for i, (when, state) in enumerate(states):
        following = states[i + 1][0] if i + 1 < len(states) else end
        until = min(following, when + HOLD, end)
        begin = max(when, start)
        if until > begin:
            key = str(state).strip().lower()
            out[key] = out.get(key, 0.0) + (until - begin).total_seconds()
    return out


async def fleet_day(store: Store, tenant_id: int, day: Period) -> dict[str, Any]:
    now = datetime.now(UTC)
    end = min(day.end, now)
    vehicles = await members(store, tenant_id, VEHICLE)
    fields = ("latitude", "longitude", "state", "speed", *LEVELS)
    wanted = [v.datastreams[f] for v in vehicles for f in fields if f in v.datastreams]
    # The state before the day began may hold into it.
    values = await values_between(store, wanted, day.start - HOLD, day.end) if end > day.start else {}
    latest = await edge_values(store, wanted)
    history = await history_tracks(store, [v for v in vehicles if "latitude" not in v.datastreams
                                           and not v.hidden & POSITION], day.start, day.end)
    out = []
    for vehicle in vehicles:
        def series(key: str, vehicle: Any = vehicle) -> list[tuple[datetime, Any]]:
            return values.get(vehicle.datastreams.get(key, -1), [])

        def now_value(key: str, vehicle: Any = vehicle) -> Any:
            found = latest.get(vehicle.datastreams.get(key, -1))
            return found[1] if found else None

        if vehicle.hidden & POSITION:
            track = []  # its position is internal, so is its track
        elif "latitude" in vehicle.datastreams:
            track = [p for p in pair_positions(series("latitude"), series("longitude")) if p[2] >= day.start]
        else:
            track = history.get(vehicle.id, [])
        seconds = state_seconds(series("state"), day.start, end) if end > day.start else {}
        driving = sum(s for k, s in seconds.items() if k in DRIVING)
        idle = sum(s for k, s in seconds.items() if k in IDLE)
        level = next((f for f in LEVELS if f in vehicle.datastreams), None)
        state_time = latest.get(vehicle.datastreams.get("state", -1))
        # Where it is now: its newest GPS fix, else its Location (the fix may be newer).
        lat, lon = (latest.get(vehicle.datastreams.get(f, -1)) for f in ("latitude", "longitude"))
        fix = pair_positions([lat], [lon]) if lat and lon else []
        position = list(fix[0][:2]) if fix else None if vehicle.hidden & POSITION else vehicle.lonlat
        out.append({
            "id": vehicle.id, "name": vehicle.name, "label": vehicle.properties.get("label"),
            "vehicle": vehicle.properties.get("vehicle"), "route": vehicle.properties.get("route"),
            "lonlat": position, "state": now_value("state"),
            "time": format_instant(state_time[0]) if state_time else None,
            "speed": now_value("speed"),
            "level": {"field": level, "value": now_value(level)} if level else None,
            "datastreams": vehicle.datastreams,
            "operating": round(driving + idle), "driving": round(driving), "idle": round(idle),
            "distance": round(length_km(track), 2), "track": track_json(track),
        })
    return {"date": day.label, "from": format_instant(day.start), "to": format_instant(day.end),
            "vehicles": out}
