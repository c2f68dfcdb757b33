"""Flood warning as an operator sees it: the demo town's flood wave runs past its six
gauges, live through the SensorThings API, while the platform is restarted in the middle
of the wave. Each gauge must get exactly one alert that climbs Meldestufe 1, 2, 3 and comes
back down to the all-clear, with nothing lost or doubled by the restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx2 as httpx
import pytest

from conftest import serving
from quartier.app import build_app
from quartier.demo.build import SimTown, build_town
from quartier.demo.simulation import Simulation
from quartier.demo.town import load_town

HOUR = 3600.0


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _town() -> SimTown:
    """The demo town now, with its heavy rain moved to start an hour from now."""
    anchor = time.time() // 60 * 60
    sim = build_town(load_town(), anchor)
    for event in sim.world.events:
        if event.kind == "heavy_rain":
            length = event.end - event.start
            event.start, event.end = anchor + HOUR, anchor + HOUR + length
    # Only what the test looks at: the gauges (the rest of the town is tested elsewhere).
    sim.devices = sim.of_kind("gauge")
    sim.strangers = []
    return sim


async def _drive(base: str, sim: SimTown, start: float, until: float) -> None:
    async with Simulation(sim, base) as simulation:
        await simulation.setup()
        simulation.clock = start
        await simulation.live(None, until=until)


def test_the_flood_wave_escalates_one_alert_per_gauge_and_survives_a_restart(
        settings: Any, request: pytest.FixtureRequest) -> None:
    sim = _town()
    middle = sim.anchor + 12 * HOUR  # the wave is near its peak at the river gauges
    end = sim.anchor + 34 * HOUR
    with serving(build_app(settings)) as base:
        # The simulator creates the gauges and the demo's rules, the flood warning among them.
        asyncio.run(_drive(base, sim, sim.anchor, sim.anchor + 1))
        rule = httpx.get(f"{base}/api/rules/hochwasser").json()
        assert rule["condition"]["above"] == {"property": "stages"}
        asyncio.run(_drive(base, sim, sim.anchor + 1, middle))
        before = _alerts(base)
        assert any(a["status"] == "open" and a["level"] >= 2 for a in before), \
            "the restart should come in the middle of the wave"
    with serving(build_app(settings)) as base:  # the platform restarted mid-wave
        asyncio.run(_drive(base, sim, middle, end))
        found = _wait_resolved(base, len(sim.devices))
        histories = {a["id"]: httpx.get(f"{base}/api/alerts/{a['id']}").json()["history"]
                     for a in found}
    gauges = {int(a["datastreamId"]) for a in found}
    assert len(found) == len(sim.devices) == len(gauges) == 6
    for alert in found:
        kinds = [(e["kind"], e["level"]) for e in histories[alert["id"]]]
        assert kinds == [("opened", 1), ("escalated", 2), ("escalated", 3), ("deescalated", 2),
                         ("deescalated", 1), ("resolved", 1)], (alert["message"], kinds)
        assert alert["levelName"] == "Meldestufe 1" and alert["status"] == "resolved"
        assert alert["resolvedBy"] is None  # the all-clear came from the water, not a person


def _alerts(base: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/api/alerts", params={"limit": "1000"})
    assert answer.status_code == 200, answer.text
    return [a for a in answer.json()["value"] if a["rule"] == "hochwasser"]


def _wait_resolved(base: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:
        found = _alerts(base)
        if len(found) >= count and all(a["status"] == "resolved" for a in found):
            return found
        assert time.monotonic() < deadline, [(a["message"], a["status"]) for a in found]
        time.sleep(0.5)
