"""What differs between SQLite and PostgreSQL SQL: placeholders, value encoding, geometry.

SQL is written once with ``?`` placeholders; a dialect rewrites them where needed and
encodes parameters. No value is ever pasted into SQL text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import ciso8601
import orjson

from quartier.model.times import fixed_width_utc
from quartier.model.values import JSON, TIME


class Dialect:
    """The SQLite way; PostgreSQL overrides what differs."""

    name = "sqlite"
    # SQL expression that turns a GeoJSON text parameter into a stored geometry, or "".
    geometry_from_geojson = ""

    # Appended to the SELECT that reads a Datastream's derived fields before changing them.
    lock_for_update = ""
    # Appended to a SELECT of one table's row that the transaction is about to change.
    lock_row = ""
    # Appended to a SELECT of a Datastream or FeatureOfInterest that new Observations are
    # about to point at: a concurrent delete waits for the commit (no foreign keys there).
    lock_referenced = ""
    # Whether parameters need :meth:`encode` (SQLite: times and JSON as text).
    encodes = True
    # Whether old Observations are packed into observation_blocks (store/archive.py).
    archive = False
    # Write transactions one process runs at once (SQLite has one writer anyway).
    concurrent_writers = 1
    # Whether connections take rows in the database's own binary form (copy_binary).
    binary_copy = False

    def sql(self, text: str) -> str:
        return text

    def among(self, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
        """A condition that ``column`` is one of ``ids``, and its parameters."""
        return f"{column} IN ({', '.join('?' for _ in ids)})", list(ids)

    def next_savepoint(self, release_previous: bool) -> str:
        # sqlite3 runs one statement per call; the writer lock already serialises writers.
        return "SAVEPOINT quartier_batch"

    def is_transient(self, exc: BaseException) -> bool:
        """Whether the database aborted the transaction only to resolve a conflict."""
        return False

    def encode(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == TIME:
            return fixed_width_utc(value)
        if kind == JSON:
            return orjson.dumps(value).decode()
        return value

    def decode(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if kind == TIME:  # stored as fixed-width RFC 3339 text in UTC
            return ciso8601.parse_rfc3339(value)
        if kind == JSON:
            return orjson.loads(value)
        return value


_PLACEHOLDER = re.compile(r"\?")


@lru_cache(maxsize=4096)
def _numbered(text: str) -> str:
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", text)


class PostgresDialect(Dialect):
    name = "postgresql"
    # The geometry column is 2D: an altitude stays in the GeoJSON, spatial functions ignore it.
    geometry_from_geojson = "ST_SetSRID(ST_Force2D(ST_GeomFromGeoJSON(?)), 4326)"
    # Writers of one Datastream in several processes take turns, so none of them computes
    # the derived fields from a state another is about to change.
    lock_for_update = " FOR UPDATE OF d"
    lock_row = " FOR UPDATE"
    lock_referenced = " FOR KEY SHARE"
    encodes = False
    archive = True
    concurrent_writers = 3
    binary_copy = True

    def sql(self, text: str) -> str:
        return _numbered(text)

    def among(self, column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
        # One array parameter: the statement is the same for any number of ids, so it
        # is prepared once per connection.
        return f"{column} = ANY(?::bigint[])", [list(ids)]

    def next_savepoint(self, release_previous: bool) -> str:
        if release_previous:
            return "RELEASE SAVEPOINT quartier_batch; SAVEPOINT quartier_batch"
        return "SAVEPOINT quartier_batch"

    def is_transient(self, exc: BaseException) -> bool:
        import asyncpg

        return isinstance(
            exc, asyncpg.exceptions.DeadlockDetectedError | asyncpg.exceptions.SerializationError
        )

    def encode(self, kind: str, value: Any) -> Any:
        # asyncpg takes datetimes as they are; JSON goes through the jsonb codec.
        return value

    def decode(self, kind: str, value: Any) -> Any:
        return value
