"""The demo town's lighting and fleet through a simulated night and day, on both backends.

A real Quartier (uvicorn on a TCP port, in the test's event loop) and the simulator run
26 simulated hours, from a Tuesday 14:00 to the Wednesday 16:00 in Lindbrück, in steps of
five simulated minutes: the lamps of one cabinet and one refuse truck, sending by the
LoRaWAN webhook as in the demo. A lighting schedule switches and dims the lamps; its
Tasks go to the simulator's downlink receiver, the lamps act on them and answer. One lamp
fails (dies) in the afternoon. The checks compare what Quartier made of it with what the
simulator itself recorded (the lamps' commands and reports, their meters, the truck's
planned trip and readings), never with numbers written down here:

* the schedule switches the lamps on, dims them, undims them and switches them off, and
  every Task of a working lamp is confirmed by the lamp's answer;
* the failed lamp opens one fault and one work order, and nothing else does;
* the energy report of the Wednesday adds up to what the lamps' meters counted;
* the refuse truck's trip and its depot visits are found as the simulation drove them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

import pytest
import uvicorn
from shapely.geometry import Point, shape

from conftest import backend_settings
from quartier.app import build_app
from quartier.demo.build import SimTown, build_town
from quartier.demo.devices import Lamp, Reading, Vehicle
from quartier.demo.run import demo_key, follow_the_simulated_clock
from quartier.demo.simulation import Simulation
from quartier.demo.town import load_town
from quartier.model.times import parse_instant
from quartier.usecases.fleet.geofences import demo_depot

HOUR = 3600.0
ANCHOR = datetime(2026, 12, 1, 13, 0, tzinfo=UTC).timestamp()  # Tue 14:00 in Lindbrück
END = ANCHOR + 26 * HOUR  # Wed 16:00
STEP = 300.0  # simulated seconds per step
FAILS_AT = ANCHOR + HOUR  # Tue 15:00: one lamp dies before dusk
CABINET = "SK-03"
LAMPS = 8
WEDNESDAY = "2026-12-02"
DIMMED = 50  # % at night
SCHEDULE = {"name": "nacht", "target": {"cabinet": CABINET, "circuit": "1"},
            "on": {"offset": 10}, "off": {"offset": -10},
            "dim": {"level": DIMMED, "from": "22:30", "until": "05:00"},
            "timezone": "Europe/Berlin", "grace": 15}


class RecordingSimulation(Simulation):
    """The simulation, keeping every reading it sent: its own record of the day."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[Reading] = []

    def readings(self, start: float, end: float) -> list[Reading]:
        out = super().readings(start, end)
        self.sent += out
        return out


@dataclass
class Day:
    """What the simulator did and what Quartier answered afterwards."""

    sim: SimTown
    lamps: list[Lamp]
    dead: Lamp
    truck: Vehicle
    sent: list[Reading]
    things: dict[str, int]  # device key -> Thing id
    schedule_runs: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)


def small_town() -> tuple[SimTown, list[Lamp], Vehicle]:
    """The first lamps of one cabinet and one refuse truck of the demo town, none of them
    faulty or ever silent (the failure comes from the test)."""
    sim = build_town(load_town(), ANCHOR)
    sim.world.silence.chance = 0.0
    lamps = [d for d in sim.of_kind("streetlight")
             if isinstance(d, Lamp) and d.properties.get("cabinet") == CABINET][:LAMPS]
    for lamp in lamps:
        lamp.fault, lamp.since_faulty, lamp.bad_every = None, None, None
    truck = next(d for d in sim.of_kind("vehicle")
                 if isinstance(d, Vehicle) and d.properties.get("vehicle") == "refuse")
    truck.bad_every = None
    return dataclasses.replace(sim, devices=[*lamps, truck], strangers=[]), lamps, truck


async def until(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.1)


async def live_a_night_and_a_day(settings: Any) -> Day:
    app = build_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on",
                                           log_level="warning", access_log=False, ws="none"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "Quartier did not start"
        await asyncio.sleep(0.02)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        return await _run(app, base)
    finally:
        server.should_exit = True
        await serving


