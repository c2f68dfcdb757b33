"""What the platform APIs read off a request besides SensorThings' own options: query
parameters, the tenant, and the address links start with."""

from __future__ import annotations

from starlette.requests import Request

from quartier.errors import BadRequest, NotFound
from quartier.settings import Settings
from quartier.store import Store

# Public roots by what makes them (scheme, server, Host header, root path): Starlette's
# request.base_url builds a URL each time (4.7 µs of every SensorThings request and
# uplink, 1.1 from here). Bounded, since the Host header is the client's.
_ROOTS: dict[tuple[object, ...], str] = {}
_ROOTS_KEPT = 256


def public_root(settings: Settings, request: Request) -> str:
    """The address links start with, without a trailing slash: the ``--base-url``
    setting, else the scheme, host and root path the request came to."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    scope = request.scope
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    key = (scope.get("scheme"), None if server is None else tuple(server), host,
           scope.get("app_root_path", scope.get("root_path", "")))
    root = _ROOTS.get(key)
    if root is None:
        if len(_ROOTS) >= _ROOTS_KEPT:
            _ROOTS.clear()
        root = _ROOTS[key] = str(request.base_url).rstrip("/")
    return root


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
