"""The small async interface both database drivers are adapted to."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import Any, Protocol

# Bound parameters one statement may carry: below SQLite's limit of 32,766 (PostgreSQL
# takes 65,535); multi-row INSERTs are cut into statements of at most this many.
MAX_PARAMETERS = 30_000


class Connection(Protocol):
    """One database connection, used inside a transaction or for a read."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    async def fetchrow(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Any] | None: ...

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def stream(
        self, sql: str, params: Sequence[Any], chunk: int
    ) -> AsyncIterator[list[Sequence[Any]]]:
        """The rows of a query, ``chunk`` at a time, read through a cursor."""
        ...

    async def copy_columns(
        self, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]]
    ) -> list[int]:
        """Insert many rows of plain values the fastest way, given column by column (one
        sequence per name, all of the same length); their new ids, in row order."""
        ...

    async def copy_binary(
        self, table: str, names: Sequence[str], data: AsyncIterable[bytes]
    ) -> None:
        """Insert rows given in PostgreSQL's binary COPY format (header, rows, trailer),
        where :attr:`~quartier.store.dialect.Dialect.binary_copy` says the database takes it."""
        ...

    async def insert_columns(
        self, table: str, names: Sequence[str], columns: Sequence[Sequence[Any]], returning: str
    ) -> list[Sequence[Any]]:
        """Insert rows of plain values given column by column, with one statement whose
        text does not depend on the number of rows where the database allows it; the
        ``returning`` columns of each new row, in no particular order."""
        ...
