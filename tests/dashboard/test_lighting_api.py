"""The lighting view's API on every backend: lamp status per circuit, energy per circuit
per local day and month from the meters' readings, CSV, and refusals of bad input."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from conftest import Api, TestClient
from usecase_fixtures import BERLIN, device, write


def lamp(api: Api, name: str, cabinet: str, circuit: int) -> dict[str, int]:
    return device(api, name, {"kind": "streetlight", "cabinet": cabinet, "circuit": circuit},
                  ["state", "dimming", "power", "energy"])


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def meter_series(seed: int, start: datetime, end: datetime, first: float) -> list[tuple[datetime, float]]:
    """Hourly meter readings with uneven steps, as a luminaire's counter sends them."""
    rng = random.Random(seed)
    out, value, when = [], first, start
    while when < end:
        out.append((when, round(value, 3)))
        value += rng.uniform(0.0, 0.06)
        when += timedelta(hours=1)
    return out


def differences_in(rows: list[tuple[datetime, float]], start: datetime, end: datetime) -> float:
    """The sum of the differences between consecutive readings whose later reading lies
    in (start, end]; a meter's first reading inside the range counts from itself."""
    return sum(b - a for (_, a), (t, b) in pairwise(rows) if start < t <= end)


DAYS = ["2026-03-28", "2026-03-29", "2026-03-30"]  # Berlin's clocks go forward on the 29th


