"""The base map: a tenant's own map layers (districts, waters, streets, ...) as GeoJSON.

The dashboard draws them under its Things when no tile server is set, so that the map
means something offline. Each layer is one FeatureCollection under a short name; a PUT
replaces a layer whole.
"""

from __future__ import annotations

from typing import Any

from quartier.errors import BadRequest, NotFound
from quartier.model.values import JSON
from quartier.store import Store

_GEOMETRIES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
MAX_FEATURES = 50_000


def check_layer_name(name: str) -> str:
    if not 1 <= len(name) <= 40 or not set(name) <= _NAME_CHARS:
        raise BadRequest(f"a base-map layer's name is 1 to 40 of a-z, 0-9, '-' and '_', not {name!r}")
    return name


def check_feature_collection(body: Any) -> dict[str, Any]:
    """``body`` if it is a GeoJSON FeatureCollection the map can draw; else a 400 that
    names the first feature that is wrong."""
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        raise BadRequest('a base-map layer is a GeoJSON {"type": "FeatureCollection", "features": [...]}')
    features = body.get("features")
    if not isinstance(features, list):
        raise BadRequest("the FeatureCollection needs a list of features")
    if len(features) > MAX_FEATURES:
        raise BadRequest(f"a base-map layer holds at most {MAX_FEATURES} features")
    for index, feature in enumerate(features):
        where = f"features[{index}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise BadRequest(f"{where} is not a GeoJSON Feature")
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") not in _GEOMETRIES:
            raise BadRequest(f"{where}.geometry must be one of {', '.join(sorted(_GEOMETRIES))}")
        if not _coordinates_ok(geometry.get("coordinates")):
            raise BadRequest(f"{where}.geometry has coordinates that are not [longitude, latitude] numbers")
        properties = feature.get("properties")
        if properties is not None and not isinstance(properties, dict):
            raise BadRequest(f"{where}.properties must be an object or null")
    return {"type": "FeatureCollection", "features": features}


def _coordinates_ok(value: Any) -> bool:
    """Nested lists ending in positions of two or three numbers, within WGS 84's range."""
    if not isinstance(value, list) or not value:
        return False
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return 2 <= len(value) <= 3 and -180 <= value[0] <= 180 and -90 <= value[1] <= 90
    return all(_coordinates_ok(v) for v in value)


class BaseMap:
    """The base-map layers of every tenant, in one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def layers(self, tenant_id: int) -> dict[str, Any]:
        """Every layer of a tenant: name -> FeatureCollection, by name."""
        async with self.store.reader() as conn:
            rows = await conn.fetch("SELECT name, features FROM basemap_layers WHERE tenant_id = ? "
                                    "ORDER BY name", (tenant_id,))
        return {str(r[0]): self.store.dialect.decode(JSON, r[1]) for r in rows}

    async def layer(self, tenant_id: int, name: str) -> Any:
        async with self.store.reader() as conn:
            raw = await conn.fetchval("SELECT features FROM basemap_layers WHERE tenant_id = ? "
                                      "AND name = ?", (tenant_id, check_layer_name(name)))
        if raw is None:
            raise NotFound(f"no base-map layer {name!r}")
        return self.store.dialect.decode(JSON, raw)

    async def put(self, tenant_id: int, name: str, body: Any) -> tuple[dict[str, Any], bool]:
        """Store (or replace) a layer; returns it and whether it is new."""
        collection = check_feature_collection(body)
        check_layer_name(name)
        encoded = self.store.dialect.encode(JSON, collection)
        async with self.store.transaction() as conn:
            found = await conn.fetchval("SELECT count(*) FROM basemap_layers WHERE tenant_id = ? "
                                        "AND name = ?", (tenant_id, name))
            await conn.execute(
                "INSERT INTO basemap_layers (tenant_id, name, features, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant_id, name) DO UPDATE SET features = excluded.features, "
                "updated_at = excluded.updated_at", (tenant_id, name, encoded, _now(self.store)))
        return collection, not found

    async def delete(self, tenant_id: int, name: str) -> None:
        async with self.store.transaction() as conn:
            found = await conn.fetchval("SELECT count(*) FROM basemap_layers WHERE tenant_id = ? "
                                        "AND name = ?", (tenant_id, check_layer_name(name)))
            if not found:
                raise NotFound(f"no base-map layer {name!r}")
            await conn.execute("DELETE FROM basemap_layers WHERE tenant_id = ? AND name = ?",
                               (tenant_id, name))


def _now(store: Store) -> Any:
    from datetime import UTC, datetime

    from quartier.model.values import TIME

    return store.dialect.encode(TIME, datetime.now(UTC))
