"""Grants: a tenant shares chosen Things or Datastreams with a region tenant.

What a grant makes visible is decided in :mod:`quartier.store.tenancy`; this module
keeps the grants themselves. A tenant sees and revokes only its own grants, and may
grant only its own entities (another tenant's id is 404, as everywhere).
"""

from __future__ import annotations

from typing import Any

from quartier.errors import BadRequest, Conflict, NotFound
from quartier.model.entities import ENTITY_TYPES
from quartier.store.base import Store

KINDS = ("Thing", "Datastream")
_COLUMNS = "g.id, r.name, g.entity_type, g.entity_id"


def _grant(row: Any) -> dict[str, Any]:
    return {"id": int(row[0]), "region": str(row[1]), "entityType": str(row[2]),
            "entityId": int(row[3])}


async def grant(store: Store, tenant_id: int, region: str, kind: str, entity_id: int) -> dict[str, Any]:
    """Share one of the tenant's Things or Datastreams with the region tenant ``region``."""
    if kind not in KINDS:
        raise BadRequest(f"entityType must be one of {', '.join(KINDS)}, not {kind!r}")
    region_id = await store.tenant_id(region)
    if region_id is None or not store.is_region(region_id):
        raise BadRequest(f"there is no region tenant {region!r}; create one with "
                         "'quartier tenant create NAME --region'")
    table = ENTITY_TYPES[kind].table
    async with store.transaction() as conn:
        owned = await conn.fetchval(f"SELECT 1 FROM {table} WHERE id = ? AND tenant_id = ?",
                                    (entity_id, tenant_id))
        if owned is None:
            raise NotFound(f"no {kind}({entity_id})")
        taken = await conn.fetchval(
            "SELECT id FROM tenant_grants WHERE grantee_id = ? AND entity_type = ? AND entity_id = ?",
            (region_id, kind, entity_id))
        if taken is not None:
            raise Conflict(f"{kind}({entity_id}) is shared with {region!r} already (grant {taken})")
        grant_id = await conn.fetchval(
            "INSERT INTO tenant_grants (tenant_id, grantee_id, entity_type, entity_id) "
            "VALUES (?, ?, ?, ?) RETURNING id", (tenant_id, region_id, kind, entity_id))
    return {"id": int(grant_id), "region": region, "entityType": kind, "entityId": entity_id}


async def grants(store: Store, tenant_id: int) -> list[dict[str, Any]]:
    """The tenant's grants, oldest first."""
    async with store.reader() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM tenant_grants g JOIN tenants r ON r.id = g.grantee_id "
            "WHERE g.tenant_id = ? ORDER BY g.id", (tenant_id,))
    return [_grant(row) for row in rows]


async def find(store: Store, tenant_id: int, grant_id: int) -> dict[str, Any]:
    async with store.reader() as conn:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM tenant_grants g JOIN tenants r ON r.id = g.grantee_id "
            "WHERE g.tenant_id = ? AND g.id = ?", (tenant_id, grant_id))
    if row is None:
        raise NotFound(f"no grant {grant_id}")
    return _grant(row)


async def revoke(store: Store, tenant_id: int, grant_id: int) -> None:
    """Take a grant back; what it shared is hidden from the region at once."""
    async with store.transaction() as conn:
        gone = await conn.fetchval(
            "DELETE FROM tenant_grants WHERE tenant_id = ? AND id = ? RETURNING id",
            (tenant_id, grant_id))
    if gone is None:
        raise NotFound(f"no grant {grant_id}")
