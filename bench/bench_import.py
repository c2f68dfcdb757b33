"""Benchmark of CSV import (``quartier import csv`` and ``POST /api/imports/csv``, issue 4).

Makes a CSV file of ``--rows`` rows (default 1,000,000, one a minute) in two layouts:

* ``german``: ``zeit;wert;status``, times ``%d.%m.%Y %H:%M`` in local Europe/Berlin time,
  values with a decimal comma (and whole numbers, and now and then a text);
* ``iso``: ``t,v``, times ISO 8601 with the Berlin offset (``2023-03-26T03:00:00+02:00``).

For each backend it prepares a fresh store (a new PostgreSQL database, or an SQLite folder),
starts a real ``quartier serve`` (for the Datastream and the HTTP upload), and then per run:

* ``cli <layout>``: the real ``quartier import csv`` command into a new Datastream;
* ``http german``: the same file uploaded to ``POST /api/imports/csv``;
* ``COPY baseline`` (PostgreSQL): the same rows, already made into Python tuples, written
  with asyncpg's ``copy_records_to_table`` in one transaction into a copy of the
  observations table (``LIKE observations INCLUDING ALL``, plus the foreign keys the table
  has: none since migration 0018, two in older trees run with ``--src``); where it has some,
  ``COPY no FK`` the same without them;
* ``executemany baseline`` (SQLite): the same rows with ``executemany`` in one transaction
  into a copy of the table with its foreign keys, through ``sqlite3`` alone.

The observations table is emptied before each run. After every import the rows in the
database are counted and their first and last time compared with the file's. It prints
seconds, rows/s, the ratio to the baseline, CPU seconds of the importer and of PostgreSQL,
and the importer's peak memory; with ``--repeat`` each run is done that often and the
table shows the median and the spread.

    .venv/bin/python bench/bench_import.py --repeat 3
    .venv/bin/python bench/bench_import.py --backend sqlite --rows 200000
    .venv/bin/python bench/bench_import.py --src /tmp/old/src   # an older quartier
    .venv/bin/python bench/bench_import.py --profile /tmp/prof --repeat 1  # cProfile of the CLI

Traffic goes to 127.0.0.1 only; the server, the database and the files are removed at the
end, also after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from bench_sensorthings import (
    LOOPBACK,
    CpuMeter,
    Server,
    admin_sql,
    auth_headers,
    create_datastreams,
    machine_summary,
    postgres_pids,
    say,
    source_revision,
)

START = datetime(2023, 1, 1, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
RESULT_INT, RESULT_FLOAT, RESULT_STRING = 1, 2, 4  # result_type (quartier.model.values)
LAYOUTS: dict[str, list[str]] = {
    "german": ["--time-column", "zeit", "--value-column", "wert", "--delimiter", ";",
               "--time-format", "%d.%m.%Y %H:%M", "--timezone", "Europe/Berlin"],
    "iso": ["--time-column", "t", "--value-column", "v"],
}
HTTP_PARAMS = {"timeColumn": "zeit", "valueColumn": "wert", "delimiter": ";",
               "timeFormat": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"}


# -- the files ----------------------------------------------------------------------------


def row_value(i: int) -> int | float | str:
    """The value of row ``i``: mostly decimals, every third a whole number, rarely a text."""
    if i % 100_000 == 99_999:
        return "Wartung"
    if i % 3 == 0:
        return i % 500
    return (i % 10_000) / 10 + 0.25


def write_files(folder: Path, rows: int) -> dict[str, Path]:
    """The two layouts of the same rows: times a minute apart from :data:`START`."""
    paths = {"german": folder / "pegel-german.csv", "iso": folder / "pegel-iso.csv"}
    hour_offset: dict[int, timedelta] = {}
    with paths["german"].open("w", encoding="utf-8", newline="") as german, \
            paths["iso"].open("w", encoding="utf-8", newline="") as iso:
        german.write("zeit;wert;status\r\n")
        iso.write("t,v\n")
        for i in range(rows):
            when = START + timedelta(minutes=i)
            hour = i // 60
            offset = hour_offset.get(hour)
            if offset is None:  # Berlin changes its offset only on a whole UTC hour
                offset = hour_offset[hour] = when.astimezone(BERLIN).utcoffset() or timedelta(0)
            local = (when + offset).replace(tzinfo=None)
            value = row_value(i)
            if isinstance(value, float):
                german_value, iso_value = f"{value:.2f}".replace(".", ","), f"{value:.2f}"
            else:
                german_value = iso_value = str(value)
            hours, minutes = divmod(int(offset.total_seconds()) // 60, 60)
            german.write(f"{local:%d.%m.%Y %H:%M};{german_value};ok\r\n")
            iso.write(f"{local:%Y-%m-%dT%H:%M:%S}+{hours:02d}:{minutes:02d},{iso_value}\n")
    return paths


def baseline_rows(rows: int, datastream: int, feature: int, tenant: int,
                  as_text: bool) -> list[tuple[Any, ...]]:
    """The rows an import of the files stores, as tuples of column values (times as
    SQLite's text when ``as_text``)."""
    out: list[tuple[Any, ...]] = []
    for i in range(rows):
        when = START + timedelta(minutes=i)
        stamp: Any = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if as_text else when
        value = row_value(i)
        if isinstance(value, str):
            out.append((tenant, stamp, RESULT_STRING, None, value, datastream, feature))
        elif isinstance(value, int):
            out.append((tenant, stamp, RESULT_INT, float(value), None, datastream, feature))
        else:
            out.append((tenant, stamp, RESULT_FLOAT, value, None, datastream, feature))
    return out


BASELINE_COLUMNS = ["tenant_id", "phenomenon_time_start", "result_type", "result_number",
                    "result_string", "datastream_id", "feature_id"]


# -- results ------------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    test: str
    rows: int
    seconds: list[float] = field(default_factory=list)
    importer_cpu: list[float] = field(default_factory=list)  # s, the CLI or the server
    database_cpu: list[float] = field(default_factory=list)  # s, PostgreSQL's processes
    peak_mb: list[float] = field(default_factory=list)
    baseline: str = ""  # the test this one is compared with


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def print_table(runs: list[Run]) -> None:
    by_name = {(r.backend, r.test): r for r in runs}
    head = ["backend", "run", "rows", "s (median)", "s (min-max)", "rows/s", "x baseline",
            "importer CPU s", "PostgreSQL CPU s", "peak RSS MB"]
    table = [head]
    for r in runs:
        median = _median(r.seconds)
        if median is None:
            continue
        ratio = ""
        base = by_name.get((r.backend, r.baseline))
        if base is not None and base.seconds:
            ratio = f"{median / statistics.median(base.seconds):.2f}"
        cpu = _median(r.importer_cpu)
        db = _median(r.database_cpu)
        mem = _median(r.peak_mb)
        table.append([
            r.backend, r.test, f"{r.rows:,}", f"{median:.2f}",
            f"{min(r.seconds):.2f}-{max(r.seconds):.2f}", f"{r.rows / median:,.0f}", ratio,
            "-" if cpu is None else f"{cpu:.1f}", "-" if db is None else f"{db:.1f}",
            "-" if mem is None else f"{mem:,.0f}",
        ])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i >= 2 else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=True))) + " |"

    print(line(table[0]))
    print("|" + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":"
                         for i, w in enumerate(widths)) + "|")
    for row in table[1:]:
        print(line(row))


