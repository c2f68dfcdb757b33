"""The demo town, run as a user would see it: a short accelerated simulation drives a real
Quartier (uvicorn on a TCP port, SQLite and PostgreSQL, MQTT through the broker on
127.0.0.1:1883) and the tests look at what arrived, through the API only.

The run: the town at a fixed start (a Tuesday, 12:00 in Lindbrück), two days of history on
the bulk path (with the heavy rain at -40 h), then three simulated hours live, as fast as
Quartier takes them, by SensorThings HTTP and MQTT and LoRaWAN webhooks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import httpx2 as httpx
import pytest
from shapely.geometry import LineString, MultiLineString, Point

from conftest import BACKENDS, admin_key, backend_settings, serving, skip_or_fail
from quartier.app import build_app
from quartier.demo.build import SimTown, build_town
from quartier.demo.channels import Channels
from quartier.demo.simulation import Simulation
from quartier.demo.town import load_town
from quartier.model.times import parse_instant

ANCHOR = datetime(2026, 12, 1, 11, 0, tzinfo=UTC).timestamp()  # Tue 12:00 in Lindbrück
BACKFILL_DAYS = 2
LIVE_SECONDS = 3 * 3600
BROKER = ("127.0.0.1", 1883)


@dataclass
class TownRun:
    base: str
    sim: SimTown
    channels: Channels
    mqtt: bool
    key: str

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base}{path}", params=params, timeout=60,
                             headers={"Authorization": f"Bearer {self.key}"})
        assert response.status_code == 200, response.text
        return response.json()

    def all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every entity of a collection, following nextLinks."""
        page = self.get(path, **params)
        out = list(page["value"])
        while "@iot.nextLink" in page:
            response = httpx.get(page["@iot.nextLink"], timeout=60)
            assert response.status_code == 200, response.text
            page = response.json()
            out += page["value"]
        return out

    def series(self, datastream: int, **params: Any) -> list[tuple[float, Any]]:
        rows = self.all(f"/v1.1/Datastreams({datastream})/Observations",
                        **{"$orderby": "phenomenonTime asc", "$top": "10000",
                           "$select": "phenomenonTime,result", **params})
        return [(parse_instant(r["phenomenonTime"], "time").timestamp(), r["result"]) for r in rows]

    def datastreams(self, key: str) -> dict[str, int]:
        """Field -> Datastream id of the device ``key``."""
        ids = self.channels.ids
        return {f: ds for (device, f), ds in ids.items() if device == key}


def _broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module", params=[b for b in BACKENDS if b != "archived"])
def town(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TownRun]:
    settings = backend_settings(request, request.param, tmp_path_factory.mktemp("demo"))
    mqtt = _broker_up()
    if not mqtt:
        skip_or_fail(f"no MQTT broker on {BROKER[0]}:{BROKER[1]}")
    tag = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(settings, mqtt=f"mqtt://{BROKER[0]}:{BROKER[1]}",
                                   mqtt_prefix=f"demo{tag}/", mqtt_client_id=f"quartier-demo-{tag}")
    sim = build_town(load_town(), ANCHOR, mqtt=True)
    app = build_app(settings)
    with serving(app) as base:
        key = admin_key(app)

        async def run() -> Channels:
            async with Simulation(sim, base, mqtt_url=settings.mqtt,
                                  mqtt_prefix=settings.mqtt_prefix, api_key=key) as simulation:
                await simulation.setup()
                await simulation.backfill(BACKFILL_DAYS)
                await simulation.live(None, until=ANCHOR + LIVE_SECONDS)
                assert simulation.channels is not None
                return simulation.channels

        channels = asyncio.run(run())
        assert not channels.failed, f"sending failed: {dict(channels.failed)}"
        yield TownRun(base, sim, channels, mqtt, key)


def _wait_for(check: Any, what: str, seconds: float = 30.0) -> Any:
    import time

    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"gave up waiting for {what}"
            return value
        time.sleep(0.2)


# -- every kind of device ------------------------------------------------------------------


