"""GeoJSON validation and the convex hull that a Datastream's observedArea follows."""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from quartier.errors import BadRequest

GEOJSON_ENCODINGS = frozenset({"application/geo+json", "application/vnd.geo+json"})

_GEOMETRY_TYPES = frozenset({
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    "GeometryCollection",
})


def geometry_of(value: Any, what: str) -> BaseGeometry:
    """The geometry of a GeoJSON geometry or Feature; 400 when it is not valid GeoJSON."""
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a GeoJSON object")
    kind = value.get("type")
    if kind == "Feature":
        return geometry_of(value.get("geometry"), f"{what}.geometry")
    if kind not in _GEOMETRY_TYPES:
        raise BadRequest(
            f"{what} has GeoJSON type {kind!r}; expected one of "
            + ", ".join(sorted(_GEOMETRY_TYPES | {"Feature"}))
        )
    try:
        geom = shape(value)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError,
            shapely.errors.ShapelyError) as exc:
        raise BadRequest(f"{what} is not valid GeoJSON {kind}: {exc}") from None
    if geom.is_empty and kind != "GeometryCollection":
        raise BadRequest(f"{what} is an empty {kind}")
    if not _finite(geom):
        raise BadRequest(f"{what} has coordinates that are not finite numbers")
    return geom


def geometry_json(value: dict[str, Any]) -> dict[str, Any]:
    """The bare geometry of a geometry or Feature, as GeoJSON (for spatial columns)."""
    if value.get("type") == "Feature":
        return geometry_json(value["geometry"])
    return value


def extend_area(area: dict[str, Any] | None, additions: list[BaseGeometry]) -> dict[str, Any] | None:
    """The convex hull of an existing area and further geometries, or None when unchanged."""
    if not additions:
        return None
    current = shape(area) if area else None
    if current is not None and all(current.covers(g) for g in additions):
        return None
    parts = [*([current] if current is not None else []), *additions]
    hull = shapely.convex_hull(shapely.GeometryCollection(parts))
    return dict(mapping(hull))


def area_of(geometries: list[BaseGeometry]) -> dict[str, Any] | None:
    if not geometries:
        return None
    return dict(mapping(shapely.convex_hull(shapely.GeometryCollection(geometries))))


def _finite(geom: BaseGeometry) -> bool:
    import numpy as np

    coords = shapely.get_coordinates(geom)
    return bool(np.isfinite(coords).all())
