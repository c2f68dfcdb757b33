"""HTTP API for switching and dimming street lamps. Every path also works under
``/t/{tenant}``.

    POST   /api/lighting/commands       {"target": …, "parameters": {"switch", "dim"}}: one
                                        Task per lamp, in one transaction (201, the Tasks)
    POST   /api/lighting/groups         save a group: {"name", "things": [ids]} or
                                        {"name", "filter": "<$filter on Things>"} (201)
    GET    /api/lighting/groups[/{name}]
    DELETE /api/lighting/groups/{name}  (204)
    POST   /api/lighting/schedules      an astronomical clock with a dimming profile for a
                                        target (see usecases/lighting/schedules.py) (201)
    GET    /api/lighting/schedules[/{name}]
    PUT    /api/lighting/schedules/{name}  the same body: the schedule's new definition
    DELETE /api/lighting/schedules/{name}  (204)
    GET    /api/lighting/schedules/{name}/compliance  the lamps whose reported state
                                        disagrees with the schedule beyond its grace
    POST   /api/lighting/schedules/{name}/calendar  add a calendar entry: other settings
                                        for holidays or event nights (201)
    GET    /api/lighting/schedules/{name}/calendar
    DELETE /api/lighting/schedules/{name}/calendar/{entry}  (204)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.api.sensorthings.handlers import Call, Context, SensorThingsApi
from quartier.errors import BadRequest
from quartier.usecases.lighting import commands, groups, schedules


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class LightingControlApi:
    def __init__(self, api: SensorThingsApi) -> None:
        self.api = api
        self.store = api.store
        # What "now" is for the schedules and their compliance: the wall clock, or the
        # simulated town's clock when the demo runs it faster than real time.
        self.clock: Callable[[], datetime] = _wall_clock

    def routes(self, prefix: str) -> list[Route]:
        base = prefix + "/api/lighting"
        return [
            Route(base + "/commands", self.command, methods=["POST"]),
            Route(base + "/groups", self.create_group, methods=["POST"]),
            Route(base + "/groups", self.groups, methods=["GET"]),
            Route(base + "/groups/{name}", self.group, methods=["GET"]),
            Route(base + "/groups/{name}", self.delete_group, methods=["DELETE"]),
            Route(base + "/schedules", self.create_schedule, methods=["POST"]),
            Route(base + "/schedules", self.schedules, methods=["GET"]),
            Route(base + "/schedules/{name}", self.schedule, methods=["GET"]),
            Route(base + "/schedules/{name}", self.replace_schedule, methods=["PUT"]),
            Route(base + "/schedules/{name}", self.delete_schedule, methods=["DELETE"]),
            Route(base + "/schedules/{name}/compliance", self.compliance, methods=["GET"]),
            Route(base + "/schedules/{name}/calendar", self.add_entry, methods=["POST"]),
            Route(base + "/schedules/{name}/calendar", self.entries, methods=["GET"]),
            Route(base + "/schedules/{name}/calendar/{entry}", self.remove_entry,
                  methods=["DELETE"]),
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

    # -- schedules --------------------------------------------------------------------

    async def create_schedule(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        name, definition = schedules.parse_schedule(await self._body(request))
        await schedules.create(self.store, tenant_id, name, definition)
        return json_response({"name": name, **definition}, 201,
                             {"Location": f"{request.url.path}/{name}"})

    async def schedules(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"value": await schedules.listing(self.store, tenant_id)})

    async def schedule(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response(await schedules.find(self.store, tenant_id, request.path_params["name"]))

    async def replace_schedule(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        name, definition = schedules.parse_schedule(await self._body(request))
        if name != request.path_params["name"]:
            raise BadRequest(f"name {name!r} differs from the schedule's name in the path, "
                             f"{request.path_params['name']!r}; a schedule keeps its name")
        await schedules.replace(self.store, tenant_id, name, definition)
        return json_response({"name": name, **definition})

    async def delete_schedule(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        await schedules.delete(self.store, tenant_id, request.path_params["name"])
        return Response(status_code=204)

    async def compliance(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response(await schedules.compliance(
            self.store, tenant_id, request.path_params["name"], self.clock(),
            self._filter(tenant_id)))

    async def add_entry(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        entry = await schedules.add_entry(self.store, tenant_id, request.path_params["name"],
                                          await self._body(request))
        return json_response(entry, 201, {"Location": f"{request.url.path}/{entry['name']}"})

    async def entries(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"value": await schedules.entries(
            self.store, tenant_id, request.path_params["name"])})

    async def remove_entry(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        await schedules.remove_entry(self.store, tenant_id, request.path_params["name"],
                                     request.path_params["entry"])
        return Response(status_code=204)

    async def run_schedules(self, now: datetime | None = None,
                            since: datetime | None = None) -> list[dict[str, Any]]:
        """Send the schedules' events that are due (by the clock, or at ``now``; those
        since ``since``, by default the last quarter of an hour)."""
        return await schedules.run_due(self.store, now or self.clock(), self._filter, since)