async def _run(app: Any, base: str) -> Day:
    sim, lamps, truck = small_town()
    dead = lamps[3]
    dead.fault, dead.since_faulty = "dead", FAILS_AT
    store = app.state.store
    day: Day | None = None

    async def sent_tasks() -> int:
        async with store.reader() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM task_outcomes WHERE stage = 'sent'"))

    async def after_step(t: float) -> None:
        """The schedule's events due by ``t`` go out, and the step waits until the
        dispatcher has sent them (and noted so), as a network server would have them
        before the lamps' next uplinks."""
        assert day is not None
        before = len(day.schedule_runs)
        runs = await app.state.lighting.run_schedules(datetime.fromtimestamp(t, UTC))
        day.schedule_runs += runs
        if len(day.schedule_runs) > before:
            made = sum(len(r["tasks"]) for r in day.schedule_runs)

            async def all_sent() -> bool:
                return await sent_tasks() >= made

            await until(all_sent, f"the dispatcher to send {made} Tasks")

    simulation = RecordingSimulation(sim, base, api_key=await demo_key(app), after_step=after_step)
    async with simulation:
        provisioned = await simulation.setup()
        follow_the_simulated_clock(app, simulation)
        client = simulation.client
        day = Day(sim, lamps, dead, truck, simulation.sent, provisioned.things)
        made = await client.post("/api/lighting/schedules", json=SCHEDULE)
        assert made.status_code == 201, made.text
        # The fault rules came with the street-lighting package the provisioning installed.
        rules = await client.get("/api/rules/strassenbeleuchtung-schedule")
        assert rules.status_code == 200, rules.text
        assert rules.json()["condition"]["for"] == "PT30M"
        while simulation.clock < END:
            await simulation.step(min(simulation.clock + STEP, END))
        assert not simulation.channels or not simulation.channels.failed

        async def get(path: str, **params: Any) -> Any:
            response = await client.get(path, params=params)
            assert response.status_code == 200, response.text
            return response.json()

        working = {provisioned.things[lamp.key] for lamp in lamps if lamp is not dead}

        async def tasks() -> list[dict[str, Any]]:
            found = await get("/v1.1/Tasks", **{
                "$expand": "TaskingCapability($select=id;$expand=Thing($select=id))",
                "$orderby": "id", "$top": "1000"})
            return list(found["value"])

        async def working_confirmed() -> list[dict[str, Any]] | None:
            found = await tasks()
            mine = [t for t in found if t["TaskingCapability"]["Thing"]["@iot.id"] in working]
            return found if all(t["status"] == "confirmed" for t in mine) else None

        async def fault_and_order() -> bool:
            return bool((await get("/api/alerts", status="open,acknowledged,resolved"))["value"]
                        and (await get("/api/workorders"))["value"])

        day.answers["tasks"] = await until(working_confirmed, "the working lamps' Tasks confirmed")
        await until(fault_and_order, "the fault and its work order")
        day.answers["alerts"] = (await get("/api/alerts", status="open,acknowledged,resolved"))["value"]
        day.answers["workorders"] = (await get("/api/workorders"))["value"]
        day.answers["energy"] = await get("/api/lighting/energy", by="day", tz="Europe/Berlin",
                                          **{"from": WEDNESDAY, "to": WEDNESDAY})
        trip_day = {"date": WEDNESDAY, "tz": "Europe/Berlin"}
        day.answers["trips"] = await get("/api/fleet/trips", vehicle=str(provisioned.things[truck.key]),
                                         **trip_day)
        day.answers["fleet"] = await get("/api/fleet/day", **trip_day)
        day.answers["commands"] = simulation.downlinks.counts["taken"] if simulation.downlinks else 0
    return day


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def day(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    settings = backend_settings(request, request.param, tmp_path_factory.mktemp("night"))
    yield asyncio.run(live_a_night_and_a_day(settings))


def local(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def reports_after(lamp: Lamp, t: float) -> dict[str, Any]:
    """The lamp's first report at or after ``t`` (its answer to a command then)."""
    return next(values for when, values in lamp.reported if when >= t)


def test_the_schedule_switches_and_dims_the_lamps_and_its_tasks_are_confirmed(day: Day) -> None:
    # Each lamp's sunset and sunrise are its own (to the second), so an event may go out
    # as several commands; each lamp gets each event once.
    events = [kind for kind, _ in groupby(run["event"] for run in day.schedule_runs)]
    assert events == ["on", "dim", "undim", "off"]
    wanted = {"on": {"switch": "on", "dim": 100}, "dim": {"dim": DIMMED},
              "undim": {"dim": 100}, "off": {"switch": "off"}}
    things = sorted(day.things[lamp.key] for lamp in day.lamps)
    for kind in events:
        runs = [run for run in day.schedule_runs if run["event"] == kind]
        assert all(run["parameters"] == wanted[kind] for run in runs)
        assert sorted(t["thingId"] for run in runs for t in run["tasks"]) == things
    # Every command reached every lamp, in order, and each working lamp did as told.
    assert day.answers["commands"] == len(day.lamps) * len(events)
    for lamp in day.lamps:
        mine = [run for run in day.schedule_runs
                if day.things[lamp.key] in {t["thingId"] for t in run["tasks"]}]
        assert [p for _, p in lamp.received] == [run["parameters"] for run in mine]
        for (at, parameters), run in zip(lamp.received, mine, strict=True):
            due = parse_instant(run["at"], "at").timestamp()
            assert due <= at < due + 2 * STEP  # acted on within the step that sent it
            answer = reports_after(lamp, at)
            if lamp is day.dead:
                assert answer["state"] == "off" and answer["power"] < 1
            elif parameters.get("switch") == "off":
                assert answer["state"] == "off"
            else:
                assert answer["state"] == "on" and answer["dimming"] == parameters["dim"]
                assert answer["power"] == pytest.approx(lamp.watts * parameters["dim"] / 100, rel=0.04)
        # Between the commands it kept the commanded state: dimmed from the dim to the undim.
        dim_at, undim_at = lamp.received[1][0], lamp.received[2][0]
        dimmed = [v["dimming"] for t, v in lamp.reported if dim_at <= t < undim_at]
        assert dimmed and set(dimmed) == ({0.0} if lamp is day.dead else {float(DIMMED)})
    statuses: dict[int, list[str]] = {}
    for task in day.answers["tasks"]:
        statuses.setdefault(task["TaskingCapability"]["Thing"]["@iot.id"], []).append(task["status"])
    for lamp in day.lamps:
        mine = statuses[day.things[lamp.key]]
        assert len(mine) == len(events)
        if lamp is day.dead:  # it answers "off" to everything: only "switch off" is shown
            assert mine[3] == "confirmed" and "confirmed" not in mine[:3]
        else:
            assert set(mine) == {"confirmed"}


def test_the_failed_lamp_opens_one_fault_and_one_work_order(day: Day) -> None:
    # (The demo's own rules, such as the town-area geofence for vehicles, are no faults.)
    alerts = [a for a in day.answers["alerts"] if a["rule"].startswith("strassenbeleuchtung-")]
    dead_thing = day.things[day.dead.key]
    assert [(a["rule"], a["thingId"]) for a in alerts] == [("strassenbeleuchtung-schedule", dead_thing)]
    [order] = day.answers["workorders"]
    assert order["alertId"] == alerts[0]["id"] and order["thingId"] == dead_thing
    # It was raised at night, after the lamp had failed and while the sun was down.
    raised = parse_instant(alerts[0]["observedAt"], "observedAt").timestamp()
    assert FAILS_AT < raised < END and day.sim.world.sky.dark(raised)


def last_before(lamp: Lamp, t: float) -> int:
    """The index of the lamp's last report at or before ``t``."""
    return max(i for i, (when, _) in enumerate(lamp.reported) if when <= t)


def test_the_energy_report_adds_up_to_the_simulated_consumption(day: Day) -> None:
    report = day.answers["energy"]
    [period] = report["periods"]
    start = parse_instant(period["start"], "start").timestamp()
    end = parse_instant(period["end"], "end").timestamp()
    assert local(start).hour == 23  # midnight in Lindbrück
    by_lamp = {lamp["id"]: lamp for lamp in report["lamps"]}
    consumed = 0.0
    for lamp in day.lamps:
        reports = list(lamp.reported)
        first, last = last_before(lamp, start), last_before(lamp, end)
        used = reports[last][1]["energy"] - reports[first][1]["energy"]
        # What the lamp drew: each reported draw until its next report.
        drawn = sum(a["power"] * (tb - ta) / HOUR / 1000
                    for (ta, a), (tb, _) in zip(reports[first:last], reports[first + 1:last + 1],
                                                strict=True))
        assert used == pytest.approx(drawn, abs=0.01)
        assert by_lamp[day.things[lamp.key]]["energy"] == [pytest.approx(used, abs=1e-3)]
        consumed += used
    assert consumed > 0
    assert report["total"] == [pytest.approx(consumed, abs=1e-3 * len(day.lamps))]
    # The dead lamp drew only its standby power: far less than a working one.
    dead = by_lamp[day.things[day.dead.key]]["energy"][0]
    assert all(dead < 0.2 * by_lamp[day.things[lamp.key]]["energy"][0]
               for lamp in day.lamps if lamp is not day.dead)


def test_the_refuse_trucks_trip_and_depot_visits_as_the_simulation_drove_them(day: Day) -> None:
    truck = day.truck
    midnight = day.sim.world.clock.midnight(ANCHOR + 24 * HOUR)
    planned = truck._trip_of_day(midnight)
    assert planned is not None
    start = truck._shift_start(midnight)
    [vehicle] = day.answers["trips"]["vehicles"]
    [trip] = vehicle["trips"]
    began, ended = (parse_instant(trip[k], k).timestamp() for k in ("start", "end"))
    assert start <= began < start + truck.every
    assert start + planned.duration - truck.every < ended <= start + planned.duration
    # What the truck sent that day: at the depot before and after the trip, out on the
    # streets during it; Quartier's track says the same.
    sent = [r for r in day.sent if r.device is truck and midnight <= r.t < END]
    assert {r.values["state"] for r in sent if not began <= r.t <= ended} == {"depot"}
    assert {r.values["state"] for r in sent if began <= r.t <= ended} <= {"driving", "stopped"}
    depot = shape(demo_depot())
    [track] = [v["track"] for v in day.answers["fleet"]["vehicles"]]
    outside = [(lon, lat) for lon, lat, when in track
               if not began <= parse_instant(when, "t").timestamp() <= ended]
    inside = [(lon, lat) for lon, lat, when in track
              if began <= parse_instant(when, "t").timestamp() <= ended]
    assert len(outside) == len([r for r in sent if not began <= r.t <= ended])
    assert all(depot.covers(Point(p)) for p in outside)
    assert sum(not depot.covers(Point(p)) for p in inside) > 0.9 * len(inside)
    stops = sum(1 for r in sent if r.values["state"] == "stopped")
    assert (trip["idle"] > 0) == (stops > 0) and trip["idle"] < trip["duration"]
