"""HTTP API of the parking view. Every path also works under ``/t/{tenant}``.

    GET /api/parking/lots                     every lot: bays, free, occupied, occupancy
                                              now, and each bay's state
    GET /api/parking/day?date=2026-11-22&tz=Europe/Berlin&step=900
                                              each lot's occupancy every ``step`` seconds
                                              of that day (today when no date), up to now
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.params import request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.store import Store
from quartier.usecases.localday import parse_local_day
from quartier.usecases.parking import Parking

DEFAULT_STEP = 900


class ParkingApi:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.parking = Parking(store)

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/parking/lots", self.lots, methods=["GET"]),
            Route(prefix + "/api/parking/day", self.day, methods=["GET"]),
        ]

    async def lots(self, request: Request) -> Response:
        return json_response(await self.parking.now(await request_tenant(self.store, request)))

    async def day(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        now = datetime.now(UTC)
        day = parse_local_day(request.query_params.get("date"), request.query_params.get("tz"), now)
        step = whole_number(request, "step", DEFAULT_STEP)
        return json_response(await self.parking.day(tenant_id, day, step, now))
