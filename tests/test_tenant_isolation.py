"""The tenant isolation matrix: for every path, another tenant's data is invisible (404,
never 403) and cannot be linked to, written into, changed or deleted; on every backend.

Two tenants, ``default`` (at ``/v1.1``) and ``nachbar`` (at ``/t/nachbar/v1.1``), each
hold a full set of entities whose names carry the tenant's marker ("Alpha", "Beta"), an
Observation, a rule with an open alert, a notification channel, a LoRaWAN profile,
device and integration, a base map layer and a dead letter. Each case runs in both
directions: the reader's answers never hold the other's marker, the other's ids answer
404, and after each refused write both tenants' data are as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from conftest import (
    Api,
    TestClient,
    create_tenant,
    datastream_body,
    location_body,
    make_app,
    observed_property_body,
    sensor_body,
)
from lorawan.lorawan_fixtures import gauge_profile
from quartier import deadletters
from quartier.settings import Settings

TIMEOUT = 30.0
NOW = datetime.now(UTC).replace(microsecond=0)
EXPAND_ALL = ("Datastreams($expand=Observations($expand=FeatureOfInterest),Sensor,"
              "ObservedProperty),Locations($expand=HistoricalLocations),HistoricalLocations")
SETS = ("Things", "Locations", "HistoricalLocations", "Datastreams", "Sensors",
        "ObservedProperties", "Observations", "FeaturesOfInterest")


@dataclass
class Tenant:
    """One tenant of the world: where it lives, its marker and the ids of its data."""

    name: str
    prefix: str  # "" or "/t/nachbar"
    marker: str
    ids: dict[str, int]
    eui: str

    @property
    def root(self) -> str:
        return f"{self.prefix}/v1.1"


@dataclass
class World:
    client: TestClient
    tenants: tuple[Tenant, Tenant]

    def pair(self, direction: str) -> tuple[Tenant, Tenant]:
        """(reader, other) for a direction."""
        a, b = self.tenants
        return (a, b) if direction == "a-reads-b" else (b, a)

    def snapshot(self, tenant: Tenant) -> bytes:
        """Everything a tenant holds, as its own API shows it."""
        parts = []
        for name in SETS:
            response = self.client.get(f"{tenant.root}/{name}", params={"$top": 1000})
            assert response.status_code == 200, response.text
            parts.append(response.content)
        for path in ("rules", "alerts", "channels", "device-profiles", "devices",
                     "lorawan/integrations", "basemap"):
            response = self.client.get(f"{tenant.prefix}/api/{path}")
            assert response.status_code == 200, (path, response.text)
            parts.append(response.content)
        return b"\n".join(parts)


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _store(client: TestClient) -> Any:
    app: Any = client.app
    return (app.state if hasattr(app, "state") else app.app.state).store


def _populate(client: TestClient, tenant: Tenant, eui: str) -> None:
    api = Api(client, tenant.root)
    m = tenant.marker
    thing = api.create("Things", {
        "name": f"Pegel {m}", "description": f"gauge {m}",
        "properties": {"district": m},
        "Locations": [location_body(f"Brücke {m}")],
        "Datastreams": [datastream_body(
            f"Wasserstand {m}", Sensor=sensor_body(f"Radar {m}"),
            ObservedProperty=observed_property_body(f"Pegelstand {m}"),
        )],
    })
    ids = tenant.ids
    ids["Things"] = thing
    ids["Datastreams"] = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    ids["Locations"] = api.ok(f"Things({thing})/Locations")["value"][0]["@iot.id"]
    ids["HistoricalLocations"] = api.ok(f"Things({thing})/HistoricalLocations")["value"][0]["@iot.id"]
    ids["Sensors"] = api.ok(f"Datastreams({ids['Datastreams']})/Sensor")["@iot.id"]
    ids["ObservedProperties"] = api.ok(f"Datastreams({ids['Datastreams']})/ObservedProperty")["@iot.id"]
    rule = {"name": f"regel-{m.lower()}", "target": {"datastream": ids["Datastreams"]},
            "severity": "severe", "condition": {"type": "threshold", "above": 100}}
    response = client.post(f"{tenant.prefix}/api/rules", json=rule)
    assert response.status_code == 201, response.text
    ids["Observations"] = api.create(f"Datastreams({ids['Datastreams']})/Observations", {
        "phenomenonTime": (NOW - timedelta(minutes=5)).isoformat(), "result": 150})
    ids["FeaturesOfInterest"] = api.ok(f"Observations({ids['Observations']})/FeatureOfInterest")["@iot.id"]
    alerts = wait_for(lambda: client.get(f"{tenant.prefix}/api/alerts").json()["value"],
                      f"the alert of {tenant.name}")
    ids["alert"] = alerts[0]["id"]
    platform = [
        ("channels", {"name": f"kanal-{m.lower()}", "type": "webhook",
                      "url": "http://127.0.0.1:9/hook"}),
        ("device-profiles", gauge_profile(f"profil-{m.lower()}")),
    ]
    for path, body in platform:
        response = client.post(f"{tenant.prefix}/api/{path}", json=body)
        assert response.status_code == 201, (path, response.text)
    device = {"devEui": eui, "name": f"Sensor {m}", "profile": f"profil-{m.lower()}",
              "location": {"latitude": 50.7, "longitude": 7.1}}
    response = client.post(f"{tenant.prefix}/api/devices", json=device)
    assert response.status_code == 201, response.text
    ids["device_thing"] = response.json().get("thing", 0)
    integration = {"name": f"ttn-{m.lower()}", "network": "tts"}
    response = client.post(f"{tenant.prefix}/api/lorawan/integrations", json=integration)
    assert response.status_code == 201, response.text
    layer = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": f"Bezirk {m}"},
        "geometry": {"type": "Point", "coordinates": [7.1, 50.7]}}]}
    response = client.put(f"{tenant.prefix}/api/basemap/bezirke-{m.lower()}", json=layer)
    assert response.status_code == 201, response.text
    store = _store(client)
    tenant_id = client.portal.call(store.tenant_id, tenant.name)  # type: ignore[union-attr]
    ids["dead_letter"] = client.portal.call(  # type: ignore[union-attr]
        deadletters.keep, store, tenant_id, "mqtt", f"v1.1/Datastreams({ids['Datastreams']})/Observations",
        f'{{"result": "{m}"}}'.encode(), f"refused {m}")


@pytest.fixture(scope="module")
def world(module_settings: Settings) -> Iterator[World]:
    create_tenant(module_settings, "nachbar")
    tenants = (Tenant("default", "", "Alpha", {}, "70-b3-d5-7e-d0-00-00-a1"),
               Tenant("nachbar", "/t/nachbar", "Beta", {}, "70-b3-d5-7e-d0-00-00-b2"))
    with TestClient(make_app(module_settings), raise_server_exceptions=False) as client:
        for tenant in tenants:
            _populate(client, tenant, tenant.eui)
        yield World(client, tenants)


DIRECTIONS = ["a-reads-b", "b-reads-a"]


def _fill(template: str, other: Tenant) -> str:
    return template.format(**other.ids, eui=other.eui, m=other.marker, lm=other.marker.lower())


def _error_shape(response: Any) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body
    return dict(body)


# -- 1. reads of the other tenant's ids: 404 -------------------------------------------------

OTHER_IDS_404 = [
    *(f"{name}({{{name}}})" for name in SETS),
    "Things({Things})/Datastreams", "Things({Things})/Locations",
    "Things({Things})/HistoricalLocations", "Datastreams({Datastreams})/Observations",
    "Datastreams({Datastreams})/Thing", "Datastreams({Datastreams})/Sensor",
    "Datastreams({Datastreams})/ObservedProperty", "Observations({Observations})/Datastream",
    "Observations({Observations})/FeatureOfInterest", "Locations({Locations})/Things",
    "Sensors({Sensors})/Datastreams", "ObservedProperties({ObservedProperties})/Datastreams",
    "FeaturesOfInterest({FeaturesOfInterest})/Observations",
    "HistoricalLocations({HistoricalLocations})/Thing",
    "Things({Things})/name", "Things({Things})/name/$value", "Things({Things})/Datastreams/$ref",
    "Datastreams({Datastreams})/Thing/$ref", "Things({Things})/Datastreams({Datastreams})",
    "Datastreams({Datastreams})/Observations?$resultFormat=dataArray",
    "Datastreams({Datastreams})/Observations?$resultFormat=CSV",
    "Things({Things})?$expand=Datastreams",
]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("template", OTHER_IDS_404)
def test_the_other_tenants_ids_are_not_found(world: World, direction: str, template: str) -> None:
    reader, other = world.pair(direction)
    response = world.client.get(f"{reader.root}/{_fill(template, other)}")
    assert response.status_code == 404, response.text
    assert other.marker not in _error_shape(response)["message"]


# -- 2. reads of the reader's own sets: nothing of the other's ---------------------------------

OWN_READS = [
    *SETS,
    *(f"{name}?$count=true" for name in SETS),
    f"Things?$expand={EXPAND_ALL}",
    "Observations?$expand=Datastream($expand=Thing($expand=Locations)),FeatureOfInterest",
    "Sensors?$expand=Datastreams($expand=Thing)",
    "Locations?$expand=Things($expand=Datastreams($expand=Observations))",
    "Datastreams?$filter=Thing/name eq 'Pegel {m}'",
    "Observations?$filter=Datastream/Thing/name eq 'Pegel {m}'",
    "Observations?$filter=Datastream/id eq {Datastreams}",
    "Things?$filter=Datastreams/id eq {Datastreams}",
    "Locations?$filter=Things/name eq 'Pegel {m}'",
    "FeaturesOfInterest?$filter=Observations/Datastream/id eq {Datastreams}",
    "Things?$filter=Datastreams/Observations/result eq 150&$count=true",
    "Observations?$resultFormat=dataArray",
    "Observations?$resultFormat=dataArray&$count=true",
    "Observations?$resultFormat=CSV",
    "Things?$resultFormat=GeoJSON&$expand=Locations",
    "Locations?$resultFormat=GeoJSON",
]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("template", OWN_READS)
def test_own_sets_hold_nothing_of_the_other_tenant(world: World, direction: str, template: str) -> None:
    reader, other = world.pair(direction)
    path = _fill(template, other)
    response = world.client.get(f"{reader.root}/{path}")
    assert response.status_code == 200, response.text
    text = response.content.decode()
    assert other.marker not in text
    # No link to any of the other's entities (ids are unique per entity type).
    assert not [name for name in SETS if f"/{name}({other.ids[name]})" in text], text
    if "CSV" in template or "GeoJSON" in template:
        return
    body = orjson.loads(response.content)
    if "$count" in template and "dataArray" not in template:
        assert body["@iot.count"] == len(body["value"]), body
    if any(key in template for key in ("{m}", "{Datastreams}")):  # a filter on the other's
        assert body["value"] == [], body
    elif path in SETS:
        assert reader.ids[path] in _ids(body)


def _ids(body: Any) -> set[int]:
    """Every ``@iot.id`` in an answer, at any depth."""
    if isinstance(body, dict):
        found = {body["@iot.id"]} if isinstance(body.get("@iot.id"), int) else set()
        return found.union(*(_ids(v) for v in body.values()))
    if isinstance(body, list):
        return set().union(*(_ids(v) for v in body))
    return set()


# -- 3. writes aimed at the other tenant: refused, nothing changes -----------------------------

WRITES: list[tuple[str, str, Any, tuple[int, ...]]] = [
    *((("PATCH", f"{name}({{{name}}})", {"description": "gekapert"}, (404,))) for name in SETS
      if name not in ("HistoricalLocations", "Observations")),
    ("PATCH", "Observations({Observations})", {"result": 0}, (404,)),
    ("PATCH", "HistoricalLocations({HistoricalLocations})", {"time": "2020-01-01T00:00:00Z"}, (404,)),
    *((("DELETE", f"{name}({{{name}}})", None, (404,))) for name in SETS),
    ("PUT", "Things({Things})", {"name": "x", "description": "y"}, (404,)),
    ("POST", "Datastreams({Datastreams})/Observations", {"result": 1}, (404,)),
    ("POST", "Things({Things})/Datastreams", {**datastream_body("x"), "Sensor": sensor_body(),
                                              "ObservedProperty": observed_property_body()}, (404,)),
    ("POST", "Observations", {"result": 1, "Datastream": {"@iot.id": "{Datastreams}"}}, (400, 404)),
    # CreateObservations answers 201 with an error in place of each refused row.
    ("POST", "CreateObservations", [{"Datastream": {"@iot.id": "{Datastreams}"},
                                     "components": ["result"], "dataArray": [[1]]}], (201,)),
    ("POST", "Datastreams", {**datastream_body("x"), "Thing": {"@iot.id": "{Things}"},
                             "Sensor": sensor_body(), "ObservedProperty": observed_property_body()},
     (400, 404)),
    ("POST", "Things", {"name": "x", "description": "y",
                        "Locations": [{"@iot.id": "{Locations}"}]}, (400, 404)),
    ("POST", "Observations", {"result": 1, "Datastream": {"@iot.id": "{Datastreams}"},
                              "FeatureOfInterest": {"@iot.id": "{FeaturesOfInterest}"}}, (400, 404)),
    ("POST", "HistoricalLocations", {"time": "2020-01-01T00:00:00Z", "Thing": {"@iot.id": "{Things}"}},
     (400, 404)),
]


def _resolve_ids(body: Any, other: Tenant) -> Any:
    """The body with ``"{Name}"`` placeholders replaced by the other tenant's ids."""
    if isinstance(body, dict):
        return {k: _resolve_ids(v, other) for k, v in body.items()}
    if isinstance(body, list):
        return [_resolve_ids(v, other) for v in body]
    if isinstance(body, str) and body.startswith("{") and body.endswith("}"):
        return other.ids[body[1:-1]]
    return body


