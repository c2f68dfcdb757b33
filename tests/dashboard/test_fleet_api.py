"""The fleet view's API on every backend: a day's tracks, distance, operating and idle
time per vehicle, and refusals of bad input."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import Api, TestClient
from usecase_fixtures import device, iso, write

BERLIN = ZoneInfo("Europe/Berlin")
FIELDS = ["latitude", "longitude", "speed", "fuel", "state"]


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN)


def test_a_vehicles_day(client: TestClient, api: Api) -> None:
    truck = device(api, "Müllfahrzeug 1", {"kind": "vehicle", "vehicle": "refuse", "label": "Müllfahrzeug",
                                           "route": "Nordstadt"}, FIELDS)
    states = [
        (at(23, 30, day=9), "depot"),   # the evening before: holds into the day for at most an hour
        (at(6), "driving"), (at(6, 30), "stopped"), (at(6, 40), "driving"), (at(7), "depot"),
        (at(9), "driving"),              # then silent: counts for an hour, no more
        (at(23, 30), "stopped"),         # idles into the next day: half an hour today
    ]
    write(api, truck["state"], states)
    # A track along a meridian: 0.01° of latitude apart, about 1.11 km each.
    points = [(at(6, 10 * i), 48.70 + 0.01 * i) for i in range(4)]
    write(api, truck["latitude"], [(when, lat) for when, lat in [(at(23, 50, day=9), 48.6), *points]])
    write(api, truck["longitude"], [(when, 9.2) for when, _ in [(at(23, 50, day=9), 48.6), *points]])
    write(api, truck["fuel"], [(at(9), 87.5)])
    response = client.get("/api/fleet/day", params={"date": "2026-03-10", "tz": "Europe/Berlin"})
    assert response.status_code == 200, response.text
    day = response.json()
    assert (day["date"], day["from"], day["to"]) == (
        "2026-03-10", "2026-03-09T23:00:00Z", "2026-03-10T23:00:00Z")
    [vehicle] = day["vehicles"]
    assert vehicle["name"] == "Müllfahrzeug 1" and vehicle["label"] == "Müllfahrzeug"
    # Driving 06:00-06:30, 06:40-07:00 and 09:00-10:00; stopped 06:30-06:40 and 23:30-24:00.
    assert vehicle["driving"] == (30 + 20 + 60) * 60
    assert vehicle["idle"] == (10 + 30) * 60
    assert vehicle["operating"] == vehicle["driving"] + vehicle["idle"]
    # The track is the day's positions only (not the one of the evening before).
    assert vehicle["track"] == [[9.2, round(lat, 6), iso(when)] for when, lat in points]
    expected_km = 3 * 0.01 * math.pi / 180 * 6371.0088
    assert vehicle["distance"] == pytest.approx(expected_km, abs=0.01)
    assert vehicle["state"] == "stopped" and vehicle["level"] == {"field": "fuel", "value": 87.5}
    assert vehicle["lonlat"] == pytest.approx([9.2, 48.73])  # the newest fix, not where the Thing was created
    # A day without anything: no time, no track.
    quiet = client.get("/api/fleet/day", params={"date": "2026-03-12", "tz": "Europe/Berlin"}).json()
    assert quiet["vehicles"][0]["operating"] == 0 and quiet["vehicles"][0]["track"] == []


def test_a_vehicle_without_position_datastreams_has_its_track_from_historical_locations(
        client: TestClient, api: Api) -> None:
    van = device(api, "Transporter 2", {"kind": "vehicle"}, ["state"], point=(9.1, 48.7))
    for lon in (9.11, 9.12):
        fix = api.create("Locations", {"name": "fix", "description": "GPS",
                                       "encodingType": "application/geo+json",
                                       "location": {"type": "Point", "coordinates": [lon, 48.7]}})
        response = client.patch(f"/v1.1/Things({van['thing']})", json={"Locations": [{"@iot.id": fix}]})
        assert response.status_code == 200, response.text
    today = datetime.now(UTC).date().isoformat()
    [vehicle] = client.get("/api/fleet/day", params={"date": today}).json()["vehicles"]
    assert [p[:2] for p in vehicle["track"]] == [[9.1, 48.7], [9.11, 48.7], [9.12, 48.7]]
    assert vehicle["lonlat"] == [9.12, 48.7] and vehicle["distance"] > 1.4


def test_today_counts_up_to_now(client: TestClient, api: Api) -> None:
    car = device(api, "Pkw 3", {"kind": "vehicle"}, FIELDS)
    now = datetime.now(UTC)
    write(api, car["state"], [(now - timedelta(minutes=20), "driving")])
    [vehicle] = client.get("/api/fleet/day", params={"date": now.date().isoformat()}).json()["vehicles"]
    if now - timedelta(minutes=20) >= now.replace(hour=0, minute=0, second=0, microsecond=0):
        assert 20 * 60 - 5 <= vehicle["driving"] <= 20 * 60 + 30  # not an hour into the future


@pytest.mark.parametrize("params", [
    {"date": "2026-02-30"}, {"date": "10.03.2026"}, {"date": "2026-3-1"}, {"tz": "Nowhere/Else"},
    {"date": "2026-03-10", "tz": "Europe/Berlin; DROP"},
])
def test_bad_fleet_requests_get_a_4xx_with_the_error_shape(client: TestClient,
                                                           params: dict[str, str]) -> None:
    response = client.get("/api/fleet/day", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"


def test_a_things_track_from_its_positions_or_its_history(client: TestClient, api: Api) -> None:
    truck = device(api, "Kehrmaschine 4", {"kind": "vehicle"}, FIELDS)
    now = datetime.now(UTC).replace(microsecond=0)
    fixes = [(now - timedelta(minutes=30 - 10 * i), round(48.70 + 0.001 * i, 6), round(9.20 + 0.002 * i, 6))
             for i in range(3)]
    write(api, truck["latitude"], [(when, lat) for when, lat, _ in fixes])
    write(api, truck["longitude"], [(when, lon) for when, _, lon in fixes])
    track = client.get(f"/api/things/{truck['thing']}/track").json()
    assert track["source"] == "datastreams"
    assert track["points"] == [[lon, lat, iso(when)] for when, lat, lon in fixes]
    # A lamp has no position Datastreams: its track is its HistoricalLocations.
    lamp = device(api, "Leuchte 1", {"kind": "streetlight"}, ["state"], point=(9.3, 48.8))
    history = client.get(f"/api/things/{lamp['thing']}/track").json()
    assert history["source"] == "history" and [p[:2] for p in history["points"]] == [[9.3, 48.8]]
    assert client.get("/api/things/99999/track").status_code == 404
    for params in ({"from": "yesterday"}, {"from": iso(now), "to": iso(now - timedelta(hours=1))},
                   {"from": iso(now - timedelta(days=40)), "to": iso(now)}):
        response = client.get(f"/api/things/{lamp['thing']}/track", params=params)
        assert response.status_code == 400 and response.json()["code"] == "bad_request"
