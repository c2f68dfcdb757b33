"""The embedded backend: one SQLite file, one writer connection, a few readers.

Each connection has its own thread, so the event loop never waits on the disk. Writes
go through a single connection under ``BEGIN IMMEDIATE``; other processes wait on the
file lock (``busy_timeout``), so several API workers can share the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from quartier.store import sqlite_functions
from quartier.store.base import Store
from quartier.store.connection import MAX_PARAMETERS
from quartier.store.dialect import Dialect
from quartier.store.migrate import migrate_sqlite

_READERS = 3


class SqliteConnection:
    """A sqlite3 connection driven from asyncio through its own thread."""

    def __init__(self, path: Path, interruptible: bool = False) -> None:
        """``interruptible``: a statement whose caller is cancelled (the request time
        limit) is interrupted, rather than left running in its thread; for readers."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._path = path
        self._interruptible = interruptible
        self.raw: sqlite3.Connection | None = None

    async def open(self) -> None:
        self.raw = await self._run(self._connect)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, timeout=30
        )
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the client hears of it.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        sqlite_functions.register(conn)
        return conn

    async def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except asyncio.CancelledError:
            if self._interruptible and self.raw is not None:
                self.raw.interrupt()  # the statement ends with "interrupted"; nobody waits
            raise

    def _db(self) -> sqlite3.Connection:
        assert self.raw is not None, "connection is not open"
        return self.raw

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return await self._run(lambda: self._db().execute(sql, params).fetchall())

    async def fetchrow(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Any] | None:
        return await self._run(lambda: self._db().execute(sql, params).fetchone())

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchrow(sql, params)
        return None if row is None else row[0]

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(await self._run(lambda: self._db().execute(sql, params).rowcount))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._run(lambda: self._db().executemany(sql, rows))

    async def stream(
        self, sql: str, params: Sequence[Any], chunk: int
    ) -> AsyncIterator[list[Sequence[Any]]]:
        cursor = await self._run(lambda: self._db().execute(sql, params))
        try:
            while rows := await self._run(cursor.fetchmany, chunk):
                yield rows
        finally:
            await self._run(cursor.close)

    async def copy_columns(
        self, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]]
    ) -> list[int]:
        rows = await self.insert_columns(table, names, columns, "id")
        return sorted(int(r[0]) for r in rows)  # ids are drawn in the order of the rows

    async def copy_binary(
        self, table: str, names: Sequence[str], data: AsyncIterable[bytes]
    ) -> None:
        raise NotImplementedError("SQLite has no binary COPY (Dialect.binary_copy)")

    async def insert_columns(
        self, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]], returning: str
    ) -> list[Sequence[Any]]:
        records = list(zip(*columns, strict=True))
        listed = ", ".join(names)
        one = "(" + ", ".join("?" * len(names)) + ")"
        per_query = max(1, MAX_PARAMETERS // len(names))

        def insert() -> list[Sequence[Any]]:
            out: list[Sequence[Any]] = []
            for start in range(0, len(records), per_query):
                chunk = records[start:start + per_query]
                sql = (f"INSERT INTO {table} ({listed}) VALUES {', '.join([one] * len(chunk))} "
                       f"RETURNING {returning}")
                out.extend(self._db().execute(sql, [v for record in chunk for v in record]))
            return out

        return await self._run(insert)

    async def executescript(self, script: str) -> None:
        await self._run(lambda: self._db().executescript(script))

    async def close(self) -> None:
        if self.raw is not None:
            await self._run(self.raw.close)
            self.raw = None
        self._executor.shutdown(wait=True)


class SqliteStore(Store):
    """Quartier on an embedded SQLite file."""

    dialect = Dialect()

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._writer = SqliteConnection(path)
        self._write_lock = asyncio.Lock()
        self._readers: asyncio.Queue[SqliteConnection] = asyncio.Queue()
        self._all_readers: list[SqliteConnection] = []

    @property
    def description(self) -> str:
        return f"SQLite file {self.path}"

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._writer.open()
        await migrate_sqlite(self._writer)
        for _ in range(_READERS):
            reader = SqliteConnection(self.path, interruptible=True)
            await reader.open()
            self._all_readers.append(reader)
            self._readers.put_nowait(reader)

    async def close(self) -> None:
        for reader in self._all_readers:
            await reader.close()
        self._all_readers.clear()
        await self._writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteConnection]:
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[SqliteConnection]:
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)
