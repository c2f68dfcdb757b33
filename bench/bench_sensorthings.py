"""Benchmark of the SensorThings write and read paths, on SQLite and PostgreSQL.

For each backend it starts a real ``quartier serve`` on 127.0.0.1 and measures:

* ``POST obs``: one Observation per HTTP request to ``Datastreams(id)/Observations``,
  from ``wrk`` (bench/wrk_sensorthings.lua) with a fixed number of open connections;
* ``GET latest``: ``Datastreams(id)/Observations?$orderby=phenomenonTime desc&$top=1``
  once the table holds ``--fill`` rows (written straight through the driver, copied from
  a row the server wrote itself, so they look exactly like the server's);
* both again for each ``--workers`` count (default 1 and 2);
* baselines with the database driver alone (asyncpg or sqlite3), same concurrency, one
  transaction per Observation: ``driver INSERT`` (BEGIN, INSERT, COMMIT), ``driver
  lean-SQL`` (plus an atomic UPDATE of the Datastream's phenomenonTime) and ``driver
  server-SQL`` (the statements the server sends for one POST, without HTTP).

Every run is bounded by ``--seconds``; servers, the PostgreSQL database and the SQLite
folder are removed at the end, also after an error, Ctrl-C or SIGTERM. Needs ``wrk`` on
PATH (Debian: ``apt-get install -y wrk``); ``--profile DIR`` also needs ``py-spy``.

    .venv/bin/python bench/bench_sensorthings.py --backend both --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import importlib.util
import itertools
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

HERE = Path(__file__).resolve().parent
LUA_SCRIPT = HERE / "wrk_sensorthings.lua"
HOST = "127.0.0.1"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TICKS = os.sysconf("SC_CLK_TCK")

# Times of the data: the HTTP warm-up Observations at T0, the driver fill after it (one
# row a minute per Datastream), wrk's POSTs later still, and the driver baselines last, so
# every new Observation moves its Datastream's phenomenonTime forward, as a live sensor does.
T0 = datetime(2024, 1, 1, tzinfo=UTC)
FILL_STEP = timedelta(minutes=1)
HTTP_POST_START = T0 + timedelta(days=800)
DRIVER_START = T0 + timedelta(days=1600)
SQLITE_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # how the server stores times in SQLite

MAX_OPS = 50_000_000  # a hard bound on every driver loop, besides its deadline


# -- results -------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    workers: str
    test: str
    concurrency: int
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core
    note: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def print_table(results: list[Result]) -> None:
    head = ["backend", "workers", "test", "conc", "req/s", "p50 ms", "p95 ms", "p99 ms",
            "errors", "CPU server", "CPU db", "CPU client", "CPU other", "steal", "note"]
    rows = [head]
    for r in results:
        rows.append([
            r.backend, r.workers, r.test, str(r.concurrency), f"{r.rate:,.0f}",
            f"{r.p50_ms:.2f}", f"{r.p95_ms:.2f}", f"{r.p99_ms:.2f}", str(r.errors),
            _pct(r.cpu.get("server")), _pct(r.cpu.get("db")), _pct(r.cpu.get("client")),
            _pct(r.cpu.get("other")), _pct(r.cpu.get("steal")), r.note,
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    numeric = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}

    def line(row: list[str]) -> str:
        cells = [c.rjust(w) if i in numeric else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "| " + " | ".join(cells) + " |"

    print(line(rows[0]))
    print("|" + "|".join(("-" * (w + 1) + ":") if i in numeric else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|")
    for row in rows[1:]:
        print(line(row))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def percentiles_ms(latencies_ns: list[int]) -> tuple[float, float, float]:
    if len(latencies_ns) < 2:
        only = latencies_ns[0] / 1e6 if latencies_ns else 0.0
        return only, only, only
    cuts = statistics.quantiles(latencies_ns, n=100, method="inclusive")
    return cuts[49] / 1e6, cuts[94] / 1e6, cuts[98] / 1e6


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- CPU accounting from /proc ----------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime+stime ticks) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for pid in _all_pids():
        stat = _proc_stat(pid)
        if stat is not None:
            children[stat[0]].append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


_PG_HELPERS = ("checkpointer", "background writer", "walwriter", "autovacuum",
               "logical replication", "bin/postgres")


def postgres_pids(database: str) -> list[int]:
    """The PostgreSQL processes serving ``database``, and the shared helper processes
    (WAL writer, checkpointer, ...); backends of other databases are left out."""
    pids = []
    for pid in _all_pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                continue
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f" {database} " in title or any(h in title for h in _PG_HELPERS):
            pids.append(pid)
    return pids


def machine_busy() -> tuple[float, float]:
    """Seconds of CPU used by everything on this machine so far (all cores), and seconds
    the hypervisor kept its cores from running although they had work (steal)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) / TICKS, steal / TICKS


def wait_for_quiet(limit: float, threshold: float = 30.0) -> float:
    """Wait (at most ``limit`` s) until the machine is nearly idle; return its last load
    in % of one core. Other programs on the machine would skew every figure."""
    deadline = time.monotonic() + limit
    told = 0.0
    while True:
        before, start = machine_busy()[0], time.perf_counter()
        time.sleep(1.0)
        load = 100.0 * (machine_busy()[0] - before) / (time.perf_counter() - start)
        if load < threshold or time.monotonic() >= deadline:
            if load >= threshold:
                say(f"the machine is still busy ({load:.0f}% of a core): measuring anyway")
            return load
        if time.monotonic() - told >= 10:
            say(f"waiting for the machine to calm down ({load:.0f}% of a core busy)")
            told = time.monotonic()