# -- the store ------------------------------------------------------------------------------


class Store:
    """A fresh store on one backend, with a ``quartier serve`` on it."""

    def __init__(self, backend: str, folder: Path, admin_url: str) -> None:
        self.backend = backend
        self.folder = folder
        self.admin_url = admin_url
        self.database = f"quartier_bench_import_{uuid.uuid4().hex[:8]}"
        self.url = admin_url.rpartition("/")[0] + f"/{self.database}"
        self.args = ["--data-dir", str(folder)]
        if backend == "postgresql":
            self.args += ["--database", self.url, "--archive-after-days", "0"]
        self.server: Server | None = None

    def __enter__(self) -> Store:
        if self.backend == "postgresql":
            asyncio.run(admin_sql(self.admin_url, f'CREATE DATABASE "{self.database}"'))
        self.server = Server(self.args, 1, self.folder / "server.log")  # makes the admin key
        self.server.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()
        if self.backend == "postgresql":
            asyncio.run(admin_sql(self.admin_url,
                                  f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))

    def empty(self) -> None:
        """No Observations: every run starts from the same empty table."""
        if self.backend == "postgresql":
            asyncio.run(self._pg("TRUNCATE observations"))
        else:
            with contextlib.closing(self.sqlite()) as db:
                db.execute("DELETE FROM observations")
                db.execute("VACUUM")

    def sqlite(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.folder / "quartier.sqlite3", timeout=60,
                             isolation_level=None)
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=FULL")
        return db

    async def _pg(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.url, timeout=10)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    def query(self, sql: str, *args: Any) -> list[Any]:
        if self.backend == "postgresql":
            return list(asyncio.run(self._pg(sql, *args)))
        with contextlib.closing(self.sqlite()) as db:
            return db.execute(sql.replace("$1", "?"), args).fetchall()

    def check(self, datastream: int, rows: int, text_times: bool) -> int:
        """The count of the Datastream's rows, its first and last time as the file's; its
        FeatureOfInterest."""
        found = self.query(
            "SELECT count(*), min(phenomenon_time_start), max(phenomenon_time_start),"
            " min(feature_id), max(feature_id) FROM observations WHERE datastream_id = $1",
            datastream)[0]
        first, last = START, START + timedelta(minutes=rows - 1)
        if text_times:
            first_text, last_text = (t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in (first, last))
            expected: tuple[Any, ...] = (rows, first_text, last_text)
        else:
            expected = (rows, first, last)
        if tuple(found[:3]) != expected or found[3] != found[4]:
            raise RuntimeError(f"Datastream {datastream} holds {tuple(found)}, not {expected}")
        return int(found[3])

    def pg_pids(self) -> list[int]:
        return postgres_pids(self.database) if self.backend == "postgresql" else []


