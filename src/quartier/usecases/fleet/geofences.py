"""Geofences of a fleet: depots and service zones as rules of the rules engine.

Each zone is one rule with a ``geofence`` condition ``"when": "enter"`` on every vehicle
(``{"things": {"kind": "vehicle"}}``, or the target given): the engine opens an alert when a
vehicle comes into the zone (event ``opened``) and resolves it when the vehicle leaves
(event ``resolved``), so a depot visit is an alert from its arrival to its departure.
Positions come from the vehicle's Locations or its latitude/longitude Datastreams.

Without zones the template uses the demo town's depot: a square of
:data:`DEPOT_HALF_SIDE` metres each way around its place.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from quartier.errors import BadRequest
from quartier.rules.definition import polygon

DEPOT_HALF_SIDE = 150.0  # metres
ZONE_KINDS = ("depot", "service")
_TEMPLATE_KEYS = {"zones", "target", "severity", "notify"}
_ZONE_KEYS = {"name", "area", "kind"}
MAX_ZONES = 50


@cache
def demo_depot() -> dict[str, Any]:
    """The demo town's depot as a GeoJSON Polygon."""
    from quartier.demo.town import load_town

    return depot_area(load_town())


def depot_area(town: Any) -> dict[str, Any]:
    """The depot of a demo town (:class:`quartier.demo.town.Town`) as a GeoJSON Polygon."""
    x, y = town.places[town.root.table("fleet").text("depot")]
    h = DEPOT_HALF_SIDE
    ring = [town.to_lonlat(x + dx, y + dy) for dx, dy in ((-h, -h), (h, -h), (h, h), (-h, h), (-h, -h))]
    return {"type": "Polygon", "coordinates": [[[round(lon, 6), round(lat, 6)] for lon, lat in ring]]}


def geofence_rules(body: Any) -> list[dict[str, Any]]:
    """The rules (as JSON for :class:`RuleBook`) of a ``fleet`` template body:
    ``{"zones": [{"name": …, "area": GeoJSON, "kind": "depot"|"service"}], "target": …,
    "severity": …, "notify": […]}``, every member optional; 400 for anything else."""
    if not isinstance(body, dict):
        raise BadRequest("the fleet template takes a JSON object")
    unknown = sorted(set(body) - _TEMPLATE_KEYS)
    if unknown:
        raise BadRequest(f"the fleet template knows no {', '.join(unknown)} "
                         f"(it takes {', '.join(sorted(_TEMPLATE_KEYS))})")
    zones = body.get("zones", [{"name": "depot", "area": demo_depot(), "kind": "depot"}])
    if not isinstance(zones, list) or not 1 <= len(zones) <= MAX_ZONES:
        raise BadRequest(f"zones must list 1 to {MAX_ZONES} zones")
    rules = []
    for i, zone in enumerate(zones):
        if not isinstance(zone, dict) or not set(zone) <= _ZONE_KEYS or "name" not in zone:
            raise BadRequest(f"zones[{i}] must be an object with name, area (a GeoJSON Polygon) "
                             'and kind ("depot" or "service")')
        kind = zone.get("kind", "depot")
        if kind not in ZONE_KINDS:
            raise BadRequest(f'zones[{i}].kind is "depot" or "service", not {kind!r}')
        area = zone.get("area", demo_depot() if kind == "depot" else None)
        polygon(area, f"zones[{i}].area")  # named as the caller wrote it
        rules.append({
            "name": zone["name"], "category": "Transport",
            "description": f"Vehicles entering and leaving the {kind} {zone['name']}",
            "target": body.get("target", {"things": {"kind": "vehicle"}}),
            "condition": {"type": "geofence", "when": "enter", "area": area},
            "severity": body.get("severity", "minor"), "notify": body.get("notify", []),
        })
    return rules