def _unchanged(world: World, action: Callable[[], Any]) -> Any:
    before = [world.snapshot(t) for t in world.tenants]
    result = action()
    assert [world.snapshot(t) for t in world.tenants] == before
    return result


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize(("method", "template", "body", "statuses"), WRITES,
                         ids=[f"{m} {t}" for m, t, _, _ in WRITES])
def test_writes_at_the_other_tenant_are_refused(
    world: World, direction: str, method: str, template: str, body: Any, statuses: tuple[int, ...],
) -> None:
    reader, other = world.pair(direction)
    url = f"{reader.root}/{_fill(template, other)}"
    payload = _resolve_ids(body, other)
    response = _unchanged(world, lambda: world.client.request(method, url, json=payload))
    assert response.status_code in statuses, response.text
    assert other.marker not in response.text
    if response.status_code == 201:
        assert all(item.startswith("error") for item in response.json()), response.text
    else:
        _error_shape(response)


def test_batch_reads_and_writes_stay_in_the_tenant(world: World) -> None:
    for direction in DIRECTIONS:
        reader, other = world.pair(direction)
        ids = other.ids
        requests = [
            {"id": "1", "method": "GET", "url": f"Things({ids['Things']})"},
            {"id": "2", "method": "GET", "url": f"Datastreams({ids['Datastreams']})/Observations"},
            {"id": "3", "method": "PATCH", "url": f"Things({ids['Things']})", "body": {"name": "x"}},
            {"id": "4", "method": "DELETE", "url": f"Sensors({ids['Sensors']})"},
            {"id": "5", "method": "POST", "url": "Observations",
             "body": {"result": 1, "Datastream": {"@iot.id": ids["Datastreams"]}}},
            {"id": "6", "method": "POST", "url": f"Datastreams({ids['Datastreams']})/Observations",
             "body": {"result": 1}},
        ]
        response = _unchanged(world, lambda r=reader, q=requests: world.client.post(  # type: ignore[misc]
            f"{r.root}/$batch", json={"requests": q}))
        assert response.status_code == 200, response.text
        answers = response.json()["responses"]
        assert [a["status"] for a in answers] == [404, 404, 404, 404, 400, 404], answers
        assert other.marker not in response.text

        part = ("--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding:binary\r\n\r\n"
                f"GET Things({ids['Things']}) HTTP/1.1\r\nHost: testserver\r\n\r\n\r\n")
        changes = ("--b\r\nContent-Type: multipart/mixed;boundary=c\r\n\r\n--c\r\nContent-Type: "
                   "application/http\r\nContent-Transfer-Encoding:binary\r\nContent-ID: 1\r\n\r\n"
                   f"POST Datastreams({ids['Datastreams']})/Observations HTTP/1.1\r\nHost: testserver\r\n"
                   'Content-Type: application/json\r\n\r\n{"result": 1}\r\n--c--\r\n\r\n')
        body = (part + changes + "--b--\r\n").encode()
        response = _unchanged(world, lambda r=reader, b=body: world.client.post(  # type: ignore[misc]
            f"{r.root}/$batch", content=b, headers={"content-type": "multipart/mixed;boundary=b"}))
        assert response.status_code == 200, response.text
        assert response.text.count("HTTP/1.1 404") == 2, response.text
        assert other.marker not in response.text


