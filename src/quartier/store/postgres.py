"""The production backend: PostgreSQL with PostGIS, through an asyncpg pool."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
import orjson

from quartier.errors import BadRequest, RequestTimeout, SchemaVersionError, ServiceUnavailable
from quartier.store.base import SignalReceiver, Store
from quartier.store.dialect import PostgresDialect
from quartier.store.migrate import migrate_postgres

log = logging.getLogger(__name__)

_CONNECTION_LOST = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash, cannot connect now
    asyncpg.exceptions.InterfaceError,  # "connection is closed"
)


class PostgresConnection:
    """An asyncpg connection that takes the shared ``?`` SQL."""

    def __init__(self, raw: asyncpg.Connection, dialect: PostgresDialect) -> None:
        self.raw = raw
        self._sql = dialect.sql

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        with _values_checked():
            return await self.raw.fetch(self._sql(sql), *params)

    async def fetchrow(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Any] | None:
        with _values_checked():
            return await self.raw.fetchrow(self._sql(sql), *params)

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with _values_checked():
            return await self.raw.fetchval(self._sql(sql), *params)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        status = await self.raw.execute(self._sql(sql), *params)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.raw.executemany(self._sql(sql), rows)

    async def stream(
        self, sql: str, params: Sequence[Any], chunk: int
    ) -> AsyncIterator[list[Sequence[Any]]]:
        async with self.raw.transaction(readonly=True):  # a cursor lives in a transaction
            with _values_checked():
                cursor = await self.raw.cursor(self._sql(sql), *params)
                while rows := await cursor.fetch(chunk):
                    yield rows

    async def copy_columns(
        self, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]]
    ) -> list[int]:
        # COPY returns no ids: draw them from the table's identity sequence first, as one
        # array (a row per id would cost a record each to decode).
        ids: list[int] = await self.raw.fetchval(
            "SELECT array(SELECT nextval($1::regclass) FROM generate_series(1, $2))",
            await self._sequence(table), len(columns[0]),
        )
        await self.raw.copy_records_to_table(
            table, columns=["id", *names], records=zip(ids, *columns, strict=True)
        )
        return ids

    async def copy_binary(
        self, table: str, names: Sequence[str], data: AsyncIterable[bytes]
    ) -> None:
        with _values_checked():
            await self.raw.copy_to_table(table, source=data, columns=list(names),
                                         format="binary")

    async def insert_columns(
        self, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]], returning: str
    ) -> list[Sequence[Any]]:
        # One array per column: the same statement for any number of rows, so it is
        # prepared once per connection (VALUES lists of varying length are not). A column
        # of NULLs only (after the first) goes as an empty array, which unnest pads with
        # NULLs: the driver encodes (and checks) each array element, at some cost.
        types = await self._column_types(table)
        arrays = ", ".join(f"${n}::{types[name]}[]" for n, name in enumerate(names, 1))
        rows = len(columns[0])
        with _values_checked():
            return await self.raw.fetch(
                f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
                f"RETURNING {returning}",
                list(columns[0]),
                *([] if column.count(None) == rows else list(column) for column in columns[1:]),
            )

    async def _column_types(self, table: str) -> dict[str, str]:
        types = _COLUMN_TYPES.get(table)
        if types is None:
            rows = await self.raw.fetch(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped", table)
            types = _COLUMN_TYPES[table] = {r[0]: r[1] for r in rows}
        return types

    async def _sequence(self, table: str) -> str:
        name = _SEQUENCES.get(table)
        if name is None:
            name = _SEQUENCES[table] = await self.raw.fetchval(
                "SELECT pg_get_serial_sequence($1, 'id')", table
            )
        return name


# The identity sequence of each table's id (the schema, and so the name, is the same in
# every Quartier database).
_SEQUENCES: dict[str, str] = {}
_COLUMN_TYPES: dict[str, dict[str, str]] = {}  # by table: each column's SQL type


@contextmanager
def _values_checked() -> Iterator[None]:
    """A value the database cannot compute from the request (an overflow, a negative
    substring length, a geometry PostGIS refuses) is the client's 400, not a 500."""
    try:
        yield
    except asyncpg.exceptions.QueryCanceledError:
        # statement_timeout: the read took longer than the request time limit.
        raise RequestTimeout("the database stopped this request: it took longer than the "
                             "request time limit; ask for less") from None
    except asyncpg.exceptions.DataError as exc:
        raise BadRequest(f"the database cannot compute this request: {exc}") from None
    except asyncpg.exceptions.InternalServerError as exc:
        if not any(word in str(exc).lower() for word in ("geom", "geos", "relate")):
            raise
        raise BadRequest(f"the database cannot compute this request: {exc}") from None


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary formats, so that COPY (binary only) takes JSON too: jsonb is a version
    # byte and the text, json is the text.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec(
        "json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )


