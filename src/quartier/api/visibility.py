"""HTTP API of what anonymous readers may see. Every path also works under ``/t/{tenant}``.

    GET /api/visibility                        {"internal": {"Things": [ids], "Datastreams": [ids]}}
    GET /api/visibility/{Things|Datastreams}/{id}   {"visibility": "public" | "internal"}
    PUT /api/visibility/{Things|Datastreams}/{id}   {"visibility": ...}: admins; audited
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.errors import BadRequest, NotFound
from quartier.settings import Settings
from quartier.store import Store, audit, visibility


class VisibilityApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def routes(self, prefix: str) -> list[Route]:
        one = prefix + "/api/visibility/{plural}/{id}"
        return [
            Route(prefix + "/api/visibility", self.listing, methods=["GET"]),
            Route(one, self.one, methods=["GET"]),
            Route(one, self.put, methods=["PUT"]),
        ]

    async def listing(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        async with self.store.reader() as conn:
            internal = {plural: await visibility.internal_ids(conn, tenant_id, plural)
                        for plural in ("Things", "Datastreams")}
        return json_response({"internal": internal})

    async def one(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        plural, entity_id = _target(request)
        async with self.store.reader() as conn:
            value = await visibility.read(conn, tenant_id, plural, entity_id)
        return json_response({"visibility": value})

    async def put(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        plural, entity_id = _target(request)
        body = await read_json(request, self.settings.max_body_bytes)
        if not isinstance(body, dict) or set(body) != {"visibility"}:
            raise BadRequest('the body must be {"visibility": "public" or "internal"}')
        trail = audit.current.get()
        async with self.store.transaction() as conn:
            before = await visibility.change(conn, tenant_id, plural, entity_id, body["visibility"])
            if trail is not None:
                await trail.write(conn, self.store.dialect, before=before, after=body["visibility"])
        return json_response({"visibility": body["visibility"]})


def _target(request: Request) -> tuple[str, int]:
    plural, raw = request.path_params["plural"], request.path_params["id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"no {plural}({raw})")
    return plural, int(raw)
