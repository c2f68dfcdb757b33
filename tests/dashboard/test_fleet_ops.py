"""Fleet operations on every backend: trips, the daily report (JSON and CSV), depot and
service-zone geofences, and the fleet's privacy settings."""

from __future__ import annotations

import csv
import io
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient as AnonymousClient

from conftest import Api, TestClient
from usecase_fixtures import device, iso, write

BERLIN = ZoneInfo("Europe/Berlin")
FIELDS = ["latitude", "longitude", "speed", "fuel", "state"]
KM_PER_DEGREE = math.pi / 180 * 6371.0088  # along a meridian


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


def positions(api: Api, vehicle: dict[str, int], fixes: list[tuple[datetime, float, float]]) -> None:
    write(api, vehicle["latitude"], [(when, lat) for when, _, lat in fixes])
    write(api, vehicle["longitude"], [(when, lon) for when, lon, _ in fixes])


def anonymous_of(client: TestClient) -> AnonymousClient:
    """A client without a key, in the event loop the app already runs in."""
    anonymous = AnonymousClient(client.app, raise_server_exceptions=False)
    anonymous.portal = client.portal
    return anonymous


def a_truck(api: Api) -> dict[str, int]:
    truck = device(api, "Müllfahrzeug 1", {"kind": "vehicle", "vehicle": "refuse"}, FIELDS)
    write(api, truck["state"], [
        (at(23, 30, day=9), "driving"), (at(0, 10), "driving"), (at(0, 15), "depot"),  # begun the day before
        (at(6), "driving"), (at(6, 10), "driving"), (at(6, 20), "stopped"), (at(6, 25), "driving"),
        (at(6, 40), "driving"), (at(6, 50), "depot"),                   # trip 1: 06:00-06:40, 5 min idle
        (at(8), "driving"), (at(8, 30), "stopped"), (at(9, 10), "driving"),  # trip 2 ends at a long stop
        (at(9, 20), "driving"),                                          # trip 3, then silent
        (at(23, 40), "driving"), (at(0, 20, day=11), "driving"), (at(0, 30, day=11), "depot"),  # trip 4
    ])
    lats = [(at(6), 48.70), (at(6, 10), 48.71), (at(6, 20), 48.72), (at(6, 25), 48.72),
            (at(6, 40), 48.73), (at(6, 50), 48.73), (at(8), 48.73), (at(8, 30), 48.75),
            (at(9, 10), 48.75), (at(9, 20), 48.76), (at(23, 40), 48.76), (at(0, 20, day=11), 48.78)]
    positions(api, truck, [(when, 9.2, lat) for when, lat in lats])
    write(api, truck["fuel"], [(at(6), 90.0), (at(7), 88.5), (at(12), 95.0), (at(20), 94.0)])
    return truck


def a_bus(api: Api) -> dict[str, int]:
    bus = device(api, "Stadtbus 1", {"kind": "vehicle", "vehicle": "bus"},
                 ["latitude", "longitude", "charge", "state"])
    write(api, bus["state"], [(at(10), "driving"), (at(10, 15), "driving"), (at(10, 30), "depot")])
    positions(api, bus, [(at(10), 9.3, 48.70), (at(10, 15), 9.3, 48.71)])
    write(api, bus["charge"], [(at(10), 80.0), (at(10, 30), 78.0)])
    return bus


DAY = {"date": "2026-03-10", "tz": "Europe/Berlin"}


def test_trips_are_detected_as_driven(client: TestClient, api: Api) -> None:
    truck = a_truck(api)
    a_bus(api)
    response = client.get("/api/fleet/trips", params={**DAY, "vehicle": truck["thing"]})
    assert response.status_code == 200, response.text
    [vehicle] = response.json()["vehicles"]
    trips = [(t["start"], t["end"], t["duration"], t["idle"]) for t in vehicle["trips"]]
    assert trips == [
        (iso(at(6)), iso(at(6, 40)), 40 * 60, 5 * 60),
        (iso(at(8)), iso(at(8, 30)), 30 * 60, 0),
        (iso(at(9, 10)), iso(at(9, 20)), 10 * 60, 0),
        (iso(at(23, 40)), iso(at(0, 20, day=11)), 40 * 60, 0),
    ]
    distances = [t["distance"] for t in vehicle["trips"]]
    assert distances == pytest.approx([d * KM_PER_DEGREE for d in (0.03, 0.02, 0.01, 0.02)], abs=0.001)
    first = vehicle["trips"][0]
    assert first["startPlace"] == [9.2, 48.70] and first["endPlace"] == [9.2, 48.73]
    assert first["driving"] == 35 * 60
    everyone = client.get("/api/fleet/trips", params=DAY).json()["vehicles"]
    assert [len(v["trips"]) for v in everyone] == [4, 1]