def _jsonb_encode(value: Any) -> bytes:
    return b"\x01" + orjson.dumps(value)


def _jsonb_decode(data: bytes) -> Any:
    return orjson.loads(data[1:])


# No JIT compilation: Quartier's queries walk indexes, and the planner's estimates for a
# LATERAL page per parent (each parent's rows times the parents) exceed jit_above_cost once
# a table holds millions of rows. Compiling then cost more than the query itself: 15 of
# 24 ms for the latest Observation of 1,000 Datastreams on 10M rows.
_SESSION_SETTINGS = {"jit": "off"}


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on release: Quartier sets no session state (no SET, no
    LISTEN, no advisory locks on pooled connections), and asyncpg still rolls back a
    transaction left open. Saves a round trip per request."""


class PostgresStore(Store):
    """Quartier on PostgreSQL with PostGIS."""

    dialect = PostgresDialect()

    def __init__(
        self, url: str, min_size: int = 2, max_size: int = 10, read_timeout: int = 0
    ) -> None:
        """``read_timeout``: seconds any statement outside a write transaction may run
        (PostgreSQL's ``statement_timeout`` on the pool's connections); 0: no limit."""
        super().__init__()
        self.url = url
        self._read_timeout = read_timeout
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None

    @property
    def description(self) -> str:
        head, _, tail = self.url.rpartition("@")
        if not head:
            return f"PostgreSQL {self.url}"
        scheme, _, _ = head.partition("://")
        return f"PostgreSQL {scheme}://…@{tail}"

    async def open(self) -> None:
        try:
            conn = await asyncpg.connect(self.url)
        except (OSError, asyncpg.PostgresError) as exc:
            raise SchemaVersionError(f"cannot connect to {self.description}: {exc}") from None
        try:
            await migrate_postgres(conn)
        finally:
            await conn.close()
        settings = dict(_SESSION_SETTINGS)
        if self._read_timeout:
            settings["statement_timeout"] = f"{self._read_timeout}s"
        self._pool = await asyncpg.create_pool(
            self.url, min_size=self._min_size, max_size=self._max_size, init=_init_connection,
            reset=_keep_session, server_settings=settings,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _the_pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "store is not open"
        return self._pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresConnection]:
        with self._unavailable_as_503():
            async with self._the_pool().acquire() as raw, raw.transaction():
                if self._read_timeout:
                    # Writes are never cut off: a write that took long is still written
                    # whole or not at all, and acknowledged only after its commit.
                    await raw.execute("SET LOCAL statement_timeout = 0")
                yield PostgresConnection(raw, self.dialect)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[PostgresConnection]:
        with self._unavailable_as_503():
            async with self._the_pool().acquire() as raw:
                yield PostgresConnection(raw, self.dialect)

    signalling = True
    _LISTEN_CHECK = 5.0  # seconds between checks that the listening connection lives

    async def signal(self, channel: str, payload: str) -> None:
        async with self.reader() as conn:
            await conn.execute("SELECT pg_notify(?, ?)", (channel, payload))

    async def listen_signals(self, channel: str, receive: SignalReceiver) -> None:
        # LISTEN holds its connection for as long as it listens: its own, not the pool's.
        delay = 1.0
        while True:
            try:
                conn = await asyncpg.connect(self.url)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot listen for %s (%s); trying again in %.0f s", channel, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            try:
                await conn.add_listener(channel, lambda _c, _pid, _ch, payload: receive(payload))
                while not conn.is_closed():
                    await asyncio.sleep(self._LISTEN_CHECK)
                    await conn.execute("SELECT 1")  # finds a connection the server dropped
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("lost the connection listening for %s (%s)", channel, exc)
            finally:
                if not conn.is_closed():
                    conn.terminate()

    @contextmanager
    def _unavailable_as_503(self) -> Iterator[None]:
        """A lost or refused connection (a database restart) is the client's 503, not a
        server bug; the pool connects afresh on the next request."""
        try:
            yield
        except _CONNECTION_LOST as exc:
            raise ServiceUnavailable(
                f"the database is not reachable just now ({type(exc).__name__}); a write "
                "that gets this answer was not acknowledged: check for it, or send it again"
            ) from exc
