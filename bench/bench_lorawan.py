"""Benchmark of LoRaWAN webhook ingest (The Things Stack v3 uplinks) into PostgreSQL.

Starts a real ``quartier serve`` on 127.0.0.1 with a fresh PostgreSQL database (or an
SQLite folder), registers ``--devices`` devices from one CSV (one API call, timed), and
then measures, with ``wrk`` (bench/wrk_lorawan.lua) and a fixed number of connections:

* ``uplink``: TTS uplinks to ``/api/lorawan/bench/uplink``, each new (own frame counter),
  each with two decoded fields (two Observations) and two gateways of radio metadata;
* ``POST obs`` (baseline, same run): one SensorThings Observation per request to
  ``Datastreams(id)/Observations`` of the same Datastreams: the platform's plainest
  write over HTTP.

It prints requests/s, latency percentiles and the server's resident memory (sampled each
second: first, highest, last), and checks afterwards that every acknowledged uplink is in
the database (two Observations each) and that there is no dead letter.

    .venv/bin/python bench/bench_lorawan.py --seconds 30
    .venv/bin/python bench/bench_lorawan.py --seconds 600 --baseline-seconds 30  # memory over 10 min

Needs ``wrk`` (Debian: ``apt-get install -y wrk``). Traffic goes to 127.0.0.1 only; the
server and the database are removed at the end, also after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from bench_sensorthings import (
    CpuMeter,
    Server,
    admin_key,
    auth_headers,
    free_port,
    postgres_pids,
    process_tree,
    say,
)

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk_lorawan.lua"
HOST = "127.0.0.1"
PAGE = os.sysconf("SC_PAGE_SIZE")


def call(base: str, method: str, path: str, body: Any = None, content_type: str = "application/json",
         headers: dict[str, str] | None = None) -> Any:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": content_type, **auth_headers(),
                                              **(headers or {})})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"null")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the workers), in MB."""
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{child}/statm") as handle:
                total += int(handle.read().split()[1])
        except OSError:
            continue
    return total * PAGE / 2**20


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            direct = [int(p) for p in handle.read().split()]
    except OSError:
        return []
    return direct + [g for c in direct for g in _children(c)]


