"""Lighting schedules on both backends: an astronomical clock per lamp with offsets and a
night dimming profile becomes one Task per lamp at each switching time (once, however
often the clock looks), and the compliance check lists the lamps that disagree."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from astral import Observer
from astral.sun import sunset

from conftest import Api, TestClient, capability_body, location_body
from dashboard.usecase_fixtures import CATEGORY, write
from quartier.usecases.lighting import clock

BERLIN = (13.40, 52.52)
NIGHT = {"name": "nacht", "target": {"district": "Altstadt"}, "on": {"offset": 10},
         "off": {"offset": -10}, "dim": {"level": 50, "from": "23:00", "until": "05:00"},
         "timezone": "Europe/Berlin", "grace": 0}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def lamp(api: Api, name: str, district: str, at: tuple[float, float] = BERLIN) -> dict[str, int]:
    thing = api.create("Things", {
        "name": name, "description": "luminaire",
        "properties": {"kind": "streetlight", "cabinet": "SK-01", "circuit": 1, "district": district},
        "Locations": [location_body(name, {"type": "Point", "coordinates": list(at)})],
        "Datastreams": [{
            "name": f"{name} state", "description": "state", "properties": {"field": "state"},
            "observationType": CATEGORY, "unitOfMeasurement": {"name": "", "symbol": "", "definition": ""},
            "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain", "metadata": "s"},
            "ObservedProperty": {"name": "state", "definition": "https://example.org/state",
                                 "description": "state"}}],
        # Sent over MQTT, which these apps lack: the Tasks stay "created".
        "TaskingCapabilities": [capability_body(mqtt={"topic": f"lamps/{name}"})]})
    state = api.ok(f"Things({thing})/Datastreams")["value"][0]["@iot.id"]
    return {"thing": thing, "state": state}


def run(client: TestClient, now: datetime) -> list[dict[str, Any]]:
    assert client.portal is not None
    app = client.app
    while not hasattr(app, "state") or not hasattr(app.state, "lighting"):
        app = app.app  # through the archiving wrapper
    return list(client.portal.call(app.state.lighting.run_schedules, now))


def tasks(api: Api) -> list[dict[str, Any]]:
    return list(api.ok("Tasks", **{"$expand": "TaskingCapability($select=id;$expand=Thing($select=id))",
                                   "$orderby": "id"})["value"])


def test_the_clock_follows_the_sun_with_offsets_and_dims_by_local_time() -> None:
    day = date(2026, 12, 5)
    found = clock.day_events(NIGHT, BERLIN, day)
    assert [e.kind for e in found] == ["undim", "off", "on", "dim"]
    sun = sunset(Observer(latitude=BERLIN[1], longitude=BERLIN[0]), date=day)
    on = next(e for e in found if e.kind == "on")
    assert on.at == sun.astimezone(UTC) + timedelta(minutes=10)
    dim = next(e for e in found if e.kind == "dim")
    assert dim.at == datetime(2026, 12, 5, 22, 0, tzinfo=UTC)  # 23:00 in Berlin in winter
    assert clock.expected(NIGHT, BERLIN, on.at + timedelta(minutes=1)) == (True, on.at)
    assert not clock.expected(NIGHT, BERLIN, on.at - timedelta(minutes=1))[0]
    assert clock.parameters(NIGHT, on) == {"switch": "on", "dim": 100}
    assert clock.parameters(NIGHT, dim) == {"dim": 50}
    assert clock.dim_level(NIGHT, datetime(2026, 12, 6, 3, 59, tzinfo=UTC)) == 50
    assert clock.dim_level(NIGHT, datetime(2026, 12, 6, 4, 0, tzinfo=UTC)) == 100


def test_the_schedule_sends_one_task_per_lamp_at_each_event(client: TestClient, api: Api) -> None:
    a, b = lamp(api, "Leuchte A", "Altstadt"), lamp(api, "Leuchte B", "Altstadt")
    other = lamp(api, "Leuchte C", "Nord")
    made = client.post("/api/lighting/schedules", json=NIGHT)
    assert made.status_code == 201, made.text
    assert made.headers["location"].endswith("/api/lighting/schedules/nacht")
    day = date(2026, 12, 5)
    on = next(e for e in clock.day_events(NIGHT, BERLIN, day) if e.kind == "on")
    sent = run(client, on.at + timedelta(minutes=1))
    assert [s["event"] for s in sent] == ["on"]
    assert sorted(t["thingId"] for t in sent[0]["tasks"]) == [a["thing"], b["thing"]]
    assert run(client, on.at + timedelta(minutes=2)) == []  # once, however often it looks
    stored = tasks(api)
    assert len(stored) == 2
    assert {t["TaskingCapability"]["Thing"]["@iot.id"] for t in stored} == {a["thing"], b["thing"]}
    assert all(t["taskingParameters"] == {"switch": "on", "dim": 100} for t in stored)
    dim = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
    assert [s["event"] for s in run(client, dim + timedelta(minutes=5))] == ["dim"]
    assert [t["taskingParameters"] for t in tasks(api)[2:]] == [{"dim": 50}, {"dim": 50}]
    # Nothing for the lamp outside the target, nothing by day between the events.
    assert other["thing"] not in {t["TaskingCapability"]["Thing"]["@iot.id"] for t in tasks(api)}
    assert run(client, datetime(2026, 12, 6, 11, 0, tzinfo=UTC)) == []
    assert client.get("/api/lighting/schedules").json()["value"][0]["name"] == "nacht"
    assert client.delete("/api/lighting/schedules/nacht").status_code == 204
    assert client.get("/api/lighting/schedules/nacht").status_code == 404


def test_compliance_lists_the_lamps_that_disagree(client: TestClient, api: Api) -> None:
    good, bad, silent = (lamp(api, f"Leuchte {n}", "Altstadt") for n in ("G", "B", "S"))
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    now = datetime.now(UTC)
    should, _ = clock.expected(NIGHT, BERLIN, now)
    right, wrong = ("on", "off") if should else ("off", "on")
    write(api, good["state"], [(now - timedelta(minutes=5), right)])
    write(api, bad["state"], [(now - timedelta(minutes=5), wrong)])
    answer = client.get("/api/lighting/schedules/nacht/compliance")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["lamps"] == 3
    assert [x["thingId"] for x in report["disagreeing"]] == [bad["thing"]]
    assert report["disagreeing"][0]["expected"] == right and report["disagreeing"][0]["reported"] == wrong
    assert [x["thingId"] for x in report["unknown"]] == [silent["thing"]]


@pytest.mark.parametrize("body", [
    [], {}, {**NIGHT, "name": ""}, {**NIGHT, "target": {"street": "x"}}, {**NIGHT, "on": 5},
    {**NIGHT, "on": {"offset": 500}}, {**NIGHT, "off": {"offset": "10"}},
    {**NIGHT, "dim": {"level": 150, "from": "23:00", "until": "05:00"}},
    {**NIGHT, "dim": {"level": 50, "from": "25:00", "until": "05:00"}},
    {**NIGHT, "dim": {"level": 50, "from": "23:00", "until": "23:00"}},
    {**NIGHT, "timezone": "Mars/Olympus"}, {**NIGHT, "timezone": 1}, {**NIGHT, "grace": -1},
    {**NIGHT, "colour": "red"}, {**NIGHT, "target": {"thing": 2**70}},
])
def test_bad_schedules_are_400_and_nothing_is_written(client: TestClient, body: Any) -> None:
    response = client.post("/api/lighting/schedules", json=body)
    assert response.status_code == 400, (body, response.text)
    assert set(response.json()) >= {"code", "message"}
    assert client.get("/api/lighting/schedules").json()["value"] == []


def test_a_schedule_whose_group_is_gone_does_not_stop_the_others(client: TestClient,
                                                                 api: Api) -> None:
    a = lamp(api, "Leuchte A", "Altstadt")
    assert client.post("/api/lighting/groups", json={"name": "weg", "filter": "name eq 'x'"}
                       ).status_code == 201
    assert client.post("/api/lighting/schedules", json={**NIGHT, "name": "alt",
                                                        "target": {"group": "weg"}}).status_code == 201
    assert client.delete("/api/lighting/groups/weg").status_code == 204
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    on = next(e for e in clock.day_events(NIGHT, BERLIN, date(2026, 12, 5)) if e.kind == "on")
    sent = run(client, on.at + timedelta(minutes=1))
    assert [(s["schedule"], [t["thingId"] for t in s["tasks"]]) for s in sent] == [
        ("nacht", [a["thing"]])]


def test_a_schedule_name_is_taken_once(client: TestClient) -> None:
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 409
    assert client.get("/api/lighting/schedules/nowhere/compliance").status_code == 404
    assert client.delete("/api/lighting/schedules/nowhere").status_code == 404


def test_a_schedule_is_changed_in_place_and_a_bad_change_writes_nothing(client: TestClient) -> None:
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    later = {**NIGHT, "on": {"offset": 25}, "dim": {"level": 30, "from": "22:30", "until": "05:30"}}
    answer = client.put("/api/lighting/schedules/nacht", json=later)
    assert answer.status_code == 200, answer.text
    stored = client.get("/api/lighting/schedules/nacht").json()
    assert stored["on"] == {"offset": 25} and stored["dim"]["level"] == 30
    assert [s["name"] for s in client.get("/api/lighting/schedules").json()["value"]] == ["nacht"]
    for body, status in (({**later, "name": "anders"}, 400), ({**later, "grace": -5}, 400),
                         ({**later, "target": {"street": "x"}}, 400)):
        refused = client.put("/api/lighting/schedules/nacht", json=body)
        assert refused.status_code == status, refused.text
        assert set(refused.json()) >= {"code", "message"}
    assert client.get("/api/lighting/schedules/nacht").json() == stored
    missing = client.put("/api/lighting/schedules/nirgends", json={**NIGHT, "name": "nirgends"})
    assert missing.status_code == 404
    assert client.get("/api/lighting/schedules/nirgends").status_code == 404


def _lighting(client: TestClient) -> Any:
    app = client.app
    while not hasattr(app, "state") or not hasattr(app.state, "lighting"):
        app = app.app
    return app.state.lighting


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_event_whose_tasks_could_not_be_written_is_sent_by_the_next_run(
    client: TestClient, api: Api,
) -> None:
    """The claim of an event and its Tasks commit together: when the Tasks fail (here a
    trigger that refuses them, as a crash or a lost database would), the next run sends
    the event, and it is still sent once."""
    a, b = lamp(api, "Leuchte A", "Altstadt"), lamp(api, "Leuchte B", "Altstadt")
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    on = next(e for e in clock.day_events(NIGHT, BERLIN, date(2026, 12, 5)) if e.kind == "on")
    lighting = _lighting(client)

    async def sql(text: str) -> None:
        async with lighting.store.transaction() as conn:
            await conn.execute(text, ())

    assert client.portal is not None
    client.portal.call(sql, "CREATE FUNCTION refuse_tasks() RETURNS trigger LANGUAGE plpgsql AS "
                            "$$ BEGIN RAISE EXCEPTION 'no Tasks now'; END $$")
    client.portal.call(sql, "CREATE TRIGGER refuse BEFORE INSERT ON tasks "
                            "FOR EACH ROW EXECUTE FUNCTION refuse_tasks()")
    with pytest.raises(Exception, match="no Tasks now"):
        run(client, on.at + timedelta(minutes=1))
    assert tasks(api) == []
    client.portal.call(sql, "DROP TRIGGER refuse ON tasks")
    sent = run(client, on.at + timedelta(minutes=2))
    assert [(s["event"], sorted(t["thingId"] for t in s["tasks"])) for s in sent] == [
        ("on", sorted([a["thing"], b["thing"]]))]
    assert run(client, on.at + timedelta(minutes=3)) == []
    assert len(tasks(api)) == 2


def test_two_workers_looking_at_once_send_each_event_once(client: TestClient, api: Api) -> None:
    lamp(api, "Leuchte A", "Altstadt")
    lamp(api, "Leuchte B", "Altstadt")
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    on = next(e for e in clock.day_events(NIGHT, BERLIN, date(2026, 12, 5)) if e.kind == "on")
    lighting = _lighting(client)

    async def both() -> list[Any]:
        return list(await asyncio.gather(*(lighting.run_schedules(on.at + timedelta(minutes=1))
                                           for _ in range(2))))

    assert client.portal is not None
    sent = client.portal.call(both)
    assert sorted(len(s) for s in sent) == [0, 1]
    assert len(tasks(api)) == 2


def test_an_event_for_lamps_that_take_no_tasks_is_marked_done_once(client: TestClient,
                                                                   api: Api) -> None:
    """Nothing to send (no TaskingCapability): the event is marked as done all the same,
    so that the next minute's run does not try it again."""
    api.create("Things", {"name": "Leuchte alt", "description": "luminaire",
                          "properties": {"kind": "streetlight", "district": "Altstadt"},
                          "Locations": [location_body("Leuchte alt", {
                              "type": "Point", "coordinates": list(BERLIN)})]})
    assert client.post("/api/lighting/schedules", json=NIGHT).status_code == 201
    on = next(e for e in clock.day_events(NIGHT, BERLIN, date(2026, 12, 5)) if e.kind == "on")
    lighting = _lighting(client)

    async def marked() -> int:
        async with lighting.store.reader() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM lighting_schedule_runs", ()))

    assert client.portal is not None
    assert run(client, on.at + timedelta(minutes=1)) == []
    assert client.portal.call(marked) == 1
    assert run(client, on.at + timedelta(minutes=2)) == []
    assert client.portal.call(marked) == 1
    assert tasks(api) == []
