"""HTTP API of the street-lighting view. Every path also works under ``/t/{tenant}``.

    GET /api/lighting/lamps        every lamp with its latest state and status (on, dimmed,
                                   off, failed, unknown), and per circuit the lamps counted
                                   by status with the cabinet's voltage and load
    GET /api/lighting/energy?by=day|month&from=&to=&tz=&format=json|csv&per=circuit|district|lamp
                                   kWh per circuit and local day (from/to: YYYY-MM-DD,
                                   default the last 7 days) or month (YYYY-MM, default the
                                   last 12 months), both ends included; tz an IANA zone
                                   (default UTC); per circuit, district and lamp also the
                                   kWh at full (rated) power for the hours burned and the
                                   saving (full power minus metered)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.errors import BadRequest
from quartier.store import Store
from quartier.usecases.lighting.energy import circuit_energy
from quartier.usecases.lighting.status import lighting_status
from quartier.usecases.periods import Period, days, months, parse_day, parse_month, zone


def _choice(request: Request, name: str, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get(name, allowed[0])
    if value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def energy_periods(request: Request) -> tuple[str, str, list[Period]]:
    """``by``, the time zone's name and the periods a request asks for."""
    query = request.query_params
    by = _choice(request, "by", ("day", "month"))
    tz_name = query.get("tz") or "UTC"
    tz = zone(tz_name)
    today = datetime.now(UTC).astimezone(tz).date()
    if by == "day":
        last = parse_day(query["to"], "to") if "to" in query else today
        first = parse_day(query["from"], "from") if "from" in query else last - timedelta(days=6)
        return by, tz_name, days(first, last, tz)
    last = parse_month(query["to"], "to") if "to" in query else today.replace(day=1)
    if "from" in query:
        first = parse_month(query["from"], "from")
    else:
        index = last.year * 12 + last.month - 1 - 11
        first = date(index // 12, index % 12 + 1, 1)
    return by, tz_name, months(first, last, tz)


# The CSV's rows, per ``per``: the report's list and the columns naming each entry.
_CSV_ROWS: dict[str, tuple[str, list[str], Callable[[dict[str, Any]], list[Any]]]] = {
    "circuit": ("circuits", ["cabinet", "cabinet_name", "circuit", "lamps"],
                lambda c: [c["cabinet"] or "", c["cabinetName"] or "", c["circuit"] or "", c["lamps"]]),
    "district": ("districts", ["district", "lamps"], lambda d: [d["district"] or "", d["lamps"]]),
    "lamp": ("lamps", ["lamp", "name", "cabinet", "circuit", "district", "rated_power_w"],
             lambda x: [x["id"], x["name"], x["cabinet"] or "", x["circuit"] or "", x["district"] or "",
                        "" if x["ratedPower"] is None else x["ratedPower"]]),
}


def energy_csv(report: dict[str, Any], per: str = "circuit") -> str:
    """One line per circuit (or district, or lamp) and period: the figures of the JSON
    report (metered energy, energy at full power for the same burning hours, saving), for a
    spreadsheet."""
    key, columns, names = _CSV_ROWS[per]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["period", "start", "end", *columns, "energy_kwh", "full_power_kwh", "saving_kwh"])
    for i, period in enumerate(report["periods"]):
        for entry in report[key]:
            writer.writerow([period["period"], period["start"], period["end"], *names(entry),
                             *(_kwh(entry[k][i]) for k in ("energy", "fullPower", "saving"))])
    return out.getvalue()


def _kwh(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


class LightingApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/lighting/lamps", self.lamps, methods=["GET"]),
            Route(prefix + "/api/lighting/energy", self.energy, methods=["GET"]),
        ]

    async def lamps(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response(await lighting_status(self.store, tenant_id))

    async def energy(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        by, tz_name, periods = energy_periods(request)
        fmt = _choice(request, "format", ("json", "csv"))
        per = _choice(request, "per", tuple(_CSV_ROWS))
        report = {"by": by, "from": periods[0].label, "to": periods[-1].label, "timezone": tz_name,
                  **await circuit_energy(self.store, tenant_id, periods)}
        if fmt == "json":
            return json_response(report)
        name = f"lighting-energy-{per}-{by}-{report['from']}-{report['to']}.csv"
        return Response(energy_csv(report, per), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