def test_every_device_kind_has_data_in_every_datastream(town: TownRun) -> None:
    kinds = {d.kind for d in town.sim.devices}
    assert kinds == {"streetlight", "cabinet", "gauge", "rain_gauge", "water_works", "air_quality",
                     "traffic_counter", "parking_bay", "vehicle"}
    for kind in sorted(kinds):
        things = town.all("/v1.1/Things", **{
            "$filter": f"properties/kind eq '{kind}'", "$select": "id,name", "$top": "1000",
            "$expand": "Datastreams($select=id,name;$expand=Observations($select=id;$top=1))"})
        expected = len([d for d in town.sim.devices if d.kind == kind])
        assert len(things) == expected, kind
        empty = [ds["name"] for t in things for ds in t["Datastreams"] if not ds["Observations"]]
        assert not empty, f"{kind}: no data in {empty[:5]}"


def test_the_town_has_its_size(town: TownRun) -> None:
    sizes = {kind: len(town.sim.of_kind(kind)) for kind in
             ("streetlight", "parking_bay", "vehicle", "air_quality", "traffic_counter", "gauge")}
    assert 250 <= sizes["streetlight"] <= 350
    assert sizes["parking_bay"] == 200
    assert sizes["vehicle"] == 20
    assert sizes["air_quality"] == 10
    assert sizes["traffic_counter"] == 4
    assert sizes["gauge"] == 6
    devices = town.get("/api/devices", limit="1")
    assert devices["total"] == len([d for d in town.sim.devices if d.dev_eui])
    rules = sorted(r["name"] for r in town.get("/api/rules")["value"])
    assert rules == ["depot", "fuhrpark-stadtgebiet", "hochwasser", "hochwasser-anstieg", "pegel-ausfall",
                     "strassenbeleuchtung-cabinet-silent", "strassenbeleuchtung-power",
                     "strassenbeleuchtung-power-low", "strassenbeleuchtung-schedule",
                     "trinkwasser-chlor", "trinkwasser-truebung"]
    packages = {p["name"]: p["version"] for p in town.get("/api/packages")["value"]}
    assert packages == {"fleet": "1.0.0", "street-lighting": "1.0.0"}


# -- the flood wave ----------------------------------------------------------------------


def test_the_flood_wave_crosses_the_levels_and_falls_back(town: TownRun) -> None:
    peaks: dict[str, float] = {}
    for gauge in town.sim.of_kind("gauge"):
        stages = [float(s) for s in gauge.properties["stages"].values()]
        series = town.series(town.datastreams(gauge.key)["level"])
        assert len(series) > 150, gauge.key
        levels = [v for _, v in series]
        first_over = [next(i for i, v in enumerate(levels) if v > s) for s in stages[:3]]
        top = max(range(len(levels)), key=lambda i: levels[i])
        assert levels[0] < stages[0], f"{gauge.key} starts above stage 1"
        assert first_over == sorted(first_over) and first_over[2] <= top, gauge.key
        assert stages[2] < levels[top] < stages[3], f"{gauge.key} peaks at {levels[top]}, {stages}"
        after = levels[top:]
        assert min(after) < stages[0] and after[-1] < stages[0], f"{gauge.key} did not fall back"
        peaks[gauge.key] = series[top][0]
    # The wave runs down the Lind: each gauge downstream peaks later.
    lind = [peaks[k] for k in ("PG-L1", "PG-L2", "PG-L3", "PG-L4")]
    assert lind == sorted(lind)


def test_the_rain_gauges_saw_the_heavy_rain(town: TownRun) -> None:
    rain = next(e for e in town.sim.world.events if e.kind == "heavy_rain")
    for gauge in town.sim.of_kind("rain_gauge"):
        series = town.series(town.datastreams(gauge.key)["rain"])
        during = sum(v for t, v in series if rain.start <= t < rain.end)
        outside = max(v for t, v in series if not rain.start <= t < rain.end)
        assert during > 100, gauge.key  # about 24 mm/h at the peak for 8 hours
        assert outside < 1.0, gauge.key


def test_the_water_works_incident_crosses_the_limit_once(town: TownRun) -> None:
    incident = next(e for e in town.sim.world.events if e.kind == "water_quality")
    works = town.sim.of_kind("water_works")[0]
    limit = works.properties["limits"]["turbidity"]["limit"]
    series = town.series(town.datastreams(works.key)["turbidity"])
    over = [t for t, v in series if v > limit]
    assert over, "turbidity never crossed its limit"
    assert incident.start <= min(over) and max(over) < incident.end
    assert all(v < limit / 2 for t, v in series if not incident.start <= t < incident.end)


