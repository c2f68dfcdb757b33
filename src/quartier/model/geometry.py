"""GeoJSON validation and the convex hull that a Datastream's observedArea follows."""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from quartier.errors import BadRequest

GEOJSON_ENCODINGS = frozenset({"application/geo+json", "application/vnd.geo+json"})

# How deeply each geometry type nests its positions.
_DEPTH = {
    "Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
    "MultiPolygon": 3,
}
_GEOMETRY_TYPES = frozenset({*_DEPTH, "GeometryCollection"})


def geometry_of(value: Any, what: str) -> BaseGeometry:
    """The geometry of a GeoJSON geometry or Feature; 400 when it is not valid GeoJSON."""
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a GeoJSON object")
    kind = value.get("type")
    if kind == "Feature":
        return geometry_of(value.get("geometry"), f"{what}.geometry")
    if not isinstance(kind, str) or kind not in _GEOMETRY_TYPES:
        raise BadRequest(
            f"{what} has GeoJSON type {kind!r}; expected one of "
            + ", ".join(sorted(_GEOMETRY_TYPES | {"Feature"}))
        )
    if kind == "GeometryCollection":
        members = value.get("geometries")
        if not isinstance(members, list):
            raise BadRequest(f"{what}.geometries must be an array of geometries")
        for index, member in enumerate(members):
            if isinstance(member, dict) and member.get("type") == "Feature":
                raise BadRequest(f"{what}.geometries[{index}] must be a geometry, not a Feature")
            geometry_of(member, f"{what}.geometries[{index}]")
    else:
        coords = value.get("coordinates")
        _check_positions(coords, _DEPTH[kind], f"{what}.coordinates")
        _check_shape(kind, coords, f"{what}.coordinates")
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


def _check_positions(coords: Any, depth: int, what: str) -> None:
    """Arrays nested ``depth`` deep around positions of two or three finite numbers."""
    if not isinstance(coords, list):
        raise BadRequest(f"{what} must be an array")
    if depth == 0:
        if len(coords) not in (2, 3) or not all(
            isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
            for c in coords
        ):
            raise BadRequest(f"{what} must be a position: two or three numbers, e.g. [9.18, 48.78]")
        return
    if not coords:
        raise BadRequest(f"{what} is empty")
    for index, inner in enumerate(coords):
        _check_positions(inner, depth - 1, f"{what}[{index}]")


def _check_shape(kind: str, coords: Any, what: str) -> None:
    """RFC 7946: a line has two positions or more; a ring four or more and is closed."""
    lines = {"LineString": [coords], "MultiLineString": coords}.get(kind, [])
    for line in lines:
        if len(line) < 2:
            raise BadRequest(f"{what}: a line needs at least two positions")
    polygons = {"Polygon": [coords], "MultiPolygon": coords}.get(kind, [])
    for polygon in polygons:
        for ring in polygon:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise BadRequest(
                    f"{what}: each polygon ring needs at least four positions, "
                    "the last the same as the first"
                )


def geometry_json(value: dict[str, Any]) -> dict[str, Any]:
    """The bare geometry of a geometry or Feature, as GeoJSON (for spatial columns)."""
    if value.get("type") == "Feature":
        return geometry_json(value["geometry"])
    return value


def extend_area(
    area: dict[str, Any] | None, additions: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The convex hull of an existing area and further geometries (GeoJSON), or None when
    unchanged."""
    if not additions:
        return None
    if area is not None and area.get("type") == "Point" and all(
            g.get("type") == "Point" and list(g["coordinates"][:2]) == list(area["coordinates"][:2])
            for g in additions):
        return None  # a fixed sensor: its one place again (the usual case, and cheap)
    shapes = [shape(g) for g in additions]
    current = shape(area) if area else None
    if current is not None and all(current.covers(g) for g in shapes):
        return None
    parts = [*([current] if current is not None else []), *shapes]
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