# -- 4. the platform APIs -----------------------------------------------------------------------

# Each path with the other tenant's name or id answers as it does for one that never
# existed: 404, except the LoRaWAN webhook, which answers 401 to every unknown integration.
PLATFORM_404: list[tuple[str, str, Any]] = [
    ("GET", "/api/datastreams/{Datastreams}/series", None),
    ("GET", "/api/things/{Things}/track", None),
    ("GET", "/api/things/{device_thing}/track", None),
    ("POST", "/api/imports/csv?datastream={Datastreams}&timeColumn=t&valueColumn=v", "csv"),
    ("GET", "/api/rules/regel-{lm}", None),
    ("PUT", "/api/rules/regel-{lm}", {"target": {"datastream": 1}, "severity": "minor",
                                       "condition": {"type": "threshold", "above": 1}}),
    ("PATCH", "/api/rules/regel-{lm}", {"severity": "minor"}),
    ("DELETE", "/api/rules/regel-{lm}", None),
    ("GET", "/api/alerts/{alert}", None),
    ("POST", "/api/alerts/{alert}/acknowledge", {"by": "Fremd"}),
    ("POST", "/api/alerts/{alert}/resolve", {"by": "Fremd"}),
    ("POST", "/api/alerts/{alert}/comments", {"by": "Fremd", "comment": "x"}),
    ("GET", "/api/channels/kanal-{lm}", None),
    ("PATCH", "/api/channels/kanal-{lm}", {"url": "http://127.0.0.1:9/other"}),
    ("DELETE", "/api/channels/kanal-{lm}", None),
    ("GET", "/api/channels/kanal-{lm}/deliveries", None),
    ("GET", "/api/device-profiles/profil-{lm}", None),
    ("DELETE", "/api/device-profiles/profil-{lm}", None),
    ("GET", "/api/devices/{eui}", None),
    ("DELETE", "/api/devices/{eui}", None),
    ("GET", "/api/lorawan/integrations/ttn-{lm}", None),
    ("DELETE", "/api/lorawan/integrations/ttn-{lm}", None),
    ("POST", "/api/lorawan/ttn-{lm}/uplink", {}),
    ("GET", "/api/basemap/bezirke-{lm}", None),
    ("DELETE", "/api/basemap/bezirke-{lm}", None),
    ("GET", "/api/dead-letters/{dead_letter}", None),
    ("DELETE", "/api/dead-letters/{dead_letter}", None),
    ("POST", "/api/dead-letters/{dead_letter}/retry", None),
]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize(("method", "template", "body"), PLATFORM_404,
                         ids=[f"{m} {t}" for m, t, _ in PLATFORM_404])
