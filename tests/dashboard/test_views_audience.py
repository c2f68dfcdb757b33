"""The visibility and sharing matrix of the dashboard's own endpoints, on both backends.

A town has, of each use case (air quality, parking, street lighting, fleet, a gauge), a
public device (``Offen …``), an internal one (``Geheim …``) and an internal one granted
to the region ``kreis`` (``Geteilt …``); the public gauge also has an internal
Datastream. Each view must show an anonymous reader the public ones only, a viewer of
the town all of them, and the region's key exactly what was granted. Single entities a
reader may not see are 404, never 403.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient as AnonymousClient

from conftest import Api, TestClient, issue_key, make_app
from quartier.settings import Settings
from test_tenant_sharing import create_region
from usecase_fixtures import datastream, device, iso, observe, thing

EEA = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
BAY = "https://quartier.example/def/bay-occupied"
AUDIENCES = ("Offen", "Geheim", "Geteilt")
NOW = datetime.now(UTC).replace(microsecond=0)
SQL_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgresql"])


def _devices(api: Api, label: str) -> dict[str, Any]:
    """One device of each use case named ``label …``: its Thing and Datastream ids."""
    air = thing(api, f"{label} Luft", {"kind": "air_quality"}, [datastream(f"{label} NO2", EEA + "8")])
    bay = thing(api, f"{label} Stellplatz", {"kind": "parking_bay", "lot": f"P-{label}",
                                              "lot_name": f"{label} Parkplatz"},
                [datastream(f"{label} Belegung", BAY, "OM_TruthObservation", "")])
    lamp = device(api, f"{label} Leuchte", {"kind": "streetlight", "cabinet": "SK-01", "circuit": 1},
                  ["state", "power", "energy"])
    car = device(api, f"{label} Fahrzeug", {"kind": "vehicle"},
                 ["latitude", "longitude", "speed", "state"], point=(9.1, 48.7))
    gauge = thing(api, f"{label} Pegel", {"kind": "gauge"}, [datastream(f"{label} Pegelstand",
                                                                        "https://example.org/level")])
    recent = [iso(NOW - timedelta(minutes=m)) for m in (20, 10)]
    observe(api, air[0], [(recent[0], 150), (recent[1], 160)])
    observe(api, bay[0], [(recent[1], True)])
    observe(api, lamp["state"], [(recent[1], "on")])
    observe(api, lamp["energy"], [(recent[0], 10.0), (recent[1], 10.5)])
    observe(api, car["latitude"], [(recent[0], 48.70), (recent[1], 48.71)])
    observe(api, car["longitude"], [(recent[0], 9.10), (recent[1], 9.11)])
    observe(api, gauge[0], [(recent[1], 150)])
    things = api.ok("Things", **{"$filter": f"startswith(name, '{label} ')", "$select": "id"})
    return {"air": air[0], "gauge": gauge[0], "car": car["thing"], "lamp": lamp["thing"],
            "things": [t["@iot.id"] for t in things["value"]]}


def _wait(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} within 30 s")


class World:
    def __init__(self, admin: TestClient, anonymous: AnonymousClient, viewer: dict[str, str],
                 region: dict[str, str], made: dict[str, dict[str, Any]], alerts: dict[str, int]) -> None:
        self.admin = admin
        self.anonymous = anonymous
        self.viewer = viewer
        self.region = region
        self.made = made
        self.alerts = alerts

    def get(self, who: str, path: str) -> Any:
        if who == "anonymous":
            return self.anonymous.get(path)
        if who == "region":
            return self.admin.get(f"/t/kreis{path}", headers=self.region)
        if who == "region-anonymous":
            return self.anonymous.get(f"/t/kreis{path}")
        return self.admin.get(path, headers=self.viewer)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    app = make_app(settings)
    with TestClient(app, raise_server_exceptions=False) as admin:
        create_region(settings, "kreis")
        api = Api(admin)
        made = {label: _devices(api, label) for label in AUDIENCES}
        internal = [*made["Geheim"]["things"], *made["Geteilt"]["things"]]
        for thing_id in internal:
            assert admin.put(f"/api/visibility/Things/{thing_id}",
                             json={"visibility": "internal"}).status_code == 200
        for thing_id in made["Geteilt"]["things"]:
            grant = {"region": "kreis", "entityType": "Thing", "entityId": thing_id}
            assert admin.post("/api/grants", json=grant).status_code == 201
        # The public gauge's second Datastream is internal.
        hidden = datastream("Geheim Pegeltemperatur", "https://example.org/temperature")
        hidden_id = api.create("Datastreams", hidden | {"Thing": {"@iot.id": made["Offen"]["things"][-1]}})
        assert admin.put(f"/api/visibility/Datastreams/{hidden_id}",
                         json={"visibility": "internal"}).status_code == 200
        made["Geheim"]["hidden"] = hidden_id
        targets = {label: made[label]["gauge"] for label in AUDIENCES} | {"Intern": hidden_id}
        for label, ds in targets.items():
            rule = {"name": f"hoch-{label}", "target": {"datastream": ds}, "severity": "severe",
                    "condition": {"type": "threshold", "above": 100}}
            assert admin.post("/api/rules", json=rule).status_code == 201
        observe(api, hidden_id, [(iso(NOW), 150)])
        for label in AUDIENCES:
            observe(api, made[label]["gauge"], [(iso(NOW), 170)])
        found = _wait(lambda: len(admin.get("/api/alerts").json()["value"]) == 4
                      and admin.get("/api/alerts").json()["value"], "alerts")
        alerts = {a["rule"].removeprefix("hoch-"): a["id"] for a in found}
        viewer = {"X-API-Key": issue_key(app, admin.portal, "viewer")}
        region = {"X-API-Key": issue_key(app, admin.portal, "viewer", tenant="kreis")}
        anonymous = AnonymousClient(app, raise_server_exceptions=False)
        anonymous.portal = admin.portal
        yield World(admin, anonymous, viewer, region, made, alerts)


TODAY = NOW.astimezone(UTC).date().isoformat()
VIEWS = ["/api/environment/air", f"/api/environment/day?date={TODAY}", "/api/parking/lots",
         f"/api/parking/day?date={TODAY}", "/api/lighting/lamps", f"/api/fleet/day?date={TODAY}",
         f"/api/fleet/trips?date={TODAY}", "/api/alerts", f"/api/lighting/energy?from={TODAY}&to={TODAY}",
         # Exports: CSV downloads of the views and of SensorThings.
         f"/api/fleet/report?date={TODAY}&format=csv", "/v1.1/Things?$resultFormat=CSV&$select=id,name",
         "/v1.1/Datastreams?$resultFormat=CSV&$select=id,name"]
# Who reads, and which of the town's devices each view must show them.
READERS = {"viewer": {"Offen", "Geheim", "Geteilt"}, "anonymous": {"Offen"},
           "region": {"Geteilt"}, "region-anonymous": set()}


@SQL_BACKENDS
def test_each_view_shows_each_reader_what_it_may_see(world: World) -> None:
    for path in VIEWS:
        for who, wanted in READERS.items():
            response = world.get(who, path)
            assert response.status_code == 200, (who, path, response.text)
            shown = {label for label in AUDIENCES if f"{label} " in response.text}
            # The internal Datastream of the public gauge: named in its alert only.
            if "Geheim Pegeltemperatur" in response.text:
                shown.add("Geheim")
            assert shown == wanted, (who, path, response.text)


def _single(world: World) -> list[tuple[str, str]]:
    """(label, path) of single entities: a chart series, a track, an alert."""
    out = []
    for label in AUDIENCES:
        made = world.made[label]
        out += [(label, f"/api/datastreams/{made['air']}/series?from={iso(NOW - timedelta(hours=1))}"),
                (label, f"/api/things/{made['car']}/track?date={TODAY}"),
                (label, f"/api/alerts/{world.alerts[label]}")]
    hidden = world.made["Geheim"]["hidden"]
    out += [("Geheim", f"/api/datastreams/{hidden}/series"),
            ("Geheim", f"/api/alerts/{world.alerts['Intern']}")]
    return out


@SQL_BACKENDS
def test_single_entities_a_reader_may_not_see_are_not_found(world: World) -> None:
    for label, path in _single(world):
        for who, wanted in READERS.items():
            response = world.get(who, path)
            if label in wanted:
                assert response.status_code == 200, (who, path, response.text)
            else:
                assert response.status_code == 404, (who, path, response.text)
                assert response.json()["code"] == "not_found"
    series = world.get("anonymous", _single(world)[0][1]).json()
    assert [v[1] for v in series["values"]] == [150, 160]  # the public values are all there


@SQL_BACKENDS
def test_the_energy_export_counts_only_the_lamps_a_reader_may_see(world: World) -> None:
    path = f"/api/lighting/energy?by=day&from={TODAY}&to={TODAY}&format=csv"
    lamps = {}
    for who in READERS:
        response = world.get(who, path)
        assert response.status_code == 200, response.text
        rows = list(csv.DictReader(io.StringIO(response.text)))
        lamps[who] = sum(int(row["lamps"]) for row in rows)
    assert lamps == {"viewer": 3, "anonymous": 1, "region": 1, "region-anonymous": 0}


@SQL_BACKENDS
def test_no_anonymous_read_of_any_api_route_names_an_internal_entity(world: World) -> None:
    """Every GET route under /api, its id (if any) that of an internal Datastream and
    Thing in turn: an anonymous reader never gets an internal name in any answer. (The
    live stream never ends: it has its own test in test_tenant_isolation_streams.)"""
    inner = getattr(world.admin.app, "app", world.admin.app)
    paths = sorted({route.path for route in inner.routes if isinstance(route, Route)
                    and "GET" in (route.methods or ()) and route.path.startswith("/api/")
                    and route.path != "/api/live"})
    made = world.made["Geheim"]
    tried = 0
    for path in paths:
        for entity_id in (made["air"], made["car"], world.alerts["Geheim"]):
            filled = path.replace("{id:id}", str(entity_id)).replace("{plural}", "Things")
            if "{" in filled:
                continue
            tried += 1
            for who in ("anonymous", "region-anonymous"):
                response = world.get(who, filled)
                assert response.status_code < 500, (who, filled, response.text)
                assert "Geheim" not in response.text and "Geteilt" not in response.text, (who, filled)
    assert tried > 20
