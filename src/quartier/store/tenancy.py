"""Which rows a reader sees: the tenant predicate, the one place isolation is decided.

A reader is a tenant's id (it sees its own rows) or a :class:`RegionView` (a region
tenant sees what its member tenants granted it, and nothing else). Every read of
SensorThings entities, whether a collection, one entity, a navigation step, an
``$expand``, a relation inside ``$filter`` or a count, narrows its rows with
:func:`tenant_predicate`.

What a grant shares (see also README, "Tenants and sharing"):

* a Thing: the Thing, its Locations and HistoricalLocations, all its Datastreams;
* a Datastream: the Datastream, and its Thing with the Thing's Locations and
  HistoricalLocations (so the region sees where it measures), not the Thing's other
  Datastreams;
* with each shared Datastream: its Observations, its Sensor and its ObservedProperty;
* FeaturesOfInterest are never shared (they may locate private places).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quartier.model.entities import EntityType

Condition = tuple[str, tuple[Any, ...]]  # SQL with ? placeholders, and its parameters


@dataclass(frozen=True)
class RegionView:
    """A region tenant reading: only what member tenants granted it; it writes nothing."""

    tenant_id: int


Reader = int | RegionView  # a tenant's own id, or a region's view


def tenant_predicate(reader: Reader, etype: EntityType, alias: str = "t") -> Condition:
    """The condition on ``alias`` (a row of ``etype``) that holds for the rows ``reader``
    may see."""
    if not isinstance(reader, RegionView):
        return f"{alias}.tenant_id = ?", (reader,)
    grantee = reader.tenant_id
    datastreams, ds_params = _shared_datastreams(grantee)
    things, thing_params = _shared_things(grantee)
    by_type: dict[str, Condition] = {
        "Thing": (f"{alias}.id IN ({things})", thing_params),
        "Location": (f"{alias}.id IN (SELECT tl.location_id FROM things_locations tl "
                     f"WHERE tl.thing_id IN ({things}))", thing_params),
        "HistoricalLocation": (f"{alias}.thing_id IN ({things})", thing_params),
        "Datastream": (f"{alias}.id IN ({datastreams})", ds_params),
        "Observation": (f"{alias}.datastream_id IN ({datastreams})", ds_params),
        "Sensor": (f"{alias}.id IN (SELECT sd.sensor_id FROM datastreams sd "
                   f"WHERE sd.id IN ({datastreams}))", ds_params),
        "ObservedProperty": (f"{alias}.id IN (SELECT pd.observed_property_id FROM datastreams pd "
                             f"WHERE pd.id IN ({datastreams}))", ds_params),
    }
    return by_type.get(etype.name, ("1 = 0", ()))


# The ids of one kind of entity granted to a region (parameters: region, kind).
_GRANTED = "SELECT g.entity_id FROM tenant_grants g WHERE g.grantee_id = ? AND g.entity_type = ?"


def _shared_datastreams(grantee: int) -> Condition:
    """Datastreams granted, or of a granted Thing."""
    return (f"SELECT gd.id FROM datastreams gd WHERE gd.id IN ({_GRANTED}) "
            f"OR gd.thing_id IN ({_GRANTED})",
            (grantee, "Datastream", grantee, "Thing"))


def _shared_things(grantee: int) -> Condition:
    """Things granted, or whose Datastream is granted."""
    return (f"{_GRANTED} UNION SELECT gt.thing_id FROM datastreams gt "
            f"WHERE gt.id IN ({_GRANTED})",
            (grantee, "Thing", grantee, "Datastream"))