def test_energy_per_circuit_and_day_is_the_sum_of_meter_differences(client: TestClient, api: Api) -> None:
    a = lamp(api, "Leuchte SK-01-01", "SK-01", 1)
    b = lamp(api, "Leuchte SK-01-02", "SK-01", 1)
    c = lamp(api, "Leuchte SK-01-03", "SK-01", 2)
    d = lamp(api, "Leuchte SK-02-01", "SK-02", 1)
    device(api, "Schaltschrank Markt", {"kind": "cabinet", "cabinet": "SK-01"}, ["voltage", "load"])
    series = {
        "a": meter_series(1, local(2026, 3, 27, 20), local(2026, 3, 31, 3), 812.5),
        "b": meter_series(2, local(2026, 3, 29, 11), local(2026, 3, 31, 3), 40.0),  # new meter
        "c": meter_series(3, local(2026, 3, 26, 0), local(2026, 3, 30, 12), 5000.0),  # silent since
    }
    for key, thing in (("a", a), ("b", b), ("c", c)):
        write(api, thing["energy"], series[key])
    # Written by hand: 0.0 on the 28th (its first reading), 1.5 on the 29th and the 30th.
    write(api, d["energy"], [(local(2026, 3, 28, 23), 100.0), (local(2026, 3, 29, 12), 101.5),
                             (local(2026, 3, 30, 23, 59), 103.0)])
    answer = client.get("/api/lighting/energy", params={
        "by": "day", "from": DAYS[0], "to": DAYS[-1], "tz": "Europe/Berlin"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert [p["period"] for p in report["periods"]] == DAYS
    # Local midnights: the 29th has 23 hours.
    assert [p["start"] for p in report["periods"]] == [
        "2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"]
    bounds = [(local(2026, 3, 28 + i), local(2026, 3, 29 + i)) for i in range(3)]

    def expected(*keys: str) -> list[float]:
        return [round(sum(differences_in(series[k], s, e) for k in keys), 3) for s, e in bounds]

    circuits = {(c["cabinet"], c["circuit"]): c for c in report["circuits"]}
    assert list(circuits) == [("SK-01", "1"), ("SK-01", "2"), ("SK-02", "1")]
    one = circuits[("SK-01", "1")]
    assert one["lamps"] == 2 and one["cabinetName"] == "Schaltschrank Markt"
    assert one["energy"] == pytest.approx(expected("a", "b"), abs=2e-3)
    assert one["energy"][0] == pytest.approx(expected("a")[0], abs=1e-3)  # b had no meter yet
    assert circuits[("SK-01", "2")]["energy"] == pytest.approx(expected("c"), abs=2e-3)
    assert circuits[("SK-02", "1")]["energy"] == pytest.approx([0.0, 1.5, 1.5], abs=1e-9)
    assert circuits[("SK-02", "1")]["cabinetName"] is None
    assert report["total"] == pytest.approx([sum(c["energy"][i] for c in circuits.values())
                                             for i in range(3)], abs=3e-3)
    assert report["unit"] == "kWh" and report["timezone"] == "Europe/Berlin"

    # The same by month: March counts from each meter's reading before March (or its first).
    months = client.get("/api/lighting/energy", params={
        "by": "month", "from": "2026-02", "to": "2026-04", "tz": "Europe/Berlin"}).json()
    assert [p["period"] for p in months["periods"]] == ["2026-02", "2026-03", "2026-04"]
    by_month = {(c["cabinet"], c["circuit"]): c["energy"] for c in months["circuits"]}
    march = (local(2026, 3, 1), local(2026, 4, 1))
    assert by_month[("SK-01", "1")][:2] == pytest.approx(
        [0.0, sum(differences_in(series[k], *march) for k in "ab")], abs=2e-3)
    assert by_month[("SK-02", "1")][1] == pytest.approx(3.0)
    assert months["sum"] == pytest.approx(sum(v for c in months["circuits"] for v in c["energy"] if v))

    # The CSV holds the same figures, one line per circuit and day.
    response = client.get("/api/lighting/energy", params={
        "by": "day", "from": DAYS[0], "to": DAYS[-1], "tz": "Europe/Berlin", "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert len(lines) == 3 * 3
    line = next(x for x in lines if x["period"] == DAYS[1] and x["cabinet"] == "SK-02")
    assert line["energy_kwh"] == "1.500" and line["circuit"] == "1" and line["lamps"] == "1"


def test_a_replaced_meter_gives_no_figure_for_its_day(client: TestClient, api: Api) -> None:
    e = lamp(api, "Leuchte SK-03-01", "SK-03", 1)
    write(api, e["energy"], [(local(2026, 5, 1, 12), 900.0), (local(2026, 5, 2, 12), 901.0),
                             (local(2026, 5, 3, 12), 0.5), (local(2026, 5, 4, 12), 1.25)])
    report = client.get("/api/lighting/energy", params={
        "from": "2026-05-02", "to": "2026-05-04", "tz": "Europe/Berlin"}).json()
    [circuit] = report["circuits"]
    assert circuit["energy"] == pytest.approx([1.0, 0.0, 0.75]) and circuit["resets"] == 1


def test_lamps_by_status_per_circuit(client: TestClient, api: Api) -> None:
    now = datetime.now(UTC)
    lit = [lamp(api, f"Leuchte A-{i}", "SK-01", 1) for i in range(4)]
    dark = lamp(api, "Leuchte B-1", "SK-01", 2)
    silent = lamp(api, "Leuchte B-2", "SK-01", 2)
    device(api, "Schaltschrank Markt", {"kind": "cabinet", "cabinet": "SK-01"}, ["voltage", "load"])
    evening = now - timedelta(hours=3)
    for i, thing in enumerate(lit[:3]):  # lit at dusk, one of them dimmed since
        write(api, thing["state"], [(evening - timedelta(hours=12), "off"),
                                    (evening + timedelta(minutes=i), "on")])
        write(api, thing["dimming"], [(evening + timedelta(minutes=i), 50.0 if i == 2 else 100.0)])
    # Dark since before dusk (no report since): off; a report of "off" after dusk: failed.
    write(api, lit[3]["state"], [(evening - timedelta(hours=12), "off"),
                                 (evening + timedelta(hours=1), "off")])
    write(api, dark["state"], [(evening, "off")])
    write(api, silent["state"], [(now - timedelta(days=3), "on")])
    cabinet = client.get("/v1.1/Things", params={"$filter": "properties/kind eq 'cabinet'",
                                                  "$expand": "Datastreams"}).json()["value"][0]
    voltage = next(x["@iot.id"] for x in cabinet["Datastreams"] if x["properties"]["field"] == "voltage")
    write(api, voltage, [(now - timedelta(minutes=5), 231.5)])
    answer = client.get("/api/lighting/lamps")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    status = {x["name"]: x["status"] for x in report["lamps"]}
    assert status == {"Leuchte A-0": "on", "Leuchte A-1": "on", "Leuchte A-2": "dimmed",
                      "Leuchte A-3": "failed", "Leuchte B-1": "off", "Leuchte B-2": "unknown"}
    first, second = report["circuits"]
    assert (first["cabinet"], first["circuit"], first["lit"]) == ("SK-01", "1", True)
    assert first["counts"] == {"on": 2, "dimmed": 1, "off": 0, "failed": 1, "unknown": 0}
    assert first["voltage"] == 231.5 and first["cabinetName"] == "Schaltschrank Markt"
    assert second["counts"] == {"on": 0, "dimmed": 0, "off": 1, "failed": 0, "unknown": 1}
    a0 = next(x for x in report["lamps"] if x["name"] == "Leuchte A-0")
    assert a0["lonlat"] == [9.18, 48.78] and a0["state"] == "on" and a0["dimming"] == 100.0


@pytest.mark.parametrize("params", [
    {"by": "week"}, {"from": "2026-13-01"}, {"from": "2026-02-30"}, {"to": "26-01-01"},
    {"from": "2026-03-02", "to": "2026-03-01"}, {"from": "2024-01-01", "to": "2026-01-01"},
    {"tz": "Mars/Olympus_Mons"}, {"tz": "../etc/passwd"}, {"format": "xml"},
    {"by": "month", "from": "2026-1"}, {"by": "month", "from": "2000-01", "to": "2026-01"},
])
def test_bad_energy_requests_get_a_4xx_with_the_error_shape(client: TestClient,
                                                            params: dict[str, str]) -> None:
    response = client.get("/api/lighting/energy", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad_request" and body["message"]


def test_unknown_tenants_are_not_found(client: TestClient) -> None:
    for path in ("/t/nowhere/api/lighting/lamps", "/t/nowhere/api/lighting/energy",
                 "/t/nowhere/api/fleet/day"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
