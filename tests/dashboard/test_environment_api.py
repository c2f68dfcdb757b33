"""The environment view's API on every backend: stations rated now, the day's curves
and counts."""

from __future__ import annotations

import pytest

from conftest import Api, TestClient
from usecase_fixtures import datastream, observe, thing

EEA = "http://dd.eionet.europa.eu/vocabulary/aq/pollutant/"
QK = "http://qudt.org/vocab/quantitykind/"
AT = "2025-03-02T11:00:00Z"


@pytest.fixture
def town(api: Api) -> dict[str, list[int]]:
    markt = thing(api, "Luft Markt", {"kind": "air_quality"}, [
        datastream("Markt NO2", EEA + "8"), datastream("Markt PM10", EEA + "5"),
        datastream("Markt PM2,5", EEA + "6001"),
        datastream("Markt Temperatur", QK + "Temperature", symbol="°C"),
        datastream("Markt Feuchte", QK + "RelativeHumidity", symbol="%")])
    ring = thing(api, "Luft Ring", {}, [datastream("Ring NO2", EEA + "8")])
    observe(api, markt[0], [("2025-03-02T09:30:00Z", 10), ("2025-03-02T10:00:00Z", 30),
                            ("2025-03-02T10:20:00Z", 50), ("2025-03-02T10:40:00Z", 70)])
    observe(api, markt[1], [("2025-03-01T10:00:00Z", 99), ("2025-03-01T12:00:00Z", 60),
                            ("2025-03-02T09:00:00Z", 40)])
    observe(api, markt[3], [("2025-03-02T10:50:00Z", 7.5)])
    observe(api, ring[0], [("2025-03-02T10:10:00Z", 240), ("2025-03-02T10:30:00Z", 260)])
    counter = thing(api, "Zählstelle", {"kind": "traffic_counter"}, [
        datastream("Pkw ein", "https://example.org/count", "OM_CountObservation", "1"),
        datastream("Pkw aus", "https://example.org/count", "OM_CountObservation", "1")])
    observe(api, counter[0], [("2025-03-02T07:00:00Z", 10), ("2025-03-02T07:15:00Z", 5),
                              ("2025-03-02T08:00:00Z", 7), ("2025-03-03T00:00:00Z", 1000)])
    observe(api, counter[1], [("2025-03-02T07:30:00Z", 3)])
    return {"markt": markt, "ring": ring, "counter": counter}


def test_stations_now_with_means_and_ratings(client: TestClient, town: dict[str, list[int]]) -> None:
    answer = client.get("/api/environment/air", params={"at": AT}).json()
    assert answer["at"] == AT
    markt, ring = answer["value"]
    assert (markt["name"], ring["name"]) == ("Luft Markt", "Luft Ring")
    no2 = markt["readings"]["no2"]
    # The 1-hour mean from 10:00 to 11:00: (30 + 50 + 70) / 3; 41 to 100 is "moderate".
    assert (no2["value"], no2["time"], no2["mean"], no2["count"], no2["window"]) == (
        70, "2025-03-02T10:40:00Z", 50.0, 3, "PT1H")
    assert (no2["index"], no2["rating"], no2["limit"], no2["exceeded"]) == (3, "moderate", 200, False)
    pm10 = markt["readings"]["pm10"]  # the 24-hour mean: (60 + 40) / 2, at the limit, not above
    assert (pm10["mean"], pm10["count"], pm10["index"], pm10["exceeded"]) == (50.0, 2, 3, False)
    pm25 = markt["readings"]["pm25"]
    assert (pm25["value"], pm25["mean"], pm25["index"], pm25["rating"]) == (None, None, None, None)
    assert markt["readings"]["temperature"]["value"] == 7.5
    assert markt["readings"]["humidity"]["value"] is None
    assert markt["index"] == 3 and markt["position"] == [9.18, 48.78]
    ring_no2 = ring["readings"]["no2"]
    assert (ring_no2["mean"], ring_no2["index"], ring_no2["rating"], ring_no2["exceeded"]) == (
        250.0, 5, "very_poor", True)
    assert ring["index"] == 5 and set(ring["readings"]) == {"no2"}
    assert [p["key"] for p in answer["pollutants"]] == ["no2", "pm10", "pm25"]


def test_the_days_curves_and_counts(client: TestClient, town: dict[str, list[int]]) -> None:
    answer = client.get("/api/environment/day", params={"date": "2025-03-02", "tz": "UTC"}).json()
    assert (answer["from"], answer["to"]) == ("2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z")
    no2 = answer["pollutants"][0]
    assert no2["key"] == "no2" and no2["limit"] == 200
    markt, ring = no2["stations"]
    assert markt["values"] == [["2025-03-02T09:00:00Z", 10.0, 1], ["2025-03-02T10:00:00Z", 50.0, 3]]
    assert ring["values"] == [["2025-03-02T10:00:00Z", 250.0, 2]]
    pm10 = answer["pollutants"][1]
    assert [s["name"] for s in pm10["stations"]] == ["Luft Markt"]
    assert pm10["stations"][0]["values"] == [["2025-03-02T09:00:00Z", 40.0, 1]]
    assert answer["pollutants"][2]["stations"][0]["values"] == []
    (counter,) = answer["counters"]
    assert counter["name"] == "Zählstelle" and counter["total"] == 25  # not the next day's 1000
    assert [d["total"] for d in counter["datastreams"]] == [22, 3]
    assert counter["hourly"] == [["2025-03-02T07:00:00Z", 18], ["2025-03-02T08:00:00Z", 7]]
    # Berlin's 3 March (UTC+1) starts at 23:00 UTC on the 2nd: the count at 00:00 UTC is in it.
    berlin = client.get("/api/environment/day", params={"date": "2025-03-03", "tz": "Europe/Berlin"}).json()
    assert berlin["from"] == "2025-03-02T23:00:00Z" and berlin["counters"][0]["total"] == 1000
    assert berlin["counters"][0]["hourly"] == [["2025-03-03T00:00:00Z", 1000]]


def test_without_stations_the_view_is_empty(client: TestClient) -> None:
    assert client.get("/api/environment/air").json()["value"] == []
    day = client.get("/api/environment/day").json()
    assert (day["pollutants"], day["counters"]) == ([], [])


@pytest.mark.parametrize("path,params,word", [
    ("air", {"at": "gestern"}, "at"), ("air", {"at": "2025-03-02T11:00:00"}, "at"),
    ("day", {"date": "2025-02-30"}, "date"), ("day", {"tz": "Europe/Nowhere"}, "tz"),
    ("day", {"tz": "../../etc/passwd"}, "tz"),
])
def test_bad_parameters_are_400s(client: TestClient, path: str, params: dict[str, str], word: str) -> None:
    response = client.get(f"/api/environment/{path}", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request" and word in response.json()["message"]
