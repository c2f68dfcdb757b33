"""HTTP API for switching and dimming street lamps. Every path also works under
``/t/{tenant}``.

    POST   /api/lighting/commands       {"target": …, "parameters": {"switch", "dim"}}: one
                                        Task per lamp, in one transaction (201, the Tasks)
    POST   /api/lighting/groups         save a group: {"name", "things": [ids]} or
                                        {"name", "filter": "<$filter on Things>"} (201)
    GET    /api/lighting/groups[/{name}]
    DELETE /api/lighting/groups/{name}  (204)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.api.sensorthings.handlers import Call, Context, SensorThingsApi
from quartier.usecases.lighting import commands, groups


class LightingControlApi:
    def __init__(self, api: SensorThingsApi) -> None:
        self.api = api
        self.store = api.store

    def routes(self, prefix: str) -> list[Route]:
        base = prefix + "/api/lighting"
        return [
            Route(base + "/commands", self.command, methods=["POST"]),
            Route(base + "/groups", self.create_group, methods=["POST"]),
            Route(base + "/groups", self.groups, methods=["GET"]),
            Route(base + "/groups/{name}", self.group, methods=["GET"]),
            Route(base + "/groups/{name}", self.delete_group, methods=["DELETE"]),
        ]

    async def _body(self, request: Request) -> Any:
        return await read_json(request, self.api.settings.max_body_bytes)

    def _filter(self, tenant_id: int) -> commands.FilterThings:
        async def things(text: str) -> list[int]:
            async def no_body() -> Any:
                return None

            ctx = Context(self.store, self.api.settings, tenant_id, "")
            query = [("$filter", text), ("$select", "id"), ("$top", str(groups.MAX_THINGS))]
            reply = await self.api.execute(ctx, Call("GET", "Things", query, "", no_body))
            return [int(t["@iot.id"]) for t in reply.body["value"]]

        return things

    async def command(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        target, parameters = commands.parse_command(await self._body(request))
        things = await commands.lamps(self.store, tenant_id, target, self._filter(tenant_id))
        return json_response(await commands.command(self.store, tenant_id, things, parameters), 201)

    async def create_group(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        name, definition = groups.parse_group(await self._body(request))
        if "filter" in definition:
            await self._filter(tenant_id)(definition["filter"])  # 400 now, not at first use
        await groups.create(self.store, tenant_id, name, definition)
        return json_response({"name": name, **definition}, 201)

    async def groups(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"value": await groups.listing(self.store, tenant_id)})

    async def group(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response(await groups.find(self.store, tenant_id, request.path_params["name"]))

    async def delete_group(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        await groups.delete(self.store, tenant_id, request.path_params["name"])
        return Response(status_code=204)
