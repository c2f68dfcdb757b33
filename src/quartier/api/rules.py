"""HTTP API for rules and alerts. Every path also works under ``/t/{tenant}``.

    POST   /api/rules                         create (201); GET lists them
    GET    /api/rules/{name}                  PUT replaces, PATCH changes some members
                                              ({"enabled": false} disables), DELETE drops
    POST   /api/rules/templates/flood-warning the reporting-level and rate-of-rise rules
                                              for water gauges, in one call
    POST   /api/rules/templates/street-lighting the lamp and cabinet fault rules (each
                                              alert opens a work order), in one call
    POST   /api/rules/templates/fleet         geofence rules for depots and service
                                              zones on every vehicle (enter/leave as alerts)
    GET    /api/alerts?status=open,acknowledged&severity=severe&since=…&until=…
                      &area=POLYGON((…))&limit=&offset=
    GET    /api/alerts/{id}                   with its full history
    POST   /api/alerts/{id}/acknowledge       {"by": "M. Weber", "comment": "…"}
    POST   /api/alerts/{id}/resolve           {"by": …, "comment": …}
    POST   /api/alerts/{id}/comments          {"by": …, "comment": …}
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.errors import BadRequest, Conflict
from quartier.model.times import parse_instant
from quartier.rules.alerts import STATUSES, Alerts
from quartier.rules.book import RuleBook, rule_json
from quartier.rules.definition import SEVERITIES, Rule
from quartier.settings import Settings
from quartier.store import Store
from quartier.usecases.fleet.geofences import geofence_rules
from quartier.usecases.lighting.faults import fault_rules

_MAX_PAGE = 1000
FLOOD_LEVELS = [{"name": f"Meldestufe {i}", "severity": s}
                for i, s in enumerate(("minor", "moderate", "severe", "extreme"), start=1)]


class RulesApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.book = RuleBook(store)
        self.alerts = Alerts(store)
        self.engine: Any = None  # this process's RuleEngine, told of changes at once

    async def changed(self) -> None:
        """The engine of this process looks at the rules again at once (others within
        seconds, on their own clock)."""
        if self.engine is not None:
            await self.engine.rules_changed()

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/rules", self.create, methods=["POST"]),
            Route(prefix + "/api/rules", self.listing, methods=["GET"]),
            Route(prefix + "/api/rules/templates/flood-warning", self.flood_warning, methods=["POST"]),
            Route(prefix + "/api/rules/templates/street-lighting", self.street_lighting,
                  methods=["POST"]),
            Route(prefix + "/api/rules/templates/fleet", self.fleet, methods=["POST"]),
            Route(prefix + "/api/rules/{name}", self.one, methods=["GET"]),
            Route(prefix + "/api/rules/{name}", self.replace, methods=["PUT"]),
            Route(prefix + "/api/rules/{name}", self.change, methods=["PATCH"]),
            Route(prefix + "/api/rules/{name}", self.delete, methods=["DELETE"]),
            Route(prefix + "/api/alerts", self.alert_listing, methods=["GET"]),
            Route(prefix + "/api/alerts/{id:id}", self.alert, methods=["GET"]),
            Route(prefix + "/api/alerts/{id:id}/acknowledge", self.acknowledge, methods=["POST"]),
            Route(prefix + "/api/alerts/{id:id}/resolve", self.resolve, methods=["POST"]),
            Route(prefix + "/api/alerts/{id:id}/comments", self.comment, methods=["POST"]),
        ]

    async def _tenant(self, request: Request) -> int:
        return await request_tenant(self.store, request)

    async def _json(self, request: Request) -> Any:
        return await read_json(request, self.settings.max_body_bytes)

    # -- rules ------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        body = await self._json(request)
        rule = await self.book.create(tenant_id, body)
        await self.changed()
        return json_response(rule_json(rule), 201, {"Location": f"{request.url.path}/{rule.name}"})

    async def listing(self, request: Request) -> Response:
        rules = await self.book.all(await self._tenant(request))
        return json_response({"value": [rule_json(r) for r in rules]})

    async def one(self, request: Request) -> Response:
        rule = await self.book.find(await self._tenant(request), request.path_params["name"])
        return json_response(rule_json(rule))

    async def replace(self, request: Request) -> Response:
        return await self._update(request, merge=False)

    async def change(self, request: Request) -> Response:
        return await self._update(request, merge=True)

    async def _update(self, request: Request, merge: bool) -> Response:
        tenant_id = await self._tenant(request)
        rule = await self.book.update(tenant_id, request.path_params["name"],
                                      await self._json(request), merge)
        await self.changed()
        return json_response(rule_json(rule))

    async def delete(self, request: Request) -> Response:
        await self.book.delete(await self._tenant(request), request.path_params["name"])
        await self.changed()
        return Response(status_code=204)

    async def flood_warning(self, request: Request) -> Response:
        """Two rules for the gauges a target names: the four reporting levels (from each
        Datastream's ``stages`` property, or given), and a rate-of-rise warning."""
        tenant_id = await self._tenant(request)
        body = await self._json(request)
        if not isinstance(body, dict):
            raise BadRequest("the flood-warning template takes a JSON object")
        allowed = {"name", "target", "stages", "hysteresis", "for", "rise", "within", "notify"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise BadRequest(f"the flood-warning template knows no {', '.join(unknown)} "
                             f"(it takes {', '.join(sorted(allowed))})")
        name = body.get("name", "hochwasser")
        stages = body.get("stages", {"property": "stages"})
        target = body.get("target", {"observedProperty": {"name": "Water level"}})
        levels = {"name": name, "description": "Meldestufen 1 bis 4 an den Pegeln", "target": target,
                  "condition": {"type": "threshold", "above": stages,
                                "hysteresis": body.get("hysteresis", 5),
                                "for": body.get("for", "PT10M")},
                  "levels": FLOOD_LEVELS if not isinstance(stages, list)
                  else FLOOD_LEVELS[:len(stages)],
                  "category": "Met", "notify": body.get("notify", [])}
        rise = {"name": f"{name}-anstieg", "description": "Schneller Anstieg am Pegel",
                "target": target, "severity": "moderate", "category": "Met",
                "condition": {"type": "rate", "rise": body.get("rise", 20),
                              "within": body.get("within", "PT30M")},
                "notify": body.get("notify", [])}
        return await self._create_all(tenant_id, [levels, rise])

    async def street_lighting(self, request: Request) -> Response:
        """The lamp and cabinet fault rules (see usecases/lighting/faults.py)."""
        tenant_id = await self._tenant(request)
        bodies = await fault_rules(self.store, tenant_id, await self._json(request))
        return await self._create_all(tenant_id, bodies)

    async def fleet(self, request: Request) -> Response:
        """A geofence rule per depot or service zone, on every vehicle (see
        :mod:`quartier.usecases.fleet.geofences`)."""
        tenant_id = await self._tenant(request)
        return await self._create_all(tenant_id, geofence_rules(await self._json(request)))

    async def _create_all(self, tenant_id: int, bodies: list[dict[str, Any]]) -> Response:
        """Create every rule of a template, or none."""
        created: list[Rule] = []
        try:
            for body in bodies:
                created.append(await self.book.create(tenant_id, body))
        except (BadRequest, Conflict):
            for rule in created:
                await self.book.delete(tenant_id, rule.name)
            raise
        await self.changed()
        return json_response({"value": [rule_json(r) for r in created]}, 201)

    # -- alerts -----------------------------------------------------------------------

    async def alert_listing(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        query = request.query_params
        status = _choices(query.get("status"), STATUSES, "status")
        severity = _choices(query.get("severity"), SEVERITIES, "severity")
        since = parse_instant(query["since"], "since") if "since" in query else None
        until = parse_instant(query["until"], "until") if "until" in query else None
        area = _area(query.get("area"))
        limit = whole_number(request, "limit", 100)
        offset = whole_number(request, "offset", 0)
        if not 1 <= limit <= _MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {_MAX_PAGE}")
        found, total = await self.alerts.listing(tenant_id, status, severity, since, until, area,
                                                 limit, offset)
        return json_response({"total": total, "value": found})

    async def alert(self, request: Request) -> Response:
        tenant_id = await self._tenant(request)
        return json_response(await self.alerts.find(tenant_id, request.path_params["id"]))

    async def acknowledge(self, request: Request) -> Response:
        tenant_id, body = await self._person_body(request)
        return json_response(await self.alerts.acknowledge(
            tenant_id, request.path_params["id"], body.get("by"), body.get("comment")))

    async def resolve(self, request: Request) -> Response:
        tenant_id, body = await self._person_body(request)
        return json_response(await self.alerts.resolve(
            tenant_id, request.path_params["id"], body.get("by"), body.get("comment")))

    async def comment(self, request: Request) -> Response:
        tenant_id, body = await self._person_body(request)
        return json_response(await self.alerts.comment(
            tenant_id, request.path_params["id"], body.get("by"), body.get("comment")), 201)

    async def _person_body(self, request: Request) -> tuple[int, dict[str, Any]]:
        tenant_id = await self._tenant(request)
        body = await self._json(request)
        if not isinstance(body, dict) or not set(body) <= {"by", "comment"}:
            raise BadRequest('give a JSON object {"by": "name", "comment": "…"}')
        return tenant_id, body


def _choices(raw: str | None, allowed: tuple[str, ...], name: str) -> list[str]:
    if raw is None:
        return []
    values = [v.strip() for v in raw.split(",") if v.strip()]
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise BadRequest(f"{name} takes {', '.join(allowed)} (comma-separated), not {wrong[0]!r}")
    return values


def _area(raw: str | None) -> Any:
    if raw is None:
        return None
    from shapely import wkt
    from shapely.errors import ShapelyError

    try:
        area = wkt.loads(raw)
    except (ShapelyError, ValueError):
        raise BadRequest("area must be WKT, e.g. POLYGON((8.93 50.40, 8.96 50.40, 8.96 50.42, "
                         "8.93 50.42, 8.93 50.40))") from None
    if area.geom_type not in ("Polygon", "MultiPolygon"):
        raise BadRequest("area must be a POLYGON or MULTIPOLYGON")
    return area
