"""Benchmark of bulk ingest (dataArray), of two typical reads and of the Observation
archive, on PostgreSQL or SQLite.

Parts, chosen with ``--tests`` (comma separated; each one runs on its own):

* ``baseline``: the same rows written by the database driver alone into a separate fresh
  database (PostgreSQL: asyncpg ``copy_records_to_table``, one COPY per batch, from
  ``--connections`` connections; SQLite: sqlite3 ``executemany`` in one transaction per
  batch, one connection, the server's PRAGMAs). Its Things and Datastreams are made by a
  short-lived server on that database, so the schema and parent rows are the server's own.
* ``ingest``: ``--datastreams`` Datastreams under ``--things`` Things made through the API,
  then ``--rows`` Observations POSTed to ``/v1.1/CreateObservations`` as SensorThings 1.1
  dataArrays: each request carries ``--rows-per-request`` rows, split over
  ``--datastreams-per-request`` Datastreams, from ``--connections`` concurrent keep-alive
  connections. Reports rows/s overall and per ``--window`` rows, the server's peak resident
  memory (VmRSS of its process tree, sampled every 0.5 s) and CPU use. Every row's answer
  must be a selfLink; the first refused row or error status stops the run.
* ``storage``: PostgreSQL ``pg_total_relation_size('observations')`` per Observation, the
  table alone and each index, the same for the archive's ``observation_blocks`` (empty
  until the ``archive`` part) and both tables together (SQLite: the table and its indexes
  from ``dbstat``). Runs after ``baseline`` for its database too.
* ``latest``: p50/p95/p99 of ``GET Datastreams?$top=1000&$expand=Observations($top=1;
  $orderby=phenomenonTime desc)``, ``--requests`` sequential requests after ``--warmup``;
  every answer must hold 1000 Datastreams (fewer if there are fewer) with one Observation each.
* ``day``: p50/p95/p99 of ``GET Datastreams(id)/Observations?$filter=phenomenonTime ge
  <day> and phenomenonTime lt <day + 1>&$top=10000`` on a random Datastream per request;
  with the default timestamps (one a minute per Datastream from 2026-01-01T00:00:00Z) the
  default ``--day 2026-01-02`` holds 1,440 rows once a Datastream has 2,880 or more.
* ``archive`` (PostgreSQL; SQLite has no archive): ``quartier archive --keep-days 0`` on the
  store under test, run as a separate process with the server's Python, which packs every
  Observation but each Datastream's newest UTC day into ``observation_blocks`` (so nothing
  moves while a Datastream's rows lie within one day: 1,440 rows at one a minute). Reports
  the Observations it moved per second, then ``VACUUM (ANALYZE)`` of both tables and the
  storage as above ("on disk"), then ``VACUUM FULL observations`` and the storage again
  ("steady state": a running server reuses the space the moved rows leave for new rows)
  and the archive's bytes per archived Observation. Then ``latest`` and ``day`` again on
  the archived data (their names end with " (archived)"); their answers must be the same
  as before the job. On a ``--database-url`` store the archive stays (reads answer the
  same either way).

The servers this script starts on PostgreSQL run with ``--archive-after-days 0``: their own
archive job would move rows while the parts measure.

Without ``--url``/``--database-url``/``--data-dir`` the script makes a fresh database
(``quartier_bench_query_<hex>`` or a temporary SQLite folder), starts ``quartier serve`` on it
and removes everything at the end, also after an error, Ctrl-C or SIGTERM. ``--keep`` keeps
the database it made and prints the options to reuse it; ``--database-url`` (or
``--data-dir``) starts the server on an existing database and ``--url`` uses a running
server; neither is ever dropped. All traffic stays on this machine.

    .venv/bin/python bench/bench_query.py                               # all parts, 10M rows
    .venv/bin/python bench/bench_query.py --rows 200000 --requests 50   # a quick run
    .venv/bin/python bench/bench_query.py --tests ingest,storage --keep # ingest once, keep it
    .venv/bin/python bench/bench_query.py --tests latest,day \\
        --database-url postgresql://postgres@127.0.0.1:5432/quartier_bench_query_1234abcd
    .venv/bin/python bench/bench_query.py --tests baseline,storage --rows 200000
    .venv/bin/python bench/bench_query.py --tests ingest,latest,day,archive \\
        --rows 300000 --datastreams 100                                 # three days each
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import math
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from bench_sensorthings import (
    LOOPBACK,
    CpuMeter,
    Server,
    machine_summary,
    percentiles_ms,
    postgres_pids,
    process_tree,
    say,
    source_revision,
    wait_for_quiet,
)

START = datetime(2026, 1, 1, tzinfo=UTC)  # first phenomenonTime of every Datastream
STEP = timedelta(minutes=1)
SQLITE_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # how the server stores times in SQLite
RESULT_FLOAT = 2  # result_type of a float result (quartier.model.values)
VARIANTS = 7  # result series; a Datastream gets series (id % VARIANTS)
COPY_COLUMNS = ["tenant_id", "phenomenon_time_start", "result_type", "result_number",
                "datastream_id", "feature_id"]
TESTS = ("baseline", "ingest", "storage", "latest", "day", "archive")
OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
IDLE_RECONNECT = 2.0  # s; uvicorn closes idle keep-alive connections after 5 s


class BenchError(RuntimeError):
    """A failure with a message that says it all: no traceback needed."""


class ServerError(BenchError):
    """The server answered something the benchmark cannot go on with."""


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on uvloop when it is installed (as the server does)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


# -- a minimal HTTP/1.1 keep-alive client --------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; small enough that the client is not what limits."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        """(status, body) of one request; ``target`` is the path and query, URL-encoded."""
        if self.writer is not None and time.monotonic() - self.last_used > IDLE_RECONNECT:
            await self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if Server.key:
            head += f"X-API-Key: {Server.key}\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode("ascii") + b"\r\n" + body)
        try:
            status, headers = await self._head()
            payload = await self._body(headers)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            raise ServerError(f"the server dropped the connection during {method} "
                              f"{urllib.parse.unquote(target)}: {exc!r}") from exc
        self.last_used = time.monotonic()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, payload

    async def _head(self) -> tuple[int, dict[str, str]]:
        assert self.reader is not None
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        return status, headers

    async def _body(self, headers: dict[str, str]) -> bytes:
        assert self.reader is not None
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")  # no trailers are expected
            return b"".join(parts)
        headers["connection"] = "close"  # the body ends where the connection does
        return await self.reader.read()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@dataclass(frozen=True)
class Api:
    """Where the SensorThings API of the server under test answers."""

    host: str
    port: int
    prefix: str  # path before /v1.1: "" or e.g. /t/nord

    @classmethod
    def parse(cls, url: str) -> Api:
        parts = urllib.parse.urlsplit(url)
        prefix = parts.path.rstrip("/")
        prefix = prefix.removesuffix("/v1.1")
        return cls(parts.hostname or "127.0.0.1", parts.port or 80, prefix)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.prefix}/v1.1"

    def target(self, path: str) -> str:
        return f"{self.prefix}/v1.1/{path}"

    def connect(self) -> Connection:
        return Connection(self.host, self.port)


def excerpt(raw: bytes, limit: int = 500) -> str:
    text = raw.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + " [...]"


async def call_json(conn: Connection, method: str, target: str, body: Any = None,
                    expect: int = 200) -> Any:
    """The decoded answer of one request; ServerError when its status is not ``expect``."""
    data = b"" if body is None else orjson.dumps(body)
    status, raw = await conn.request(method, target, data)
    if status != expect:
        raise ServerError(f"{method} {urllib.parse.unquote(target)} answered {status} "
                          f"(expected {expect}): {excerpt(raw)}")
    return orjson.loads(raw) if raw else None


def relative_target(link: str) -> str:
    """Path and query of an absolute link such as an @iot.nextLink."""
    parts = urllib.parse.urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def collection_ids(conn: Connection, target: str) -> list[int]:
    """Every @iot.id of a collection, following @iot.nextLink."""
    ids: list[int] = []
    next_target: str | None = target
    while next_target:
        page = await call_json(conn, "GET", next_target)
        ids += [int(item["@iot.id"]) for item in page["value"]]
        link = page.get("@iot.nextLink")
        next_target = relative_target(link) if link else None
    return sorted(ids)


# -- Things, Datastreams and FeaturesOfInterest through the API ------------------------------


@dataclass
class Layout:
    """The Datastreams the rows go to, and the FeatureOfInterest made for each Thing."""

    datastreams: list[int] = field(default_factory=list)
    feature_of: dict[int, int] = field(default_factory=dict)  # Datastream -> Feature (baseline)


def thing_body(n: int, datastreams: range, sensor: int, prop: int) -> dict[str, Any]:
    return {
        "name": f"bench station {n}",
        "description": "weather station made by bench_query.py",
        "Locations": [{
            "name": f"site {n}", "description": "where the station stands",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [9.9 + n / 100, 53.5 + n / 100]},
        }],
        "Datastreams": [{
            "name": f"air temperature {i}", "description": "2 m above ground",
            "observationType": OM_MEASUREMENT,
            "unitOfMeasurement": {"name": "degree Celsius", "symbol": "degC",
                                  "definition": "http://unitsofmeasure.org/ucum.html#para-30"},
            "Sensor": {"@iot.id": sensor},
            "ObservedProperty": {"@iot.id": prop},
        } for i in datastreams],
    }


async def create_layout(api: Api, datastreams: int, things: int,
                        with_features: bool = False) -> Layout:
    """``datastreams`` Datastreams spread over ``things`` Things (each with a Location), all
    sharing one Sensor and ObservedProperty; with a FeatureOfInterest per Thing on request."""
    conn = api.connect()
    try:
        sensor = await call_json(conn, "POST", api.target("Sensors"), {
            "name": "thermometer", "description": "PT100", "encodingType": "application/pdf",
            "metadata": "pt100.pdf"}, expect=201)
        prop = await call_json(conn, "POST", api.target("ObservedProperties"), {
            "name": "air temperature", "definition": "http://vocab.nerc.ac.uk/P07/CFSN0023/",
            "description": "temperature of the air"}, expect=201)
        layout = Layout()
        per_thing = math.ceil(datastreams / things)
        for n in range(things):
            numbers = range(n * per_thing, min(datastreams, (n + 1) * per_thing))
            if not numbers:
                break
            body = thing_body(n, numbers, sensor["@iot.id"], prop["@iot.id"])
            thing = await call_json(conn, "POST", api.target("Things"), body, expect=201)
            ids = await collection_ids(
                conn, api.target(f"Things({thing['@iot.id']})/Datastreams?$select=id&$top=10000"))
            feature = await create_feature(conn, api, n) if with_features else None
            if feature is not None:
                layout.feature_of.update(dict.fromkeys(ids, feature))
            layout.datastreams += ids
        return layout
    finally:
        await conn.close()


async def create_feature(conn: Connection, api: Api, n: int) -> int:
    created = await call_json(conn, "POST", api.target("FeaturesOfInterest"), {
        "name": f"site {n}", "description": "where the station stands",
        "encodingType": "application/geo+json",
        "feature": {"type": "Point", "coordinates": [9.9 + n / 100, 53.5 + n / 100]},
    }, expect=201)
    return int(created["@iot.id"])


# -- the rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Which rows go into which batch (one HTTP request or one COPY).

    Batches go round by round: round r holds, for every Datastream, the minutes
    [r * chunk, (r + 1) * chunk) after START; within a round, consecutive Datastreams
    share a batch, ``per_batch`` of them. So every Datastream moves forward in time and
    concurrent batches mostly touch different Datastreams."""

    datastreams: tuple[int, ...]
    per_batch: int  # Datastreams per batch
    chunk: int  # rows per Datastream per batch
    rounds: int

    @classmethod
    def make(cls, datastreams: list[int], rows: int, rows_per_batch: int,
             per_batch: int) -> Plan:
        per_batch = min(per_batch, len(datastreams))
        chunk = rows_per_batch // per_batch
        if chunk < 1:
            raise BenchError("--rows-per-request must be at least --datastreams-per-request")
        rounds = rows // len(datastreams) // chunk
        if rounds < 1:
            raise BenchError(f"--rows {rows:,} is too small: each of {len(datastreams):,} "
                             f"Datastreams needs at least {chunk} rows")
        return cls(tuple(datastreams), per_batch, chunk, rounds)

    @property
    def rows_per_datastream(self) -> int:
        return self.rounds * self.chunk

    @property
    def total_rows(self) -> int:
        return self.rows_per_datastream * len(self.datastreams)

    def batches(self) -> Iterator[list[tuple[int, int]]]:
        """Each batch as (Datastream id, round) pairs."""
        for r in range(self.rounds):
            for i in range(0, len(self.datastreams), self.per_batch):
                yield [(ds, r) for ds in self.datastreams[i:i + self.per_batch]]


