"""Privacy of a fleet: how long position history is kept, and whose live position is internal.

Retention is the per-Datastream retention of :mod:`quartier.retention`, set on every
vehicle at once (each vehicle's Datastreams, and so its HistoricalLocations too). A
vehicle's live position is made internal with the visibility of
:mod:`quartier.store.visibility`: its ``latitude`` and ``longitude`` Datastreams become
internal while the Thing (its speed, state, level) stays public.
"""

from __future__ import annotations

from typing import Any

from quartier.errors import NotFound
from quartier.retention import set_retention
from quartier.store import Store, audit, visibility
from quartier.usecases.fleet.day import VEHICLE
from quartier.usecases.members import members

POSITION_FIELDS = ("latitude", "longitude")


async def fleet_retention(store: Store, tenant_id: int, days: int | None) -> dict[str, Any]:
    """Keep every vehicle's Observations ``days`` days (None: forever)."""
    vehicles = await members(store, tenant_id, VEHICLE)
    done = {}
    for vehicle in vehicles:
        done[str(vehicle.id)] = await set_retention(store, tenant_id, "thing", vehicle.id, days)
    return {"days": days, "vehicles": [v.id for v in vehicles], "datastreams": done}


async def position_visibility(store: Store, tenant_id: int, thing_id: int, value: Any) -> dict[str, Any]:
    """Make the position Datastreams of the vehicle ``thing_id`` internal or public."""
    vehicle = next((v for v in await members(store, tenant_id, VEHICLE) if v.id == thing_id), None)
    if vehicle is None:
        raise NotFound(f"no vehicle {thing_id}")
    ids = [vehicle.datastreams[f] for f in POSITION_FIELDS if f in vehicle.datastreams]
    trail = audit.current.get()
    async with store.transaction() as conn:
        before = {str(i): await visibility.change(conn, tenant_id, "Datastreams", i, value) for i in ids}
        if trail is not None:
            await trail.write(conn, store.dialect, before=before, after=value)
    return {"vehicle": thing_id, "visibility": value, "datastreams": ids}
