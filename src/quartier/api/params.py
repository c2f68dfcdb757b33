"""Query parameters of the platform APIs (not SensorThings' own options)."""

from __future__ import annotations

from starlette.requests import Request

from quartier.errors import BadRequest, NotFound
from quartier.store import Store


def whole_number(request: Request, name: str, default: int) -> int:
    """A non-negative whole number from the query string; 400 for anything else."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise BadRequest(f"{name} must be a whole number, not {raw!r}")
    return int(raw)


async def request_tenant(store: Store, request: Request) -> int:
    """The id of the tenant a request's path names (``/t/{tenant}/…``, else the default
    tenant); 404 when there is none."""
    tenant = request.path_params.get("tenant", "default")
    tenant_id = await store.tenant_id(tenant)
    if tenant_id is None:
        raise NotFound(f"no tenant {tenant!r}")
    return tenant_id