class Rows:
    """The values of the rows, computed once per (round, series) and shared by Datastreams."""

    def __init__(self, plan: Plan) -> None:
        self.chunk = plan.chunk
        self.times = [[START + STEP * (r * plan.chunk + j) for j in range(plan.chunk)]
                      for r in range(plan.rounds)]
        self.values = [[[self.value(r * plan.chunk + j, v) for j in range(plan.chunk)]
                        for v in range(VARIANTS)] for r in range(plan.rounds)]
        self._arrays: dict[tuple[int, int], bytes] = {}
        self._sqlite_times: dict[int, list[str]] = {}

    @staticmethod
    def value(minute: int, series: int) -> float:
        """A temperature-like float with two decimals."""
        return round(12.0 + 8.0 * math.sin(minute / 229.0 + series) + (minute * 37 % 100) / 100, 2)

    def data_array(self, r: int, series: int) -> bytes:
        """The encoded dataArray of one Datastream's rows in round ``r``."""
        key = (r, series)
        if key not in self._arrays:
            stamps = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in self.times[r]]
            self._arrays[key] = orjson.dumps(list(zip(stamps, self.values[r][series],
                                                      strict=True)))
        return self._arrays[key]

    def sqlite_times(self, r: int) -> list[str]:
        if r not in self._sqlite_times:
            self._sqlite_times[r] = [t.strftime(SQLITE_TIME) for t in self.times[r]]
        return self._sqlite_times[r]

    def body(self, batch: list[tuple[int, int]]) -> bytes:
        """The CreateObservations body of a batch, from pre-encoded dataArrays."""
        parts = [b'{"Datastream":{"@iot.id":%d},"components":["phenomenonTime","result"],'
                 b'"dataArray":%b}' % (ds, self.data_array(r, ds % VARIANTS)) for ds, r in batch]
        return b"[" + b",".join(parts) + b"]"

    def records(self, batch: list[tuple[int, int]], tenant: int,
                feature_of: dict[int, int], sqlite: bool = False) -> list[tuple[Any, ...]]:
        """The rows of a batch in COPY_COLUMNS order (times as the server stores them)."""
        out: list[tuple[Any, ...]] = []
        for ds, r in batch:
            times: list[Any] = self.sqlite_times(r) if sqlite else self.times[r]
            feature = feature_of[ds]
            out += [(tenant, t, RESULT_FLOAT, v, ds, feature)
                    for t, v in zip(times, self.values[r][ds % VARIANTS], strict=True)]
        return out

    def prepare(self) -> None:
        """Encode every dataArray before the clock starts."""
        for r in range(len(self.times)):
            for v in range(VARIANTS):
                self.data_array(r, v)


