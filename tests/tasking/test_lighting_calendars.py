"""Calendars of lighting schedules, on both backends: entries for dates, date ranges and a
German state's public holidays change the profile of the nights they cover (no dimming on
event nights, full brightness until 01:00); the schedule sender and the compliance check
follow them, and the calendar API refuses bad entries with 4xx and writes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from conftest import Api, TestClient, capability_body
from dashboard.usecase_fixtures import device, write
from quartier.usecases.lighting import calendar, clock, schedules
from tasking.test_lighting_schedules import BERLIN, NIGHT, run, tasks

MARKET = {"name": "weihnachtsmarkt", "from": "2026-12-04", "until": "2026-12-06", "dim": None}
FESTIVAL = {"name": "stadtfest", "from": "2026-12-12",
            "dim": {"level": 50, "from": "01:00", "until": "05:00"}}
HOLIDAYS = {"name": "feiertage", "holidays": "DE-BE", "dim": None}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def with_calendar(*entries: dict[str, Any]) -> dict[str, Any]:
    return {**NIGHT, "calendar": calendar.parse_calendar(list(entries))}


def kinds(definition: dict[str, Any], day: date) -> list[str]:
    return [e.kind for e in clock.day_events(definition, BERLIN, day)]


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock time in winter (UTC+1), as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


def test_an_event_night_is_not_dimmed_and_the_nights_around_it_are() -> None:
    plain, market = with_calendar(), with_calendar(MARKET)
    assert kinds(plain, date(2026, 12, 4)) == ["undim", "off", "on", "dim"]
    # The market's nights (4th to 6th) have no dimming: no dim on those evenings, no
    # undim on the mornings after them; the night before and the one after are as usual.
    assert kinds(market, date(2026, 12, 4)) == ["undim", "off", "on"]
    assert kinds(market, date(2026, 12, 5)) == ["off", "on"]
    assert kinds(market, date(2026, 12, 7)) == ["off", "on", "dim"]
    assert clock.dim_level(market, berlin(date(2026, 12, 4), 23, 30)) == 100
    assert clock.dim_level(market, berlin(date(2026, 12, 7), 3)) == 100  # the 6th's night
    assert clock.dim_level(market, berlin(date(2026, 12, 7), 23, 30)) == 50
    assert clock.dim_level(plain, berlin(date(2026, 12, 4), 23, 30)) == 50


def test_a_festival_night_burns_full_until_one_and_holidays_follow_the_state() -> None:
    festival = with_calendar(FESTIVAL)
    dims = [e for e in clock.events(festival, BERLIN, berlin(date(2026, 12, 12), 12),
                                    berlin(date(2026, 12, 13), 12)) if e.kind == "dim"]
    assert [e.at for e in dims] == [berlin(date(2026, 12, 13), 1)]
    assert clock.dim_level(festival, berlin(date(2026, 12, 13), 0, 30)) == 100
    assert clock.dim_level(festival, berlin(date(2026, 12, 13), 1, 30)) == 50
    feast = with_calendar(HOLIDAYS)
    # Christmas Day is a holiday in Berlin, the 23rd is not; 8 March only in Berlin.
    assert "dim" not in kinds(feast, date(2026, 12, 25))
    assert "dim" in kinds(feast, date(2026, 12, 23))
    assert "dim" not in kinds(feast, date(2027, 3, 8))
    assert "dim" in kinds(with_calendar({**HOLIDAYS, "holidays": "DE-BY"}), date(2027, 3, 8))


def test_switching_offsets_change_for_a_night() -> None:
    late = with_calendar({"name": "spaet", "from": "2026-12-05", "on": {"offset": 60}})
    plain = with_calendar()
    on = [e.at for e in clock.day_events(plain, BERLIN, date(2026, 12, 5)) if e.kind == "on"]
    on_late = [e.at for e in clock.day_events(late, BERLIN, date(2026, 12, 5)) if e.kind == "on"]
    assert on_late[0] - on[0] == timedelta(minutes=50)  # 60 instead of 10 after sunset


def lamp(api: Api, name: str) -> dict[str, int]:
    found = device(api, name, {"kind": "streetlight", "cabinet": "SK-01", "circuit": 1,
                               "district": "Altstadt"}, ["state", "dimming"], BERLIN)
    api.create("TaskingCapabilities", capability_body(found["thing"], mqtt={"topic": f"l/{name}"}))
    return found


def test_the_calendar_api(client: TestClient) -> None:
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    made = client.post("/api/lighting/schedules/nacht/calendar", json=MARKET)
    assert made.status_code == 201, made.text
    assert made.headers["location"].endswith("/api/lighting/schedules/nacht/calendar/weihnachtsmarkt")
    assert made.json() == {**MARKET, "until": "2026-12-06"}
    assert client.post("/api/lighting/schedules/nacht/calendar", json=HOLIDAYS).status_code == 201
    listed = client.get("/api/lighting/schedules/nacht/calendar").json()["value"]
    assert [e["name"] for e in listed] == ["weihnachtsmarkt", "feiertage"]
    assert client.get("/api/lighting/schedules/nacht").json()["calendar"] == listed
    assert client.post("/api/lighting/schedules/nacht/calendar", json=MARKET).status_code == 409
    assert client.delete("/api/lighting/schedules/nacht/calendar/weihnachtsmarkt").status_code == 204
    assert client.delete("/api/lighting/schedules/nacht/calendar/weihnachtsmarkt").status_code == 404
    assert [e["name"] for e in client.get("/api/lighting/schedules/nacht/calendar").json()["value"]
            ] == ["feiertage"]
    assert client.post("/api/lighting/schedules/nirgends/calendar", json=MARKET).status_code == 404
    # A whole calendar can come with the schedule.
    body = {**NIGHT, "name": "mit", "calendar": [MARKET, FESTIVAL]}
    assert client.post("/api/lighting/schedules", json=body).status_code == 201
    assert len(client.get("/api/lighting/schedules/mit/calendar").json()["value"]) == 2


@pytest.mark.parametrize("entry", [
    [], {}, {**MARKET, "name": ""}, {"name": "x", "dim": None}, {**MARKET, "holidays": "DE"},
    {**MARKET, "from": "2026-13-01"}, {**MARKET, "from": "4.12.2026"}, {**MARKET, "until": "2026-12-01"},
    {**MARKET, "until": "2028-12-01"}, {"name": "x", "from": "2026-12-04"},
    {**HOLIDAYS, "holidays": "XX"}, {**HOLIDAYS, "holidays": "DE-XY"}, {**HOLIDAYS, "holidays": 49},
    {**HOLIDAYS, "until": "2026-12-01"}, {**MARKET, "dim": {"level": 50}},
    {**MARKET, "dim": {"level": 500, "from": "01:00", "until": "05:00"}},
    {**MARKET, "on": {"offset": 999}}, {**MARKET, "colour": "red"},
])
def test_bad_entries_are_400_and_nothing_is_written(client: TestClient, entry: Any) -> None:
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    response = client.post("/api/lighting/schedules/nacht/calendar", json=entry)
    assert response.status_code == 400, (entry, response.text)
    assert set(response.json()) >= {"code", "message"}
    assert client.get("/api/lighting/schedules/nacht/calendar").json()["value"] == []
    whole = client.post("/api/lighting/schedules", json={**NIGHT, "name": "b", "calendar": [entry]})
    assert whole.status_code == 400, (entry, whole.text)
    assert [s["name"] for s in client.get("/api/lighting/schedules").json()["value"]] == ["nacht"]


def compliance(client: TestClient, name: str, now: datetime) -> dict[str, Any]:
    assert client.portal is not None
    app = client.app
    while not hasattr(app, "state") or not hasattr(app.state, "lighting"):
        app = app.app  # through the archiving wrapper
    lighting = app.state.lighting

    async def check() -> dict[str, Any]:
        tenant_id = await lighting.store.tenant_id("default")
        return await schedules.compliance(lighting.store, tenant_id, name, now,
                                          lighting._filter(tenant_id))

    return dict(client.portal.call(check))


def test_the_sender_and_the_compliance_check_follow_the_calendar(client: TestClient,
                                                                 api: Api) -> None:
    lamp_a = lamp(api, "Leuchte A")
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    assert client.post("/api/lighting/schedules/nacht/calendar", json=MARKET).status_code == 201
    # The market's evening: no dimming Task at 23:00; a night later (no market) there is one.
    market_dim, plain_dim = berlin(date(2026, 12, 5), 23), berlin(date(2026, 12, 7), 23)
    assert run(client, market_dim + timedelta(minutes=5)) == []
    sent = run(client, plain_dim + timedelta(minutes=5))
    assert [(s["event"], s["parameters"]) for s in sent] == [("dim", {"dim": 50})]
    assert [t["taskingParameters"] for t in tasks(api)] == [{"dim": 50}]
    # A lamp burning at full power is right on the market's night, wrong on a plain one.
    for night in (market_dim, plain_dim):
        write(api, lamp_a["state"], [(night, "on")])
        write(api, lamp_a["dimming"], [(night, 100)])
    market = compliance(client, "nacht", market_dim + timedelta(minutes=30))
    assert market["lamps"] == 1 and market["disagreeing"] == [] and market["unknown"] == []
    plain = compliance(client, "nacht", plain_dim + timedelta(minutes=30))
    assert [(d["thingId"], d["expectedDimming"], d["reportedDimming"]) for d in plain["disagreeing"]
            ] == [(lamp_a["thing"], 50, 100)]


def test_a_longer_look_back_sends_what_a_fast_step_passed_over(client: TestClient, api: Api) -> None:
    """The demo's light switch looks back to its last look, which a fast simulated clock
    may leave further behind than the schedules' own quarter of an hour."""
    lamp_a = lamp(api, "Leuchte A")
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    assert client.app is not None and client.portal is not None
    app = client.app
    while not hasattr(app, "state") or not hasattr(app.state, "lighting"):
        app = app.app  # through the archiving wrapper
    lighting = app.state.lighting
    later, before = berlin(date(2026, 12, 5), 23, 40), berlin(date(2026, 12, 5), 14)
    assert client.portal.call(lighting.run_schedules, later) == []  # 23:00 is 40 minutes back
    sent = client.portal.call(lighting.run_schedules, later, before)
    assert [(s["event"], [t["thingId"] for t in s["tasks"]]) for s in sent] == [
        ("on", [lamp_a["thing"]]), ("dim", [lamp_a["thing"]])]
    assert [t["taskingParameters"] for t in tasks(api)] == [{"switch": "on", "dim": 100}, {"dim": 50}]
