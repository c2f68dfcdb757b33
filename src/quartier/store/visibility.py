"""Public and internal data: what an anonymous reader may see, as SQL conditions.

Things and Datastreams carry a ``visibility`` column, ``public`` (the default) or
``internal``. A reader without a principal sees public Things, the public Datastreams of
public Things, and what hangs off them: their Observations, HistoricalLocations and the
Locations of public Things (a Location linked to no Thing stays visible). Sensors,
ObservedProperties and FeaturesOfInterest are shared definitions and stay visible.

Whether the reader of the current request is anonymous travels in a context variable that
the access gate sets per request (:mod:`quartier.auth.gate`), so that every read of the
query layer, :meth:`quartier.store.read.Scope.where` and the paths of ``$filter``, applies
the same conditions without each caller passing them on. Code outside a request (the rules
engine, the MQTT publisher) reads everything.
"""

from __future__ import annotations

from contextvars import ContextVar

from quartier.errors import BadRequest, NotFound
from quartier.model.entities import EntityType
from quartier.store.connection import Connection

VISIBILITIES = ("public", "internal")

public_only: ContextVar[bool] = ContextVar("quartier_public_only", default=False)

_PUBLIC_THING = "EXISTS (SELECT 1 FROM things v WHERE v.id = {a}.thing_id AND v.visibility = 'public')"
# Correlated on the row's Datastream (found by its primary key): an IN (subquery) would
# tempt SQLite's planner away from the (datastream, time) index of Observations.
_PUBLIC_DATASTREAM = (
    "EXISTS (SELECT 1 FROM datastreams d JOIN things v ON v.id = d.thing_id "
    "WHERE d.id = {a}.datastream_id AND d.visibility = 'public' AND v.visibility = 'public')"
)
_CONDITIONS = {
    "Thing": "{a}.visibility = 'public'",
    "Datastream": "{a}.visibility = 'public' AND " + _PUBLIC_THING,
    "Observation": _PUBLIC_DATASTREAM,
    "HistoricalLocation": _PUBLIC_THING,
    "Location": (
        "(EXISTS (SELECT 1 FROM things_locations l JOIN things v ON v.id = l.thing_id "
        "WHERE l.location_id = {a}.id AND v.visibility = 'public') OR NOT EXISTS "
        "(SELECT 1 FROM things_locations l WHERE l.location_id = {a}.id))"
    ),
}
# The Observation condition on archive blocks: a block holds one Datastream's Observations.
BLOCK_CONDITIONS = {"(" + _PUBLIC_DATASTREAM.format(a="t") + ")": _PUBLIC_DATASTREAM.format(a="b")}


# Children whose visibility is their parent's: read through that parent (an $expand),
# which the reader could see, they need no condition of their own (and are read faster).
_AS_PARENT: dict[tuple[str, str], str | None] = {
    ("Observation", "t.datastream_id"): None,
    ("HistoricalLocation", "t.thing_id"): None,
    ("Location", "k.thing_id"): None,
    ("Datastream", "t.thing_id"): "{a}.visibility = 'public'",
}


def condition(etype: EntityType, alias: str = "t", parent_key: str = "") -> str | None:
    """The SQL condition (on ``alias``, no parameters) that keeps only what the current
    reader may see of ``etype``; None when it may see every row. ``parent_key``: the
    column that ties the rows to a parent already seen."""
    if not public_only.get():
        return None
    key = (etype.name, parent_key)
    text = _AS_PARENT[key] if key in _AS_PARENT else _CONDITIONS.get(etype.name)
    return None if text is None else f"({text.format(a=alias)})"


_TABLES = {"Things": "things", "Datastreams": "datastreams"}


async def read(conn: Connection, tenant_id: int, plural: str, entity_id: int) -> str:
    """The visibility of a Thing or Datastream; 404 when the tenant has none such."""
    table = _table(plural)
    found = await conn.fetchval(f"SELECT visibility FROM {table} WHERE id = ? AND tenant_id = ?",
                                (entity_id, tenant_id))
    if found is None:
        raise NotFound(f"no {plural}({entity_id})")
    return str(found)


async def change(conn: Connection, tenant_id: int, plural: str, entity_id: int, value: object) -> str:
    """Set the visibility of a Thing or Datastream; returns the one it had."""
    if value not in VISIBILITIES:
        raise BadRequest(f"visibility must be public or internal, not {value!r}")
    before = await read(conn, tenant_id, plural, entity_id)
    await conn.execute(f"UPDATE {_table(plural)} SET visibility = ? WHERE id = ? AND tenant_id = ?",
                       (value, entity_id, tenant_id))
    return before


async def internal_ids(conn: Connection, tenant_id: int, plural: str) -> list[int]:
    rows = await conn.fetch(
        f"SELECT id FROM {_table(plural)} WHERE tenant_id = ? AND visibility = 'internal' ORDER BY id",
        (tenant_id,))
    return [int(r[0]) for r in rows]


def _table(plural: str) -> str:
    table = _TABLES.get(plural)
    if table is None:
        raise NotFound(f"only Things and Datastreams have a visibility, not {plural!r}")
    return table
