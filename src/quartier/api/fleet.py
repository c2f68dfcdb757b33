"""HTTP API of the fleet view. Every path also works under ``/t/{tenant}``.

    GET /api/fleet/day?date=YYYY-MM-DD&tz=Europe/Berlin
        every vehicle with its latest state, position and fuel or charge, and for the
        local day (default today in ``tz``, default UTC) its track, distance, and
        operating, driving and idle time in seconds
    GET /api/fleet/trips?date=&tz=&vehicle=
        each vehicle's (or one's) trips that began on the day (see
        :mod:`quartier.usecases.fleet.trips`)
    GET /api/fleet/report?date=&tz=&format=json|csv
        per vehicle and for the fleet: distance, operating, driving and idle hours,
        energy used and trips (CSV: a header row, a row per vehicle, the fleet last)
    PUT /api/fleet/retention             {"days": N or null}: keep every vehicle's
        Observations (and so its position history) N days
    PUT /api/fleet/vehicles/{id}/position-visibility   {"visibility": "internal"}:
        the vehicle's latitude and longitude Datastreams become internal (the Thing
        stays public), or public again
    GET /api/things/{id}/track?from=&to=
        where a Thing was (default: the last 24 hours, at most 31 days): its position
        Datastreams' points, else its HistoricalLocations', as [lon, lat, time]
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.errors import BadRequest, NotFound
from quartier.model.times import format_instant, parse_instant
from quartier.retention import days_from_body
from quartier.settings import Settings
from quartier.store import Store
from quartier.usecases.fleet.day import fleet_day
from quartier.usecases.fleet.privacy import fleet_retention, position_visibility
from quartier.usecases.fleet.report import fleet_report, report_csv
from quartier.usecases.fleet.tracks import thing_track, track_json
from quartier.usecases.fleet.trips import fleet_trips
from quartier.usecases.periods import Period, days, parse_day, zone

MAX_TRACK = timedelta(days=31)
MAX_POINTS = 20_000  # the newest, when a track has more


class FleetApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def routes(self, prefix: str) -> list[Route]:
        return [Route(prefix + "/api/fleet/day", self.day, methods=["GET"]),
                Route(prefix + "/api/fleet/trips", self.trips, methods=["GET"]),
                Route(prefix + "/api/fleet/report", self.report, methods=["GET"]),
                Route(prefix + "/api/fleet/retention", self.retention, methods=["PUT"]),
                Route(prefix + "/api/fleet/vehicles/{id:id}/position-visibility", self.visibility,
                      methods=["PUT"]),
                Route(prefix + "/api/things/{id:id}/track", self.track, methods=["GET"])]

    async def day(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        tz_name, period = _day(request)
        return json_response({"timezone": tz_name, **await fleet_day(self.store, tenant_id, period)})

    async def trips(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        tz_name, period = _day(request)
        vehicle = whole_number(request, "vehicle", 0) if "vehicle" in request.query_params else None
        found = await fleet_trips(self.store, tenant_id, period, vehicle)
        if vehicle is not None and not found:
            raise NotFound(f"no vehicle {vehicle}")
        return json_response({"timezone": tz_name, "date": period.label, "from": format_instant(period.start),
                              "to": format_instant(period.end), "vehicles": found})

    async def report(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        kind = request.query_params.get("format", "json")
        if kind not in ("json", "csv"):
            raise BadRequest(f"format is json or csv, not {kind!r}")
        tz_name, period = _day(request)
        report = await fleet_report(self.store, tenant_id, period)
        if kind == "csv":
            return PlainTextResponse(report_csv(report), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="fleet-{period.label}.csv"'})
        return json_response({"timezone": tz_name, **report})

    async def retention(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        days = days_from_body(await read_json(request, self.settings.max_body_bytes))
        return json_response(await fleet_retention(self.store, tenant_id, days))

    async def visibility(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        body = await read_json(request, self.settings.max_body_bytes)
        if not isinstance(body, dict) or set(body) != {"visibility"}:
            raise BadRequest('the body must be {"visibility": "public" or "internal"}')
        return json_response(await position_visibility(self.store, tenant_id, request.path_params["id"],
                                                       body["visibility"]))

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


def _day(request: Request) -> tuple[str, Period]:
    """The local day of ``date`` (default today) in ``tz`` (default UTC)."""
    tz_name = request.query_params.get("tz") or "UTC"
    tz = zone(tz_name)
    raw = request.query_params.get("date")
    wanted = parse_day(raw, "date") if raw else datetime.now(UTC).astimezone(tz).date()
    [period] = days(wanted, wanted, tz)
    return tz_name, period
