"""Benchmark of the rules engine: ingest with 1,000 active rules, and how soon alerts open.

Starts a real ``quartier serve`` on 127.0.0.1 with a fresh PostgreSQL database (or SQLite
with ``--backend sqlite``), makes ``--datastreams`` Datastreams through the API and then:

1. ``baseline``: ``--seconds`` of ``CreateObservations`` (1,000 rows per request: 10
   Datastreams x 100 rows) from 8 connections, with no rule: Observations/s and CPU.
2. ``rules``: one threshold rule per Datastream (1,000 rules), then the same load again.
   Now and then a Datastream's last row in a request crosses its threshold (and its next
   request comes back below), so alerts open and resolve all the time. For each alert:
   the time from the answer to the request that carried the crossing (the commit came
   before it) to the alert's ``openedAt``; p50/p95/p99 of those. The expected number of
   alerts (counted by this script) is compared with the alerts the platform opened.

CPU of the server and the database per 1,000 Observations is printed for both phases.

    .venv/bin/python bench/bench_rules.py --seconds 30

Traffic goes to 127.0.0.1 only; the server and the database are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from bench_sensorthings import (
    CpuMeter,
    Server,
    auth_headers,
    create_datastreams,
    fresh_server,
    machine_summary,
    percentiles_ms,
    postgres_pids,
    say,
)

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
LIMIT = 100.0
CONNECTIONS = 8
PER_REQUEST = (10, 100)  # Datastreams x rows


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Load:
    """CreateObservations for ``seconds`` from several connections; crossings noted."""

    def __init__(self, base: str, datastreams: list[int], crossing: float, seed: int) -> None:
        self.base = base
        self.datastreams = datastreams
        self.crossing = crossing  # chance that a Datastream's block ends above the limit
        self.rng = random.Random(seed)
        self.high: set[int] = set()  # Datastreams whose last value was above
        self.expected: dict[int, list[float]] = {}  # Datastream -> answer times of openings
        self.rows = 0
        self.clock = time.time() - 600  # phenomenon times: recent, increasing

    def body(self) -> tuple[list[dict[str, Any]], list[int]]:
        streams = self.rng.sample(self.datastreams, PER_REQUEST[0])
        out, opened = [], []
        for ds in streams:
            rows = []
            for _ in range(PER_REQUEST[1]):
                self.clock += 0.001
                rows.append([iso(self.clock), round(self.rng.uniform(20, 60), 2)])
            if self.rng.random() < self.crossing:
                rows[-1][1] = LIMIT + 50
                if ds not in self.high:
                    opened.append(ds)
                self.high.add(ds)
            else:
                self.high.discard(ds)
            out.append({"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"],
                        "dataArray": rows})
        return out, opened

    async def run(self, seconds: float) -> float:
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(timeout=120, headers=auth_headers()) as client:

            async def worker() -> None:
                while time.monotonic() < deadline:
                    body, opened = self.body()
                    answer = await client.post(f"{self.base}/v1.1/CreateObservations", json=body)
                    if answer.status_code != 201:
                        raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
                    done = time.time()
                    for ds in opened:
                        self.expected.setdefault(ds, []).append(done)
                    self.rows += sum(len(b["dataArray"]) for b in body)

            started = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
            return time.monotonic() - started


async def make_rules(base: str, datastreams: list[int]) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60, headers=auth_headers()) as client:
        for ds in datastreams:
            answer = await client.post(f"{base}/api/rules", json={
                "name": f"limit-{ds}", "target": {"datastream": ds},
                "condition": {"type": "threshold", "above": LIMIT, "hysteresis": 1}})
            if answer.status_code != 201:
                raise RuntimeError(answer.text)
    return time.monotonic() - started


async def opened_alerts(base: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=120, headers=auth_headers()) as client:
        while True:
            page = (await client.get(f"{base}/api/alerts",
                                     params={"limit": "1000", "offset": str(len(out))})).json()
            out += page["value"]
            if len(out) >= page["total"] or not page["value"]:
                return out


def phase(name: str, server: Server, database_pids: Any, base: str, load: Load,
          seconds: float) -> dict[str, float]:
    groups = {"server": server.pids}
    if database_pids is not None:
        groups["database"] = database_pids
    with CpuMeter(groups) as meter:
        wall = asyncio.run(load.run(seconds))
    rate = load.rows / wall
    per_k = {k: meter.result.get(k, 0.0) / 100 * wall / load.rows * 1000 for k in groups}
    say(f"{name}: {load.rows:,} Observations in {wall:.1f} s = {rate:,.0f}/s; CPU server "
        f"{meter.result.get('server', 0):.0f} %"
        + (f", database {meter.result.get('database', 0):.0f} %" if database_pids else "")
        + "; CPU ms per 1,000 Observations: "
        + ", ".join(f"{k} {v * 1000:.1f}" for k, v in per_k.items()))
    return {"rate": rate, **{f"cpu_{k}": v for k, v in per_k.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--datastreams", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--crossing", type=float, default=0.01)
    opts = parser.parse_args()
    for line in machine_summary(ADMIN if opts.backend == "postgresql" else None):
        say(line)
    database_pids = None
    with (tempfile.TemporaryDirectory() as folder,
          fresh_server(opts.backend, folder, ADMIN, "quartier_bench_rules") as server):
        root = server.base.removesuffix("/v1.1")
        if server.database is not None:
            database = server.database
            database_pids = lambda: postgres_pids(database)  # noqa: E731
        datastreams = create_datastreams(server.base, opts.datastreams)
        say(f"{len(datastreams)} Datastreams made")
        phase("baseline, no rules", server, database_pids, root,
              Load(root, datastreams, opts.crossing, 1), opts.seconds)
        took = asyncio.run(make_rules(root, datastreams))
        say(f"{len(datastreams)} rules made in {took:.1f} s")
        load = Load(root, datastreams, opts.crossing, 2)
        phase(f"with {len(datastreams)} rules", server, database_pids, root, load, opts.seconds)
        time.sleep(5)  # let the engine finish what is in flight
        alerts = asyncio.run(opened_alerts(root))
    lags = []
    for alert in alerts:
        ds = alert["datastreamId"]
        opened = datetime.fromisoformat(alert["openedAt"].replace("Z", "+00:00")).timestamp()
        answers = [t for t in load.expected.get(ds, []) if t <= opened + 1.0]
        if answers:
            lags.append(int(max(0.0, opened - max(answers)) * 1e9))
    expected = sum(len(v) for v in load.expected.values())
    p50, p95, p99 = percentiles_ms(lags) if lags else (0.0, 0.0, 0.0)
    say(f"alerts: {len(alerts):,} opened, {expected:,} expected; answer -> alert opened: "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms (server clock, same machine)")


if __name__ == "__main__":
    main()