# -- the runs ---------------------------------------------------------------------------------


def cli_import(store: Store, path: Path, layout: str, datastream: int,
               profile: Path | None) -> tuple[float, float, float, float]:
    """Run ``quartier import csv``: (seconds, its CPU s, PostgreSQL's CPU s, peak RSS MB)."""
    command, env = Server.quartier_command(
        "import", "csv", str(path), "--datastream", str(datastream), *LAYOUTS[layout],
        *store.args)
    if profile is not None:
        command[1:3] = ["-m", "cProfile", "-o", str(profile), "-m", "quartier"]
    log = store.folder / "cli.log"
    with log.open("wb") as out, CpuMeter({"database": store.pg_pids}) as cpu:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)
        peak = 0.0
        while True:  # the CLI's database backend ends with it: sample it while it runs
            peak = max(peak, high_water_mb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            cpu.sample()
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if proc.returncode != 0 or "imported" not in text:
        raise RuntimeError(f"quartier import csv failed ({proc.returncode}): {text[-2000:]}")
    seconds = cpu.seconds
    return (seconds, usage.ru_utime + usage.ru_stime,
            cpu.result.get("database", 0.0) * seconds / 100, peak)


def high_water_mb(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), in MB. Not ru_maxrss: a child's
    counts the memory of this process it was forked from."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def http_import(store: Store, path: Path, datastream: int) -> tuple[float, float, float]:
    """Upload the German file: (seconds, the server's CPU s, PostgreSQL's CPU s)."""
    assert store.server is not None
    server = store.server
    base = server.base.rsplit("/v1.1", 1)[0]
    query = urllib.parse.urlencode({"datastream": datastream, **HTTP_PARAMS})
    data = path.read_bytes()
    request = urllib.request.Request(f"{base}/api/imports/csv?{query}", data=data, method="POST",
                                     headers={"Content-Type": "text/csv", **auth_headers()})
    with CpuMeter({"server": server.pids, "database": store.pg_pids}) as cpu, \
            urllib.request.urlopen(request, timeout=900) as response:
        body = response.read()
    if response.status != 201:
        raise RuntimeError(f"the upload answered {response.status}: {body[:500]!r}")
    seconds = cpu.seconds
    return (seconds, cpu.result["server"] * seconds / 100,
            cpu.result.get("database", 0.0) * seconds / 100)


async def table_foreign_keys(conn: Any) -> list[Any]:
    return list(await conn.fetch(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'observations'::regclass AND contype = 'f' ORDER BY conname"))


async def foreign_keys_of(url: str) -> list[Any]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await table_foreign_keys(conn)
    finally:
        await conn.close()


async def pg_baseline(store: Store, records: list[tuple[Any, ...]], foreign_keys: bool,
                      ) -> tuple[float, float]:
    """COPY the records into a copy of the observations table: (seconds, PostgreSQL's CPU s)."""
    conn = await asyncpg.connect(store.url, timeout=10)
    try:
        await conn.execute("DROP TABLE IF EXISTS bench_observations")
        await conn.execute("CREATE TABLE bench_observations (LIKE observations INCLUDING ALL)")
        if foreign_keys:  # those the observations table has (none since migration 0018)
            for (definition,) in await table_foreign_keys(conn):
                await conn.execute(f"ALTER TABLE bench_observations ADD {definition}")
        with CpuMeter({"database": store.pg_pids}) as cpu:
            async with conn.transaction():
                await conn.copy_records_to_table("bench_observations", records=records,
                                                 columns=BASELINE_COLUMNS)
        count = await conn.fetchval("SELECT count(*) FROM bench_observations")
        if count != len(records):
            raise RuntimeError(f"the baseline table holds {count} rows, not {len(records)}")
        await conn.execute("DROP TABLE bench_observations")
    finally:
        await conn.close()
    return cpu.seconds, cpu.result.get("database", 0.0) * cpu.seconds / 100


def sqlite_baseline(store: Store, records: list[tuple[Any, ...]]) -> float:
    """executemany of the records into a copy of the observations table (its foreign
    keys, its indexes) in one transaction: seconds."""
    with contextlib.closing(store.sqlite()) as db:
        ddl = db.execute("SELECT sql FROM sqlite_master WHERE name = 'observations'").fetchone()[0]
        indexes = [r[0] for r in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'observations'"
            " AND sql IS NOT NULL")]
        db.execute("DROP TABLE IF EXISTS bench_observations")
        db.execute(ddl.replace("observations", "bench_observations", 1))
        for sql in indexes:
            db.execute(sql.replace(" ON observations", " ON bench_observations")
                       .replace("INDEX observations", "INDEX bench_observations"))
        marks = ", ".join("?" for _ in BASELINE_COLUMNS)
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(f"INSERT INTO bench_observations ({', '.join(BASELINE_COLUMNS)}) "
                       f"VALUES ({marks})", records)
        db.execute("COMMIT")
        seconds = time.perf_counter() - started
        count = db.execute("SELECT count(*) FROM bench_observations").fetchone()[0]
        if count != len(records):
            raise RuntimeError(f"the baseline table holds {count} rows, not {len(records)}")
        db.execute("DROP TABLE bench_observations")
    return seconds


def show_profile(path: Path, top: int = 30) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)


def bench_backend(backend: str, files: dict[str, Path], args: argparse.Namespace,
                  workdir: Path) -> list[Run]:
    folder = workdir / backend
    folder.mkdir()
    rows = args.rows
    sqlite = backend == "sqlite"
    base_name = "executemany baseline" if sqlite else "COPY baseline"
    runs = {name: Run(backend, name, rows, baseline=base_name)
            for name in [*(f"cli {layout}" for layout in args.layouts),
                         *(["http german"] if args.http else [])]}
    runs[base_name] = Run(backend, base_name, rows)
    if not sqlite:
        runs["COPY no FK"] = Run(backend, "COPY no FK", rows, baseline=base_name)
    say(f"{backend}: starting quartier serve on a fresh store")
    with Store(backend, folder, args.pg_admin_url) as store:
        assert store.server is not None
        if not sqlite and not asyncio.run(foreign_keys_of(store.url)):
            del runs["COPY no FK"]  # the same as the baseline: the table has none
        tenant = int(store.query("SELECT id FROM tenants WHERE name = 'default'")[0][0])
        feature = 0
        datastream = 0
        for attempt in range(1, args.repeat + 1):
            for layout in args.layouts:
                store.empty()
                datastream = create_datastreams(store.server.base, 1)[0]
                say(f"{backend} run {attempt}: quartier import csv, {layout} layout, "
                    f"Datastream {datastream}")
                profile = None
                if args.profile is not None:
                    profile = args.profile / f"{backend}-{layout}-{attempt}.prof"
                seconds, own, db, peak = cli_import(store, files[layout], layout, datastream,
                                                    profile)
                feature = store.check(datastream, rows, sqlite)
                run = runs[f"cli {layout}"]
                run.seconds.append(seconds)
                run.importer_cpu.append(own)
                if not sqlite:
                    run.database_cpu.append(db)
                run.peak_mb.append(peak)
                say(f"  {seconds:.2f} s, {rows / seconds:,.0f} rows/s; CPU: importer {own:.1f} s"
                    f", PostgreSQL {db:.1f} s; peak RSS {peak:.0f} MB")
                if profile is not None:
                    show_profile(profile)
            if args.http:
                store.empty()
                datastream = create_datastreams(store.server.base, 1)[0]
                say(f"{backend} run {attempt}: POST /api/imports/csv, german layout")
                seconds, own, db = http_import(store, files["german"], datastream)
                feature = store.check(datastream, rows, sqlite)
                run = runs["http german"]
                run.seconds.append(seconds)
                run.importer_cpu.append(own)
                if not sqlite:
                    run.database_cpu.append(db)
                say(f"  {seconds:.2f} s, {rows / seconds:,.0f} rows/s")
            store.empty()
            records = baseline_rows(rows, datastream, feature, tenant, sqlite)
            if sqlite:
                say(f"{backend} run {attempt}: executemany baseline")
                seconds = sqlite_baseline(store, records)
                runs[base_name].seconds.append(seconds)
                say(f"  {seconds:.2f} s")
            else:
                for name, keys in ((base_name, True), ("COPY no FK", False)):
                    if name not in runs:
                        continue
                    say(f"{backend} run {attempt}: {name}")
                    seconds, db = asyncio.run(pg_baseline(store, records, keys))
                    runs[name].seconds.append(seconds)
                    runs[name].database_cpu.append(db)
                    say(f"  {seconds:.2f} s, PostgreSQL CPU {db:.1f} s")
            del records
    return list(runs.values())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--layouts", default="german,iso",
                        help="file layouts for the CLI, comma separated: german, iso")
    parser.add_argument("--no-http", dest="http", action="store_false",
                        help="leave out the HTTP upload")
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "QUARTIER_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL to create the benchmark database in (loopback only)")
    parser.add_argument("--src", type=Path, default=None,
                        help="run quartier from this source folder (the one holding the "
                             "quartier package) instead of the installed one")
    parser.add_argument("--profile", type=Path, default=None,
                        help="run the CLI under cProfile, keep its profiles in this folder "
                             "and print the top functions (slows it down)")
    args = parser.parse_args(argv)
    args.layouts = [name.strip() for name in args.layouts.split(",") if name.strip()]
    if not args.layouts or set(args.layouts) - set(LAYOUTS):
        parser.error("--layouts takes german and iso")
    if args.rows < 2 or args.repeat < 1:
        parser.error("--rows must be 2 or more and --repeat 1 or more")
    if urllib.parse.urlsplit(args.pg_admin_url).hostname not in LOOPBACK:
        parser.error("--pg-admin-url must point at this machine (127.0.0.1)")
    if args.src is not None:
        if not (args.src / "quartier" / "__init__.py").exists():
            parser.error(f"--src {args.src} holds no quartier package")
        Server.source = args.src.resolve()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    revision = source_revision(Server.source)
    say(revision)
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for line in machine_summary(args.pg_admin_url if "postgresql" in names else None):
        say(line)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="quartier-bench-import-") as tmp:
        workdir = Path(tmp)
        say(f"writing {args.rows:,} rows in each layout")
        files = write_files(workdir, args.rows)
        for name in names:
            runs += bench_backend(name, files, args, workdir)
    print()
    print(f"CSV import ({revision}): {args.rows:,} rows, {args.repeat} run(s) each; "
          "CPU in seconds")
    print()
    print_table(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