def test_traffic_and_parking_follow_the_day(town: TownRun) -> None:
    clock = town.sim.world.clock
    counter = town.datastreams("VZ-S")
    cars_in = town.series(counter["stadteinwärts.car"])
    rush = [v for t, v in cars_in if 7 * 60 <= clock.minute_of_day(t) < 8 * 60 + 30]
    night = [v for t, v in cars_in if 2 * 60 <= clock.minute_of_day(t) < 4 * 60]
    assert rush and night and min(rush) > 3 * max(night)
    # The commuter car park fills on a working day and empties at night.
    bays = [d for d in town.sim.of_kind("parking_bay") if d.properties["lot"] == "PP-BAHNHOF"]
    occupied_at = {"10:00": 0, "03:00": 0}
    for bay in bays:
        series = town.series(town.datastreams(bay.key)["occupied"])
        for label, hour in (("10:00", 10), ("03:00", 3)):
            moment = town.sim.anchor - 86_400 + (hour - 12) * 3600  # yesterday, local time
            known = [v for t, v in series if t <= moment]
            occupied_at[label] += bool(known and known[-1])
    assert occupied_at["10:00"] > 0.6 * len(bays) > occupied_at["03:00"]


def test_some_devices_went_silent_for_a_while(town: TownRun) -> None:
    """The model's silent spells show as gaps in the data, as long as the spells."""
    silence = town.sim.world.silence
    begin = town.sim.anchor - BACKFILL_DAYS * 86_400
    longest: dict[str, float] = {}
    for device in town.sim.of_kind("air_quality") + town.sim.of_kind("gauge"):
        quiet, run = 0.0, 0.0
        for t in range(int(begin), int(town.sim.anchor), int(device.every)):
            run = run + device.every if silence.silent(device.key, t + device.offset) else 0.0
            quiet = max(quiet, run)
        longest[device.key] = quiet
    key = max(longest, key=lambda k: longest[k])
    assert longest[key] >= 3600, "with this seed some station is silent for an hour or more"
    series = town.series(next(iter(town.datastreams(key).values())))
    gaps = [b - a for (a, _), (b, _) in pairwise(series)]
    assert max(gaps) >= longest[key], key
    quiet_ones = [k for k, q in longest.items() if q == 0 and town.sim.device(k).bad_every is None]
    assert quiet_ones  # and most stations report throughout
    for other in quiet_ones[:3]:
        steady = town.series(next(iter(town.datastreams(other).values())))
        every = town.sim.device(other).every
        assert max(b - a for (a, _), (b, _) in pairwise(steady)) <= every + 1, other


# -- street lighting ---------------------------------------------------------------------


def test_a_failed_lamp_reports_off_while_scheduled_on(town: TownRun) -> None:
    sky = town.sim.world.sky
    dead = town.series(town.datastreams("SK-01-07")["state"])
    healthy = dict(town.series(town.datastreams("SK-01-06")["state"]))
    at_night = [(t, state) for t, state in dead if sky.dark(t)]
    assert len(at_night) >= 20
    assert {state for _, state in at_night} == {"off"}
    # Its neighbour on the same circuit is on at those times, so "off" is the fault.
    neighbour = [healthy[t] for t, _ in at_night if t in healthy]
    neighbour += [state for t, state in healthy.items() if sky.dark(t)]
    assert neighbour and set(neighbour) == {"on"}
    by_day = [state for t, state in dead if not sky.dark(t)]
    assert by_day and set(by_day) == {"off"}


def test_lamps_dim_at_night_and_draw_power(town: TownRun) -> None:
    clock = town.sim.world.clock
    lamp = town.datastreams("SK-02-03")
    dimming = town.series(lamp["dimming"])
    power = dict(town.series(lamp["power"]))
    late = [(t, v) for t, v in dimming if 0 <= clock.minute_of_day(t) < 4 * 60]
    evening = [(t, v) for t, v in dimming if 18 * 60 <= clock.minute_of_day(t) < 22 * 60]
    assert late and {v for _, v in late} == {50}
    assert evening and {v for _, v in evening} == {100}
    assert all(power[t] > 20 for t, _ in evening)


