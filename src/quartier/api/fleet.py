"""HTTP API of the fleet view. Every path also works under ``/t/{tenant}``.

    GET /api/fleet/day?date=YYYY-MM-DD&tz=Europe/Berlin
        every vehicle with its latest state, position and fuel or charge, and for the
        local day (default today in ``tz``, default UTC) its track, distance, and
        operating, driving and idle time in seconds
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.store import Store
from quartier.usecases.fleet.day import fleet_day
from quartier.usecases.periods import days, parse_day, zone


class FleetApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, prefix: str) -> list[Route]:
        return [Route(prefix + "/api/fleet/day", self.day, methods=["GET"])]

    async def day(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        tz_name = request.query_params.get("tz") or "UTC"
        tz = zone(tz_name)
        raw = request.query_params.get("date")
        wanted = parse_day(raw, "date") if raw else datetime.now(UTC).astimezone(tz).date()
        [period] = days(wanted, wanted, tz)
        return json_response({"timezone": tz_name, **await fleet_day(self.store, tenant_id, period)})
