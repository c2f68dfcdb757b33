"""Benchmark of the demo town: its backfill, and ``--scale`` copies of it driven live.

Starts a real ``quartier serve`` on 127.0.0.1 (SQLite in a temporary folder, or a fresh
PostgreSQL database with ``--backend postgresql``) and drives it with the simulator, as
``quartier demo`` and ``quartier simulate`` do:

1. ``setup``: the town (``--scale`` copies) created through the API.
2. ``backfill``: ``--days`` of history on the bulk path (CreateObservations). Baseline in
   the same run: generating the same readings without sending them, i.e. the simulator's
   own share of the time.
3. ``live``: ``--live`` of simulated time sent as fast as the server takes it, each reading
   by its device's road (LoRaWAN webhooks of both network servers, SensorThings HTTP).
   Baseline in the same run: the backfill's Observations per second (the same kind of data
   on the bulk path).

It prints readings and Observations per second and the server's CPU.

    .venv/bin/python bench/bench_demo.py                       # SQLite, 30 days, as quartier demo
    .venv/bin/python bench/bench_demo.py --backend postgresql --scale 10 --days 1 --live 6h

Traffic goes to 127.0.0.1 only; the server and the database are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from bench_sensorthings import CpuMeter, fresh_server, machine_summary, say
from quartier.demo.build import build_town
from quartier.demo.clock import DAY
from quartier.demo.simulation import Simulation
from quartier.demo.town import duration, load_town

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def generate_only(scale: int, anchor: float, days: float) -> tuple[int, float]:
    """Readings of the backfill window generated and thrown away: (values, seconds)."""
    sim = build_town(load_town(), anchor, scale)
    started = time.monotonic()
    values = sum(len(r.values) for d in sim.devices for r in d.readings(anchor - days * DAY, anchor)
                 if not r.bad)
    return values, time.monotonic() - started


async def drive(base: str, scale: int, anchor: float, days: float, live: float) -> dict[str, float]:
    sim = build_town(load_town(), anchor, scale)
    out: dict[str, float] = {}
    async with Simulation(sim, base, say=say) as simulation:
        started = time.monotonic()
        await simulation.setup()
        out["setup_s"] = time.monotonic() - started
        out["devices"] = len(sim.devices)
        if days:
            report = await simulation.backfill(days)
            out["backfill_obs"] = report.observations
            out["backfill_s"] = report.seconds
        assert simulation.channels is not None
        before = simulation.channels.observations
        readings = 0
        started = time.monotonic()
        clock = anchor
        while clock < anchor + live:
            clock = min(anchor + live, clock + 900)
            readings += await simulation.step(clock)
        out["live_s"] = time.monotonic() - started
        out["live_readings"] = readings
        out["live_obs"] = simulation.channels.observations - before
        out["refused"] = sum(simulation.channels.refused.values())
        out["failed"] = sum(simulation.channels.failed.values())
        say(simulation.status())
    return out



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--live", default="6h", help="simulated time sent live, e.g. 6h")
    opts = parser.parse_args()
    live = duration(opts.live)
    anchor = time.time() // 60 * 60
    for line in machine_summary(ADMIN if opts.backend == "postgresql" else None):
        say(line)
    values, generate_s = generate_only(opts.scale, anchor, opts.days)
    say(f"baseline: generating {values:,} backfill values takes {generate_s:.1f} s "
        f"({values / generate_s:,.0f}/s) in this process")
    with (tempfile.TemporaryDirectory() as folder,
          fresh_server(opts.backend, folder, ADMIN, "quartier_bench_demo") as server,
          CpuMeter({"server": server.pids}) as meter):
        result = asyncio.run(drive(server.base.removesuffix("/v1.1"), opts.scale, anchor,
                                   opts.days, live))
    say(f"setup: {result['devices']:,.0f} devices in {result['setup_s']:.1f} s")
    if opts.days:
        rate = result["backfill_obs"] / result["backfill_s"]
        say(f"backfill: {result['backfill_obs']:,.0f} Observations in {result['backfill_s']:.1f} s "
            f"= {rate:,.0f}/s; generating them alone took {generate_s / result['backfill_s']:.0%} "
            "of that time")
    live_rate = result["live_obs"] / result["live_s"]
    say(f"live: {result['live_readings']:,.0f} readings ({result['live_obs']:,.0f} Observations) "
        f"in {result['live_s']:.1f} s = {result['live_readings'] / result['live_s']:,.0f} readings/s, "
        f"{live_rate:,.0f} Observations/s"
        + (f" ({live_rate / (result['backfill_obs'] / result['backfill_s']):.2f} of the bulk path)"
           if opts.days else "")
        + f"; {result['refused']:.0f} refused, {result['failed']:.0f} failed")
    say(f"CPU over setup, backfill and live: server {meter.result.get('server', 0):.0f} %, "
        f"simulator {meter.result.get('client', 0):.0f} % of one core")


if __name__ == "__main__":
    main()
