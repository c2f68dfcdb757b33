"""A refuse truck of the demo town, its Tuesday as the simulation drives it (the Vehicle
device's own readings and planned Trip), detected by the fleet API: one trip from the
depot round its route and back, starting at its shift and lasting as planned."""

from __future__ import annotations

from datetime import UTC, datetime

from shapely.geometry import Point, shape

from conftest import Api, TestClient
from quartier.demo.build import build_town
from quartier.demo.devices import Vehicle
from quartier.demo.town import load_town
from quartier.model.times import parse_instant
from quartier.usecases.fleet.geofences import demo_depot
from usecase_fixtures import device, write

ANCHOR = datetime(2026, 12, 1, 11, 0, tzinfo=UTC).timestamp()  # Tue 12:00 in Lindbrück
DAY = 86_400.0


def test_a_refuse_trucks_trip_and_depot_visits_as_the_simulation_drove_them(
        client: TestClient, api: Api) -> None:
    sim = build_town(load_town(), ANCHOR)
    midnight = sim.world.clock.midnight(ANCHOR)
    trucks = [d for d in sim.of_kind("vehicle")
              if isinstance(d, Vehicle) and d.properties.get("vehicle") == "refuse"]
    # One the simulation does not silence that day.
    truck = next(t for t in trucks
                 if not any(sim.world.silence.silent(t.key, midnight + s) for s in range(0, int(DAY), 60)))
    planned = truck._trip_of_day(midnight)
    assert planned is not None
    start = truck._shift_start(midnight)
    readings = [r for r in truck.readings(midnight, midnight + DAY) if not r.bad]
    fields = sorted(readings[0].values)
    made = device(api, truck.name, truck.properties, fields)
    for field in fields:
        write(api, made[field], [(datetime.fromtimestamp(r.t, UTC), r.values[field]) for r in readings])

    day = {"date": sim.world.clock.local(start).date().isoformat(),
           "tz": sim.town.timezone}
    answer = client.get("/api/fleet/trips", params={**day, "vehicle": made["thing"]})
    assert answer.status_code == 200, answer.text
    [trip] = answer.json()["vehicles"][0]["trips"]
    began, ended = (parse_instant(trip[k], k).timestamp() for k in ("start", "end"))
    # The tracker reports every `every` seconds: the trip is seen within one report of its plan.
    assert start <= began < start + truck.every
    assert start + planned.duration - truck.every < ended <= start + planned.duration
    # Its depot visits: every position before the trip and after it is in the depot (the
    # template's default geofence), and the trip itself is out on the streets.
    depot = shape(demo_depot())
    [vehicle] = client.get("/api/fleet/day", params=day).json()["vehicles"]
    visits = [depot.covers(Point(lon, lat)) for lon, lat, when in vehicle["track"]
              if not began <= parse_instant(when, "t").timestamp() <= ended]
    out = [not depot.covers(Point(lon, lat)) for lon, lat, when in vehicle["track"]
           if began <= parse_instant(when, "t").timestamp() <= ended]
    assert len(visits) > 10 and all(visits)
    assert sum(out) > 0.9 * len(out)
    # Stops to empty bins are idle time within the trip; the track is about the planned path
    # (straight between reports, so a little shorter).
    assert 0 < trip["idle"] < trip["duration"]
    assert 0.85 * planned.at[-1] / 1000 < trip["distance"] <= 1.02 * planned.at[-1] / 1000
    report = client.get("/api/fleet/report", params=day).json()
    [row] = report["vehicles"]
    assert row["trips"] == 1 and row["energy_used_percent"] > 0
