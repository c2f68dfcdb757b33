"""What the platform's own reads may show: the dashboard's views, chart series, alerts,
exports and the live stream keep to the rules of the SensorThings API.

Two things decide what a reader sees, and both are decided elsewhere:

* whose rows: its own tenant's, or for a region what its members granted it
  (:func:`quartier.store.tenancy.tenant_predicate`);
* which of those: everything for a principal, only public Things and Datastreams (and
  what hangs off them) for an anonymous reader (:mod:`quartier.store.visibility`).

This module joins them into one SQL condition per kind of row, so that a view's query
says ``WHERE {condition}`` instead of ``WHERE tenant_id = ?`` and cannot forget either.
"""

from __future__ import annotations

from quartier.model.entities import ENTITY_TYPES
from quartier.store import visibility
from quartier.store.base import Store
from quartier.store.tenancy import Condition, Reader, RegionView, tenant_predicate


def reader_of(store: Store, tenant_id: int) -> Reader:
    """The reader a request for ``tenant_id`` is: the tenant, or a region's view."""
    return RegionView(tenant_id) if store.is_region(tenant_id) else tenant_id


def sees(reader: Reader, kind: str, alias: str) -> Condition:
    """The condition on ``alias`` (a row of the entity type ``kind``: Thing, Datastream,
    Observation, Location, ...) that holds for the rows the current reader may see."""
    etype = ENTITY_TYPES[kind]
    sql, params = tenant_predicate(reader, etype, alias)
    hidden = visibility.condition(etype, alias)
    return (sql if hidden is None else f"({sql}) AND {hidden}"), params


def alerts(reader: Reader, alias: str) -> Condition:
    """The condition on ``alias`` (a row of ``alerts``): the alerts about Datastreams and
    Things the reader sees. A region sees alerts about what was granted to it, and only
    alerts that are about a Datastream or a Thing."""
    if not isinstance(reader, RegionView) and not visibility.public_only.get():
        return f"{alias}.tenant_id = ?", (reader,)
    stream_sql, stream_params = sees(reader, "Datastream", "aud")
    thing_sql, thing_params = sees(reader, "Thing", "aut")
    own: Condition = ((f"({alias}.datastream_id IS NOT NULL OR {alias}.thing_id IS NOT NULL)", ())
                      if isinstance(reader, RegionView) else (f"{alias}.tenant_id = ?", (reader,)))
    return (f"{own[0]} AND ({alias}.datastream_id IS NULL OR EXISTS (SELECT 1 FROM datastreams aud "
            f"WHERE aud.id = {alias}.datastream_id AND {stream_sql})) AND ({alias}.thing_id IS NULL "
            f"OR EXISTS (SELECT 1 FROM things aut WHERE aut.id = {alias}.thing_id AND {thing_sql}))",
            (*own[1], *stream_params, *thing_params))