class CpuMeter:
    """CPU used by groups of processes over a block, in % of one core.

    The group "client" is this process plus the children it waited for (wrk) in the block;
    "other" is what the rest of the machine used meanwhile, and "steal" the time the
    hypervisor gave the machine's cores to someone else although they had work.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.result: dict[str, float] = {}
        self.seconds = 0.0  # how long the block took
        self._seen: dict[str, dict[int, int]] = {}

    def _ticks(self) -> dict[str, dict[int, int]]:
        out = {}
        for name, pids in self.groups.items():
            ticks = {}
            for pid in pids():
                stat = _proc_stat(pid)
                if stat is not None:
                    ticks[pid] = stat[1]
            out[name] = ticks
        return out

    @staticmethod
    def _own() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def sample(self) -> None:
        """Note the groups' CPU now, so that a process that ends before the block does
        (a database backend of a short-lived client) still counts up to this sample."""
        for name, ticks in self._ticks().items():
            seen = self._seen.setdefault(name, {})
            for pid, t in ticks.items():
                seen[pid] = max(seen.get(pid, 0), t)

    def __enter__(self) -> CpuMeter:
        self._seen = {}
        self._start = self._ticks()
        self._own_start = self._own()
        self._machine = machine_busy()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = self.seconds = time.perf_counter() - self._wall
        end = self._ticks()
        for name, seen in self._seen.items():
            end[name] = {**seen, **end[name]}
        for name, ticks in end.items():
            before = self._start[name]
            used = sum(t - before.get(pid, 0) for pid, t in ticks.items()) / TICKS
            self.result[name] = 100.0 * used / wall
        self.result["client"] = 100.0 * (self._own() - self._own_start) / wall
        busy, steal = machine_busy()
        everything = 100.0 * (busy - self._machine[0]) / wall
        self.result["other"] = max(0.0, everything - sum(self.result.values()))
        self.result["steal"] = 100.0 * (steal - self._machine[1]) / wall


# -- the server ----------------------------------------------------------------------


async def admin_sql(admin_url: str, sql: str) -> None:
    """One statement as the database administrator (CREATE or DROP DATABASE)."""
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_server(backend: str, folder: str, admin_url: str, prefix: str) -> Iterator[Server]:
    """A ``quartier serve`` (one worker) on a fresh store: an SQLite file in ``folder``, or a
    new PostgreSQL database named after ``prefix``, dropped afterwards."""
    database = f"{prefix}_{uuid.uuid4().hex[:8]}"
    store = ["--data-dir", folder]
    if backend == "postgresql":
        asyncio.run(admin_sql(admin_url, f'CREATE DATABASE "{database}"'))
        head, _, _ = admin_url.rpartition("/")
        store += ["--database", f"{head}/{database}", "--archive-after-days", "0"]
    server = Server(store, 1, Path(folder) / "server.log")
    server.database = database if backend == "postgresql" else None
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
        if backend == "postgresql":
            asyncio.run(admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``quartier serve`` in its own process group, on a free loopback port."""

    # the source tree the server runs from (--src), or None for the installed quartier
    source: Path | None = None
    # where the server writes a cProfile of its run (one worker), or None
    profile: Path | None = None

    # the admin key of the server started last, which ``http_json`` sends
    key: str = ""

    def __init__(self, store_args: list[str], workers: int, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}/v1.1"
        self.database: str | None = None  # the PostgreSQL database's name, when known
        self.workers = workers
        self.log_path = log_path
        self.key = Server.key = admin_key(store_args)
        command, env = Server.quartier_command(
            "serve", "--host", HOST, "--port", str(self.port), "--workers", str(workers),
            "--log-level", "warning", *store_args)
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)

    @staticmethod
    def quartier_command(*args: str) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that run ``quartier *args`` as the servers
        run: with this Python, from ``Server.source`` when given."""
        env = dict(os.environ)
        if Server.source is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(Server.source), env.get("PYTHONPATH", "")) if p
            )
        if Server.profile is not None:
            # The profile counts CPU time (process_time): a coroutine waiting costs nothing.
            # Not ``-m cProfile``: click ends with SystemExit and uvicorn raises SIGTERM
            # again after its shutdown, both past cProfile's own dump.
            code = ("import cProfile, signal, sys, time\nfrom quartier.cli import main\n"
                    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
                    "p = cProfile.Profile(time.process_time)\np.enable()\ntry:\n    main(sys.argv[1:])\n"
                    f"finally:\n    p.disable()\n    p.dump_stats({str(Server.profile)!r})\n")
            return [sys.executable, "-c", code, *args], env
        return [sys.executable, "-m", "quartier", *args], env

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        good = 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped: {self.log_tail()}")
            try:
                status, _, _ = http_json("GET", self.base)
                good = good + 1 if status == 200 else 0
            except OSError:
                good = 0
            if good >= 2 * self.workers:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-15:])

    def pids(self) -> list[int]:
        return process_tree(self.proc.pid) if self.proc.poll() is None else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # workers of a uvicorn supervisor share its process group; none may outlive it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


def admin_key(store_args: list[str]) -> str:
    """An admin API key of the default tenant in the store ``store_args`` name (made with
    ``quartier key create``, which also prepares the store): writes need a key."""
    _, env = Server.quartier_command()  # the same source tree as the servers, not profiled
    made = subprocess.run(
        [sys.executable, "-m", "quartier", "key", "create", "--role", "admin", "--name",
         "benchmark", *store_args], env=env, capture_output=True, text=True, check=False)
    if made.returncode != 0:
        raise RuntimeError(f"quartier key create failed: {made.stderr.strip()[-500:]}")
    return made.stdout.split()[0]


def auth_headers() -> dict[str, str]:
    """The header that carries the benchmark's admin key."""
    return {"X-API-Key": Server.key} if Server.key else {}


