"""HTTP API of the environment view. Every path also works under ``/t/{tenant}``.

    GET /api/environment/air?at=…             each air-quality station's latest values and
                                              its pollutants' means over their averaging
                                              periods up to ``at`` (default now), rated
    GET /api/environment/day?date=2026-11-22&tz=Europe/Berlin
                                              hourly means of each pollutant per station,
                                              and the counting sensors' counts of the day
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.model.times import parse_instant
from quartier.store import Store
from quartier.usecases.environment import Environment
from quartier.usecases.localday import parse_local_day


class EnvironmentApi:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.environment = Environment(store)

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/environment/air", self.air, methods=["GET"]),
            Route(prefix + "/api/environment/day", self.day, methods=["GET"]),
        ]

    async def air(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        raw = request.query_params.get("at")
        at = parse_instant(raw, "at") if raw else datetime.now(UTC)
        return json_response(await self.environment.now(tenant_id, at))

    async def day(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        day = parse_local_day(request.query_params.get("date"), request.query_params.get("tz"),
                              datetime.now(UTC))
        return json_response(await self.environment.day(tenant_id, day))
