"""``$resultFormat=GeoJSON``: entities as GeoJSON Features with their geometry."""

from __future__ import annotations

from typing import Any

from quartier.errors import BadRequest
from quartier.model.entities import ENTITY_TYPES, EntityType
from quartier.query.options import Expand, Limits, QueryOptions, build_options

_GEOMETRY_LIMITS = Limits(default_top=100, max_top=100)
# Where each entity type keeps its geometry: (property, relation to expand for it)
_GEOMETRY = {
    "Location": ("location", None),
    "FeatureOfInterest": ("feature", None),
    "Datastream": ("observedArea", None),
    "Thing": ("location", "Locations"),
    "Observation": ("feature", "FeatureOfInterest"),
}


def add_geometry_expand(etype: EntityType, options: QueryOptions) -> None:
    """Things and Observations take their geometry from a related entity: expand it."""
    if etype.name not in _GEOMETRY:
        raise BadRequest(
            f"$resultFormat=GeoJSON is for {', '.join(ENTITY_TYPES[n].plural for n in _GEOMETRY)}"
        )
    prop, relation = _GEOMETRY[etype.name]
    if relation is None:
        return
    for item in options.expand:
        if item.relation.name == relation:  # asked for: make sure it carries the geometry
            select = item.options.select
            if select is not None and prop not in select:
                select.append(prop)
            return
    rel = etype.find_relation(relation)
    assert rel is not None
    target = ENTITY_TYPES[rel.target]
    nested = build_options({"$select": prop}, target, _GEOMETRY_LIMITS)
    options.expand.append(Expand(rel, nested, {"$select": prop}, implicit=True))


def feature(etype: EntityType, entity: dict[str, Any], implicit: bool = False) -> dict[str, Any]:
    """One entity as a GeoJSON Feature; ``implicit``: its geometry's relation was expanded
    only for the geometry, so it is left out of the properties."""
    prop, relation = _GEOMETRY[etype.name]
    properties = {k: v for k, v in entity.items() if not k.endswith("@iot.navigationLink")}
    geometry: Any = None
    if relation is None:
        geometry = properties.pop(prop, None)
    else:
        related = entity.get(relation)
        if implicit:
            for key in (relation, f"{relation}@iot.nextLink", f"{relation}@iot.count"):
                properties.pop(key, None)
        members = related if isinstance(related, list) else [related] if related else []
        shapes = [m.get(prop) for m in members if isinstance(m, dict) and m.get(prop)]
        shapes = [_geometry_only(s) for s in shapes]
        if len(shapes) == 1:
            geometry = shapes[0]
        elif shapes:
            geometry = {"type": "GeometryCollection", "geometries": shapes}
    return {
        "type": "Feature",
        "id": entity.get("@iot.id"),
        "geometry": _geometry_only(geometry) if geometry else None,
        "properties": properties,
    }


def _geometry_only(value: Any) -> Any:
    if isinstance(value, dict) and value.get("type") == "Feature":
        return value.get("geometry")
    return value


def feature_collection(
    etype: EntityType, values: list[dict[str, Any]], body: dict[str, Any], implicit: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "FeatureCollection"}
    out.update(body)
    out["features"] = [feature(etype, v, implicit) for v in values]
    return out


def implicit_geometry(options: QueryOptions) -> bool:
    return any(e.implicit for e in options.expand)
