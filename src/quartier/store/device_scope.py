"""What a device credential may write: Observations of its own Thing's Datastreams only.

The access gate (:mod:`quartier.auth.devices`) lets a device credential reach only the
SensorThings paths that create Observations, and sets :data:`bound_thing` for the request.
Every write of those paths, ``$batch`` and CreateObservations included, comes through
:meth:`quartier.store.base.Store.write`, which calls :func:`check` before the batch is
queued: a batch with anything but new Observations of existing Datastreams of that Thing
is refused whole (403), so nothing of it is written.

The Datastreams' Things are read just before the write; a Datastream moved to another Thing
in between (an editor's PATCH at the same moment) could still take the device's
Observations once. Code outside a request (rules, MQTT, LoRaWAN) has no bound Thing.
"""

from __future__ import annotations

from contextvars import ContextVar

from quartier.errors import Forbidden
from quartier.model.changes import Batch, Create, IdRef
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect

bound_thing: ContextVar[int | None] = ContextVar("quartier_bound_thing", default=None)


async def check(conn: Connection, dialect: Dialect, tenant_id: int, batch: Batch, thing: int) -> None:
    """403 unless every change of ``batch`` creates an Observation in an existing Datastream
    of Thing ``thing`` (with an existing FeatureOfInterest or none)."""
    datastreams: set[int] = set()
    for change in batch.changes:
        parent = change.foreign_keys.get("Datastream") if isinstance(change, Create) else None
        feature = change.foreign_keys.get("FeatureOfInterest") if isinstance(change, Create) else None
        if (not isinstance(change, Create) or change.etype.name != "Observation"
                or not isinstance(parent, IdRef) or not isinstance(feature, IdRef | None)):
            raise Forbidden(f"a device credential may only create Observations of Thing {thing}'s "
                            "Datastreams, each naming its Datastream (and FeatureOfInterest, if "
                            "any) by @iot.id; nothing else")
        datastreams.add(parent.id)
    if not datastreams:
        return
    among, params = dialect.among("id", sorted(datastreams))
    rows = await conn.fetch(
        f"SELECT id, thing_id FROM datastreams WHERE {among} AND tenant_id = ? ORDER BY id",
        (*params, tenant_id))
    foreign = [int(row[0]) for row in rows if int(row[1]) != thing]
    if foreign:
        raise Forbidden(f"Datastream {foreign[0]} belongs to another Thing; this device credential "
                        f"may only add Observations to the Datastreams of Thing {thing}",
                        datastreams=foreign)
