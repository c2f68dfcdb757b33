"""Schema creation and migration, and the refusals for databases it must not touch."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from quartier.errors import SchemaVersionError
from quartier.settings import Settings
from quartier.store import open_store
from quartier.store.migrate import latest_version, migrations


def _open_and_close(settings: Settings) -> None:
    async def run() -> None:
        store = open_store(settings)
        await store.open()
        await store.close()

    asyncio.run(run())


def test_sqlite_schema_created_once_and_recorded(tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path})
    _open_and_close(settings)
    _open_and_close(settings)  # a second start finds it up to date
    with sqlite3.connect(settings.sqlite_path) as db:
        versions = [r[0] for r in db.execute("SELECT version FROM quartier_schema")]
    assert versions == [number for number, _name, _sql in migrations("sqlite")]
    assert versions[-1] == latest_version("sqlite")


def test_sqlite_newer_schema_is_refused(tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path})
    _open_and_close(settings)
    with sqlite3.connect(settings.sqlite_path) as db:
        db.execute("INSERT INTO quartier_schema (version, name) VALUES (999, 'future')")
    with pytest.raises(SchemaVersionError, match="newer than this Quartier"):
        _open_and_close(settings)


def test_sqlite_foreign_database_is_refused(tmp_path: Path) -> None:
    settings = Settings.validated({"data_dir": tmp_path})
    tmp_path.mkdir(exist_ok=True)
    with sqlite3.connect(settings.sqlite_path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(SchemaVersionError, match="did not create"):
        _open_and_close(settings)


def test_postgres_newer_schema_is_refused(pg_database: str, tmp_path: Path) -> None:
    settings = Settings.validated({"database": pg_database, "data_dir": tmp_path})
    _open_and_close(settings)

    async def bump(delta: int) -> None:
        conn = await asyncpg.connect(pg_database)
        try:
            if delta > 0:
                await conn.execute("INSERT INTO quartier_schema (version, name) VALUES (999, 'f')")
            else:
                await conn.execute("DELETE FROM quartier_schema WHERE version = 999")
        finally:
            await conn.close()

    asyncio.run(bump(1))
    try:
        with pytest.raises(SchemaVersionError, match="newer than this Quartier"):
            _open_and_close(settings)
    finally:
        asyncio.run(bump(-1))


def test_postgres_unreachable_gives_clear_error(tmp_path: Path) -> None:
    settings = Settings.validated({
        "database": "postgresql://postgres@127.0.0.1:1/none", "data_dir": tmp_path,
    })
    with pytest.raises(SchemaVersionError, match="cannot connect"):
        _open_and_close(settings)
