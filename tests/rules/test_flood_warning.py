"""Flood warning as an operator sees it: the demo town's flood wave runs past its six
gauges, live through the SensorThings API, while the platform is restarted in the middle
of the wave. Each gauge must get exactly one alert that climbs Meldestufe 1, 2, 3 and comes
back down to the all-clear; the control room's webhook and the duty e-mail get each change
once, and the public CAP feed says Alert, Update and Cancel; nothing is lost or doubled by
the restart."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from email import message_from_bytes
from itertools import pairwise
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from lxml import etree

from conftest import admin_key, serving
from notify.helpers import Receiver, free_port
from quartier.app import build_app
from quartier.demo.build import SimTown, build_town
from quartier.demo.simulation import Simulation
from quartier.demo.town import load_town

HOUR = 3600.0
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def _top(kinds: list[tuple[str, int]]) -> int:
    """The highest level an alert reached."""
    return max(level for _, level in kinds)


def _a_whole_wave(kinds: list[tuple[str, int]]) -> bool:
    """Opened, then up to the alert's peak, then down to the all-clear: each step one or
    more Meldestufen (the water may rise or fall through a band between two readings).
    How high a gauge's water rises depends on the simulated day's showers as well as on the
    wave (a brook may peak at Meldestufe 2 one day and 3 the next), so the peak is read from
    the history and checked elsewhere against the readings."""
    top = _top(kinds)
    peak = next(n for n, (_, level) in enumerate(kinds) if level == top)
    rise, fall = kinds[:peak + 1], kinds[peak + 1:-1]
    falling = [top, *(level for _, level in fall)]
    return (kinds[0][0] == "opened" and all(kind == "escalated" for kind, _ in rise[1:])
            and all(a < b for (_, a), (_, b) in pairwise(rise))
            and all(kind == "deescalated" for kind, _ in fall)
            and all(a > b for a, b in pairwise(falling)) and falling[-1] == 1
            and kinds[-1] == ("resolved", 1))


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[_Mailbox, int]]:
    box, port = _Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


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
    async with Simulation(sim, base, api_key=AUTH["key"]) as simulation:
        await simulation.setup()
        simulation.clock = start
        await simulation.live(None, until=until)


def test_the_flood_wave_escalates_one_alert_per_gauge_and_survives_a_restart(
        settings: Any, receiver: Receiver, mailbox: tuple[_Mailbox, int]) -> None:
    box, smtp_port = mailbox
    settings = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=smtp_port,
                                   smtp_from="pegel@lindbrueck.example", notify_retry_seconds=1)
    sim = _town()
    middle = sim.anchor + 12 * HOUR  # the wave is near its peak at the river gauges
    end = sim.anchor + 34 * HOUR
    app = build_app(settings)
    with serving(app) as base:
        AUTH["key"] = admin_key(app)
        # The simulator creates the gauges and the demo's rules, the flood warning among them.
        asyncio.run(_drive(base, sim, sim.anchor, sim.anchor + 1))
        rule = httpx.get(f"{base}/api/rules/hochwasser", headers=_auth()).json()
        assert rule["condition"]["above"] == {"property": "stages"}
        for channel in ({"name": "leitstelle", "type": "webhook", "url": receiver.url},
                        {"name": "bereitschaft", "type": "email", "to": "bereitschaft@lindbrueck.example"},
                        {"name": "warnungen", "type": "cap",
                         "cap": {"sender": "hochwasser@lindbrueck.example"}}):
            made = httpx.post(f"{base}/api/channels", json=channel, headers=_auth())
            assert made.status_code == 201, made.text
        # Only the reporting levels go to these channels (not the rate-of-rise rule).
        changed = httpx.patch(f"{base}/api/rules/hochwasser",
                              json={"notify": ["leitstelle", "bereitschaft", "warnungen"]}, headers=_auth())
        assert changed.status_code == 200, changed.text
        asyncio.run(_drive(base, sim, sim.anchor + 1, middle))
        before = _alerts(base)
        assert any(a["status"] == "open" and a["level"] >= 2 for a in before), \
            "the restart should come in the middle of the wave"
    with serving(build_app(settings)) as base:  # the platform restarted mid-wave
        asyncio.run(_drive(base, sim, middle, end))
        found = _wait_resolved(base, len(sim.devices))
        histories = {a["id"]: httpx.get(f"{base}/api/alerts/{a['id']}").json()["history"]
                     for a in found}
        changes = sum(len(history) for history in histories.values())
        _wait(lambda: len(receiver.received) >= changes and len(box.messages) >= changes,
              "every change at the webhook and by e-mail")
        time.sleep(2)  # anything doubled would arrive now
        feed = _cap_messages(base)
    gauges = {int(a["datastreamId"]) for a in found}
    assert len(found) == len(sim.devices) == len(gauges) == 6
    tops = []
    for alert in found:
        kinds = [(e["kind"], e["level"]) for e in histories[alert["id"]]]
        assert _a_whole_wave(kinds), (alert["message"], kinds)
        tops.append(_top(kinds))
        assert alert["levelName"] == "Meldestufe 1" and alert["status"] == "resolved"
        assert alert["resolvedBy"] is None  # the all-clear came from the water, not a person
    assert max(tops) == 3, tops  # the wave itself reaches Meldestufe 3 on the river
    # One webhook and one e-mail per change of each alert, in order, none twice.
    hooks = [orjson.loads(body) for _, body in receiver.received]
    assert len(hooks) == len(box.messages) == changes
    for alert in found:
        mine = [(h["kind"], h["alert"]["level"]) for h in hooks if h["alert"]["id"] == alert["id"]]
        assert mine == [(e["kind"], e["level"]) for e in histories[alert["id"]]], (alert["message"], mine)
    subjects = [str(message_from_bytes(m)["Subject"]) for m in box.messages]
    assert sum("Meldestufe 3" in subject for subject in subjects) >= tops.count(3)
    # The public feed: Alert, then Updates, then Cancel for each gauge.
    for alert in found:
        types = [msg_type for alert_id, msg_type in feed if alert_id == alert["id"]]
        updates = len(histories[alert["id"]]) - 2
        assert types == ["Alert", *["Update"] * updates, "Cancel"], types


def _wait(check: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def _cap_messages(base: str) -> list[tuple[int, str]]:
    """(alert id, msgType) of every message the feed's channel published, oldest first."""
    answer = httpx.get(f"{base}/api/channels/warnungen/deliveries", params={"limit": "1000"},
                       headers=_auth())
    assert answer.status_code == 200, answer.text
    out = []
    for delivery in sorted(answer.json()["value"], key=lambda d: d["id"]):
        xml = httpx.get(f"{base}/api/cap/{delivery['id']}.xml", headers=_auth())
        assert xml.status_code == 200, xml.text
        document = etree.fromstring(xml.content)
        out.append((int(delivery["alertId"]), document.findtext(f"{CAP}msgType")))
    return out


AUTH = {"key": ""}  # the admin key of the server the test runs


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {AUTH['key']}"}


def _alerts(base: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/api/alerts", params={"limit": "1000"}, headers=_auth())
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