def http_json(method: str, url: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=auth_headers())
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None, dict(exc.headers)


def create_datastreams(base: str, count: int) -> list[int]:
    """``count`` Things, each with a Location and one Datastream; the Datastream ids."""
    ids = []
    for n in range(count):
        thing = {
            "name": f"bench station {n}",
            "description": "weather station made by the benchmark",
            "Locations": [{
                "name": f"site {n}", "description": "where the station stands",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [9.9 + n / 100, 53.5 + n / 100]},
            }],
            "Datastreams": [{
                "name": f"air temperature {n}", "description": "2 m above ground",
                "observationType":
                    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {
                    "name": "degree Celsius", "symbol": "degC",
                    "definition": "http://unitsofmeasure.org/ucum.html#para-30",
                },
                "Sensor": {"name": f"thermometer {n}", "description": "PT100",
                           "encodingType": "application/pdf", "metadata": "pt100.pdf"},
                "ObservedProperty": {"name": "air temperature",
                                     "definition": "http://vocab.nerc.ac.uk/P07/CFSN0023/",
                                     "description": "temperature of the air"},
            }],
        }
        status, created, _ = http_json("POST", f"{base}/Things", thing)
        if status != 201:
            raise RuntimeError(f"creating a Thing gave {status}: {created}")
        status, found, _ = http_json(
            "GET", f"{base}/Things({created['@iot.id']})/Datastreams?$select=id"
        )
        ids.append(int(found["value"][0]["@iot.id"]))
    return ids


def post_observation(base: str, datastream: int, when: datetime, result: float) -> int:
    body = {"result": result, "phenomenonTime": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
    status, created, _ = http_json("POST", f"{base}/Datastreams({datastream})/Observations", body)
    if status != 201:
        raise RuntimeError(f"posting an Observation gave {status}: {created}")
    return int(created["@iot.id"])


def latest_time(base: str, datastream: int) -> str:
    query = urllib.parse.quote("phenomenonTime desc")
    status, page, _ = http_json(
        "GET", f"{base}/Datastreams({datastream})/Observations?$orderby={query}&$top=1"
    )
    if status != 200 or not page["value"]:
        raise RuntimeError(f"reading the latest Observation gave {status}: {page}")
    return str(page["value"][0]["phenomenonTime"])


# -- wrk ---------------------------------------------------------------------------------


@dataclass
class WrkRun:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


def run_wrk(base: str, mode: str, datastreams: list[int], connections: int, seconds: int,
            first_ms: int = 0) -> WrkRun:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: scripts/setup.sh --bench (or apt-get install -y wrk)")
    root = base.rsplit("/v1.1", 1)[0]
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(LUA_SCRIPT), root, "--", mode, ",".join(map(str, datastreams)),
               str(first_ms), "1", Server.key]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    data = json.loads(line.split(" ", 1)[1])
    errors = sum(v for k, v in data.items() if k.startswith("errors_"))
    return WrkRun(data["requests"], data["duration_us"] / 1e6, errors,
                  data["p50_us"] / 1e3, data["p95_us"] / 1e3, data["p99_us"] / 1e3)


# -- profiling ---------------------------------------------------------------------------