# -- measuring -----------------------------------------------------------------------------


class Progress:
    """Rows done over time: overall rate, rate per window of rows, and a line per window."""

    def __init__(self, label: str, window: int) -> None:
        self.label = label
        self.window = window
        self.rows = 0
        self.marks: list[float] = []  # seconds since start at which each window filled up
        self.started = time.perf_counter()
        self.seconds = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()

    def add(self, rows: int) -> None:
        self.rows += rows
        while self.rows >= self.window * (len(self.marks) + 1):
            now = time.perf_counter() - self.started
            last = self.marks[-1] if self.marks else 0.0
            self.marks.append(now)
            say(f"{self.label}: {self.rows:,} rows after {now:.1f} s, "
                f"{self.window / max(now - last, 1e-9):,.0f} rows/s in the last window")

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self.started

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def window_rates(self) -> list[float]:
        edges = [0.0, *self.marks]
        return [self.window / max(b - a, 1e-9) for a, b in itertools.pairwise(edges)]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class RssSampler:
    """Peak of the summed VmRSS of a process tree, sampled every ``interval`` s."""

    def __init__(self, root_pid: int | None, interval: float = 0.5) -> None:
        self.root_pid = root_pid
        self.interval = interval
        self.peak_kib = 0
        self.first_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        if self.root_pid is None:
            return 0
        return sum(rss_kib(pid) for pid in process_tree(self.root_pid))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, self.sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.first_kib = self.sample()
        if self.root_pid is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.peak_kib = max(self.peak_kib, self.sample())


@dataclass
class LoadResult:
    label: str
    rows: int
    seconds: float
    windows: list[float]
    cpu: dict[str, float]
    peak_rss_mb: float | None = None
    start_rss_mb: float | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class LatencyResult:
    test: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    check: str


# -- the stores -------------------------------------------------------------------------------