def test_the_report_adds_up_the_day_and_the_trips(client: TestClient, api: Api) -> None:
    truck, bus = a_truck(api), a_bus(api)
    report = client.get("/api/fleet/report", params=DAY).json()
    day = {v["id"]: v for v in client.get("/api/fleet/day", params=DAY).json()["vehicles"]}
    trips = {v["id"]: v["trips"] for v in client.get("/api/fleet/trips", params=DAY).json()["vehicles"]}
    rows = {r["vehicle"]: r for r in report["vehicles"]}
    for vehicle in (truck["thing"], bus["thing"]):
        row = rows[vehicle]
        assert row["trips"] == len(trips[vehicle])
        assert row["distance_km"] == day[vehicle]["distance"]
        assert row["operating_hours"] == round(day[vehicle]["operating"] / 3600, 3)
        assert row["idle_hours"] == round(day[vehicle]["idle"] / 3600, 3)
    assert rows[truck["thing"]]["energy_used_percent"] == 2.5  # 90 -> 88.5, refuelled, 95 -> 94
    assert rows[bus["thing"]]["energy_field"] == "charge"
    assert rows[bus["thing"]]["energy_used_percent"] == 2.0
    assert report["fleet"]["trips"] == 5
    assert report["energyByField"] == {"fuel": 2.5, "charge": 2.0}
    # Fuel and charge are no one quantity: the fleet has no total of them, only one per kind.
    assert report["fleet"]["energy_used_percent"] is None
    assert report["fleet"]["distance_km"] == pytest.approx(sum(r["distance_km"] for r in rows.values()))

    response = client.get("/api/fleet/report", params={**DAY, "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["name"] for r in table] == ["Müllfahrzeug 1", "Stadtbus 1", "fleet"]
    *vehicles, total = table
    for column in ("distance_km", "operating_hours", "idle_hours", "trips"):
        assert float(total[column]) == pytest.approx(sum(float(r[column]) for r in vehicles), abs=0.002)
    assert total["energy_used_percent"] == "" and total["energy_field"] == ""
    assert all(r["date"] == "2026-03-10" for r in table)


def test_a_fleet_of_one_kind_of_level_has_its_energy_total(client: TestClient, api: Api) -> None:
    a_bus(api)
    second = device(api, "Stadtbus 2", {"kind": "vehicle", "vehicle": "bus"}, ["charge", "state"])
    write(api, second["state"], [(at(11), "driving"), (at(11, 30), "depot")])
    write(api, second["charge"], [(at(11), 70.0), (at(11, 30), 66.5)])
    report = client.get("/api/fleet/report", params=DAY).json()
    assert report["energyByField"] == {"charge": 5.5}
    assert report["fleet"]["energy_used_percent"] == 5.5
    assert report["fleet"]["energy_field"] == "charge"


@pytest.mark.parametrize("path, params", [
    ("/api/fleet/report", {"format": "xml"}), ("/api/fleet/report", {"date": "2026-13-01"}),
    ("/api/fleet/trips", {"tz": "Mars/Olympus"}), ("/api/fleet/trips", {"vehicle": "abc"}),
])
def test_bad_fleet_requests_are_refused(client: TestClient, path: str, params: dict[str, str]) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"


def test_an_unknown_vehicle_has_no_trips(client: TestClient) -> None:
    response = client.get("/api/fleet/trips", params={"vehicle": "99999"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# -- geofences --------------------------------------------------------------------------

DEPOT = {"type": "Polygon", "coordinates": [[[9.19, 48.69], [9.21, 48.69], [9.21, 48.71],
                                              [9.19, 48.71], [9.19, 48.69]]]}


def wait_for(check: Any, what: str, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {seconds} s")


def test_depot_visits_are_alerts_from_entering_to_leaving(client: TestClient, api: Api) -> None:
    truck = device(api, "Müllfahrzeug 2", {"kind": "vehicle"}, FIELDS)
    device(api, "Leuchte 7", {"kind": "streetlight"}, ["state"])
    response = client.post("/api/rules/templates/fleet", json={
        "zones": [{"name": "betriebshof", "area": DEPOT, "kind": "depot"},
                  {"name": "wertstoffhof", "kind": "service", "area": {
                      "type": "Polygon", "coordinates": [[[9.3, 48.8], [9.31, 48.8], [9.31, 48.81],
                                                          [9.3, 48.8]]]}}]})
    assert response.status_code == 201, response.text
    assert [r["name"] for r in response.json()["value"]] == ["betriebshof", "wertstoffhof"]
    now = datetime.now(UTC).replace(microsecond=0)
    # Outside, into the depot (latitude first, then longitude), out again.
    for i, (lon, lat) in enumerate([(9.25, 48.70), (9.20, 48.70), (9.25, 48.70)]):
        when = now - timedelta(minutes=3 - i)
        write(api, truck["latitude"], [(when, lat)])
        write(api, truck["longitude"], [(when, lon)])
        if i == 1:
            [alert] = wait_for(lambda: client.get("/api/alerts").json()["value"], "the arrival")
            assert alert["thingId"] == truck["thing"] and alert["rule"] == "betriebshof"
    wait_for(lambda: client.get("/api/alerts", params={"status": "resolved"}).json()["value"],
             "the departure")
    [alert] = client.get("/api/alerts").json()["value"]
    history = client.get(f"/api/alerts/{alert['id']}").json()["history"]
    assert [e["kind"] for e in history] == ["opened", "resolved"]


def test_the_fleet_template_defaults_to_the_demo_depot_and_refuses_bad_bodies(client: TestClient) -> None:
    response = client.post("/api/rules/templates/fleet", json={})
    assert response.status_code == 201, response.text
    [rule] = response.json()["value"]
    ring = rule["condition"]["area"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    assert min(lons) < 8.961640 < max(lons) and min(lats) < 50.404456 < max(lats)  # the Betriebshof
    for body in ([], {"zones": []}, {"zones": [{"name": "x", "kind": "garage"}]}, {"colour": 1},
                 {"zones": [{"name": "x", "kind": "service"}]}, {"zones": [{"area": DEPOT}]},
                 {"zones": [{"name": "depot", "area": DEPOT}]}):  # the last: taken already
        answer = client.post("/api/rules/templates/fleet", json=body)
        assert 400 <= answer.status_code < 500, (body, answer.text)
        assert answer.json()["code"] in ("bad_request", "conflict")
    point = {"type": "Point", "coordinates": [8.96, 50.40]}
    answer = client.post("/api/rules/templates/fleet", json={"zones": [
        {"name": "hof", "area": DEPOT, "kind": "service"}, {"name": "punkt", "area": point}]})
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"].startswith("zones[1].area must be a valid GeoJSON Polygon")
    assert [r["name"] for r in client.get("/api/rules").json()["value"]] == ["depot"]


# -- privacy ----------------------------------------------------------------------------


def test_position_retention_for_the_whole_fleet(client: TestClient, api: Api) -> None:
    truck, bus = a_truck(api), a_bus(api)
    lamp = device(api, "Leuchte 1", {"kind": "streetlight"}, ["state"])
    response = client.put("/api/fleet/retention", json={"days": 30})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["vehicles"]) == sorted([truck["thing"], bus["thing"]])
    for vehicle in (truck, bus):
        for field, datastream in vehicle.items():
            if field != "thing":
                assert client.get(f"/api/datastreams/{datastream}/retention").json()["days"] == 30
    assert client.get(f"/api/datastreams/{lamp['state']}/retention").json()["days"] is None
    for body in ({"days": 0}, {"days": "30"}, {"weeks": 2}):
        answer = client.put("/api/fleet/retention", json=body)
        assert answer.status_code == 400 and answer.json()["code"] == "bad_request"
    anonymous = anonymous_of(client)
    assert anonymous.put("/api/fleet/retention", json={"days": 1}).status_code == 401


def test_an_internal_live_position_stays_hidden_from_anonymous_readers(client: TestClient, api: Api) -> None:
    truck, bus = a_truck(api), a_bus(api)
    url = f"/api/fleet/vehicles/{truck['thing']}/position-visibility"
    response = client.put(url, json={"visibility": "internal"})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["datastreams"]) == sorted([truck["latitude"], truck["longitude"]])
    anonymous = anonymous_of(client)
    seen = {v["id"]: v for v in anonymous.get("/api/fleet/day", params=DAY).json()["vehicles"]}
    hidden = seen[truck["thing"]]
    assert hidden["track"] == [] and hidden["lonlat"] is None
    assert hidden["operating"] > 0  # the Thing itself stays public
    assert seen[bus["thing"]]["track"] != []
    trips = {v["id"]: v["trips"] for v in anonymous.get("/api/fleet/trips", params=DAY).json()["vehicles"]}
    assert all(t["startPlace"] is None and t["distance"] == 0 for t in trips[truck["thing"]])
    track = anonymous.get(f"/api/things/{truck['thing']}/track",
                          params={"from": iso(at(0)), "to": iso(at(23))}).json()
    assert track["points"] == [] and track["source"] == "internal"
    assert anonymous.get(f"/v1.1/Datastreams({truck['latitude']})/Observations").status_code == 404
    # Whoever holds a key sees it all.
    assert client.get(f"/api/things/{truck['thing']}/track",
                      params={"from": iso(at(0)), "to": iso(at(23))}).json()["points"] != []
    mine = {v["id"]: v for v in client.get("/api/fleet/day", params=DAY).json()["vehicles"]}
    assert mine[truck["thing"]]["track"] != []
    # And back.
    assert client.put(url, json={"visibility": "public"}).status_code == 200
    again = {v["id"]: v for v in anonymous.get("/api/fleet/day", params=DAY).json()["vehicles"]}
    assert again[truck["thing"]]["track"] != []
    for body in ({"visibility": "secret"}, {"hidden": True}):
        assert client.put(url, json=body).status_code == 400
    assert client.put("/api/fleet/vehicles/99999/position-visibility",
                      json={"visibility": "internal"}).status_code == 404
    assert anonymous.put(url, json={"visibility": "public"}).status_code == 401
