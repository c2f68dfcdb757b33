"""The request time limit on a genuinely slow read, on both backends: 503 in the error
shape, the database stops working on it, and the server answers the next request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TestClient, backend_settings, full_thing_body
from quartier.app import build_app
from quartier.settings import Settings

ROWS = 12000
# For each Observation, all others of its Datastream compared: ROWS² comparisons, none true.
SLOW_FILTER = "Datastream/Observations/result gt result add 1000000"


@pytest.fixture(params=["sqlite", "postgresql"])
def slow_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    base = backend_settings(request, request.param, tmp_path)
    settings = Settings.validated({"database": base.database, "data_dir": tmp_path,
                                   "archive_after_days": 0, "request_timeout": 1})
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        assert client.post("/v1.1/Things", json=full_thing_body()).status_code == 201
        rows = [["2026-01-01T00:00:00Z", i] for i in range(ROWS)]
        created = client.post("/v1.1/CreateObservations", json=[{
            "Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"],
            "dataArray": rows}])
        assert created.status_code == 201, created.text
        yield client, settings


def _active_queries(settings: Settings) -> int:
    import asyncio

    import asyncpg

    async def run() -> int:
        conn = await asyncpg.connect(settings.database)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%observation%'"))
        finally:
            await conn.close()

    return asyncio.run(run())


def test_slow_read_is_stopped_with_503(slow_client: tuple[TestClient, Settings]) -> None:
    client, settings = slow_client
    started = time.monotonic()
    response = client.get("/v1.1/Observations", params={"$filter": SLOW_FILTER, "$top": "5"})
    took = time.monotonic() - started
    assert response.status_code == 503, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "request_timeout" and "limit" in body["message"]
    assert took < 5
    # The database stopped too, and the server goes on answering at once.
    started = time.monotonic()
    assert client.get("/v1.1/Observations", params={"$top": "1"}).status_code == 200
    assert time.monotonic() - started < 1
    if settings.database:
        time.sleep(0.2)
        assert _active_queries(settings) == 0


def test_writes_are_not_cut_off(slow_client: tuple[TestClient, Settings]) -> None:
    client, _ = slow_client
    rows = [["2026-01-02T00:00:00Z", i] for i in range(20000)]
    created = client.post("/v1.1/CreateObservations", json=[{
        "Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"], "dataArray": rows}])
    assert created.status_code == 201
    count = client.get("/v1.1/Observations", params={"$count": "true", "$top": "0"}).json()
    assert count["@iot.count"] == ROWS + 20000


def test_postgresql_stops_slow_reads_itself(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """statement_timeout: a read outside any request's deadline (a background job, a
    cursor fetch) stops in the database too; write transactions have no limit."""
    import asyncio

    from quartier.errors import RequestTimeout
    from quartier.store.postgres import PostgresStore

    url = backend_settings(request, "postgresql", tmp_path).database

    async def run() -> None:
        store = PostgresStore(url, read_timeout=1)
        await store.open()
        try:
            async with store.reader() as conn:
                with pytest.raises(RequestTimeout):
                    await conn.fetchval("SELECT pg_sleep(2)")
            async with store.transaction() as conn:
                await conn.fetchval("SELECT pg_sleep(1.2)")
        finally:
            await store.close()

    asyncio.run(run())