class PgStore:
    """A PostgreSQL database: made (and dropped) by the script, or an existing one."""

    kind = "postgresql"

    def __init__(self, admin_url: str, url: str | None = None) -> None:
        self.admin_url = admin_url
        self.owned = url is None
        if url is None:
            self.name = f"quartier_bench_query_{secrets.token_hex(4)}"
            self.url = f"{admin_url.rpartition('/')[0]}/{self.name}"
        else:
            self.url = url
            self.name = urllib.parse.urlsplit(url).path.lstrip("/")
        self._created = False

    def store_args(self) -> list[str]:
        # no archive job of the server's own: it would move rows while the parts measure
        return ["--database", self.url, "--archive-after-days", "0"]

    def reuse_hint(self) -> str:
        return f"--database-url {self.url}"

    def db_pids(self) -> list[int]:
        return postgres_pids(self.name)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create(self) -> None:
        if self.owned:
            run_async(self._admin(f'CREATE DATABASE "{self.name}"'))
            self._created = True

    @property
    def created(self) -> bool:
        """Whether the database exists: made by this run, or given."""
        return self._created or not self.owned

    def drop(self) -> None:
        if self._created:
            run_async(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._created = False

    async def _fetch(self, sql: str) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    def count(self) -> int:
        return int(run_async(self._fetch("SELECT count(*) FROM observations"))[0][0])

    def counts(self) -> tuple[int, int]:
        """(Observations, of them archived): rows plus what observation_blocks holds."""
        rows, archived = run_async(self._fetch(
            "SELECT (SELECT count(*) FROM observations),"
            " (SELECT coalesce(sum(cardinality(ids)), 0) FROM observation_blocks)"))[0]
        return int(rows) + int(archived), int(archived)

    def after_ingest(self) -> str:
        """VACUUM (ANALYZE) the table, as autovacuum would soon after a bulk load."""
        started = time.perf_counter()
        run_async(self._fetch("VACUUM (ANALYZE) observations"))
        return f"VACUUM (ANALYZE) observations took {time.perf_counter() - started:.1f} s"

    def storage(self) -> dict[str, int]:
        """Observation counts and sizes in bytes. ``rows`` counts every Observation: the
        rows of ``observations`` and those archived in ``observation_blocks``
        (``archived``, in ``blocks`` blocks). For each of the two tables: its total, the
        table alone (with TOAST, FSM, VM) and each index; then both tables together."""
        return run_async(self._storage())

    async def _storage(self) -> dict[str, int]:
        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            tables = ["observations"]
            if await conn.fetchval("SELECT to_regclass('observation_blocks')") is not None:
                tables.append("observation_blocks")
            rows = int(await conn.fetchval("SELECT count(*) FROM observations"))
            archived = blocks = 0
            if "observation_blocks" in tables:
                blocks, archived = await conn.fetchrow(
                    "SELECT count(*), coalesce(sum(cardinality(ids)), 0) "
                    "FROM observation_blocks")
            out = {"rows": rows + int(archived), "archived": int(archived),
                   "blocks": int(blocks)}
            both = 0
            for table in tables:
                total, heap = await conn.fetchrow(
                    "SELECT pg_total_relation_size($1::text::regclass), pg_table_size($1::text::regclass)",
                    table)
                out[f"{table}: total"] = int(total)
                out[f"{table}: table"] = int(heap)
                for name, size in await conn.fetch(
                        "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) "
                        "FROM pg_index WHERE indrelid = $1::text::regclass ORDER BY 1", table):
                    out[f"index {name}"] = int(size)
                both += int(total)
            if len(tables) > 1:
                out["total (both tables)"] = both
            return out
        finally:
            await conn.close()

    def vacuum(self, sql: str) -> float:
        """Seconds one VACUUM statement took."""
        started = time.perf_counter()
        run_async(self._fetch(sql))
        return time.perf_counter() - started

    def bulk_load(self, rows: Rows, plan: Plan, layout: Layout, connections: int,
                  progress: Progress, meter: CpuMeter) -> None:
        run_async(self._copy(rows, plan, layout, connections, progress, meter))

    async def _copy(self, rows: Rows, plan: Plan, layout: Layout, connections: int,
                    progress: Progress, meter: CpuMeter) -> None:
        tenant = (await self._fetch("SELECT id FROM tenants WHERE name = 'default'"))[0][0]
        conns = [await asyncpg.connect(self.url) for _ in range(connections)]
        batches = plan.batches()

        async def worker(conn: asyncpg.Connection) -> None:
            for batch in batches:  # one shared iterator: each batch goes to one worker
                records = rows.records(batch, tenant, layout.feature_of)
                await conn.copy_records_to_table("observations", records=records,
                                                  columns=COPY_COLUMNS)
                progress.add(len(records))

        try:
            with meter:  # entered while the backends live, so their CPU is counted
                progress.start()
                await gather_first_error([worker(c) for c in conns])
                progress.stop()
        finally:
            for conn in conns:
                await conn.close()


class SqliteStore:
    """A SQLite data folder: a temporary one made by the script, or an existing one."""

    kind = "sqlite"

    def __init__(self, folder: Path, owned: bool) -> None:
        self.folder = folder
        self.path = folder / "quartier.sqlite3"
        self.owned = owned
        self.name = str(folder)

    def store_args(self) -> list[str]:
        return ["--data-dir", str(self.folder)]

    def reuse_hint(self) -> str:
        return f"--data-dir {self.folder}"

    def db_pids(self) -> list[int]:
        return []

    def create(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def created(self) -> bool:
        return self.path.exists()

    def drop(self) -> None:
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def connect(self) -> sqlite3.Connection:
        # the server's own settings (quartier.store.sqlite)
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _fetch(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            return list(conn.execute(sql).fetchall())
        finally:
            conn.close()

    def count(self) -> int:
        return int(self._fetch("SELECT count(*) FROM observations")[0][0])

    def after_ingest(self) -> str:
        return "no ANALYZE (the server never runs one on SQLite)"

    def storage(self) -> dict[str, int]:
        """Row count, the file (with its WAL) and the table and each index from dbstat."""
        sizes = dict(self._fetch("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        names = [row[0] for row in self._fetch(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'observations' ORDER BY name")]
        indexes = {f"index {name}": int(sizes.get(name, 0)) for name in names}
        table = int(sizes.get("observations", 0))
        files = [self.path, self.path.with_name(self.path.name + "-wal")]
        return {"rows": self.count(), "total": table + sum(indexes.values()), "table": table,
                **indexes, "whole file with WAL": sum(f.stat().st_size for f in files if f.exists())}

    def bulk_load(self, rows: Rows, plan: Plan, layout: Layout, connections: int,
                  progress: Progress, meter: CpuMeter) -> None:
        """executemany INSERT, one transaction per batch, on one connection (SQLite has
        one writer, whatever ``connections`` says)."""
        conn = self.connect()
        try:
            tenant = conn.execute("SELECT id FROM tenants WHERE name = 'default'").fetchone()[0]
            sql = (f"INSERT INTO observations ({', '.join(COPY_COLUMNS)})"
                   f" VALUES ({', '.join('?' for _ in COPY_COLUMNS)})")
            with meter:
                progress.start()
                for batch in plan.batches():
                    records = rows.records(batch, tenant, layout.feature_of, sqlite=True)
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(sql, records)
                    conn.execute("COMMIT")
                    progress.add(len(records))
                progress.stop()
        finally:
            conn.close()


Store = PgStore | SqliteStore


async def gather_first_error(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run coroutines together; on the first failure cancel the rest and raise it."""
    try:
        async with asyncio.TaskGroup() as group:
            for coro in coros:
                group.create_task(coro)
    except ExceptionGroup as errors:
        first = errors.exceptions[0]
        while isinstance(first, ExceptionGroup):
            first = first.exceptions[0]
        raise first from None


# -- the session: options, the store, the server ---------------------------------------------


@dataclass
class Report:
    loads: list[LoadResult] = field(default_factory=list)
    storage: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    latencies: list[LatencyResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    archive: dict[str, Any] = field(default_factory=dict)  # the archive part's figures


class Session:
    """What the parts share: the options, the store under test, its server, the report."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.logs = args.log_dir or workdir
        self.report = Report()
        self.tests = set(args.tests)
        self.server: Server | None = None
        self.store = self._store()
        self._servers: list[Server] = []
        # what the reads saw, by test ("latest", "day") and label suffix, to compare the
        # answers before and after the archive job
        self.seen: dict[str, Any] = {}

    def _store(self) -> Store | None:
        args = self.args
        if args.backend == "postgresql":
            if args.database_url:
                return PgStore(args.pg_admin_url, args.database_url)
            return None if args.url else PgStore(args.pg_admin_url)
        if args.data_dir:
            return SqliteStore(args.data_dir.resolve(), owned=False)
        if args.url:
            return None
        kept = Path(tempfile.gettempdir()) / f"quartier-bench-query-{secrets.token_hex(4)}"
        folder = kept if args.keep else self.workdir / "sqlite-data"
        return SqliteStore(folder, owned=True)

    def fresh_store(self) -> Store:
        """A new, empty store (the baseline's)."""
        if self.args.backend == "postgresql":
            return PgStore(self.args.pg_admin_url)
        return SqliteStore(self.workdir / f"baseline-{secrets.token_hex(3)}", owned=True)

    def start_server(self, store: Store, name: str) -> Server:
        say(f"starting quartier serve on {store.kind} {store.name}")
        server = Server(store.store_args(), self.args.workers, self.logs / f"server-{name}.log")
        self._servers.append(server)
        server.wait_ready()
        return server

    def api(self) -> Api:
        """The API under test: --url, or a server started on the store (once)."""
        if self.args.url:
            return Api.parse(self.args.url)
        if self.server is None:
            assert self.store is not None
            self.store.create()
            self.server = self.start_server(self.store, "under-test")
        return Api.parse(self.server.base)

    def server_pid(self) -> int | None:
        return self.server.proc.pid if self.server is not None else None

    def cpu_groups(self, store: Store | None, server: Server | None) -> dict[str, Any]:
        groups: dict[str, Any] = {}
        if server is not None:
            groups["server"] = server.pids
        if store is not None and store.kind == "postgresql":
            groups["db"] = store.db_pids
        return groups

    def fail_hint(self) -> str:
        """The tail of the server's log, to go with an error."""
        tail = self.server.log_tail().strip() if self.server is not None else ""
        if not tail or self.server is None:
            return ""
        return f"\nlast lines of the server log ({self.server.log_path}):\n{tail}"

    def close(self) -> None:
        for server in self._servers:
            server.stop()
        if self.store is None:
            return
        if self.args.keep and self.store.owned:
            if self.store.created:
                say(f"kept the {self.store.kind} store; reuse it with: "
                    f"--backend {self.store.kind} {self.store.reuse_hint()}")
        else:
            self.store.drop()


def plan_for(args: argparse.Namespace, layout: Layout) -> Plan:
    return Plan.make(layout.datastreams, args.rows, args.rows_per_request,
                     args.datastreams_per_request)


def window_size(args: argparse.Namespace, total: int) -> int:
    """--window, or 1M rows, or a tenth of a run smaller than 2M rows."""
    if args.window:
        return int(args.window)
    return 1_000_000 if total >= 2_000_000 else max(args.rows_per_request, total // 10)


# -- part: baseline ---------------------------------------------------------------------------


def part_baseline(session: Session) -> None:
    """The driver alone writes the same rows into a fresh database of the same schema."""
    args = session.args
    store = session.fresh_store()
    store.create()
    try:
        server = session.start_server(store, "baseline")
        try:
            layout = run_async(create_layout(Api.parse(server.base), args.datastreams,
                                             args.things, with_features=True))
        finally:
            server.stop()  # the driver runs alone
        plan = plan_for(args, layout)
        rows = Rows(plan)
        label = "COPY (asyncpg)" if store.kind == "postgresql" else "executemany (sqlite3)"
        conns = args.connections if store.kind == "postgresql" else 1
        progress = Progress(label, window_size(args, plan.total_rows))
        wait_for_quiet(args.quiet_wait)
        say(f"{label}: {plan.total_rows:,} rows into {len(layout.datastreams):,} Datastreams, "
            f"{conns} connection(s)")
        meter = CpuMeter(session.cpu_groups(store, None))
        store.bulk_load(rows, plan, layout, conns, progress, meter)
        added = store.count()
        if added != plan.total_rows:
            session.report.problems.append(f"{label}: {added:,} rows in the table, "
                                           f"expected {plan.total_rows:,}")
        cpu = dict(meter.result)
        if store.kind == "sqlite":  # the database runs inside the client
            cpu["db"] = cpu.pop("client")
        session.report.loads.append(LoadResult(
            label, progress.rows, progress.seconds, progress.window_rates(), cpu,
            note=f"{conns} connection(s), {plan.chunk * plan.per_batch} rows per transaction"))
        if "storage" in session.tests:
            session.report.storage.append((f"{label}", store.storage()))
    finally:
        store.drop()


# -- part: ingest -----------------------------------------------------------------------------


def check_created(status: int, raw: bytes, rows: int) -> None:
    """A CreateObservations answer must be 201 with one selfLink per row."""
    if status != 201:
        hint = " (is CreateObservations implemented?)" if status in (404, 405) else ""
        raise ServerError(f"POST CreateObservations answered {status}{hint}: {excerpt(raw)}")
    answer = orjson.loads(raw)
    if not isinstance(answer, list) or len(answer) != rows:
        size = len(answer) if isinstance(answer, list) else type(answer).__name__
        raise ServerError(f"CreateObservations answered {size} entries for {rows} rows: "
                          f"{excerpt(raw)}")
    refused = [item for item in answer if not (isinstance(item, str) and "Observations(" in item)]
    if refused:
        raise ServerError(f"CreateObservations refused {len(refused)} of {rows} rows, "
                          f"e.g. {refused[:3]}")


async def post_all(api: Api, rows: Rows, plan: Plan, connections: int,
                   progress: Progress) -> None:
    target = api.target("CreateObservations")
    batches = plan.batches()

    async def worker() -> None:
        conn = api.connect()
        try:
            for batch in batches:  # one shared iterator: each batch goes to one worker
                body = rows.body(batch)
                status, raw = await conn.request("POST", target, body)
                count = len(batch) * plan.chunk
                check_created(status, raw, count)
                progress.add(count)
        finally:
            await conn.close()

    progress.start()
    await gather_first_error([worker() for _ in range(connections)])
    progress.stop()


async def count_via_api(api: Api) -> int:
    conn = api.connect()
    try:
        page = await call_json(conn, "GET", api.target("Observations?$count=true&$top=1"))
        return int(page["@iot.count"])
    finally:
        await conn.close()


def count_rows(session: Session, api: Api) -> int:
    if session.store is not None:
        return session.store.count()
    return int(run_async(count_via_api(api)))


def part_ingest(session: Session) -> None:
    """Datastreams through the API, then every row through CreateObservations."""
    args = session.args
    api = session.api()
    say(f"creating {args.datastreams:,} Datastreams under {args.things} Things at {api.url}")
    layout = run_async(create_layout(api, args.datastreams, args.things))
    plan = plan_for(args, layout)
    rows = Rows(plan)
    rows.prepare()
    before = count_rows(session, api)
    progress = Progress("CreateObservations", window_size(args, plan.total_rows))
    wait_for_quiet(args.quiet_wait)
    say(f"POSTing {plan.total_rows:,} rows ({plan.per_batch} Datastreams x {plan.chunk} rows "
        f"per request) from {args.connections} connections")
    groups = session.cpu_groups(session.store, session.server)
    with RssSampler(session.server_pid()) as rss, CpuMeter(groups) as meter:
        run_async(post_all(api, rows, plan, args.connections, progress))
    added = count_rows(session, api) - before
    if added != plan.total_rows:
        session.report.problems.append(
            f"ingest: {added:,} rows added, but {plan.total_rows:,} were acknowledged")
    pid = session.server_pid()
    session.report.loads.append(LoadResult(
        "CreateObservations (HTTP)", progress.rows, progress.seconds, progress.window_rates(),
        dict(meter.result),
        peak_rss_mb=rss.peak_kib / 1024 if pid else None,
        start_rss_mb=rss.first_kib / 1024 if pid else None,
        note=f"{args.connections} connections, {plan.per_batch} Datastreams x {plan.chunk} "
             f"rows per request, {args.workers} worker(s)"))
    session.report.notes.append(
        f"ingest: {len(layout.datastreams):,} Datastreams (ids {layout.datastreams[0]}.."
        f"{layout.datastreams[-1]}), {plan.rows_per_datastream:,} rows each, one a minute "
        f"from {START:%Y-%m-%dT%H:%MZ}; the day query's day ({args.day}) holds "
        f"{rows_in_day(plan, args.day):,} of them per Datastream")
    if session.store is not None:
        note = session.store.after_ingest()
        say(note)
        session.report.notes.append(f"after the ingest: {note}")


# -- part: storage ----------------------------------------------------------------------------


def part_storage(session: Session) -> None:
    if session.store is None:
        session.report.notes.append("storage: skipped (give --database-url or --data-dir)")
        return
    if not session.store.created:
        session.report.notes.append("storage of the server's data: skipped, as this run "
                                    "ingested none (give --database-url or --data-dir)")
        return
    session.report.storage.append(("server (CreateObservations)", session.store.storage()))


# -- parts: latest and day --------------------------------------------------------------------


async def measure_gets(api: Api, targets: Iterator[str], requests: int, warmup: int,
                       check: Callable[[bytes], None]) -> list[int]:
    """Latencies in ns of sequential GETs on one connection; ``check`` sees every answer
    (outside the timing)."""
    conn = api.connect()
    latencies = []
    try:
        for n in range(warmup + requests):
            target = next(targets)
            started = time.perf_counter_ns()
            status, raw = await conn.request("GET", target)
            elapsed = time.perf_counter_ns() - started
            if status != 200:
                raise ServerError(f"GET {urllib.parse.unquote(target)} answered {status}: "
                                  f"{excerpt(raw)}")
            check(raw)
            if n >= warmup:
                latencies.append(elapsed)
    finally:
        await conn.close()
    return latencies


async def all_datastreams(api: Api) -> list[int]:
    conn = api.connect()
    try:
        return await collection_ids(conn, api.target("Datastreams?$select=id&$top=10000"))
    finally:
        await conn.close()


def latency_result(test: str, latencies: list[int], check: str) -> LatencyResult:
    p50, p95, p99 = percentiles_ms(latencies)
    return LatencyResult(test, len(latencies), p50, p95, p99, check)


class LatestCheck:
    """Every answer holds ``expected`` Datastreams with exactly one Observation each; counts
    those whose Observation is not at the end of the Datastream's phenomenonTime."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.not_newest: set[int] = set()

    def __call__(self, raw: bytes) -> None:
        items = orjson.loads(raw).get("value", [])
        if len(items) != self.expected:
            raise ServerError(f"latest: {len(items)} Datastreams in the answer, "
                              f"expected {self.expected}")
        for ds in items:
            observations = ds.get("Observations")
            if not isinstance(observations, list) or len(observations) != 1:
                got = len(observations) if isinstance(observations, list) else observations
                raise ServerError(f"latest: Datastream {ds.get('@iot.id')} has {got!r} "
                                  "Observations, expected exactly 1")
            end = str(ds.get("phenomenonTime") or "").rpartition("/")[2]
            if observations[0].get("phenomenonTime") != end:
                self.not_newest.add(ds.get("@iot.id"))

    def summary(self) -> str:
        text = f"{self.expected} Datastreams x 1 Observation"
        if self.not_newest:
            text += (f"; {len(self.not_newest)} Datastreams' Observation is not at the end "
                     "of their phenomenonTime")
        return text


def part_latest(session: Session, label_suffix: str = "") -> None:
    """The latest Observation of ``--latest-top`` Datastreams in one request; the test's
    name ends with ``label_suffix`` (the archive part's re-run)."""
    args = session.args
    api = session.api()
    datastreams = run_async(all_datastreams(api))
    if not datastreams:
        raise ServerError(f"latest{label_suffix}: the server holds no Datastreams "
                          "(run the ingest first)")
    expand = urllib.parse.quote("Observations($top=1;$orderby=phenomenonTime desc)", safe="()$;=")
    target = api.target(f"Datastreams?$top={args.latest_top}&$expand={expand}")
    check = LatestCheck(min(args.latest_top, len(datastreams)))
    wait_for_quiet(args.quiet_wait)
    say(f"latest{label_suffix}: {args.requests} GETs of {urllib.parse.unquote(target)}")
    latencies = run_async(measure_gets(api, itertools.repeat(target), args.requests,
                                       args.warmup, check))
    session.report.latencies.append(latency_result(
        f"latest: Datastreams?$top={args.latest_top}&$expand=Observations($top=1;...)"
        f"{label_suffix}", latencies, check.summary()))
    session.seen[f"latest{label_suffix}"] = check.not_newest


def rows_in_day(plan: Plan, day: date) -> int:
    """How many of a Datastream's rows (one a minute from START) fall on ``day`` (UTC)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    first = max(0, math.ceil((start - START) / STEP))
    end = min(plan.rows_per_datastream, math.ceil((start + timedelta(days=1) - START) / STEP))
    return max(0, end - first)


def day_filter(day: date) -> str:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    return (f"phenomenonTime ge {start:%Y-%m-%dT%H:%M:%SZ} "
            f"and phenomenonTime lt {end:%Y-%m-%dT%H:%M:%SZ}")


def part_day(session: Session, label_suffix: str = "") -> None:
    """One day of a random Datastream per request (the same Datastreams in every run with
    the same ``--seed``); the test's name ends with ``label_suffix``."""
    args = session.args
    api = session.api()
    datastreams = run_async(all_datastreams(api))
    if not datastreams:
        raise ServerError(f"day{label_suffix}: the server holds no Datastreams "
                          "(run the ingest first)")
    query = f"$filter={urllib.parse.quote(day_filter(args.day), safe=':')}&$top=10000"
    rng = random.Random(args.seed)
    targets = (api.target(f"Datastreams({rng.choice(datastreams)})/Observations?{query}")
               for _ in itertools.count())
    counts: collections.Counter[int] = collections.Counter()
    paged = 0

    def check(raw: bytes) -> None:
        nonlocal paged
        page = orjson.loads(raw)
        counts[len(page.get("value", []))] += 1
        paged += "@iot.nextLink" in page

    wait_for_quiet(args.quiet_wait)
    say(f"day{label_suffix}: {args.requests} GETs of Datastreams(random)/Observations?"
        f"$filter={day_filter(args.day)}&$top=10000")
    latencies = run_async(measure_gets(api, targets, args.requests, args.warmup, check))
    summary = ", ".join(f"{n:,} rows x {k}" for n, k in sorted(counts.items()))
    if set(counts) != {1440}:
        summary += " (expected 1,440 each)"
    if paged:
        summary += f"; {paged} answers had an @iot.nextLink"
    session.report.latencies.append(latency_result(
        f"day: Datastreams(id)/Observations?$filter=<{args.day}>&$top=10000{label_suffix}",
        latencies, f"values per answer (warm-up included): {summary}"))
    session.seen[f"day{label_suffix}"] = counts


# -- part: archive ----------------------------------------------------------------------------


ARCHIVED = " (archived)"  # suffix of the reads measured on the archived data
STEADY_NOTE = ("the archive job leaves the rows' old space in the observations file; a running "
               "server reuses it for new rows, so the steady-state size is that of the rows "
               "that stay. VACUUM FULL shows that size here")


def run_archive_job(store: PgStore, meter: CpuMeter, log_path: Path) -> tuple[int, float, str]:
    """``quartier archive --keep-days 0`` on the store, with the servers' Python and
    source, its output in ``log_path``: (Observations it moved, seconds, its output). The
    meter samples every 0.1 s, as the job's database backend ends before the meter does."""
    command, env = Server.quartier_command("archive", "--database", store.url,
                                           "--keep-days", "0")
    say(f"archive: {' '.join(command[1:])}")
    with log_path.open("wb") as log, meter:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            while proc.poll() is None:
                meter.sample()
                time.sleep(0.1)
        finally:
            if proc.poll() is None:  # Ctrl-C or SIGTERM: the job goes too
                proc.kill()
                proc.wait()
        seconds = time.perf_counter() - started
    output = log_path.read_text(errors="replace").strip()
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-15:])
        raise ServerError(f"quartier archive exited with {proc.returncode} "
                          f"(log {log_path}):\n{tail}")
    found = re.search(r"^archived (\d+) Observations", output, re.MULTILINE)
    if found is None:
        raise ServerError(f"quartier archive printed no count of archived Observations: "
                          f"{output!r}")
    return int(found.group(1)), seconds, output


def part_archive(session: Session) -> None:
    """The archive job on the store under test, the storage it leaves, and the reads again."""
    report = session.report
    store = session.store
    if session.args.backend == "sqlite":
        report.notes.append("archive: SQLite keeps every Observation as a row")
        return
    if store is None:
        report.notes.append("archive: skipped (give --database-url)")
        return
    if not store.created:
        report.notes.append("archive: skipped, as this run ingested none "
                            "(give --database-url)")
        return
    assert isinstance(store, PgStore)
    session.api()  # the server under test is up (its own archive job off) before the job
    before, archived_before = store.counts()
    wait_for_quiet(session.args.quiet_wait)
    meter = CpuMeter({"db": store.db_pids})
    moved, seconds, output = run_archive_job(store, meter, session.logs / "archive.log")
    rate = moved / seconds if seconds else 0.0
    cpu = dict(meter.result)
    say(f"archive job: {moved:,} rows in {seconds:.1f} s ({rate:,.0f} rows/s): {output}")
    figures: dict[str, Any] = {
        "archived": moved, "seconds": seconds, "rows_per_s": rate, "output": output,
        "cpu": {"db": cpu.get("db"), "quartier archive": cpu.get("client")},
    }
    report.archive = figures
    if moved == 0:
        report.notes.append(
            "archive: the job moved no Observation: every Datastream's rows lie in its "
            "newest UTC day, which stays as rows (one row a minute from 00:00 UTC needs "
            "more than 1,440 rows per Datastream to reach a second day)")

    figures["vacuum_analyze_s"] = store.vacuum("VACUUM (ANALYZE) observations, observation_blocks")
    say(f"VACUUM (ANALYZE) observations, observation_blocks took "
        f"{figures['vacuum_analyze_s']:.1f} s")
    on_disk = store.storage()
    report.storage.append(("after the archive job, on disk", on_disk))
    if on_disk["rows"] != before or on_disk["archived"] - archived_before != moved:
        report.problems.append(
            f"archive: {before:,} Observations ({archived_before:,} archived) before the job, "
            f"{on_disk['rows']:,} ({on_disk['archived']:,} archived) after it, which said it "
            f"moved {moved:,}")

    figures["vacuum_full_s"] = store.vacuum("VACUUM FULL observations")
    say(f"VACUUM FULL observations took {figures['vacuum_full_s']:.1f} s")
    steady = store.storage()
    report.storage.append(
        ("after the archive job, steady state (VACUUM FULL of observations)", steady))
    figures["blocks"] = steady["blocks"]
    figures["archived_in_blocks"] = steady["archived"]
    blocks_total = steady.get("observation_blocks: total", 0)
    figures["archived_bytes_per_observation"] = (
        blocks_total / steady["archived"] if steady["archived"] else None)
    figures["steady_bytes_per_observation"] = (
        steady["total (both tables)"] / steady["rows"] if steady["rows"] else None)

    part_latest(session, ARCHIVED)
    part_day(session, ARCHIVED)
    compare_reads(session)


def compare_reads(session: Session) -> None:
    """The reads must answer as before the archive job (when they ran before it)."""
    seen = session.seen
    wrong = sorted(seen[f"latest{ARCHIVED}"] - seen.get("latest", set()))
    if wrong:
        session.report.problems.append(
            f"latest{ARCHIVED}: {len(wrong)} Datastreams' Observation is no longer their "
            f"newest, e.g. {wrong[:5]}")
    if "day" in seen and seen[f"day{ARCHIVED}"] != seen["day"]:
        session.report.problems.append(
            f"day{ARCHIVED}: values per answer {dict(seen[f'day{ARCHIVED}'])}, before the "
            f"archive job {dict(seen['day'])}")


# -- the summary -----------------------------------------------------------------------------


def md_table(head: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=True))) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if i in right else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"
    return [line(head), rule, *(line(r) for r in rows)]


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def load_lines(loads: list[LoadResult]) -> list[str]:
    head = ["run", "rows", "seconds", "rows/s", "slowest window", "median window",
            "last window", "peak RSS MB", "CPU server", "CPU db", "CPU client", "note"]
    rows = []
    for r in loads:
        windows = r.windows or [r.rate]
        rss = None if r.peak_rss_mb is None else f"{r.peak_rss_mb:,.0f} (from {r.start_rss_mb:,.0f})"
        rows.append([r.label, f"{r.rows:,}", f"{r.seconds:.1f}", _num(r.rate), _num(min(windows)),
                     _num(statistics.median(windows)), _num(windows[-1]), rss or "-",
                     *(_pct(r.cpu.get(k)) for k in ("server", "db", "client")), r.note])
    out = md_table(head, rows, set(range(1, 11)))
    if len(loads) > 1 and any(r.windows for r in loads):
        out += ["", "rows/s per window of rows (window n ends at n x window size):", ""]
        longest = max(len(r.windows) for r in loads)
        grid = [[str(i + 1), *(_num(r.windows[i]) if i < len(r.windows) else "-" for r in loads)]
                for i in range(longest)]
        out += md_table(["window", *(r.label for r in loads)], grid, set(range(len(loads) + 1)))
    elif loads and loads[0].windows:
        out += ["", "rows/s per window: " + ", ".join(_num(w) for w in loads[0].windows)]
    return out


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


COUNT_KEYS = ("rows", "archived", "blocks")  # the counts among a storage entry's sizes


def storage_lines(storage: list[tuple[str, dict[str, int]]]) -> list[str]:
    """One line per relation; bytes/Observation divides by every Observation of the data
    (rows and archived ones alike). An empty archive shows only as its total."""
    rows = []
    for label, sizes in storage:
        count = sizes["rows"]
        archived = f"{sizes['archived']:,}" if "archived" in sizes else "-"
        for name, size in sizes.items():
            if name in COUNT_KEYS or (not sizes.get("blocks") and "observation_blocks" in name
                                      and name != "observation_blocks: total"):
                continue
            per_row = f"{size / count:.1f}" if count else "-"
            rows.append([label, name, f"{count:,}", archived, f"{size / 2**20:,.1f}", per_row])
    return md_table(["data", "relation", "Observations", "archived", "MiB", "bytes/Observation"],
                    rows, {2, 3, 4, 5})


def latency_lines(latencies: list[LatencyResult]) -> list[str]:
    rows = [[r.test, str(r.requests), f"{r.p50_ms:.2f}", f"{r.p95_ms:.2f}", f"{r.p99_ms:.2f}",
             r.check] for r in latencies]
    return md_table(["test", "requests", "p50 ms", "p95 ms", "p99 ms", "check"], rows, {1, 2, 3, 4})


def archive_lines(report: Report) -> list[str]:
    """The archive part's figures, and the reads before and after it."""
    a = report.archive
    cpu = ", ".join(f"{k} {_pct(v)}" for k, v in a["cpu"].items())
    out = [f"archive job (`quartier archive --keep-days 0`, process start included): "
           f"{a['archived']:,} rows in {a['seconds']:.1f} s ({a['rows_per_s']:,.0f} rows/s); "
           f"CPU {cpu}"]
    if "vacuum_analyze_s" in a:
        out.append(f"VACUUM (ANALYZE) observations, observation_blocks: "
                   f"{a['vacuum_analyze_s']:.1f} s")
    if "vacuum_full_s" in a:
        out.append(f"VACUUM FULL observations: {a['vacuum_full_s']:.1f} s")
    if a.get("archived_bytes_per_observation") is not None:
        out.append(f"archived only: {a['archived_bytes_per_observation']:.1f} bytes per "
                   f"archived Observation (observation_blocks total / {a['archived_in_blocks']:,}"
                   f" archived Observations in {a['blocks']:,} blocks)")
    if a.get("steady_bytes_per_observation") is not None:
        out.append(f"steady state, both tables: {a['steady_bytes_per_observation']:.1f} bytes "
                   f"per Observation; {STEADY_NOTE}")
    by_test = {r.test: r for r in report.latencies}
    for test, after in by_test.items():
        if test.endswith(ARCHIVED) and test.removesuffix(ARCHIVED) in by_test:
            now = by_test[test.removesuffix(ARCHIVED)]
            name = test.partition(":")[0]
            out.append(f"{name} p50/p99: {now.p50_ms:.2f}/{now.p99_ms:.2f} ms before the "
                       f"archive job, {after.p50_ms:.2f}/{after.p99_ms:.2f} ms after it")
    return [f"* {line}" for line in out]


def print_summary(session: Session, facts: list[str]) -> None:
    report = session.report
    out = ["", f"## Quartier query benchmark ({session.args.backend})", ""]
    out += [f"* {line}" for line in facts]
    if report.loads:
        out += ["", "### Ingest", "", *load_lines(report.loads)]
        server = next((r for r in report.loads if "HTTP" in r.label), None)
        driver = next((r for r in report.loads if "HTTP" not in r.label), None)
        if server and driver and driver.rate:
            out += ["", f"server / {driver.label}: {server.rate / driver.rate:.2f} "
                        f"({server.rate:,.0f} against {driver.rate:,.0f} rows/s)"]
    if report.storage:
        out += ["", "### Storage", "", *storage_lines(report.storage)]
    if report.archive:
        out += ["", "### Archive", "", *archive_lines(report)]
    if report.latencies:
        out += ["", "### Reads", "", *latency_lines(report.latencies)]
    if report.notes:
        out += ["", *(f"* {note}" for note in report.notes)]
    if report.problems:
        out += ["", "### PROBLEMS", "", *(f"* {p}" for p in report.problems)]
    print("\n".join(out), flush=True)


def write_json(path: Path, session: Session, facts: list[str]) -> None:
    report = session.report
    path.write_text(orjson.dumps({
        "facts": facts, "args": {k: str(v) for k, v in vars(session.args).items()},
        "loads": [{**r.__dict__, "rate": r.rate} for r in report.loads],
        "storage": dict(report.storage),
        "latencies": [r.__dict__ for r in report.latencies],
        "archive": report.archive,
        "notes": report.notes, "problems": report.problems,
    }, option=orjson.OPT_INDENT_2).decode() + "\n")


# -- command line ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add = parser.add_argument
    add("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    add("--tests", default=",".join(TESTS), help=f"parts to run, from {', '.join(TESTS)}")
    add("--rows", type=int, default=10_000_000, help="Observations to write")
    add("--datastreams", type=int, default=1000, help="Datastreams the rows go to")
    add("--things", type=int, default=10, help="Things the Datastreams belong to")
    add("--rows-per-request", type=int, default=1000,
        help="rows per CreateObservations request (and per COPY / transaction of the baseline)")
    add("--datastreams-per-request", type=int, default=10, help="Datastreams per request")
    add("--connections", type=int, default=8, help="concurrent connections for the writes")
    add("--window", type=int, default=None,
        help="rows per window of the sustained rate (default 1M; a tenth of runs under 2M)")
    add("--requests", type=int, default=200, help="measured requests of latest and day")
    add("--warmup", type=int, default=20, help="unmeasured requests before them")
    add("--latest-top", type=int, default=1000, help="$top of the latest query")
    add("--day", type=date.fromisoformat, default=date(2026, 1, 2),
        help="UTC day of the day query")
    add("--seed", type=int, default=1, help="seed of the day query's Datastream choice")
    add("--workers", type=int, default=1, help="worker processes of the server started")
    add("--keep", action="store_true",
        help="keep the database (or SQLite folder) this run makes and print how to reuse it")
    add("--url", default=None, help="use the running server at this URL (e.g. "
        "http://127.0.0.1:8080) instead of starting one; no memory figures then")
    add("--database-url", default=None,
        help="PostgreSQL database of the server under test (existing; never dropped)")
    add("--data-dir", type=Path, default=None,
        help="SQLite data folder of the server under test (existing; never removed)")
    add("--pg-admin-url", default=os.environ.get(
        "QUARTIER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL to create fresh databases in (loopback only)")
    add("--src", type=Path, default=None,
        help="run the servers from this source folder (holding the quartier package)")
    add("--quiet-wait", type=int, default=30,
        help="wait up to this many s for the machine to be idle before each measurement")
    add("--log-dir", type=Path, default=None, help="keep the servers' logs in this folder")
    add("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    args.tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    if not args.tests or set(args.tests) - set(TESTS):
        parser.error(f"--tests takes {', '.join(TESTS)} (comma separated)")
    for name in ("rows", "datastreams", "things", "rows_per_request", "datastreams_per_request",
                 "connections", "requests", "latest_top", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    for option in ("url", "database_url", "pg_admin_url"):
        url = getattr(args, option)
        if url and urllib.parse.urlsplit(url).hostname not in LOOPBACK:
            parser.error(f"--{option.replace('_', '-')} must point at this machine (127.0.0.1)")
    if args.backend == "sqlite" and args.database_url:
        parser.error("--database-url is for PostgreSQL; use --data-dir with --backend sqlite")
    if args.backend == "postgresql" and args.data_dir:
        parser.error("--data-dir is for SQLite; use --database-url with --backend postgresql")
    if args.src is not None and not (args.src / "quartier" / "__init__.py").exists():
        parser.error(f"--src {args.src} holds no quartier package")


# what a part may fail with that needs no traceback: the message says it
EXPECTED_FAILURES = (RuntimeError, OSError, EOFError, asyncpg.PostgresError)


def run_parts(session: Session) -> list[str]:
    """Run the chosen parts in order; the failures, each with the server log's tail. A
    failed part does not stop the others, except a failed ingest: its data is incomplete."""
    parts: dict[str, Callable[[Session], None]] = {
        "baseline": part_baseline, "ingest": part_ingest, "storage": part_storage,
        "latest": part_latest, "day": part_day, "archive": part_archive}
    failures = []
    for name in TESTS:  # always in this order, whatever order --tests gives
        if name not in session.tests:
            continue
        say(f"== {name}")
        try:
            parts[name](session)
        except EXPECTED_FAILURES as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}{session.fail_hint()}")
            say(f"{name} FAILED: {exc}")
            if name == "ingest":
                break
    return failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind like Ctrl-C: clean up
    if args.log_dir is not None:
        args.log_dir.mkdir(parents=True, exist_ok=True)
    if args.src is not None:
        Server.source = args.src.resolve()
    revision = source_revision(Server.source)
    facts = [revision, *machine_summary(args.pg_admin_url if args.backend == "postgresql"
                                        else None)]
    for line in facts:
        say(line)
    with tempfile.TemporaryDirectory(prefix="quartier-bench-query-") as tmp:
        session = Session(args, Path(tmp))
        try:
            failures = run_parts(session)
        finally:
            session.close()
    print_summary(session, facts)
    if args.json:
        write_json(args.json, session, facts)
    for failure in failures:
        print(f"\nFAILED {failure}", file=sys.stderr, flush=True)
    return 1 if failures or session.report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
