"""The parking view's API on every backend: lots now and a day's occupancy curve."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api, TestClient
from usecase_fixtures import datastream, observe, thing

BAY = "https://quartier.example/def/bay-occupied"


def _bay(api: Api, name: str, lot: str, lot_name: str, lon: float) -> int:
    props = {"kind": "parking_bay", "lot": lot, "lot_name": lot_name}
    return thing(api, name, props, [datastream(f"{name} Belegung", BAY, "OM_TruthObservation", "")],
                 at=(lon, 50.0))[0]


@pytest.fixture
def lots(api: Api) -> dict[str, int]:
    bays = {"a": _bay(api, "Stellplatz A", "P1", "Parkplatz Eins", 9.0),
            "b": _bay(api, "Stellplatz B", "P1", "Parkplatz Eins", 9.002),
            "c": _bay(api, "Stellplatz C", "P1", "Parkplatz Eins", 9.004),
            "d": _bay(api, "Stellplatz D", "P2", "Parkplatz Zwei", 9.1)}
    # Berlin's 2 March 2025 runs from 1 March 23:00 UTC to 2 March 23:00 UTC.
    observe(api, bays["a"], [("2025-03-01T22:00:00Z", True), ("2025-03-02T08:00:00Z", False)])
    observe(api, bays["b"], [("2025-03-02T06:00:00Z", True)])
    observe(api, bays["d"], [("2025-03-02T12:30:00Z", True)])
    thing(api, "Pegel", {"kind": "gauge"}, [datastream("Pegel", "https://example.org/level")])
    return bays


def test_each_lot_now(client: TestClient, lots: dict[str, int]) -> None:
    answer = client.get("/api/parking/lots").json()["value"]
    assert [lot["lot"] for lot in answer] == ["P1", "P2"]
    one, two = answer
    assert one["name"] == "Parkplatz Eins"
    assert {k: one[k] for k in ("bays", "occupied", "free", "unknown", "occupancy")} == {
        "bays": 3, "occupied": 1, "free": 1, "unknown": 1, "occupancy": 50.0}
    assert one["position"] == [9.002, 50.0] and one["updated"] == "2025-03-02T08:00:00Z"
    assert sorted(map(tuple, one["bayStates"])) == sorted([
        (lots["a"], False, "2025-03-02T08:00:00Z"), (lots["b"], True, "2025-03-02T06:00:00Z"),
        (lots["c"], None, None)])
    assert {k: two[k] for k in ("bays", "occupied", "free", "occupancy")} == {
        "bays": 1, "occupied": 1, "free": 0, "occupancy": 100.0}


def test_a_days_occupancy_curve(client: TestClient, lots: dict[str, int]) -> None:
    answer = client.get("/api/parking/day", params={
        "date": "2025-03-02", "tz": "Europe/Berlin", "step": "3600"}).json()
    assert answer["from"] == "2025-03-01T23:00:00Z" and answer["to"] == "2025-03-02T23:00:00Z"
    one: dict[str, Any] = answer["value"][0]
    values = {v[0]: v[1:] for v in one["values"]}
    assert len(values) == 24
    # [occupied, free, occupancy %]; bay C never reported and counts for neither.
    assert values["2025-03-01T23:00:00Z"] == [1, 0, 100.0]  # A since 22:00 the day before
    assert values["2025-03-02T06:00:00Z"] == [2, 0, 100.0]  # B came at 06:00 sharp
    assert values["2025-03-02T08:00:00Z"] == [1, 1, 50.0]  # A left
    assert values["2025-03-02T22:00:00Z"] == [1, 1, 50.0]
    assert one["peak"] == {"time": "2025-03-01T23:00:00Z", "occupancy": 100.0}
    assert one["mean"] == round((9 * 100 + 15 * 50) / 24, 1)
    two = answer["value"][1]
    assert [v[3] for v in two["values"]][:13] == [None] * 13  # D first reported at 12:30 UTC
    assert two["values"][14][1:] == [1, 0, 100.0]


def test_a_day_in_the_future_has_no_values_yet(client: TestClient, lots: dict[str, int]) -> None:
    answer = client.get("/api/parking/day", params={"date": "2999-01-01"}).json()
    assert [lot["values"] for lot in answer["value"]] == [[], []]


@pytest.mark.parametrize("params,word", [
    ({"date": "2025-13-01"}, "date"), ({"date": "morgen"}, "date"), ({"tz": "Mars/Base"}, "tz"),
    ({"step": "5"}, "step"), ({"step": "viel"}, "step"), ({"date": "0001-01-01"}, "date"),
])
def test_bad_parameters_are_400s(client: TestClient, params: dict[str, str], word: str) -> None:
    response = client.get("/api/parking/day", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_request" and word in body["message"]
    assert client.get("/t/nowhere/api/parking/lots").status_code == 404
