"""HTTP API of the base map. Every path also works under ``/t/{tenant}``.

    GET    /api/basemap              {"layers": {"districts": FeatureCollection, ...}}
    GET    /api/basemap/{layer}      one layer's FeatureCollection
    PUT    /api/basemap/{layer}      store or replace it (201 when new, else 200)
    DELETE /api/basemap/{layer}      204
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.basemap import BaseMap
from quartier.settings import Settings
from quartier.store import Store


class BaseMapApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.basemap = BaseMap(store)

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/basemap", self.all_layers, methods=["GET"]),
            Route(prefix + "/api/basemap/{layer}", self.layer, methods=["GET"]),
            Route(prefix + "/api/basemap/{layer}", self.put, methods=["PUT"]),
            Route(prefix + "/api/basemap/{layer}", self.delete, methods=["DELETE"]),
        ]

    async def all_layers(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"layers": await self.basemap.layers(tenant_id)})

    async def layer(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response(await self.basemap.layer(tenant_id, request.path_params["layer"]))

    async def put(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        body = await read_json(request, self.settings.max_body_bytes,
                               ("application/json", "application/geo+json"))
        layer, created = await self.basemap.put(tenant_id, request.path_params["layer"], body)
        return json_response(layer, 201 if created else 200)

    async def delete(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        await self.basemap.delete(tenant_id, request.path_params["layer"])
        return Response(status_code=204)
