"""The energy report's dimming saving on every backend: per lamp, circuit and district the
energy at full (rated) power for the hours each lamp burned, and the saving, which with
the metered energy adds up to it; the CSV carries the same figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conftest import Api, TestClient
from usecase_fixtures import device, write

START = datetime(2026, 3, 9, 12, tzinfo=UTC)
END = datetime(2026, 3, 12, 12, tzinfo=UTC)
DAYS = [(datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)),
        (datetime(2026, 3, 11, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC))]


def level(when: datetime, dims: bool) -> float:
    """The share of full power a lamp draws in the hour from ``when``: lit from 18:00 to
    06:00, at half power from 23:00 to 05:00 if it dims; 0 by day."""
    if 6 <= when.hour < 18:
        return 0.0
    return 0.5 if dims and (when.hour >= 23 or when.hour < 5) else 1.0


def night_lamp(api: Api, name: str, props: dict[str, Any], rated: float, dims: bool
               ) -> tuple[dict[str, int], list[tuple[datetime, float]]]:
    """A lamp reporting every hour: its state and its meter; (streams, meter readings)."""
    streams = device(api, name, {"kind": "streetlight", **props}, ["state", "dimming", "energy"])
    states, meter, reading, when = [], [], 100.0, START
    while when <= END:
        share = level(when, dims)
        states.append((when, "on" if share else "off"))
        meter.append((when, round(reading, 6)))
        reading += rated * share / 1000
        when += timedelta(hours=1)
    write(api, streams["state"], states)
    write(api, streams["energy"], meter)
    return streams, meter


def metered(meter: list[tuple[datetime, float]], start: datetime, end: datetime) -> float:
    at = dict(meter)
    return at[end] - at[start]


def burned(start: datetime, end: datetime) -> float:
    hours = (end - start) // timedelta(hours=1)
    return sum(1.0 for h in range(hours) if level(start + timedelta(hours=h), False))


def test_full_power_minus_saving_is_the_metered_energy(client: TestClient, api: Api) -> None:
    specs = {
        "Leuchte SK-01-01": ({"cabinet": "SK-01", "circuit": 1, "district": "Altstadt",
                              "ratedPower": 40}, 40.0, True),
        "Leuchte SK-01-02": ({"cabinet": "SK-01", "circuit": 1, "district": "Altstadt",
                              "ratedPower": 56}, 56.0, False),
        "Leuchte SK-02-01": ({"cabinet": "SK-02", "circuit": 1, "district": "Neustadt",
                              "ratedPower": 38}, 38.0, True),
    }
    meters = {name: night_lamp(api, name, props, rated, dims)[1]
              for name, (props, rated, dims) in specs.items()}
    answer = client.get("/api/lighting/energy", params={"by": "day", "from": "2026-03-10",
                                                        "to": "2026-03-11"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    lamps = {x["name"]: x for x in report["lamps"]}
    for name, (_props, rated, _dims) in specs.items():
        lamp = lamps[name]
        hours = [burned(*day) for day in DAYS]
        energy = [metered(meters[name], *day) for day in DAYS]
        assert lamp["ratedPower"] == rated
        assert lamp["hoursOn"] == pytest.approx(hours)
        assert lamp["energy"] == pytest.approx(energy, abs=1e-3)
        assert lamp["fullPower"] == pytest.approx([rated * h / 1000 for h in hours], abs=1e-3)
        assert lamp["saving"] == pytest.approx([f - e for f, e in zip(lamp["fullPower"], energy,
                                                                          strict=True)], abs=2e-3)
    # Dimming saves; a lamp that never dims saves nothing.
    assert all(v > 0 for v in lamps["Leuchte SK-01-01"]["saving"])
    assert lamps["Leuchte SK-01-02"]["saving"] == pytest.approx([0.0, 0.0], abs=1e-3)

    def adds_up(group: dict[str, Any], names: list[str]) -> None:
        for i in range(len(DAYS)):
            assert group["fullPower"][i] - group["saving"][i] == pytest.approx(group["energy"][i],
                                                                               abs=2e-3)
            for key in ("energy", "fullPower", "saving"):
                assert group[key][i] == pytest.approx(sum(lamps[n][key][i] for n in names), abs=2e-3)

    circuits = {(c["cabinet"], c["circuit"]): c for c in report["circuits"]}
    adds_up(circuits[("SK-01", "1")], ["Leuchte SK-01-01", "Leuchte SK-01-02"])
    adds_up(circuits[("SK-02", "1")], ["Leuchte SK-02-01"])
    districts = {d["district"]: d for d in report["districts"]}
    adds_up(districts["Altstadt"], ["Leuchte SK-01-01", "Leuchte SK-01-02"])
    adds_up(districts["Neustadt"], ["Leuchte SK-02-01"])
    for i in range(len(DAYS)):
        assert report["totalFullPower"][i] - report["totalSaving"][i] == pytest.approx(
            report["total"][i], abs=3e-3)

    csv_answer = client.get("/api/lighting/energy", params={
        "by": "day", "from": "2026-03-10", "to": "2026-03-11", "format": "csv"})
    lines = list(csv.DictReader(io.StringIO(csv_answer.text)))
    line = next(x for x in lines if x["period"] == "2026-03-10" and x["cabinet"] == "SK-01")
    one = circuits[("SK-01", "1")]
    assert line["full_power_kwh"] == f"{one['fullPower'][0]:.3f}"
    assert line["saving_kwh"] == f"{one['saving'][0]:.3f}"
    for per, key, pick in (("district", "district", lambda row: row["district"]),
                           ("lamp", "name", lambda row: row["name"])):
        rows = list(csv.DictReader(io.StringIO(client.get("/api/lighting/energy", params={
            "by": "day", "from": "2026-03-10", "to": "2026-03-11", "format": "csv",
            "per": per}).text)))
        entries = {x[key]: x for x in report[f"{per}s"]}
        assert len(rows) == len(DAYS) * len(entries)
        for row in rows:
            i = ["2026-03-10", "2026-03-11"].index(row["period"])
            entry = entries[pick(row)]
            for column, figure in (("energy_kwh", "energy"), ("full_power_kwh", "fullPower"),
                                   ("saving_kwh", "saving")):
                assert row[column] == f"{entry[figure][i]:.3f}", (per, row)
    lamp_rows = csv.DictReader(io.StringIO(client.get("/api/lighting/energy", params={
        "format": "csv", "per": "lamp"}).text))
    assert {r["rated_power_w"] for r in lamp_rows} == {"40.0", "56.0", "38.0"}
    wrong = client.get("/api/lighting/energy", params={"format": "csv", "per": "street"})
    assert wrong.status_code == 400
    assert "per must be one of circuit, district, lamp" in wrong.json()["message"]


def test_a_lamp_without_rated_power_has_no_full_power_figure(client: TestClient, api: Api) -> None:
    night_lamp(api, "Leuchte SK-05-01", {"cabinet": "SK-05", "circuit": 1}, 40.0, True)
    report = client.get("/api/lighting/energy", params={"from": "2026-03-10",
                                                        "to": "2026-03-11"}).json()
    [lamp] = report["lamps"]
    assert lamp["ratedPower"] is None and lamp["fullPower"] == [None, None]
    assert lamp["hoursOn"] == pytest.approx([12.0, 12.0])
    [circuit] = report["circuits"]
    assert circuit["energy"][0] > 0 and circuit["fullPower"] == [0.0, 0.0]
