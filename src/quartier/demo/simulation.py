"""Driving a running Quartier with the simulated town: create it, backfill, then go live.

The simulated clock starts at ``anchor`` (normally now). The backfill writes the readings
of the days before it on the bulk path; the live run then sends each window of simulated
time through the devices' own roads as the clock advances, ``speed`` times as fast as the
wall clock (so with a speed above 1 the readings run ahead of real time), or as fast as
Quartier takes them when ``speed`` is None.

The lamps obey the Tasks Quartier sends them: a local downlink receiver
(:mod:`quartier.demo.downlinks`) plays The Things Stack's downlink API, and each lamp acts
on its command at the simulated instant reached and answers with an uplink. ``after_step``
runs after each window is sent (``quartier demo`` sends the lighting schedules' events due
by then, on the simulated clock).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx2 as httpx

from quartier.demo.build import SimTown
from quartier.demo.channels import Channels
from quartier.demo.clock import DAY
from quartier.demo.devices import Lamp, Reading
from quartier.demo.downlinks import DownlinkReceiver
from quartier.demo.provision import Provisioned, Provisioner

Say = Callable[[str], None]
AfterStep = Callable[[float], Awaitable[None]]  # called with the simulated instant reached
logging.getLogger("httpx2").setLevel(logging.WARNING)  # not one line per request
FAST_WINDOW = 900.0  # simulated seconds per step when running as fast as possible


@dataclass
class BackfillReport:
    observations: int
    seconds: float
    days: float


class Simulation:
    def __init__(self, sim: SimTown, base_url: str, tenant: str = "", mqtt_url: str | None = None,
                 say: Say | None = None, mqtt_prefix: str = "", api_key: str = "",
                 downlinks: bool = True, after_step: AfterStep | None = None) -> None:
        self.sim = sim
        self.prefix = f"/t/{tenant}" if tenant else ""
        self.tenant = tenant
        self.base_url = base_url.rstrip("/")
        self.mqtt_url = mqtt_url
        self.mqtt_prefix = mqtt_prefix
        self.say = say or (lambda text: None)
        # The key goes with every API call; LoRaWAN webhooks send their integration's
        # secret instead (a header of their own request overrides it).
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(120.0),
                                        limits=httpx.Limits(max_connections=32),
                                        headers={"Authorization": f"Bearer {api_key}"} if api_key else None)
        self.provisioned: Provisioned | None = None
        self.channels: Channels | None = None
        self.clock = sim.anchor  # how far the simulation has sent
        self.after_step = after_step
        # Tasks for the lamps come back to the simulation through a local receiver.
        lamps = [d for d in sim.devices if isinstance(d, Lamp) and d.channel == "tts"]
        self.downlinks = (DownlinkReceiver(lamps, lambda: self.clock)
                          if downlinks and lamps else None)

    async def __aenter__(self) -> Simulation:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.channels is not None:
            await self.channels.close()
        if self.downlinks is not None:
            await self.downlinks.close()
        await self.client.aclose()

    async def setup(self) -> Provisioned:
        """Create what is missing of the town; connect the channels."""
        started = time.monotonic()
        if self.downlinks is not None:
            await self.downlinks.start()
        downlink = self.downlinks.settings() if self.downlinks is not None else None
        self.provisioned = await Provisioner(self.client, self.sim, self.prefix, downlink).run()
        self.channels = Channels(self.client, self.provisioned, self.prefix, self.tenant,
                                 self.mqtt_url, self.mqtt_prefix)
        await self.channels.start()
        self.say(f"{self.sim.town.name}: {len(self.sim.devices)} devices "
                 f"({self.provisioned.created} created now) in {time.monotonic() - started:.1f} s")
        return self.provisioned

    async def backfill(self, days: float) -> BackfillReport:
        """The ``days`` before the anchor, on the bulk path."""
        assert self.channels is not None, "setup() first"
        started = time.monotonic()
        begin = self.sim.anchor - days * DAY
        written = await self.channels.backfill(self.sim.devices, begin, self.sim.anchor)
        report = BackfillReport(written, time.monotonic() - started, days)
        self.say(f"backfilled {days:g} days: {written:,} Observations in {report.seconds:.1f} s "
                 f"({written / max(report.seconds, 1e-9):,.0f}/s)")
        return report

    def readings(self, start: float, end: float) -> list[Reading]:
        out = [r for d in (*self.sim.devices, *self.sim.strangers) for r in d.readings(start, end)]
        out.sort(key=lambda r: r.t)
        return out

    async def step(self, until: float) -> int:
        """Send every reading up to ``until`` (simulated); how many readings."""
        assert self.channels is not None, "setup() first"
        readings = self.readings(self.clock, until)
        self.clock = until
        await self.channels.send(readings)
        if self.after_step is not None:
            await self.after_step(until)
        return len(readings)

    async def live(self, speed: float | None = 1.0, until: float | None = None,
                   report_every: float = 30.0) -> None:
        """Advance the simulated clock and send; forever unless ``until`` is given."""
        assert self.channels is not None, "setup() first"
        wall0, sim0 = time.monotonic(), self.clock
        last_report = wall0
        while until is None or self.clock < until:
            target = (self.clock + FAST_WINDOW if speed is None
                      else sim0 + (time.monotonic() - wall0) * speed)
            if until is not None:
                target = min(target, until)
            if target > self.clock:
                await self.step(target)
            now = time.monotonic()
            if now - last_report >= report_every:
                last_report = now
                self.say(self.status())
            if speed is not None:
                await asyncio.sleep(max(0.05, min(1.0, 1.0 - (time.monotonic() - now))))

    def status(self) -> str:
        assert self.channels is not None
        c = self.channels
        local = datetime.fromtimestamp(self.clock, self.sim.world.clock.zone)
        sent = ", ".join(f"{k} {v:,}" for k, v in sorted(c.sent.items())) or "nothing"
        refused = sum(c.refused.values())
        failed = sum(c.failed.values())
        commands = self.downlinks.counts["taken"] if self.downlinks is not None else 0
        return (f"simulated {local:%Y-%m-%d %H:%M} {local.tzname()}: sent {sent}; "
                f"{refused:,} refused (kept as dead letters)"
                + (f"; lamps took {commands:,} commands" if commands else "")
                + (f"; {failed:,} FAILED" if failed else ""))