def test_platform_apis_do_not_find_the_other_tenants_things(
    world: World, direction: str, method: str, template: str, body: Any,
) -> None:
    reader, other = world.pair(direction)
    url = reader.prefix + _fill(template, other)
    if body == "csv":
        def send() -> Any:
            return world.client.post(url, content=b"t,v\n2024-01-01T00:00:00Z,1\n",
                                     headers={"content-type": "text/csv"})
    else:
        def send() -> Any:
            return world.client.request(method, url, json=body)
    response = _unchanged(world, send)
    assert response.status_code == (401 if template.endswith("/uplink") else 404), response.text
    assert other.marker not in _error_shape(response)["message"]


PLATFORM_LISTS = [
    "/api/rules", "/api/alerts", "/api/alerts?status=open,acknowledged,resolved", "/api/channels",
    "/api/device-profiles",
    "/api/devices", "/api/lorawan/integrations", "/api/basemap", "/api/dead-letters",
    "/api/cap", "/api/cap.json", "/api/dashboard", "/api/lighting/lamps", "/api/lighting/energy",
    "/api/fleet/day", "/api/environment/air", "/api/environment/day", "/api/parking/lots",
    "/api/parking/day",
]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("path", PLATFORM_LISTS)
def test_platform_listings_hold_nothing_of_the_other_tenant(
    world: World, direction: str, path: str,
) -> None:
    reader, other = world.pair(direction)
    response = world.client.get(reader.prefix + path)
    assert response.status_code == 200, response.text
    assert other.marker not in response.text
    assert other.marker.lower() not in response.text


def test_rules_cannot_target_the_other_tenants_datastream(world: World) -> None:
    for direction in DIRECTIONS:
        reader, other = world.pair(direction)
        rule = {"name": "fremd", "target": {"datastream": other.ids["Datastreams"]},
                "severity": "minor", "condition": {"type": "threshold", "above": 1}}
        response = _unchanged(world, lambda r=reader, b=rule: world.client.post(  # type: ignore[misc]
            f"{r.prefix}/api/rules", json=b))
        assert response.status_code in (400, 404, 422), response.text
        _error_shape(response)


def test_dead_letters_of_unknown_tenants_show_only_to_the_default_tenant(world: World) -> None:
    store = _store(world.client)
    letter = world.client.portal.call(  # type: ignore[union-attr]
        deadletters.keep, store, None, "mqtt", "t/nobody/v1.1/Observations", b"{}", "no tenant")
    try:
        assert world.client.get(f"/api/dead-letters/{letter}").status_code == 200
        assert world.client.get(f"/t/nachbar/api/dead-letters/{letter}").status_code == 404
    finally:
        assert world.client.delete(f"/api/dead-letters/{letter}").status_code == 204
