"""HTTP API of data retention (see :mod:`quartier.retention`). Also under ``/t/{tenant}``.

    GET  /api/datastreams/{id}/retention          {"datastream": id, "days": N or null}
    PUT  /api/datastreams/{id}/retention          body {"days": N} or {"days": null}
    PUT  /api/things/{id}/retention               every Datastream of the Thing
    PUT  /api/observed-properties/{id}/retention  every Datastream of the ObservedProperty

A PUT answers the owner, the days and the ids of the Datastreams it set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.retention import days_from_body, retention_of, set_retention
from quartier.settings import Settings
from quartier.store import Store

_PATHS = {"datastream": "datastreams", "thing": "things", "observed_property": "observed-properties"}
_NAMES = {"datastream": "datastream", "thing": "thing", "observed_property": "observedProperty"}


class RetentionApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def routes(self, prefix: str) -> list[Route]:
        routes = [Route(prefix + "/api/datastreams/{id:id}/retention", self.one, methods=["GET"])]
        for owner, path in _PATHS.items():
            routes.append(Route(f"{prefix}/api/{path}/{{id:id}}/retention", self._put(owner),
                                methods=["PUT"]))
        return routes

    async def one(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        datastream_id = request.path_params["id"]
        days = await retention_of(self.store, tenant_id, datastream_id)
        return json_response({"datastream": datastream_id, "days": days})

    def _put(self, owner: str) -> Callable[[Request], Awaitable[Response]]:
        async def put(request: Request) -> Response:
            tenant_id = await request_tenant(self.store, request)
            days = days_from_body(await read_json(request, self.settings.max_body_bytes))
            owner_id = request.path_params["id"]
            ids = await set_retention(self.store, tenant_id, owner, owner_id, days)
            return json_response({_NAMES[owner]: owner_id, "days": days, "datastreams": ids})

        return put
