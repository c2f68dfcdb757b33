"""The platform APIs under ``/api/``: rules and alerts, notification channels, LoRaWAN
(device profiles, devices, integrations, the uplink webhook), dead letters, CSV imports,
the base map, the dashboard and use-case views, and the CAP warning feed.

Each operation is one row: method, path, summary, parameters, body, success answer and the
error statuses it may give. Bodies are described as far as they are fixed; the rule, channel
and profile languages have their own documentation, so their schemas stay open objects.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from quartier.openapi.operations import (
    BODY_ERRORS,
    LOCATION,
    answer,
    errors,
    json_body,
    operation,
    path_param,
    query,
)
from quartier.openapi.schemas import Schema

_OBJECT: Schema = {"type": "object"}
_TEXT: Schema = {"type": "string"}
_WHOLE: Schema = {"type": "integer", "minimum": 0, "maximum": 999_999_999}


def _listing(*required: str) -> Schema:
    return {"type": "object", "required": ["value", *required],
            "properties": {"value": {"type": "array", "items": _OBJECT}}}


def _named(*required: str) -> Schema:
    return {"type": "object", "required": ["name", *required],
            "properties": {"name": _TEXT}}


_PAGE = [query("limit", _WHOLE), query("offset", _WHOLE)]
_PERSON = {"type": "object", "additionalProperties": False,
           "properties": {"by": {"type": ["string", "null"]}, "comment": {"type": ["string", "null"]}}}
_RULE = {"type": "object", "required": ["name", "enabled", "revision"],
         "properties": {"id": {"type": "integer"}, "name": _TEXT, "enabled": {"type": "boolean"},
                        "revision": {"type": "integer"}}}
_ALERT = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
_DAY = [query("date", _TEXT, "local day, YYYY-MM-DD (default today)"),
        query("tz", _TEXT, "IANA time zone (default UTC)")]
_RETENTION = {"type": "object", "required": ["days"], "additionalProperties": False,
              "properties": {"days": {"type": ["integer", "null"], "minimum": 1}}}
_ROLE = {"type": "string", "enum": ["viewer", "operator", "editor", "admin"]}
_LOGIN = {"type": "object", "required": ["name", "password"],
          "properties": {"name": _TEXT, "password": _TEXT}}
_SESSION = {"type": "object", "required": ["user", "role", "csrfToken"], "properties": {
    "user": {"type": ["string", "null"]}, "role": {"type": ["string", "null"]},
    "csrfToken": {"type": ["string", "null"]}, "expires": {"type": ["string", "null"]}}}
_USER = {"type": "object", "required": ["name", "role", "disabled"], "properties": {
    "name": _TEXT, "role": _ROLE, "disabled": {"type": ["string", "null"]}}}
_NEW_USER = {"type": "object", "required": ["name", "role", "password"], "additionalProperties": False,
             "properties": {"name": _TEXT, "role": _ROLE, "password": _TEXT}}
_USER_CHANGE = {"type": "object", "additionalProperties": False, "properties": {
    "role": _ROLE, "disabled": {"type": "boolean"}, "password": _TEXT}}
_KEY_REQUEST = {"anyOf": [
    {"type": "object", "required": ["name", "role"], "properties": {
        "name": _TEXT, "role": {"type": "string", "enum": ["viewer", "operator", "editor", "admin"]},
        "scopes": {"type": "array", "items": _TEXT}, "expires": _TEXT}},
    # A device credential: it may only add Observations to the Datastreams of this Thing.
    {"type": "object", "required": ["name", "device"], "properties": {
        "name": _TEXT, "device": {"type": "integer", "minimum": 1}, "expires": _TEXT}},
]}
_VISIBILITY = {"type": "object", "required": ["visibility"],
               "properties": {"visibility": {"type": "string", "enum": ["public", "internal"]}}}
_WORK_ORDER = {"type": "object", "required": ["id", "status", "title"],
               "properties": {"id": {"type": "integer"}, "title": _TEXT, "status": {
                   "type": "string", "enum": ["open", "in_progress", "done"]}}}
_WORK_ORDER_BODY = {"type": "object", "additionalProperties": False, "properties": {
    "title": _TEXT, "description": _TEXT, "assignee": _TEXT, "closingNote": _TEXT,
    "status": {"type": "string", "enum": ["open", "in_progress", "done"]},
    "thingId": {"type": "integer", "minimum": 1}, "alertId": {"type": "integer", "minimum": 1},
    "createdBy": _TEXT}}
_VIEWS = {"type": "object", "required": ["views"], "additionalProperties": False,
          "properties": {"views": {"type": ["array", "null"], "items": _TEXT}}}
_PACKAGE = {"type": "object", "required": ["format", "name", "version"],
            "properties": {"format": {"type": "integer"}, "name": _TEXT, "version": _TEXT}}
_PACKAGE_REPORT = {"type": "object", "required": ["package", "version", "created", "updated", "skipped"],
                   "properties": {k: {"type": "array", "items": _TEXT}
                                  for k in ("created", "updated", "skipped")}}
_TIME_RANGE = [query("from", _TEXT, "ISO 8601 instant"), query("to", _TEXT, "ISO 8601 instant")]


class Op(NamedTuple):
    method: str
    path: str
    summary: str
    tag: str
    ok: dict[str, Any]
    errors: tuple[int, ...] = (400, 404)
    parameters: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None


def _ops() -> list[Op]:
    gone = {"204": answer(None, "deleted")}
    ok = {"200": answer(_OBJECT)}
    free_body = json_body(_OBJECT)
    writes = (*BODY_ERRORS, 409, 422)
    return [
        # rules and alerts
        Op("post", "/api/rules", "create a rule", "rules", {"201": answer(_RULE, headers=LOCATION)},
           writes, body=free_body),
        Op("get", "/api/rules", "every rule", "rules", {"200": answer(_listing())}),
        Op("post", "/api/rules/templates/flood-warning", "the flood-warning rules for gauges", "rules",
           {"201": answer(_listing())}, writes, body=free_body),
        Op("post", "/api/rules/templates/street-lighting",
           "the street-lighting fault rules (lamp schedule, power above or below the rated band, "
           "silent cabinet)", "rules",
           {"201": answer(_listing())}, writes, body=free_body),
        Op("post", "/api/rules/templates/fleet", "geofence rules for depots and service zones", "rules",
           {"201": answer(_listing())}, writes, body=free_body),
        Op("get", "/api/rules/{name}", "one rule", "rules", {"200": answer(_RULE)}),
        Op("put", "/api/rules/{name}", "replace a rule", "rules", {"200": answer(_RULE)}, writes,
           body=free_body),
        Op("patch", "/api/rules/{name}", "change members of a rule", "rules", {"200": answer(_RULE)},
           writes, body=free_body),
        Op("delete", "/api/rules/{name}", "drop a rule", "rules", gone),
        Op("get", "/api/alerts", "alerts, newest first", "alerts",
           {"200": answer(_listing("total"))}, parameters=(
               query("status", _TEXT, "comma-separated: open, acknowledged, resolved"),
               query("severity", _TEXT, "comma-separated CAP severities"),
               query("since", _TEXT), query("until", _TEXT),
               query("area", _TEXT, "WKT POLYGON or MULTIPOLYGON"), *_PAGE)),
        Op("get", "/api/alerts/{id}", "one alert with its history", "alerts", {"200": answer(_ALERT)}),
        Op("post", "/api/alerts/{id}/acknowledge", "acknowledge an alert", "alerts",
           {"200": answer(_ALERT)}, writes, body=json_body(_PERSON)),
        Op("post", "/api/alerts/{id}/resolve", "resolve an alert", "alerts",
           {"200": answer(_ALERT)}, writes, body=json_body(_PERSON)),
        Op("post", "/api/alerts/{id}/comments", "comment on an alert", "alerts",
           {"201": answer(_OBJECT)}, writes, body=json_body(_PERSON)),
        # maintenance work orders
        Op("post", "/api/workorders", "open a work order by hand", "workorders",
           {"201": answer(_WORK_ORDER, headers=LOCATION)}, writes, body=json_body(_WORK_ORDER_BODY)),
        Op("get", "/api/workorders", "work orders, newest first", "workorders",
           {"200": answer(_listing("total"))}, parameters=(
               query("status", _TEXT, "comma-separated: open, in_progress, done"),
               query("assignee", _TEXT), *_PAGE)),
        Op("get", "/api/workorders/{id}", "one work order", "workorders",
           {"200": answer(_WORK_ORDER)}),
        Op("patch", "/api/workorders/{id}", "assign, progress or close a work order (done needs "
           "a closing note)", "workorders", {"200": answer(_WORK_ORDER)}, writes,
           body=json_body(_WORK_ORDER_BODY)),
        # notification channels
        Op("post", "/api/channels", "create a channel", "channels",
           {"201": answer(_named("type"), headers=LOCATION)}, writes, body=free_body),
        Op("get", "/api/channels", "every channel", "channels", {"200": answer(_listing())}),
        Op("get", "/api/channels/{name}", "one channel", "channels", {"200": answer(_named("type"))}),
        Op("put", "/api/channels/{name}", "replace a channel", "channels",
           {"200": answer(_named("type"))}, writes, body=free_body),
        Op("patch", "/api/channels/{name}", "change members of a channel", "channels",
           {"200": answer(_named("type"))}, writes, body=free_body),
        Op("delete", "/api/channels/{name}", "remove a channel and its deliveries", "channels", gone),
        Op("post", "/api/channels/{name}/secret", "a webhook channel's new secret", "channels",
           {"200": answer({"type": "object", "required": ["secret"]})}, (400, 404, 409)),
        Op("get", "/api/channels/{name}/deliveries", "a channel's deliveries", "channels",
           {"200": answer(_listing("count"))},
           parameters=(query("status", {"type": "string", "enum": ["pending", "delivered", "failed"]}),
                       *_PAGE)),
        Op("get", "/api/channels/{name}/deliveries/{id}", "one delivery", "channels", ok),
        Op("post", "/api/channels/{name}/deliveries/{id}/retry", "try a failed delivery again",
           "channels", ok, (400, 404, 409)),
        # LoRaWAN
        Op("post", "/api/device-profiles", "create a device profile", "lorawan",
           {"201": answer(_named(), headers=LOCATION)}, writes, body=free_body),
        Op("get", "/api/device-profiles", "every device profile", "lorawan", {"200": answer(_listing())}),
        Op("get", "/api/device-profiles/{name}", "one device profile", "lorawan", {"200": answer(_named())}),
        Op("delete", "/api/device-profiles/{name}", "drop a profile no device uses", "lorawan", gone,
           (400, 404, 409)),
        Op("post", "/api/devices", "register devices: an object, an array, or CSV", "lorawan",
           {"201": answer(_OBJECT, headers=LOCATION)}, writes, body=_devices_body()),
        Op("get", "/api/devices", "registered devices", "lorawan", {"200": answer(_listing("total"))},
           parameters=(*_PAGE, query("q", _TEXT, "part of a name or DevEUI"))),
        Op("get", "/api/devices/{eui}", "one device", "lorawan", ok),
        Op("delete", "/api/devices/{eui}", "forget a device", "lorawan", gone),
        Op("post", "/api/lorawan/integrations", "create an integration; the answer shows its secret once",
           "lorawan", {"201": answer(_named("network", "secret"), headers=LOCATION)}, writes,
           body=free_body),
        Op("get", "/api/lorawan/integrations", "every integration", "lorawan", {"200": answer(_listing())}),
        Op("get", "/api/lorawan/integrations/{name}", "one integration", "lorawan",
           {"200": answer(_named("network"))}),
        Op("delete", "/api/lorawan/integrations/{name}", "drop an integration", "lorawan", gone),
        Op("post", "/api/lorawan/{name}/uplink",
           "the network server's webhook: a The Things Stack v3 or ChirpStack v4 event", "lorawan",
           {"201": answer(_OBJECT, "stored"), "200": answer(_OBJECT, "a duplicate, stored before"),
            "202": answer(_OBJECT, "not an uplink; nothing to store")},
           (*BODY_ERRORS, 401, 422), parameters=(query("event", _TEXT, "ChirpStack: up, join, …"),),
           body=free_body),
        # dead letters
        Op("get", "/api/dead-letters", "dead letters, oldest first", "dead letters",
           {"200": answer(_listing("total"))}, parameters=tuple(_PAGE)),
        Op("get", "/api/dead-letters/{id}", "one dead letter", "dead letters", ok),
        Op("delete", "/api/dead-letters/{id}", "drop a dead letter", "dead letters", gone),
        Op("post", "/api/dead-letters/{id}/retry", "store a dead letter again", "dead letters",
           {"200": answer({"type": "object", "required": ["stored"]})}, (400, 404, 409, 422)),
        # imports
        Op("post", "/api/imports/csv", "import a historic series from CSV", "imports",
           {"201": answer(_OBJECT)}, (*BODY_ERRORS, 422), parameters=(
               query("datastream", _WHOLE), query("timeColumn", _TEXT), query("valueColumn", _TEXT),
               query("delimiter", _TEXT), query("timeFormat", _TEXT), query("timezone", _TEXT),
               query("skipBadRows", {"type": "string", "enum": ["true", "false"]})),
           body={"required": True, "content": {"text/csv": {"schema": _TEXT}}}),
        # base map
        Op("get", "/api/basemap", "every base-map layer", "basemap",
           {"200": answer({"type": "object", "required": ["layers"]})}),
        Op("get", "/api/basemap/{layer}", "one layer", "basemap", {"200": answer(_OBJECT)}),
        Op("put", "/api/basemap/{layer}", "store or replace a layer (a GeoJSON FeatureCollection)",
           "basemap", {"200": answer(_OBJECT), "201": answer(_OBJECT)}, writes, body=free_body),
        Op("delete", "/api/basemap/{layer}", "drop a layer", "basemap", gone),
        # the dashboard and the use-case views
        Op("get", "/api/dashboard", "the dashboard's settings", "dashboard", ok),
        Op("get", "/api/dashboard/views", "the use-case views the navigation shows (null: all)",
           "dashboard", {"200": answer(_VIEWS)}),
        Op("put", "/api/dashboard/views", "choose the views the navigation shows", "dashboard",
           {"200": answer(_VIEWS)}, BODY_ERRORS, body=json_body(_VIEWS)),
        # use-case packages
        Op("get", "/api/packages", "the packages installed in the tenant, and the built-in ones",
           "packages", {"200": answer(_listing("builtIn"))}),
        Op("post", "/api/packages", "install a package file: all of it or nothing", "packages",
           {"201": answer(_PACKAGE_REPORT)}, writes, body=free_body),
        Op("get", "/api/packages/{name}/export", "the package as the tenant has it now", "packages",
           {"200": answer(_PACKAGE)}),
        Op("get", "/api/datastreams/{id}/series", "a Datastream's values for a chart", "dashboard", ok,
           parameters=(*_TIME_RANGE, query("points", _WHOLE))),
        Op("get", "/api/environment/air", "air-quality stations now", "dashboard", ok,
           parameters=(query("at", _TEXT),)),
        Op("get", "/api/environment/day", "hourly air quality and counts of a day", "dashboard", ok,
           parameters=tuple(_DAY)),
        Op("get", "/api/parking/lots", "every parking lot now", "dashboard", ok),
        Op("get", "/api/parking/day", "occupancy through a day", "dashboard", ok,
           parameters=(*_DAY, query("step", _WHOLE, "seconds"))),
        Op("get", "/api/lighting/lamps", "every street lamp and circuit now", "dashboard", ok),
        Op("get", "/api/lighting/energy", "energy per circuit by day or month", "dashboard",
           {"200": _json_or_csv()}, parameters=(
               query("by", {"type": "string", "enum": ["day", "month"]}),
               query("from", _TEXT), query("to", _TEXT), query("tz", _TEXT),
               query("format", {"type": "string", "enum": ["json", "csv"]}),
               query("per", {"type": "string", "enum": ["circuit", "district", "lamp"]},
                     "the CSV's rows: one per circuit (default), district or lamp and period"))),
        Op("get", "/api/fleet/day", "every vehicle and its day", "dashboard", ok, parameters=tuple(_DAY)),
        Op("get", "/api/fleet/trips", "every vehicle's trips of a day", "dashboard", ok,
           parameters=(*_DAY, query("vehicle", _WHOLE, "one vehicle's Thing id"))),
        Op("get", "/api/fleet/report", "distance, hours, energy and trips per vehicle and fleet",
           "dashboard", {"200": _json_or_csv()},
           parameters=(*_DAY, query("format", {"type": "string", "enum": ["json", "csv"]}))),
        Op("put", "/api/fleet/retention", "keep every vehicle's Observations so many days",
           "retention", ok, writes, body=json_body(_RETENTION)),
        Op("put", "/api/fleet/vehicles/{id}/position-visibility",
           "make a vehicle's position Datastreams public or internal", "access", ok, writes,
           body=json_body(_VISIBILITY)),
        Op("get", "/api/things/{id}/track", "where a Thing was", "dashboard", ok,
           parameters=tuple(_TIME_RANGE)),
        # retention of Observations
        Op("get", "/api/datastreams/{id}/retention", "how many days a Datastream's Observations are kept",
           "retention", ok),
        *(Op("put", f"/api/{path}/{{id}}/retention", f"keep the Observations of {what} so many days",
             "retention", ok, writes, body=json_body(_RETENTION))
          for path, what in (("datastreams", "a Datastream"), ("things", "a Thing's Datastreams"),
                             ("observed-properties", "every Datastream of an ObservedProperty"))),
        # street-light control (Tasks)
        Op("post", "/api/lighting/commands", "switch or dim one lamp, a circuit, a district or a group",
           "lighting", {"201": answer(_OBJECT)}, writes, body=free_body),
        Op("post", "/api/lighting/groups", "save a group of lamps", "lighting",
           {"201": answer(_named())}, writes, body=free_body),
        Op("get", "/api/lighting/groups", "every saved group of lamps", "lighting",
           {"200": answer(_listing())}),
        Op("get", "/api/lighting/groups/{name}", "one saved group", "lighting", {"200": answer(_named())}),
        Op("delete", "/api/lighting/groups/{name}", "drop a saved group", "lighting", gone),
        Op("post", "/api/lighting/schedules", "save a lighting schedule (astronomical clock, "
           "dimming profile)", "lighting", {"201": answer(_named(), headers=LOCATION)}, writes,
           body=free_body),
        Op("get", "/api/lighting/schedules", "every lighting schedule", "lighting",
           {"200": answer(_listing())}),
        Op("get", "/api/lighting/schedules/{name}", "one lighting schedule", "lighting",
           {"200": answer(_named())}),
        Op("put", "/api/lighting/schedules/{name}", "change a lighting schedule (the body as for "
           "saving one, with the same name)", "lighting", {"200": answer(_named())}, writes,
           body=free_body),
        Op("delete", "/api/lighting/schedules/{name}", "drop a lighting schedule", "lighting", gone),
        Op("get", "/api/lighting/schedules/{name}/compliance",
           "the lamps whose reported state disagrees with the schedule", "lighting", ok),
        Op("post", "/api/lighting/schedules/{name}/calendar", "add a calendar entry (holidays, "
           "event nights) that changes the schedule's profile", "lighting",
           {"201": answer(_OBJECT, headers=LOCATION)}, writes, body=free_body),
        Op("get", "/api/lighting/schedules/{name}/calendar", "the calendar of a lighting schedule",
           "lighting", {"200": answer(_listing())}),
        Op("delete", "/api/lighting/schedules/{name}/calendar/{entry}", "drop a calendar entry",
           "lighting", gone),
        # access: API keys, the audit log, public and internal data
        Op("post", "/api/keys", "make an API key (shown once)", "access",
           {"201": answer(_named("key", "role"))}, writes, body=json_body(_KEY_REQUEST)),
        Op("get", "/api/keys", "every API key of the tenant (never the keys themselves)", "access",
           {"200": answer(_listing())}),
        Op("delete", "/api/keys/{id}", "revoke an API key", "access", ok),
        Op("post", "/api/session", "log in to the dashboard: a session and its HttpOnly cookie",
           "access", {"200": answer(_SESSION)}, (*BODY_ERRORS, 429), body=json_body(_LOGIN)),
        Op("get", "/api/session", "who is asking: the session's user, role and CSRF token",
           "access", {"200": answer(_SESSION)}),
        Op("delete", "/api/session", "log out: the session ends", "access", ok),
        Op("get", "/api/users", "the tenant's dashboard users (never their passwords)", "access",
           {"200": answer(_listing())}),
        Op("post", "/api/users", "make a dashboard user", "access", {"201": answer(_USER)}, writes,
           body=json_body(_NEW_USER)),
        Op("get", "/api/users/{name}", "one dashboard user", "access", {"200": answer(_USER)}),
        Op("patch", "/api/users/{name}", "change a user's role or password, or disable it", "access",
           {"200": answer(_USER)}, writes, body=json_body(_USER_CHANGE)),
        Op("get", "/api/audit", "who wrote what, when and from where", "access", {"200": answer(_listing())},
           parameters=(*_TIME_RANGE, query("principal", _TEXT), query("action", _TEXT),
                       query("limit", _WHOLE), query("before", _WHOLE))),
        Op("get", "/api/visibility", "the internal Things and Datastreams", "access", ok),
        Op("get", "/api/visibility/{plural}/{id}", "whether a Thing or Datastream is public", "access", ok),
        Op("put", "/api/visibility/{plural}/{id}", "make a Thing or Datastream public or internal", "access",
           ok, writes, body=json_body(_VISIBILITY)),
        # sharing with a region tenant
        Op("post", "/api/grants", "let a region read a Thing or Datastream", "sharing",
           {"201": answer(_OBJECT)}, writes, body=free_body),
        Op("get", "/api/grants", "what this tenant shares", "sharing", {"200": answer(_listing())}),
        Op("get", "/api/grants/{id}", "one grant", "sharing", ok),
        Op("delete", "/api/grants/{id}", "take a grant back", "sharing", gone),
        # the public warning feed
        Op("get", "/api/cap", "the CAP 1.2 warnings as an Atom feed", "cap",
           {"200": _atom_or_json()}, parameters=(query("channel", _TEXT),
                                                 query("format", {"type": "string", "enum": ["json"]}))),
        Op("get", "/api/cap.json", "the CAP warnings as JSON", "cap", {"200": answer(_listing())},
           parameters=(query("channel", _TEXT),)),
        Op("get", "/api/cap/{ref}", "one CAP message: {id}.xml or {id}.json", "cap",
           {"200": _cap_message()}, parameters=(query("format", {"type": "string", "enum": ["json"]}),)),
    ]


def _devices_body() -> dict[str, Any]:
    body = json_body({"anyOf": [_OBJECT, {"type": "array", "items": _OBJECT}]})
    body["content"]["text/csv"] = {"schema": _TEXT}
    return body


def _json_or_csv() -> dict[str, Any]:
    out = answer(_OBJECT)
    out["content"]["text/csv"] = {"schema": _TEXT}
    return out


def _atom_or_json() -> dict[str, Any]:
    out = answer(_listing(), media="application/atom+xml")
    out["content"] = {"application/atom+xml": {"schema": _TEXT},
                      "application/json": {"schema": _listing()}}
    return out


def _cap_message() -> dict[str, Any]:
    return {"description": "the message", "content": {
        "application/cap+xml": {"schema": _TEXT}, "application/json": {"schema": _OBJECT}}}


_PATH_PARAMS: dict[str, Schema] = {"id": {"type": "integer", "minimum": 0},
                                   "plural": {"type": "string", "enum": ["Things", "Datastreams"]}}


def platform_paths() -> dict[str, Any]:
    """Every platform path, each with its operations."""
    paths: dict[str, Any] = {}
    for op in _ops():
        names = [part[1:-1] for part in op.path.split("/") if part.startswith("{")]
        params = [path_param(n, _PATH_PARAMS.get(n)) for n in names]
        item = paths.setdefault(op.path, {"parameters": params} if params else {})
        item[op.method] = operation(op.summary, op.tag, {**op.ok, **errors(*op.errors)},
                                    parameters=list(op.parameters), body=op.body)
    return paths
