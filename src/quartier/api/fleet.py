"""HTTP API of the fleet view. Every path also works under ``/t/{tenant}``.

    GET /api/fleet/day?date=YYYY-MM-DD&tz=Europe/Berlin
        every vehicle with its latest state, position and fuel or charge, and for the
        local day (default today in ``tz``, default UTC) its track, distance, and
        operating, driving and idle time in seconds
    GET /api/things/{id}/track?from=&to=
        where a Thing was (default: the last 24 hours, at most 31 days): its position
        Datastreams' points, else its HistoricalLocations', as [lon, lat, time]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.errors import BadRequest
from quartier.model.times import format_instant, parse_instant
from quartier.store import Store
from quartier.usecases.fleet.day import fleet_day
from quartier.usecases.fleet.tracks import thing_track, track_json
from quartier.usecases.periods import days, parse_day, zone

MAX_TRACK = timedelta(days=31)
MAX_POINTS = 20_000  # the newest, when a track has more


class FleetApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, prefix: str) -> list[Route]:
        return [Route(prefix + "/api/fleet/day", self.day, methods=["GET"]),
                Route(prefix + "/api/things/{id:id}/track", self.track, methods=["GET"])]

    async def day(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        tz_name = request.query_params.get("tz") or "UTC"
        tz = zone(tz_name)
        raw = request.query_params.get("date")
        wanted = parse_day(raw, "date") if raw else datetime.now(UTC).astimezone(tz).date()
        [period] = days(wanted, wanted, tz)
        return json_response({"timezone": tz_name, **await fleet_day(self.store, tenant_id, period)})

    async def track(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        query = request.query_params
        end = parse_instant(query["to"], "to") if "to" in query else datetime.now(UTC)
        start = parse_instant(query["from"], "from") if "from" in query else end - timedelta(days=1)
        if not start < end or end - start > MAX_TRACK:
            raise BadRequest("'from' must be before 'to', at most 31 days apart")
        source, points = await thing_track(self.store, tenant_id, request.path_params["id"], start, end)
        return json_response({"thing": request.path_params["id"], "from": format_instant(start),
                              "to": format_instant(end), "source": source,
                              "points": track_json(points[-MAX_POINTS:])})
