"""Rules as people write them (JSON through ``/api/rules``), checked on save.

A rule says what it watches (``target``), when that is a problem (``condition``), how bad
each stage is (``levels``) and whom to tell (``notify``)::

    {"name": "pegel-meldestufen",
     "description": "Reporting levels at every water gauge",
     "target": {"observedProperty": {"name": "Water level"}, "where": {"district": "Altstadt"}},
     "condition": {"type": "threshold", "above": {"property": "stages"},
                   "hysteresis": 5, "for": "PT15M"},
     "levels": [{"name": "Meldestufe 1", "severity": "minor"}, ...],
     "notify": ["feuerwehr"]}

Targets: one Datastream (``{"datastream": 12}``); every Datastream of an ObservedProperty
(``{"observedProperty": 3}`` or by name), optionally only those whose Thing's properties
hold the values in ``where``; for geofences, Things (``{"things": {"kind": "vehicle"}}`` or
``{"thing": 5}``).

Conditions:

* ``threshold``: ``above`` or ``below`` a number, a rising list of numbers (one per level),
  or ``{"property": "stages"}`` (the levels from each Datastream's own properties, so
  one rule serves gauges with thresholds of their own); ``hysteresis`` (the value must come
  back this far before a level clears) and ``for`` (how long a level must hold before it
  counts, ISO 8601 duration; the last value stands until the next, and the engine's clock
  reaches the level once the time has passed); ``floor``: values at or below it say nothing (a lamp
  switched off draws only its standby power, which is no "too little");
* ``rate``: ``rise`` (or ``fall``) by at least this much ``within`` a duration;
* ``stale``: no Observation for ``after`` (checked on a clock);
* ``geofence``: a Thing is outside (``"when": "leave"``) or inside (``"enter"``) ``area``,
  a GeoJSON polygon;
* ``all`` / ``any``: a list of threshold and rate conditions on the same Datastream;
* ``daylight``: an on/off state (``"on"``/``"off"``, true/false, a number > 0 for on)
  that disagrees with the sun at ``latitude``/``longitude``: off while the sun is more
  than ``elevation`` degrees (default -3) below the horizon, or on while it is above;
  ``for`` is the grace period.

A rule with ``"workOrder": true`` opens a maintenance work order with each alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from quartier.errors import BadRequest
from quartier.model.parse import known_members

SEVERITIES = ("minor", "moderate", "severe", "extreme")
CONDITION_TYPES = ("threshold", "rate", "stale", "geofence", "all", "any", "daylight")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_ISO_DURATION = re.compile(
    r"P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?")
_KEYS = {"name", "description", "enabled", "target", "condition", "levels", "severity", "notify",
         "category", "workOrder"}
MAX_LEVELS = 8
MAX_HOLD = 30 * 86_400.0  # the longest "for"


def seconds(raw: Any, what: str) -> float:
    """An ISO 8601 duration ("PT15M", "P1DT2H") in seconds; 400 naming ``what``."""
    match = _ISO_DURATION.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or raw in ("P", "PT") or raw.endswith("T"):
        raise BadRequest(f"{what} must be an ISO 8601 duration such as \"PT15M\" or \"P1D\", "
                         f"not {raw!r}")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (parts.get("d", 0) * 86_400 + parts.get("h", 0) * 3_600 + parts.get("m", 0) * 60
            + parts.get("s", 0))


@dataclass(frozen=True)
class Level:
    name: str
    severity: str


@dataclass(frozen=True)
class Target:
    datastream: int | None = None
    observed_property: int | None = None
    observed_property_name: str | None = None
    where: dict[str, Any] = field(default_factory=dict)  # Thing properties that must match
    thing: int | None = None
    things: dict[str, Any] | None = None  # Thing properties, for geofences

    @property
    def on_things(self) -> bool:
        return self.thing is not None or self.things is not None


@dataclass(frozen=True)
class Condition:
    type: str
    direction: str = "above"  # threshold: above or below; rate: rise or fall
    limits: tuple[float, ...] = ()  # threshold: one per level, in the order they are reached
    limits_property: str | None = None  # threshold: the levels from Datastream properties
    factor: float = 1.0  # threshold: the property's levels times this
    hysteresis: float = 0.0
    floor: float | None = None  # threshold: values at or below it are not judged
    hold: float = 0.0  # "for", seconds
    amount: float = 0.0  # rate: how much
    within: float = 0.0  # rate: in how long; stale: after how long
    area: BaseGeometry | None = None  # geofence
    parts: tuple[Condition, ...] = ()  # all / any
    place: tuple[float, float] | None = None  # daylight: (latitude, longitude)
    elevation: float = -3.0  # daylight: the sun's elevation at which lamps switch


@dataclass(frozen=True)
class Rule:
    id: int | None
    tenant_id: int | None
    name: str
    description: str
    enabled: bool
    target: Target
    condition: Condition
    levels: tuple[Level, ...]
    notify: tuple[str, ...]
    category: str
    body: dict[str, Any]  # as given (and as shown back)
    revision: int = 1
    work_order: bool = False  # each alert opens a maintenance work order

    def level(self, number: int) -> Level:
        return self.levels[min(number, len(self.levels)) - 1]


def parse_rule(body: Any) -> Rule:
    """A rule from its JSON; 400 naming the first thing wrong."""
    if not isinstance(body, dict):
        raise BadRequest("a rule is a JSON object with name, target and condition")
    known_members(body, _KEYS, "a rule")
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadRequest("name must be 1 to 100 letters, digits, dots, dashes or underscores, "
                         f"starting with a letter or digit, not {name!r}")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise BadRequest("description must be a string")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        raise BadRequest("enabled must be true or false")
    target = _target(body.get("target"))
    condition = _condition(body.get("condition"), "condition")
    if condition.type == "geofence" and not target.on_things:
        raise BadRequest('a geofence watches Things: give target {"thing": id} or '
                         '{"things": {"property": "value"}}')
    if condition.type != "geofence" and target.on_things:
        raise BadRequest(f"a {condition.type} condition watches Datastreams: give target "
                         '{"datastream": id} or {"observedProperty": …}')
    levels = _levels(body, condition)
    notify = body.get("notify", [])
    if not isinstance(notify, list) or not all(isinstance(n, str) and n for n in notify):
        raise BadRequest("notify must be a list of notification channel names")
    category = body.get("category", "Env")
    if not isinstance(category, str):
        raise BadRequest("category must be a string (a CAP category such as Met, Env, Infra)")
    work_order = body.get("workOrder", False)
    if not isinstance(work_order, bool):
        raise BadRequest("workOrder must be true or false")
    return Rule(None, None, name, description, enabled, target, condition, levels,
                tuple(notify), category, body, work_order=work_order)


def _target(raw: Any) -> Target:
    if not isinstance(raw, dict) or not raw:
        raise BadRequest('target must be an object: {"datastream": id}, {"observedProperty": id '
                         'or {"name": …}, "where": {…}}, {"thing": id} or {"things": {…}}')
    known_members(raw, {"datastream", "observedProperty", "where", "thing", "things"}, "target")
    chosen = [k for k in ("datastream", "observedProperty", "thing", "things") if k in raw]
    if len(chosen) != 1:
        raise BadRequest("target names exactly one of datastream, observedProperty, thing, things")
    where = raw.get("where", {})
    if not isinstance(where, dict) or ("where" in raw and chosen[0] != "observedProperty"):
        raise BadRequest("target.where is an object of Thing properties, with observedProperty")
    kind = chosen[0]
    value = raw[kind]
    if kind in ("datastream", "thing"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"target.{kind} must be the @iot.id of a {kind.capitalize()}")
        return Target(datastream=value) if kind == "datastream" else Target(thing=value)
    if kind == "things":
        if not isinstance(value, dict):
            raise BadRequest("target.things is an object of Thing properties, e.g. "
                             '{"kind": "vehicle"}')
        return Target(things=value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return Target(observed_property=value, where=where)
    if isinstance(value, dict) and isinstance(value.get("name"), str) and len(value) == 1:
        return Target(observed_property_name=value["name"], where=where)
    raise BadRequest('target.observedProperty is an @iot.id or {"name": "…"}')


def _number(raw: Any, what: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise BadRequest(f"{what} must be a number, not {raw!r}")
    return float(raw)


def polygon(raw: Any, what: str) -> Any:
    """The shapely area of a GeoJSON Polygon or MultiPolygon; 400 naming ``what`` if it is
    not a valid one."""
    try:
        area = shape(raw)
    except Exception:
        area = None
    if area is None or area.geom_type not in ("Polygon", "MultiPolygon") or not area.is_valid:
        raise BadRequest(f"{what} must be a valid GeoJSON Polygon or MultiPolygon")
    return area


def _condition(raw: Any, what: str, nested: bool = False) -> Condition:
    if not isinstance(raw, dict) or raw.get("type") not in CONDITION_TYPES:
        raise BadRequest(f"{what} must be an object whose type is one of "
                         f"{', '.join(CONDITION_TYPES)}")
    kind = raw["type"]
    hold = seconds(raw["for"], f"{what}.for") if "for" in raw else 0.0
    if hold > MAX_HOLD:
        raise BadRequest(f"{what}.for must be at most P30D")
    if kind == "threshold":
        known_members(raw, {"type", "above", "below", "hysteresis", "floor", "for"}, what)
        if ("above" in raw) == ("below" in raw):
            raise BadRequest(f"{what}: a threshold has either above or below")
        direction = "above" if "above" in raw else "below"
        given = raw[direction]
        hysteresis = _number(raw.get("hysteresis", 0), f"{what}.hysteresis")
        if hysteresis < 0:
            raise BadRequest(f"{what}.hysteresis must not be negative")
        floor = None if raw.get("floor") is None else _number(raw["floor"], f"{what}.floor")
        if isinstance(given, dict):
            known_members(given, {"property", "factor"}, f"{what}.{direction}")
            if not isinstance(given.get("property"), str):
                raise BadRequest(f'{what}.{direction}: {{"property": "stages"}} names the Datastream '
                                 "(or Thing) property that holds the levels")
            factor = _number(given.get("factor", 1), f"{what}.{direction}.factor")
            if not 0 < factor <= 100:
                raise BadRequest(f"{what}.{direction}.factor must be more than 0 and at most 100")
            return Condition(kind, direction, limits_property=given["property"], factor=factor,
                             hysteresis=hysteresis, floor=floor, hold=hold)
        values = given if isinstance(given, list) else [given]
        if not values or len(values) > MAX_LEVELS:
            raise BadRequest(f"{what}.{direction}: give 1 to {MAX_LEVELS} values")
        limits = tuple(_number(v, f"{what}.{direction}") for v in values)
        ordered = sorted(limits) if direction == "above" else sorted(limits, reverse=True)
        if list(limits) != ordered or len(set(limits)) != len(limits):
            raise BadRequest(f"{what}.{direction}: the levels must be "
                             f"{'rising' if direction == 'above' else 'falling'}, one per level")
        if floor is not None and floor >= (limits[-1] if direction == "below" else limits[0]):
            raise BadRequest(f"{what}.floor must be below every level, or nothing is judged")
        return Condition(kind, direction, limits, hysteresis=hysteresis, floor=floor, hold=hold)
    if kind == "rate":
        known_members(raw, {"type", "rise", "fall", "within", "for"}, what)
        if ("rise" in raw) == ("fall" in raw):
            raise BadRequest(f"{what}: a rate has either rise or fall")
        direction = "rise" if "rise" in raw else "fall"
        amount = _number(raw[direction], f"{what}.{direction}")
        if amount <= 0:
            raise BadRequest(f"{what}.{direction} must be more than 0")
        within = seconds(raw.get("within"), f"{what}.within")
        if not 0 < within <= 7 * 86_400:
            raise BadRequest(f"{what}.within must be more than 0 and at most P7D")
        return Condition(kind, direction, amount=amount, within=within, hold=hold)
    if nested:
        raise BadRequest(f"{what}: inside all/any only threshold and rate conditions may stand")
    if kind == "stale":
        known_members(raw, {"type", "after"}, what)
        after = seconds(raw.get("after"), f"{what}.after")
        if not 60 <= after <= 366 * 86_400:
            raise BadRequest(f"{what}.after must be at least PT1M and at most P366D")
        return Condition(kind, within=after)
    if kind == "daylight":
        return _daylight(raw, what, hold)
    if kind == "geofence":
        known_members(raw, {"type", "area", "when", "for"}, what)
        when = raw.get("when", "leave")
        if when not in ("leave", "enter"):
            raise BadRequest(f'{what}.when is "leave" or "enter"')
        return Condition(kind, when, area=polygon(raw.get("area"), f"{what}.area"), hold=hold)
    known_members(raw, {"type", "conditions", "for"}, what)
    parts = raw.get("conditions")
    if not isinstance(parts, list) or not 2 <= len(parts) <= 8:
        raise BadRequest(f"{what}.conditions must list 2 to 8 conditions")
    inner = tuple(_condition(p, f"{what}.conditions[{i}]", nested=True) for i, p in enumerate(parts))
    for part in inner:
        if len(part.limits) > 1 or part.limits_property:
            raise BadRequest(f"{what}: a threshold inside {kind} has one value")
    return Condition(kind, parts=inner, hold=hold)


def _daylight(raw: dict[str, Any], what: str, hold: float) -> Condition:
    known_members(raw, {"type", "latitude", "longitude", "elevation", "for"}, what)
    latitude = _number(raw.get("latitude"), f"{what}.latitude")
    longitude = _number(raw.get("longitude"), f"{what}.longitude")
    elevation = _number(raw.get("elevation", -3.0), f"{what}.elevation")
    if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
        raise BadRequest(f"{what}: latitude is -90 to 90, longitude -180 to 180")
    if not -18 <= elevation <= 10:
        raise BadRequest(f"{what}.elevation must be between -18 and 10 degrees")
    return Condition("daylight", place=(latitude, longitude), elevation=elevation, hold=hold)


def _levels(body: dict[str, Any], condition: Condition) -> tuple[Level, ...]:
    raw = body.get("levels")
    severity = body.get("severity", "moderate")
    if severity not in SEVERITIES:
        raise BadRequest(f"severity must be one of {', '.join(SEVERITIES)}")
    count = len(condition.limits) if condition.limits else 1
    if raw is None:
        if condition.limits_property:
            return tuple(Level(f"Stufe {i}", SEVERITIES[min(i - 1, 3)]) for i in range(1, 5))
        return tuple(Level(f"Stufe {i}", severity) if count > 1 else Level("Alarm", severity)
                     for i in range(1, count + 1))
    if not isinstance(raw, list) or not raw:
        raise BadRequest('levels must be a list like [{"name": "Meldestufe 1", "severity": "minor"}]')
    levels = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest(f"levels[{i}] must be an object with name and severity")
        known_members(item, {"name", "severity"}, f"levels[{i}]")
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise BadRequest(f"levels[{i}].name must be a non-empty string")
        if item.get("severity") not in SEVERITIES:
            raise BadRequest(f"levels[{i}].severity must be one of {', '.join(SEVERITIES)}")
        levels.append(Level(item["name"], item["severity"]))
    if not condition.limits_property and len(levels) != count:
        raise BadRequest(f"levels: the condition has {count} level(s), the list names {len(levels)}")
    return tuple(levels)
