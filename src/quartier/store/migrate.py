"""Numbered schema migrations, each applied in a transaction and recorded in a table.

A database whose schema is newer than this program knows gets a clear refusal, not a
guess; so does a database that already holds tables Quartier did not make.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

from quartier.errors import SchemaVersionError

log = logging.getLogger(__name__)

_TABLE = "quartier_schema"
_LOCK_KEY = 0x5155_4152  # "QUAR": serialises migrations of several processes


def migrations(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every migration shipped for a dialect, in order."""
    folder = resources.files("quartier.store.migrations").joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append((int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort()
    return found


def latest_version(dialect: str) -> int:
    return migrations(dialect)[-1][0]


def _statements(script: str) -> list[str]:
    lines = [ln for ln in script.splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";")]


def _check_version(current: int, dialect: str, where: str) -> None:
    latest = latest_version(dialect)
    if current > latest:
        raise SchemaVersionError(
            f"{where} has schema version {current}, newer than this Quartier knows "
            f"(up to {latest}). Upgrade Quartier, or point it at another database."
        )


def _foreign(where: str) -> SchemaVersionError:
    return SchemaVersionError(
        f"{where} already holds tables that Quartier did not create (no {_TABLE} table). "
        "Use an empty database for Quartier."
    )


async def migrate_sqlite(conn: Any) -> None:
    """Bring an SQLite file up to the latest schema (``conn`` is a SqliteConnection)."""
    where = "the SQLite database"
    await conn.execute("BEGIN IMMEDIATE")
    try:
        has_table = await conn.fetchval(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (_TABLE,)
        )
        if not has_table:
            others = await conn.fetchval(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%'"
            )
            if others:
                raise _foreign(where)
            await conn.execute(
                f"CREATE TABLE {_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
            )
        current = await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {_TABLE}")
        _check_version(current, "sqlite", where)
        for version, name, script in migrations("sqlite"):
            if version <= current:
                continue
            for statement in _statements(script):
                await conn.execute(statement)
            await conn.execute(
                f"INSERT INTO {_TABLE} (version, name) VALUES (?, ?)", (version, name)
            )
            log.info("migrated %s to schema version %d (%s)", where, version, name)
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


async def migrate_postgres(conn: Any) -> None:
    """Bring a PostgreSQL database up to the latest schema (``conn`` is asyncpg's)."""
    import asyncpg

    where = "the PostgreSQL database"
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        async with conn.transaction():
            has_table = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", _TABLE)
            if not has_table:
                others = await conn.fetchval(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                    " AND tablename <> 'spatial_ref_sys'"
                )
                if others:
                    raise _foreign(where)
                await conn.execute(
                    f"CREATE TABLE {_TABLE} (version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
            current = await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {_TABLE}")
            _check_version(current, "postgresql", where)
            for version, name, script in migrations("postgresql"):
                if version <= current:
                    continue
                try:
                    await conn.execute(script)
                except asyncpg.exceptions.FeatureNotSupportedError as exc:
                    raise SchemaVersionError(_postgis_hint(exc)) from None
                except asyncpg.exceptions.UndefinedFileError as exc:
                    raise SchemaVersionError(_postgis_hint(exc)) from None
                await conn.execute(
                    f"INSERT INTO {_TABLE} (version, name) VALUES ($1, $2)", version, name
                )
                log.info("migrated %s to schema version %d (%s)", where, version, name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _postgis_hint(exc: Exception) -> str:
    return (
        f"PostGIS is not available on the PostgreSQL server ({exc}). Install it, e.g. "
        "'apt-get install postgresql-15-postgis-3', then start Quartier again."
    )