class Profiler:
    """py-spy on the server's processes for one measurement, as collapsed stacks."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self.exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            if not Path(self.exe).exists():
                raise RuntimeError("--profile needs py-spy (pip install py-spy)")

    @contextlib.contextmanager
    def record(self, server: Server, name: str, seconds: int) -> Iterator[None]:
        if self.folder is None:
            yield
            return
        out = self.folder / f"{name}.txt"
        proc = subprocess.Popen(
            [self.exe, "record", "--pid", str(server.proc.pid), "--subprocesses",
             "--rate", "250", "--duration", str(seconds), "--format", "raw",
             "--nonblocking", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            try:
                proc.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if out.exists():
            summary = summarize_profile(out)
            (self.folder / f"{name}-summary.txt").write_text(summary)
            say(f"profile {name}: {out}\n{summary}")


def summarize_profile(path: Path, top: int = 25) -> str:
    """Share of samples per function: on the stack (inclusive) and on top (self)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")]
        frames = [f for f in frames if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return "no samples\n"
    out = [f"{total} samples", "", "self %  function"]
    out += [f"{100 * n / total:6.1f}  {name}" for name, n in own.most_common(top)]
    out += ["", "incl %  function"]
    out += [f"{100 * n / total:6.1f}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out) + "\n"


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    frame = frame.strip()
    if frame.startswith(("process ", "thread ")):
        return ""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    if "/src/" in where:
        where = where.split("/src/", 1)[1]
    return f"{name} ({where})" if where else name


# -- backends --------------------------------------------------------------------------


def fill_times(count: int) -> list[datetime]:
    return [T0 + FILL_STEP * (i + 1) for i in range(count)]


class Backend:
    """A fresh database, the rows of the fill, and the driver baselines."""

    name = ""

    def store_args(self) -> list[str]:
        raise NotImplementedError

    def create(self) -> None:
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError

    def count_observations(self) -> int:
        raise NotImplementedError

    def fill(self, datastreams: list[int], per_datastream: int) -> None:
        raise NotImplementedError

    def driver_run(self, datastreams: list[int], concurrency: int, seconds: int,
                   mode: str, meter: CpuMeter) -> tuple[int, float, list[int]]:
        """(operations, seconds, latencies in ns) of a driver baseline (a key of
        DRIVER_TESTS); ``meter`` is entered for the timed part only."""
        raise NotImplementedError

    def db_pids(self) -> list[int]:
        return []

    def stale_datastreams(self) -> int:
        """How many Datastreams' phenomenonTime ends before their newest Observation."""
        raise NotImplementedError


def _results(rng: random.Random, count: int) -> list[float]:
    return [round(rng.uniform(-5.0, 30.0), 2) for _ in range(count)]


# SQL the server sends for one POST of an Observation, as PostgreSQL logged it for commit
# 133b8e8: the path check on a pooled connection, then in one transaction the Datastream's
# state with its Thing's Location, the INSERT returning the new row, and the UPDATE of
# the Datastream's phenomenonTime and observedArea (computed in Python). The pool also
# sends a reset query after each use of a connection, which the driver runs leave out.
RESOLVE_SQL = "SELECT t.id FROM datastreams t WHERE t.tenant_id = ? AND t.id = ? ORDER BY t.id LIMIT 1"
STATE_SQL = (
    "SELECT d.thing_id, d.phenomenon_time_start, d.phenomenon_time_end,"
    " d.result_time_start, d.result_time_end, d.observed_area,"
    " l.id, l.location, l.generated_feature_id FROM datastreams d"
    " LEFT JOIN locations l ON l.id = ("
    "  SELECT min(tl.location_id) FROM things_locations tl WHERE tl.thing_id = d.thing_id)"
    " WHERE d.id = ? AND d.tenant_id = ?"
)
INSERT_SQL = (
    "INSERT INTO observations (tenant_id, phenomenon_time_start, phenomenon_time_end,"
    " result_type, result_number, result_string, result_json, result_time, datastream_id,"
    " feature_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
INSERT_ROW_SQL = INSERT_SQL.replace(
    "RETURNING id",
    "RETURNING id, phenomenon_time_start, phenomenon_time_end, result_type, result_number,"
    " result_string, result_json, result_time, result_quality, valid_time_start,"
    " valid_time_end, parameters, datastream_id, feature_id",
)
UPDATE_SQL = (
    "UPDATE datastreams SET phenomenon_time_start = ?, phenomenon_time_end = ?,"
    " result_time_start = ?, result_time_end = ?, observed_area = ?{geom} WHERE id = ?"
)
RESULT_FLOAT = 2  # result_type of a float result (quartier.model.values)

# A leaner write, for comparison: no separate path check or state read (the foreign key
# checks the Datastream, its FeatureOfInterest is cached), and the phenomenonTime widened
# by one atomic UPDATE instead of read, computed in Python and written back.
LEAN_UPDATE_SQL = (
    "UPDATE datastreams SET phenomenon_time_start = CASE WHEN phenomenon_time_start IS NULL"
    " OR phenomenon_time_start > ? THEN ? ELSE phenomenon_time_start END,"
    " phenomenon_time_end = CASE WHEN phenomenon_time_end IS NULL"
    " OR phenomenon_time_end < ? THEN ? ELSE phenomenon_time_end END"
    " WHERE id = ? AND (phenomenon_time_start IS NULL OR phenomenon_time_end IS NULL"
    " OR phenomenon_time_start > ? OR phenomenon_time_end < ?)"
)
# driver baselines: name, what is sent per Observation
DRIVER_TESTS = {
    "insert": ("driver INSERT", "BEGIN, INSERT, COMMIT"),
    "lean": ("driver lean-SQL", "BEGIN, INSERT RETURNING row, atomic UPDATE, COMMIT"),
    "server": ("driver server-SQL", "the server's 6 statements (133b8e8), no HTTP"),
}
DRIVER_OFFSET = {"insert": timedelta(0), "lean": timedelta(days=100),
                 "server": timedelta(days=200)}
# Datastreams whose derived phenomenonTime ends before their newest Observation: a lost
# update between concurrent POSTs (times are comparable text in SQLite, timestamptz in PG)
STALE_SQL = (
    "SELECT count(*) FROM datastreams d WHERE d.phenomenon_time_end < ("
    " SELECT max(coalesce(o.phenomenon_time_end, o.phenomenon_time_start))"
    " FROM observations o WHERE o.datastream_id = d.id)"
)


def _numbered(sql: str) -> str:
    counter = itertools.count(1)
    return "".join(f"${next(counter)}" if ch == "?" else ch for ch in sql)


class Clock:
    """Unique, increasing phenomenonTimes and a round-robin Datastream for each operation."""

    def __init__(self, datastreams: list[int], start: datetime) -> None:
        self.datastreams = datastreams
        self.start = start
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def next(self) -> tuple[int, datetime]:
        with self._lock:
            n = next(self._counter)
        return self.datastreams[n % len(self.datastreams)], self.start + timedelta(milliseconds=n)


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.folder = workdir / "sqlite-data"
        self.path = self.folder / "quartier.sqlite3"

    def store_args(self) -> list[str]:
        return ["--data-dir", str(self.folder)]

    def create(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def drop(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _connect(self) -> sqlite3.Connection:
        # the server's own settings (quartier.store.sqlite)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def count_observations(self) -> int:
        conn = self._connect()
        try:
            return int(conn.execute("SELECT count(*) FROM observations").fetchone()[0])
        finally:
            conn.close()

    def stale_datastreams(self) -> int:
        conn = self._connect()
        try:
            return int(conn.execute(STALE_SQL).fetchone()[0])
        finally:
            conn.close()

    def fill(self, datastreams: list[int], per_datastream: int) -> None:
        rng = random.Random(1)
        times = [t.strftime(SQLITE_TIME) for t in fill_times(per_datastream)]
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for ds in datastreams:
                cursor = conn.execute(
                    "SELECT * FROM observations WHERE datastream_id = ? ORDER BY id LIMIT 1",
                    (ds,),
                )
                names = [d[0] for d in cursor.description]
                template = dict(zip(names, cursor.fetchone(), strict=True))
                _check_template(template)
                columns = [n for n in names if n != "id"]
                rows = []
                for when, value in zip(times, _results(rng, per_datastream), strict=True):
                    row = {**template, "phenomenon_time_start": when, "result_number": value}
                    rows.append([row[c] for c in columns])
                marks = ", ".join("?" for _ in columns)
                conn.executemany(
                    f"INSERT INTO observations ({', '.join(columns)}) VALUES ({marks})", rows
                )
                # the Datastream's phenomenonTime now reaches the last row, as if posted
                conn.execute("UPDATE datastreams SET phenomenon_time_end = ? WHERE id = ?",
                             (times[-1], ds))
            conn.execute("COMMIT")
        finally:
            conn.close()

    def driver_run(self, datastreams: list[int], concurrency: int, seconds: int,
                   mode: str, meter: CpuMeter) -> tuple[int, float, list[int]]:
        writer = self._connect()
        write_lock = threading.Lock()  # one writer connection, as in the server
        feature = dict(writer.execute(
            "SELECT datastream_id, min(feature_id) FROM observations GROUP BY datastream_id"
        ).fetchall())
        clock = Clock(datastreams, DRIVER_START + DRIVER_OFFSET[mode])
        deadline = time.monotonic() + seconds
        latencies: list[list[int]] = [[] for _ in range(concurrency)]
        failures: list[BaseException] = []
        update_sql = UPDATE_SQL.format(geom="")
        server_sql = mode == "server"

        def write(ds: int, stamp: str) -> int:
            """The write transaction; the caller holds the write lock."""
            if mode == "insert":
                return int(writer.execute(INSERT_SQL, (
                    1, stamp, None, RESULT_FLOAT, 20.5, None, None, None, ds, feature[ds],
                )).fetchone()[0])
            if mode == "lean":
                row = writer.execute(INSERT_ROW_SQL, (
                    1, stamp, None, RESULT_FLOAT, 20.5, None, None, None, ds, feature[ds],
                )).fetchone()
                writer.execute(LEAN_UPDATE_SQL, (*(stamp,) * 4, ds, stamp, stamp))
                return int(row[0])
            state = writer.execute(STATE_SQL, (ds, 1)).fetchone()
            row = writer.execute(INSERT_ROW_SQL, (
                1, stamp, None, RESULT_FLOAT, 20.5, None, None, None, ds, state[8],
            )).fetchone()
            writer.execute(update_sql, (state[1], stamp, None, None, state[5], ds))
            return int(row[0])

        def client(index: int) -> None:
            reader = self._connect() if server_sql else None
            own = latencies[index]
            try:
                for _ in range(MAX_OPS):
                    if time.monotonic() >= deadline:
                        break
                    ds, when = clock.next()
                    stamp = when.strftime(SQLITE_TIME)
                    started = time.perf_counter_ns()
                    if reader is not None:
                        reader.execute(RESOLVE_SQL, (1, ds)).fetchone()
                    with write_lock:
                        writer.execute("BEGIN IMMEDIATE")
                        try:
                            write(ds, stamp)
                        except BaseException:
                            writer.execute("ROLLBACK")
                            raise
                        writer.execute("COMMIT")
                    own.append(time.perf_counter_ns() - started)
            except BaseException as exc:
                failures.append(exc)
            finally:
                if reader is not None:
                    reader.close()

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(concurrency)]
        with meter:
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=seconds + 60)
            elapsed = time.perf_counter() - started
        writer.close()
        if failures:
            raise RuntimeError(f"sqlite driver baseline failed: {failures[0]!r}")
        merged = [x for own in latencies for x in own]
        return len(merged), elapsed, merged


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.database = f"quartier_bench_{secrets.token_hex(4)}"
        head, _, _ = admin_url.rpartition("/")
        self.url = f"{head}/{self.database}"
        self._created = False

    def store_args(self) -> list[str]:
        # The archive job would move this benchmark's old rows while it runs.
        return ["--database", self.url, "--archive-after-days", "0"]

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create(self) -> None:
        asyncio.run(self._admin(f'CREATE DATABASE "{self.database}"'))
        self._created = True

    def drop(self) -> None:
        if self._created:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
            self._created = False

    def db_pids(self) -> list[int]:
        return postgres_pids(self.database)

    def count_observations(self) -> int:
        async def run() -> int:
            conn = await asyncpg.connect(self.url)
            try:
                return int(await conn.fetchval("SELECT count(*) FROM observations"))
            finally:
                await conn.close()

        return asyncio.run(run())

    def stale_datastreams(self) -> int:
        async def run() -> int:
            conn = await asyncpg.connect(self.url)
            try:
                return int(await conn.fetchval(STALE_SQL))
            finally:
                await conn.close()

        return asyncio.run(run())

    def fill(self, datastreams: list[int], per_datastream: int) -> None:
        asyncio.run(self._fill(datastreams, per_datastream))

    async def _fill(self, datastreams: list[int], per_datastream: int) -> None:
        rng = random.Random(1)
        times = fill_times(per_datastream)
        conn = await asyncpg.connect(self.url)
        try:
            async with conn.transaction():
                for ds in datastreams:
                    record = await conn.fetchrow(
                        "SELECT * FROM observations WHERE datastream_id = $1 ORDER BY id LIMIT 1",
                        ds,
                    )
                    template = dict(record.items())
                    _check_template(template)
                    columns = [n for n in template if n != "id"]
                    rows = []
                    for when, value in zip(times, _results(rng, per_datastream), strict=True):
                        row = {**template, "phenomenon_time_start": when, "result_number": value}
                        rows.append(tuple(row[c] for c in columns))
                    await conn.copy_records_to_table("observations", records=rows,
                                                      columns=columns)
                    await conn.execute(
                        "UPDATE datastreams SET phenomenon_time_end = $1 WHERE id = $2",
                        times[-1], ds,
                    )
            await conn.execute("ANALYZE observations")
        finally:
            await conn.close()

    def driver_run(self, datastreams: list[int], concurrency: int, seconds: int,
                   mode: str, meter: CpuMeter) -> tuple[int, float, list[int]]:
        return asyncio.run(self._driver_run(datastreams, concurrency, seconds, mode, meter))

    async def _driver_run(self, datastreams: list[int], concurrency: int, seconds: int,
                          mode: str, meter: CpuMeter) -> tuple[int, float, list[int]]:
        server_sql = mode == "server"
        connections = [await asyncpg.connect(self.url) for _ in range(concurrency)]
        readers = ([await asyncpg.connect(self.url) for _ in range(concurrency)]
                   if server_sql else [])
        try:
            feature = dict(await connections[0].fetch(
                "SELECT datastream_id, min(feature_id) FROM observations GROUP BY datastream_id"
            ))
            clock = Clock(datastreams, DRIVER_START + DRIVER_OFFSET[mode])
            deadline = time.monotonic() + seconds
            latencies: list[list[int]] = [[] for _ in range(concurrency)]
            update_sql = _numbered(UPDATE_SQL.format(
                geom=", observed_area_geom = ST_SetSRID(ST_GeomFromGeoJSON(?), 4326)"
            ))
            resolve, state_sql, insert, insert_row, lean_update = map(_numbered, (
                RESOLVE_SQL, STATE_SQL, INSERT_SQL, INSERT_ROW_SQL, LEAN_UPDATE_SQL))

            async def write(conn: asyncpg.Connection, ds: int, when: datetime) -> int:
                if mode == "insert":
                    return int(await conn.fetchval(
                        insert, 1, when, None, RESULT_FLOAT, 20.5, None, None, None, ds,
                        feature[ds],
                    ))
                if mode == "lean":
                    row = await conn.fetchrow(
                        insert_row, 1, when, None, RESULT_FLOAT, 20.5, None, None, None, ds,
                        feature[ds],
                    )
                    await conn.execute(lean_update, *(when,) * 4, ds, when, when)
                    return int(row[0])
                state = await conn.fetchrow(state_sql, ds, 1)
                row = await conn.fetchrow(
                    insert_row, 1, when, None, RESULT_FLOAT, 20.5, None, None, None, ds,
                    state[8],
                )
                area = state[5]
                await conn.execute(update_sql, state[1], when, None, None, area, area, ds)
                return int(row[0])

            async def client(index: int) -> None:
                conn = connections[index]
                reader = readers[index] if server_sql else None
                own = latencies[index]
                for _ in range(MAX_OPS):
                    if time.monotonic() >= deadline:
                        break
                    ds, when = clock.next()
                    started = time.perf_counter_ns()
                    if reader is not None:
                        await reader.fetchval(resolve, 1, ds)
                    async with conn.transaction():
                        await write(conn, ds, when)
                    own.append(time.perf_counter_ns() - started)

            with meter:
                started = time.perf_counter()
                await asyncio.wait_for(
                    asyncio.gather(*(client(i) for i in range(concurrency))),
                    timeout=seconds + 60,
                )
                elapsed = time.perf_counter() - started
        finally:
            for conn in (*connections, *readers):
                await conn.close()
        merged = [x for own in latencies for x in own]
        return len(merged), elapsed, merged


def _check_template(row: dict[str, Any]) -> None:
    """The fill copies a server-written row; it must be the kind this benchmark posts."""
    if row["result_type"] != RESULT_FLOAT or row["result_number"] is None:
        raise RuntimeError(f"unexpected template Observation: {row}")


# -- the run -------------------------------------------------------------------------


@dataclass
class Options:
    seconds: int
    warmup: int
    connections: int
    read_connections: list[int]
    workers: list[int]
    datastreams: int
    fill: int
    profile: Path | None
    quiet_wait: int
    tests: set[str]
    repeat: int
    log_dir: Path | None


def least_disturbed(repeat: int, measure: Callable[[], Result]) -> Result:
    """Run a measurement ``repeat`` times; keep the one the rest of the machine disturbed
    least (lowest CPU of other processes plus steal), noting how many were run."""
    runs = [measure() for _ in range(repeat)]
    best = min(runs, key=lambda r: r.cpu.get("other", 0.0) + r.cpu.get("steal", 0.0))
    if repeat > 1:
        rates = ", ".join(f"{r.rate:,.0f}" for r in runs)
        best.note += f"; least disturbed of {repeat} runs ({rates} req/s)"
    return best


@dataclass
class Round:
    """One running server and what its measurements need."""

    backend: Backend
    server: Server
    datastreams: list[int]
    opts: Options
    profiler: Profiler
    index: int

    @property
    def label(self) -> str:
        return str(self.server.workers)

    def groups(self) -> dict[str, Callable[[], list[int]]]:
        groups: dict[str, Callable[[], list[int]]] = {"server": self.server.pids}
        if self.backend.name == "postgresql":
            groups["db"] = self.backend.db_pids
        return groups

    def post(self) -> Result:
        """POST one Observation per request."""
        opts, backend, server = self.opts, self.backend, self.server
        first = HTTP_POST_START + timedelta(days=10 * self.index)
        first_ms = int(first.timestamp() * 1000)
        wait_for_quiet(opts.quiet_wait)
        if opts.warmup:
            run_wrk(server.base, "post", self.datastreams, opts.connections, opts.warmup,
                    first_ms)
            first_ms += 10_000_000  # past every warm-up time
        before = backend.count_observations()
        say(f"{backend.name} w{self.label}: POST Observations, {opts.connections} connections")
        name = f"{backend.name}-w{self.label}-post"
        with self.profiler.record(server, name, opts.seconds), \
                CpuMeter(self.groups()) as meter:
            run = run_wrk(server.base, "post", self.datastreams, opts.connections,
                          opts.seconds, first_ms)
        time.sleep(0.5)  # let the requests in flight at wrk's end finish
        added = backend.count_observations() - before
        note = f"{added:,} rows added"
        if opts.profile:
            note += " (profiled)"
        if added < run.requests - run.errors:
            note += " (fewer rows than 2xx answers!)"
        stale = backend.stale_datastreams()
        if stale:
            note += f"; {stale} Datastream(s) with a stale phenomenonTime"
        return Result(backend.name, self.label, "POST obs (HTTP)", opts.connections,
                      run.requests, run.seconds, run.p50_ms, run.p95_ms, run.p99_ms,
                      run.errors, meter.result, note)

    def latest(self, connections: int) -> Result:
        """GET the latest Observation of a Datastream (round-robin over them)."""
        opts, backend, server = self.opts, self.backend, self.server
        wait_for_quiet(opts.quiet_wait)
        if opts.warmup:
            run_wrk(server.base, "latest", self.datastreams, connections, opts.warmup)
        say(f"{backend.name} w{self.label}: GET latest, {connections} connection(s)")
        name = f"{backend.name}-w{self.label}-latest-c{connections}"
        recording = connections == max(opts.read_connections)
        profile = self.profiler.record(server, name, opts.seconds) if recording \
            else contextlib.nullcontext()
        with profile, CpuMeter(self.groups()) as meter:
            run = run_wrk(server.base, "latest", self.datastreams, connections, opts.seconds)
        note = f"{backend.count_observations():,} rows in table"
        if opts.profile and recording:
            note += " (profiled)"
        return Result(backend.name, self.label, "GET latest (HTTP)", connections,
                      run.requests, run.seconds, run.p50_ms, run.p95_ms, run.p99_ms,
                      run.errors, meter.result, note)


def prepare(backend: Backend, server: Server, opts: Options) -> list[int]:
    """Datastreams made through the API, one Observation each posted through it, and
    ``opts.fill`` more written through the driver; the Datastream ids."""
    datastreams = create_datastreams(server.base, opts.datastreams)
    for n, ds in enumerate(datastreams):
        post_observation(server.base, ds, T0, 20.0 + n)
    per_ds = opts.fill // len(datastreams)
    say(f"{backend.name}: filling {per_ds * len(datastreams):,} Observations "
        f"into Datastreams {datastreams}")
    started = time.perf_counter()
    backend.fill(datastreams, per_ds)
    say(f"{backend.name}: filled in {time.perf_counter() - started:.1f} s")
    expected = fill_times(per_ds)[-1].strftime("%Y-%m-%dT%H:%M:%SZ")
    got = latest_time(server.base, datastreams[0])
    if got != expected:
        raise RuntimeError(f"latest Observation is at {got}, expected {expected}")
    return datastreams


def driver_baseline(backend: Backend, datastreams: list[int], opts: Options,
                    mode: str) -> Result:
    test, what = DRIVER_TESTS[mode]
    wait_for_quiet(opts.quiet_wait)
    say(f"{backend.name}: {test}, {opts.connections} clients")
    meter = CpuMeter({"db": backend.db_pids})
    count, elapsed, latencies = backend.driver_run(
        datastreams, opts.connections, opts.seconds, mode, meter
    )
    p50, p95, p99 = percentiles_ms(latencies)
    cpu = dict(meter.result)
    if backend.name == "sqlite":  # the database runs inside the client
        cpu["db"] = cpu.pop("client")
    return Result(backend.name, "-", test, opts.connections, count, elapsed, p50, p95, p99,
                  0, cpu, what)


def bench_backend(backend: Backend, opts: Options, workdir: Path) -> list[Result]:
    results: list[Result] = []
    profiler = Profiler(opts.profile)
    backend.create()
    server: Server | None = None
    datastreams: list[int] = []
    try:
        for index, workers in enumerate(opts.workers):
            say(f"{backend.name}: starting the server with {workers} worker(s)")
            logs = opts.log_dir or workdir
            server = Server(backend.store_args(), workers,
                            logs / f"server-{backend.name}-w{workers}.log")
            server.wait_ready()
            if index == 0:
                datastreams = prepare(backend, server, opts)
            run = Round(backend, server, datastreams, opts, profiler, index)
            if "post" in opts.tests:
                results.append(least_disturbed(opts.repeat, run.post))
            if "latest" in opts.tests:
                for connections in opts.read_connections:
                    results.append(least_disturbed(
                        opts.repeat, functools.partial(run.latest, connections)
                    ))
            newest = latest_time(server.base, datastreams[-1])
            say(f"{backend.name} w{workers}: latest of Datastream {datastreams[-1]} at {newest}")
            server.stop()
            server = None
        if "driver" in opts.tests:  # the database alone, no server running
            for mode in DRIVER_TESTS:
                results.append(least_disturbed(
                    opts.repeat, functools.partial(driver_baseline, backend, datastreams, opts,
                                                   mode)
                ))
    finally:
        if server is not None:
            server.stop()
        backend.drop()
    return results


def machine_summary(admin_url: str | None) -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:", 1)[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    osname = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip('"')
    lines = [
        f"CPU: {cpu}, {os.cpu_count()} logical cores; memory {memory}; {osname}",
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
        f"asyncpg {asyncpg.__version__}",
    ]
    if admin_url:
        async def version() -> str:
            conn = await asyncpg.connect(admin_url, timeout=10)
            try:
                return str(await conn.fetchval("SHOW server_version"))
            finally:
                await conn.close()

        with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
            lines.append(f"PostgreSQL {asyncio.run(version())}")
    wrk = shutil.which("wrk")
    if wrk:
        first = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        lines.append((first.stdout or first.stderr).splitlines()[0].strip())
    return lines


def source_revision(source: Path | None) -> str:
    """Which quartier the servers run: its folder and git revision (with -dirty when the
    work tree's src/ has changes), or the REVISION file of an exported tree."""
    if source is None:
        spec = importlib.util.find_spec("quartier")
        if spec is None or spec.origin is None:
            return "quartier: not found"
        source = Path(spec.origin).parent.parent
    revision = "unknown revision"
    git = shutil.which("git")
    head = subprocess.run([git, "-C", str(source), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False) if git else None
    if git and head is not None and head.returncode == 0:
        changes = subprocess.run([git, "-C", str(source), "status", "--porcelain", "--", "."],
                                 capture_output=True, text=True, check=False).stdout.strip()
        revision = head.stdout.strip() + ("-dirty" if changes else "")
    elif (source.parent / "REVISION").exists():
        revision = (source.parent / "REVISION").read_text().strip()
    return f"quartier from {source} at {revision}"


def _int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give positive integers, comma separated")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=10,
                        help="length of each measurement (default 10)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="unrecorded seconds of the same load before each HTTP measurement")
    parser.add_argument("--connections", type=int, default=16,
                        help="concurrent clients for the writes (default 16)")
    parser.add_argument("--read-connections", type=_int_list, default=[1, 16],
                        help="concurrent clients for the reads, comma separated (default 1,16)")
    parser.add_argument("--workers", type=_int_list, default=[1, 2],
                        help="server worker counts to measure, comma separated (default 1,2)")
    parser.add_argument("--datastreams", type=int, default=4,
                        help="Datastreams the Observations go to (default 4)")
    parser.add_argument("--fill", type=int, default=200_000,
                        help="Observations written through the driver before measuring")
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "QUARTIER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL to create the benchmark database in (loopback only)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the server with py-spy into this folder "
                             "(slows it down: figures are marked '(profiled)')")
    parser.add_argument("--quiet-wait", type=int, default=60,
                        help="before each measurement wait up to this many seconds for the "
                             "machine to be idle (default 60; 0: do not wait)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each measurement this often and keep the one other "
                             "programs on the machine disturbed least (default 1)")
    parser.add_argument("--src", type=Path, default=None,
                        help="run the servers from this source folder (the one holding the "
                             "quartier package, e.g. an exported commit's src/) instead of "
                             "the installed quartier")
    parser.add_argument("--tests", default="post,latest,driver",
                        help="which measurements: post, latest, driver (comma separated)")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="keep the servers' logs in this folder (default: removed)")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.seconds > 600:
        parser.error("--seconds must be between 1 and 600")
    if args.datastreams < 1 or args.fill < args.datastreams:
        parser.error("need at least one Datastream and one fill row per Datastream")
    if urllib.parse.urlsplit(args.pg_admin_url).hostname not in LOOPBACK:
        parser.error("--pg-admin-url must point at this machine (127.0.0.1)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tests = {t.strip() for t in args.tests.split(",") if t.strip()}
    if not tests or tests - {"post", "latest", "driver"}:
        print("--tests takes post, latest and driver, comma separated", file=sys.stderr)
        return 2
    # a SIGTERM unwinds like Ctrl-C, so servers and databases are cleaned up
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    opts = Options(args.seconds, args.warmup, args.connections, args.read_connections,
                   args.workers, args.datastreams, args.fill, args.profile,
                   args.quiet_wait, tests, max(1, args.repeat), args.log_dir)
    if args.log_dir is not None:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    if args.src is not None:
        if not (args.src / "quartier" / "__init__.py").exists():
            print(f"--src {args.src} holds no quartier package", file=sys.stderr)
            return 2
        Server.source = args.src.resolve()
    revision = source_revision(Server.source)
    say(revision)
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    uses_pg = "postgresql" in names
    for line in machine_summary(args.pg_admin_url if uses_pg else None):
        say(line)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="quartier-bench-") as tmp:
        workdir = Path(tmp)
        for name in names:
            backend: Backend = (SqliteBackend(workdir) if name == "sqlite"
                                else PostgresBackend(args.pg_admin_url))
            results += bench_backend(backend, opts, workdir)
    print()
    print(f"Quartier SensorThings benchmark ({revision}): {args.seconds} s per row, "
          f"{args.datastreams} Datastreams, {args.fill:,} rows filled first; "
          "CPU in % of one core")
    print()
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps({
            "revision": revision, "seconds": args.seconds, "fill": args.fill,
            "results": [{**r.__dict__, "rate": r.rate} for r in results],
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
