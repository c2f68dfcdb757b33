"""The demo's downlink receiver, on its own: a lamp takes the command The Things Stack's
downlink push carries (encoded as Quartier encodes it), acts on it at the simulated
instant and answers with a report of its new state; wrong keys, devices and payloads
are refused and change nothing."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx

from quartier.demo.build import build_town
from quartier.demo.devices import Lamp
from quartier.demo.downlinks import DownlinkReceiver
from quartier.demo.town import load_town
from quartier.lorawan import downlinks
from quartier.tasking import streetlight

NIGHT = datetime(2026, 12, 1, 21, 0, tzinfo=UTC).timestamp()  # 22:00 in Lindbrück


def push(receiver: DownlinkReceiver, lamp: Lamp, parameters: dict[str, Any]) -> downlinks.Request:
    settings = receiver.settings()
    key = settings.pop("apiKey")
    return downlinks.request("tts", {"via": "api", **settings}, key, lamp.dev_eui or "",
                             lamp.name, streetlight.encode(parameters))


def test_a_lamp_takes_its_command_and_answers_with_its_new_state() -> None:
    sim = build_town(load_town(), NIGHT)
    lamp, other = (d for d in sim.of_kind("streetlight")[:2] if isinstance(d, Lamp))
    lamp.fault = other.fault = None
    assert lamp.scheduled_on(NIGHT) and lamp.level(NIGHT) == 100  # its own programme

    async def run() -> list[int]:
        receiver = DownlinkReceiver([lamp, other], lambda: NIGHT)
        await receiver.start()
        try:
            async with httpx.AsyncClient() as client:
                statuses = []
                good = push(receiver, lamp, {"dim": 30})
                for url, headers, body in [
                        (good.url, {"Authorization": "Bearer wrong"}, good.body),
                        (good.url.replace(f"eui-{(lamp.dev_eui or '').lower()}", "eui-00"),
                         good.headers, good.body),
                        (good.url, good.headers, {"downlinks": [{"f_port": 10, "frm_payload": "!!"}]}),
                        (good.url, good.headers, {"downlinks": [{"f_port": 10, "frm_payload":
                                                                 base64.b64encode(b"\x07").decode()}]}),
                        (good.url, good.headers, good.body)]:
                    response = await client.post(url or "", json=body, headers=headers)
                    statuses.append(response.status_code)
                return statuses
        finally:
            await receiver.close()

    assert asyncio.run(run()) == [401, 404, 400, 400, 200]
    assert [p for _, p in lamp.received] == [{"dim": 30}] and not other.received
    [answer] = list(lamp.readings(NIGHT, NIGHT + 1))  # reported at once, off its hourly grid
    assert answer.t == NIGHT and answer.values["state"] == "on" and answer.values["dimming"] == 30
    assert other.level(NIGHT) == 100  # the other lamp keeps its own programme
    # The command holds (also past the lamp's own dimming at 22:30) until the next one.
    assert lamp.level(NIGHT + 3600) == 30 and other.level(NIGHT + 3600) == other.night_level
    lamp.command(NIGHT + 7200, {"switch": "off"})
    assert not lamp.scheduled_on(NIGHT + 7200) and other.scheduled_on(NIGHT + 7200)
