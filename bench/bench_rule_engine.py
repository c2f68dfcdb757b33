"""Benchmark of the rules engine alone: 1,000 rules on a paced stream of committed
Observations (50,000 a second by default), as the store hands them over after commits.

The HTTP ingest and the engine share one process and, on a small machine, the cores; so
``bench_rules.py`` cannot offer the engine 50,000 Observations a second here. This script
offers them directly: it makes ``--datastreams`` Datastreams and one threshold rule each
through a real app on a fresh PostgreSQL database (or SQLite), then, in the app's own
process, hands the engine the change events of ``--rate`` Observations a second in batches
of 1,000 (as COPY-written CreateObservations produce them) for ``--seconds``, about 1 % of
the Datastreams crossing their threshold now and then. It reports whether the engine kept
up (events waiting at the end), the CPU the process used per 1,000 Observations, and the
time from handing over an Observation that crosses a threshold to its alert being stored
(p50/p95/p99; one clock).

    .venv/bin/python bench/bench_rule_engine.py --rate 50000 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from bench_sensorthings import admin_sql, machine_summary, percentiles_ms, say
from quartier.app import build_app
from quartier.model.changes import ChangeEvent
from quartier.rules.engine import RuleEngine
from quartier.settings import Settings

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH = 1_000
LIMIT = 100.0


def make_layout(client: TestClient, count: int) -> list[int]:
    ids = []
    for n in range(count):
        answer = client.post("/v1.1/Things", json={
            "name": f"station {n}", "description": "bench",
            "Datastreams": [{"name": f"level {n}", "description": "bench",
                             "observationType": "http://www.opengis.net/def/observationType/"
                                                "OGC-OM/2.0/OM_Measurement",
                             "unitOfMeasurement": {"name": "cm", "symbol": "cm", "definition": "cm"},
                             "Sensor": {"name": "s", "description": "s", "encodingType": "text/plain",
                                        "metadata": "s"},
                             "ObservedProperty": {"name": "level", "definition": "level",
                                                  "description": "level"}}]})
        assert answer.status_code == 201, answer.text
        thing = answer.headers["location"].rsplit("(", 1)[1].rstrip(")")
        ids.append(client.get(f"/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"])
        rule = client.post("/api/rules", json={"name": f"limit-{n}", "target": {"datastream": ids[-1]},
                                               "condition": {"type": "threshold", "above": LIMIT,
                                                             "hysteresis": 1}})
        assert rule.status_code == 201, rule.text
    return ids


async def stream(engine: RuleEngine, tenant: int, datastreams: list[int], rate: float,
                 seconds: float) -> tuple[int, dict[int, list[float]], float]:
    """Hand the engine ``rate`` events a second; (events, crossing handover times, CPU s)."""
    rng = random.Random(7)
    high: set[int] = set()
    crossings: dict[int, list[float]] = {}  # Datastream -> when its opening crossings went in
    sent = 0
    next_id = 10**12
    clock = time.time() - 300
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        events = []
        for _ in range(BATCH):
            ds = datastreams[rng.randrange(len(datastreams))]
            clock += 0.0002
            value = rng.uniform(20, 60)
            if rng.random() < 0.0005:
                value = LIMIT + 50
            next_id += 1
            when = (datetime.fromtimestamp(clock, UTC), None)
            events.append(ChangeEvent(tenant, "Observation", next_id, "create",
                                      facts=(ds, when, value)))
            if value > LIMIT and ds not in high:
                high.add(ds)
                crossings.setdefault(ds, []).append(time.time())
            elif value <= LIMIT - 1:
                high.discard(ds)
        engine._listen(events)  # as the store does after a commit
        sent += len(events)
        due = started + sent / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    while not engine.queue.empty():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    return sent, crossings, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--datastreams", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50_000)
    parser.add_argument("--seconds", type=float, default=20)
    opts = parser.parse_args()
    for line in machine_summary(ADMIN if opts.backend == "postgresql" else None):
        say(line)
    database = f"quartier_bench_engine_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        values: dict[str, object] = {"data_dir": folder, "archive_after_days": 0}
        if opts.backend == "postgresql":
            asyncio.run(admin_sql(ADMIN, f'CREATE DATABASE "{database}"'))
            values["database"] = f"postgresql://postgres@127.0.0.1:5432/{database}"
        try:
            app = build_app(Settings.validated(values))
            with TestClient(app) as client:
                datastreams = make_layout(client, opts.datastreams)
                engine: RuleEngine = app.state.rules
                assert client.portal is not None
                client.portal.call(engine.refresh)
                tenant = client.portal.call(app.state.store.tenant_id, "default")
                say(f"{len(datastreams)} Datastreams with a rule each; streaming {opts.rate:,.0f} "
                    f"Observations/s for {opts.seconds:.0f} s")
                sent, crossings, cpu = client.portal.call(
                    stream, engine, tenant, datastreams, opts.rate, opts.seconds)
                alerts = client.get("/api/alerts", params={"limit": "1000"}).json()["value"]
                waiting = engine.queue.qsize()
                missed = engine.missed
        finally:
            if opts.backend == "postgresql":
                asyncio.run(admin_sql(ADMIN, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    lags = []
    for alert in alerts:
        opened = datetime.fromisoformat(alert["openedAt"].replace("Z", "+00:00")).timestamp()
        handed = [t for t in crossings.get(alert["datastreamId"], []) if t <= opened + 0.01]
        if handed:
            lags.append(int(max(0.0, opened - max(handed)) * 1e9))
    p50, p95, p99 = percentiles_ms(lags) if lags else (0.0, 0.0, 0.0)
    say(f"handed over {sent:,} Observations ({sent / opts.seconds:,.0f}/s); evaluated "
        f"{engine.evaluated:,}; batches still waiting at the end: {waiting}; queue overflowed: "
        f"{missed}")
    say(f"CPU of the whole process (engine and stream maker): {cpu:.1f} s = "
        f"{cpu / sent * 1000 * 1000:.2f} ms per 1,000 Observations")
    say(f"alerts opened: {len(alerts)} for {sum(map(len, crossings.values()))} crossings; handover -> "
        f"alert stored: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms")


if __name__ == "__main__":
    main()
