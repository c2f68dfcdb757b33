"""The street-lighting fault rules, made from the lamps and cabinets a tenant has.

* ``{name}-schedule``: a lamp's state disagrees with the sun (off while it should burn,
  on by day) for longer than ``grace`` (a ``daylight`` condition at the lamps' centre);
* ``{name}-power``: a lamp draws more than ``overdraw`` times its rated power (the Thing
  property ``ratedPower``, W; lamps without it are not watched);
* ``{name}-power-low``: a lamp that burns draws less than ``underdraw`` times its rated
  power (a failed LED driver or LED string); draws up to ``standby`` W are a lamp switched
  off and not judged. Keep ``underdraw`` below the deepest dimming level of the lamps;
* ``{name}-cabinet-silent``: a cabinet has sent nothing for ``silentAfter``.

Every rule has ``"workOrder": true``: each fault alert opens a maintenance work order.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from quartier.errors import BadRequest
from quartier.model.parse import known_members
from quartier.store import Store
from quartier.usecases.lighting.circuits import CABINET, LAMP, RATED_POWER
from quartier.usecases.members import Member, members

OPTIONS = {"name", "grace", "overdraw", "underdraw", "standby", "silentAfter", "latitude",
           "longitude", "elevation", "notify"}
UNDERDRAW = 0.3  # of the rated power: below the usual night dimming of 40 to 50 %
STANDBY = 2.0  # W: a switched-off luminaire controller draws less


async def _property_of(store: Store, things: list[Member], field: str) -> int | None:
    """The ObservedProperty most of ``things``' ``field`` Datastreams observe."""
    ids = [t.datastreams[field] for t in things if field in t.datastreams]
    if not ids:
        return None
    async with store.reader() as conn:
        rows = await conn.fetch("SELECT observed_property_id FROM datastreams WHERE id IN "
                                f"({', '.join('?' for _ in ids)})", ids)
    return int(Counter(int(r[0]) for r in rows).most_common(1)[0][0])


def _centre(lamps: list[Member], body: dict[str, Any]) -> tuple[Any, Any]:
    if "latitude" in body or "longitude" in body:
        return body.get("latitude"), body.get("longitude")  # checked with the condition
    places = [lamp.lonlat for lamp in lamps if lamp.lonlat is not None]
    if not places:
        raise BadRequest("the lamps have no Locations: give latitude and longitude")
    return (sum(p[1] for p in places) / len(places), sum(p[0] for p in places) / len(places))


async def fault_rules(store: Store, tenant_id: int, body: Any) -> list[dict[str, Any]]:
    """The rules' bodies (checked when they are created)."""
    if not isinstance(body, dict):
        raise BadRequest("the street-lighting template takes a JSON object")
    known_members(body, OPTIONS, "the street-lighting template")
    name = body.get("name", "strassenbeleuchtung")
    if not isinstance(name, str):
        raise BadRequest("name must be a string")
    lamps = await members(store, tenant_id, LAMP)
    if not lamps:
        raise BadRequest('no lamps: the template watches Things with properties/kind "streetlight"')
    common = {"category": "Infra", "workOrder": True, "notify": body.get("notify", [])}
    out = []
    state = await _property_of(store, lamps, "state")
    if state is not None:
        latitude, longitude = _centre(lamps, body)
        condition = {"type": "daylight", "latitude": latitude, "longitude": longitude,
                     "for": body.get("grace", "PT30M")}
        if "elevation" in body:
            condition["elevation"] = body["elevation"]
        out.append({"name": f"{name}-schedule", "severity": "moderate", **common,
                    "description": "Leuchte aus, obwohl sie brennen sollte, oder an bei Tag",
                    "target": {"observedProperty": state, "where": {"kind": LAMP}},
                    "condition": condition})
    power = await _property_of(store, lamps, "power")
    if power is not None:
        out.append({"name": f"{name}-power", "severity": "minor", **common,
                    "description": "Leistungsaufnahme über der Nennleistung",
                    "target": {"observedProperty": power, "where": {"kind": LAMP}},
                    "condition": {"type": "threshold", "for": body.get("grace", "PT30M"),
                                  "above": {"property": RATED_POWER,
                                            "factor": body.get("overdraw", 1.2)}}})
        out.append({"name": f"{name}-power-low", "severity": "minor", **common,
                    "description": "Leistungsaufnahme unter der Nennleistung (Treiber defekt?)",
                    "target": {"observedProperty": power, "where": {"kind": LAMP}},
                    "condition": {"type": "threshold", "for": body.get("grace", "PT30M"),
                                  "floor": body.get("standby", STANDBY),
                                  "below": {"property": RATED_POWER,
                                            "factor": body.get("underdraw", UNDERDRAW)}}})
    cabinets = await members(store, tenant_id, CABINET)
    voltage = await _property_of(store, cabinets, "voltage")
    if voltage is not None:
        out.append({"name": f"{name}-cabinet-silent", "severity": "severe", **common,
                    "description": "Schaltschrank meldet sich nicht mehr",
                    "target": {"observedProperty": voltage, "where": {"kind": CABINET}},
                    "condition": {"type": "stale", "after": body.get("silentAfter", "PT1H")}})
    if not out:
        raise BadRequest("the lamps have no state, power or cabinet voltage Datastreams to watch")
    return out