# -- the fleet ---------------------------------------------------------------------------


def test_vehicle_tracks_stay_on_the_streets(town: TownRun) -> None:
    streets = MultiLineString([LineString([a, b]) for a, b in town.sim.town.street_segments()])
    depot = town.sim.town.places["betriebshof"]
    for vehicle in town.sim.of_kind("vehicle"):
        ids = town.datastreams(vehicle.key)
        latitude = dict(town.series(ids["latitude"]))
        longitude = dict(town.series(ids["longitude"]))
        points = [town.sim.town.to_xy(longitude[t], latitude[t]) for t in latitude if t in longitude]
        assert len(points) > 100, vehicle.key
        off_street = max(streets.distance(Point(p)) for p in points)
        assert off_street < 8.0, f"{vehicle.key} strays {off_street:.1f} m from the streets"
        away = [p for p in points if Point(p).distance(Point(depot)) > 300]
        assert len(away) > len(points) / 5, f"{vehicle.key} hardly left the depot"


def test_live_gps_fixes_move_the_vehicles(town: TownRun) -> None:
    streets = MultiLineString([LineString([a, b]) for a, b in town.sim.town.street_segments()])
    moved = 0
    for vehicle in town.sim.of_kind("vehicle"):
        thing = town.channels.provisioned.things[vehicle.key]
        history = town.all(f"/v1.1/Things({thing})/HistoricalLocations",
                           **{"$expand": "Locations", "$top": "1000"})
        for item in history:
            for location in item["Locations"]:
                lon, lat = location["location"]["coordinates"][:2]
                assert streets.distance(Point(town.sim.town.to_xy(lon, lat))) < 8.0
        moved += len(history) > 1
    assert moved >= 15  # refuse trucks, buses and vans all drive on a Tuesday afternoon


# -- what goes wrong ---------------------------------------------------------------------


def test_bad_payloads_end_up_as_dead_letters(town: TownRun) -> None:
    expected = sum(town.channels.refused.values())
    assert expected >= 4

    def letters() -> list[dict[str, Any]]:
        found = town.get("/api/dead-letters", limit="1000")["value"]
        return found if len(found) >= expected else []

    found = _wait_for(letters, f"{expected} dead letters")
    assert len(found) == expected
    sources = {letter["source"] for letter in found}
    assert {"lorawan:tts:webhook", "lorawan:chirpstack:webhook", "mqtt"} <= sources
    text = " ".join(str(letter) for letter in found)
    assert "A84041000181B5C3" in text  # the unregistered device
    bay = town.sim.device("PP-MARKT-12")
    assert bay.dev_eui is not None and bay.dev_eui in text.upper()


def test_nothing_sent_by_mqtt_is_lost(town: TownRun) -> None:
    """Every message the broker acknowledged to the air-quality stations and the water
    works became an Observation (the platform stores them after the broker's PUBACK)."""
    stations = town.sim.of_kind("air_quality") + town.sim.of_kind("water_works")
    ids = ",".join(str(ds) for d in stations for ds in town.datastreams(d.key).values())
    start = datetime.fromtimestamp(ANCHOR, UTC).isoformat().replace("+00:00", "Z")
    expected = town.channels.mqtt_messages
    assert expected > 500

    def live_count() -> int:
        answer = town.get("/v1.1/Observations", **{
            "$filter": f"Datastream/id in ({ids}) and phenomenonTime ge {start}",
            "$count": "true", "$top": "0"})
        return int(answer["@iot.count"])

    _wait_for(lambda: live_count() >= expected, f"{expected} Observations by MQTT")
    assert live_count() == expected


# -- the town file and the seed ----------------------------------------------------------


def test_the_same_start_gives_the_same_data() -> None:
    town = load_town()
    first, second = build_town(town, ANCHOR), build_town(town, ANCHOR)

    def sample(sim: SimTown) -> list[Any]:
        return [(r.device.key, r.t, r.values) for d in sim.devices[::7]
                for r in d.readings(ANCHOR - 86_400, ANCHOR)]

    data = sample(first)
    assert len(data) > 1000
    assert data == sample(second)
    town.seed += 1
    assert sample(build_town(town, ANCHOR)) != data