class MemoryWatch:
    """Samples a process's resident memory once a second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(rss_mb(self.pid))
            except OSError:
                return
            self._stop.wait(1.0)

    def summary(self) -> str:
        if not self.samples:
            return "n/a"
        return (f"{self.samples[0]:.0f} → max {max(self.samples):.0f} → last "
                f"{self.samples[-1]:.0f} MB")


def wrk(base: str, args: list[str], seconds: int, connections: int, threads: int) -> dict[str, Any]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(LUA), base, "--", *args, str(threads)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120, check=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRK_RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
    result["rate"] = (result["requests"] - result["non2xx"]) / result["seconds"]
    return result


def profile() -> dict[str, Any]:
    unit_mm = {"name": "millimetre", "symbol": "mm", "definition": "http://qudt.org/vocab/unit/MilliM"}
    unit_v = {"name": "volt", "symbol": "V", "definition": "http://qudt.org/vocab/unit/V"}
    return {"name": "bench-gauge", "decoder": "dragino-ldds75", "fields": {
        "distance": {"observedProperty": {"name": "Distance", "definition": "urn:bench:distance"},
                     "unitOfMeasurement": unit_mm},
        "batteryVoltage": {"observedProperty": {"name": "Battery", "definition": "urn:bench:battery"},
                           "unitOfMeasurement": unit_v}}}


async def database_counts(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        return (int(await conn.fetchval("SELECT count(*) FROM observations")),
                int(await conn.fetchval("SELECT count(*) FROM dead_letters")))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of the uplink run")
    parser.add_argument("--baseline-seconds", type=int, default=None,
                        help="length of the baseline run (default: --seconds)")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write py-spy's collapsed stacks of the server's uplink run here")
    parser.add_argument("--pg", default=os.environ.get(
        "QUARTIER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="an administrator URL of the PostgreSQL server")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: scripts/setup.sh --bench (or apt-get install -y wrk)")

    name = f"quartier_bench_lorawan_{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="quartier-bench-lorawan-"))
    db_url = args.pg.rpartition("/")[0] + f"/{name}"
    port = free_port()
    base = f"http://{HOST}:{port}"
    server: subprocess.Popen[bytes] | None = None

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(args.pg)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        command = [sys.executable, "-m", "quartier", "serve", "--port", str(port), "--host", HOST,
                   "--data-dir", str(data_dir), "--log-level", "warning",
                   "--workers", str(args.workers), "--archive-after-days", "0"]
        if args.backend == "postgresql":
            asyncio.run(admin(f'CREATE DATABASE "{name}"'))
            command += ["--database", db_url]
        store_args = ["--data-dir", str(data_dir)]
        if args.backend == "postgresql":
            store_args += ["--database", db_url]
        Server.key = admin_key(store_args)  # the setup calls below need an admin
        say(f"starting quartier serve on {args.backend} (port {port}, {args.workers} worker(s))")
        server = subprocess.Popen(command, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                call(base, "GET", "/v1.1")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)

        call(base, "POST", "/api/device-profiles", profile())
        lines = ["devEui,name,profile,latitude,longitude"]
        lines += [f"70B3D57E{n:08X},Pegel {n},bench-gauge,{50.7 + n / 1e4:.4f},{7.1 + n / 1e4:.4f}"
                  for n in range(args.devices)]
        started = time.perf_counter()
        call(base, "POST", "/api/devices", "\n".join(lines).encode(), "text/csv")
        register_s = time.perf_counter() - started
        say(f"registered {args.devices} devices from one CSV in {register_s:.2f} s")
        secret = call(base, "POST", "/api/lorawan/integrations",
                      {"name": "bench", "network": "tts"})["secret"]
        devices = call(base, "GET", "/api/devices?limit=1000")["value"]
        streams = ",".join(str(d["datastreams"]["distance"]) for d in devices)

        say("warming up (3 s)")
        wrk(base, ["uplink", secret, str(args.devices), str(10**8)], 3, args.connections, args.threads)
        before = asyncio.run(database_counts(db_url)) if args.backend == "postgresql" else None
        pid = server.pid
        say(f"uplinks for {args.seconds} s, {args.connections} connections")
        spy = None
        if args.profile is not None:
            spy = subprocess.Popen(["py-spy", "record", "--format", "raw", "-o", str(args.profile),
                                    "--pid", str(pid), "-d", str(args.seconds), "-r", "200"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        groups = {"server": lambda: process_tree(pid)}
        if args.backend == "postgresql":
            groups["database"] = lambda: postgres_pids(name)
        with MemoryWatch(pid) as memory, CpuMeter(groups) as cpu:
            uplinks = wrk(base, ["uplink", secret, str(args.devices), "0"], args.seconds,
                          args.connections, args.threads)
        if spy is not None:
            spy.wait(60)
        say("baseline: one SensorThings Observation per POST")
        post = wrk(base, ["post", streams, Server.key, "0"], args.baseline_seconds or args.seconds,
                   args.connections, args.threads)

        print()
        print(f"{'run':<10} {'req/s':>9} {'Obs/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
              f"{'socket err':>10}")
        for label, result, per in (("uplink", uplinks, 2), ("POST obs", post, 1)):
            print(f"{label:<10} {result['rate']:>9,.0f} {result['rate'] * per:>9,.0f} "
                  f"{result['p50_us'] / 1000:>8.1f} {result['p99_us'] / 1000:>8.1f} "
                  f"{result['non2xx']:>8} {result['socket_errors']:>10}")
        print(f"\nuplinks / baseline POSTs: {uplinks['rate'] / post['rate']:.2f}")
        print(f"server RSS during the uplink run: {memory.summary()}")
        used = ", ".join(f"{group} {share:.0f} %" for group, share in cpu.result.items())
        print(f"CPU during the uplink run, in % of one core: {used}")
        work = cpu.result["server"] + cpu.result.get("database", 0.0)
        if uplinks["rate"]:
            print(f"CPU per uplink (server and database): {10 * work / uplinks['rate']:.3f} ms")
        print(f"registering {args.devices} devices (one CSV, one call): {register_s:.2f} s")
        if before is not None:
            after = asyncio.run(database_counts(db_url))
            stored = after[0] - before[0] - (post["requests"] - post["non2xx"])
            acknowledged = 2 * (uplinks["requests"] - uplinks["non2xx"])
            print(f"check: {stored:,} Observations stored by uplinks, {acknowledged:,} acknowledged "
                  f"(2 per 2xx; wrk counts requests cut off at the end as sent), "
                  f"{after[1]} dead letters")
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)
        if args.backend == "postgresql":
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
