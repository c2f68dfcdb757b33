"""Retention per Datastream on every backend ("archived" packs every Observation into
blocks after each write): what is older than the days is gone from every read path,
newer data stays, and the Datastream's times follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from conftest import Api, TestClient, full_thing_body, location_body
from quartier.retention import Expired, run_retention
from quartier.settings import Settings
from quartier.store import Store

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
CUTOFF = NOW - timedelta(days=5)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


OLD = [NOW - timedelta(days=10), CUTOFF - timedelta(minutes=1)]
NEW = [CUTOFF + timedelta(minutes=1), NOW - timedelta(days=1)]


def _store(client: TestClient) -> Store:
    app: Any = client.app
    while not hasattr(app, "state"):
        app = app.app
    store: Store = app.state.store
    return store


def _retain(client: TestClient) -> Expired:
    assert client.portal is not None
    done: Expired = client.portal.call(lambda: run_retention(_store(client), NOW))
    return done


@pytest.fixture
def town(api: Api) -> dict[str, int]:
    thing = api.create("Things", full_thing_body("Müllwagen 3"))
    second = api.create("Things", full_thing_body("Pegel"))
    rows = [[_iso(t), i] for i, t in enumerate(OLD + NEW)]
    for datastream in (1, 2):
        response = api.post("CreateObservations", [{
            "Datastream": {"@iot.id": datastream}, "components": ["phenomenonTime", "result"],
            "dataArray": rows}])
        assert response.status_code == 201, response.text
    # The vehicle's track: an old position, recorded as history only.
    api.create(f"Things({thing})/HistoricalLocations", {
        "time": _iso(NOW - timedelta(days=8)),
        "Locations": [location_body("Hauptstraße 3", {"type": "Point", "coordinates": [9.2, 48.8]})]})
    return {"thing": thing, "other": second}


def _times(api: Api, path: str, **params: Any) -> list[str]:
    return [o["phenomenonTime"] for o in api.ok(path, **params)["value"]]


def test_set_and_read_retention(api: Api, town: dict[str, int]) -> None:
    client = api.client
    assert client.get("/api/datastreams/1/retention").json() == {"datastream": 1, "days": None}
    response = client.put(f"/api/things/{town['thing']}/retention", json={"days": 5})
    assert response.status_code == 200, response.text
    assert response.json() == {"thing": town["thing"], "days": 5, "datastreams": [1]}
    assert client.get("/api/datastreams/1/retention").json()["days"] == 5
    assert client.get("/api/datastreams/2/retention").json()["days"] is None
    by_property = client.put("/api/observed-properties/2/retention", json={"days": 30}).json()
    assert by_property["datastreams"] == [2]
    assert client.put("/api/datastreams/2/retention", json={"days": None}).json()["days"] is None
    assert client.get("/t/default/api/datastreams/2/retention").json()["days"] is None


@pytest.mark.parametrize("body", [{"days": 0}, {"days": -3}, {"days": 1.5}, {"days": "7"},
                                  {"days": True}, {"keep": 5}, [5], {"days": 10**9}])
def test_bad_retention_is_400(api: Api, town: dict[str, int], body: Any) -> None:
    response = api.client.put("/api/datastreams/1/retention", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "bad_request"


@pytest.mark.parametrize("path", ["/api/datastreams/99/retention", "/api/things/99/retention",
                                  "/api/observed-properties/99/retention"])
def test_retention_of_unknown_owner_is_404(api: Api, path: str) -> None:
    response = api.client.put(path, json={"days": 3})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api.client.get("/api/datastreams/99/retention").status_code == 404


def test_old_data_is_gone_from_every_read_path(api: Api, town: dict[str, int]) -> None:
    client = api.client
    old_ids = [o["@iot.id"] for o in api.ok("Datastreams(1)/Observations",
                                            **{"$filter": f"phenomenonTime lt {_iso(CUTOFF)}"})["value"]]
    assert len(old_ids) == 2
    assert client.put("/api/datastreams/1/retention", json={"days": 5}).status_code == 200
    done = _retain(client)
    assert done.observations == 2 and done.historical_locations == 1
    new = sorted(_iso(t) for t in NEW)
    assert sorted(_times(api, "Datastreams(1)/Observations")) == new
    assert sorted(_times(api, "Observations", **{"$filter": "Datastream/id eq 1"})) == new
    expanded = api.ok("Datastreams(1)", **{"$expand": "Observations"})["Observations"]
    assert sorted(o["phenomenonTime"] for o in expanded) == new
    data = api.ok("Datastreams(1)/Observations", **{"$resultFormat": "dataArray"})
    assert data["value"][0]["dataArray"] and len(data["value"][0]["dataArray"]) == 2
    csv = client.get("/v1.1/Datastreams(1)/Observations", params={"$resultFormat": "CSV"}).text
    assert all(_iso(t)[:16] not in csv for t in OLD) and all(t[:16] in csv for t in new)
    for old in old_ids:
        assert api.get(f"Observations({old})").status_code == 404
    series = client.get("/api/datastreams/1/series", params={
        "from": _iso(NOW - timedelta(days=30)), "to": _iso(NOW)}).json()
    assert len(series["values"]) == 2
    # The Datastream's times follow what is left.
    datastream = api.ok("Datastreams(1)")
    assert datastream["phenomenonTime"].startswith(_iso(NEW[0])[:16])
    # Another Datastream without retention keeps everything.
    assert len(_times(api, "Datastreams(2)/Observations")) == 4
    # The vehicle's old position is gone with its HistoricalLocation; its current one stays.
    history = api.ok(f"Things({town['thing']})/HistoricalLocations", **{"$expand": "Locations"})
    assert [len(h["Locations"]) for h in history["value"]] == [1]
    assert "Hauptstraße 3" not in client.get("/v1.1/Locations").text
    assert api.ok(f"Things({town['thing']})/Locations")["value"]
    assert len(api.ok(f"Things({town['other']})/HistoricalLocations")["value"]) == 1
    # A second run finds nothing more.
    again = _retain(client)
    assert again.observations == 0 and again.historical_locations == 0


@pytest.mark.parametrize("backend", ["archived"])  # only that backend packs blocks
def test_nothing_older_stays_in_archive_blocks(api: Api, town: dict[str, int],
                                               backend: str) -> None:
    import asyncio

    import asyncpg

    client = api.client
    client.put("/api/datastreams/1/retention", json={"days": 5})
    _retain(client)
    database = str(_store(client).url)  # type: ignore[attr-defined]

    async def oldest() -> Any:
        conn = await asyncpg.connect(database)
        try:
            return await conn.fetchval(
                "SELECT min(p) FROM observation_blocks b, unnest(b.phenomenon_time_start) p "
                "WHERE b.datastream_id = 1")
        finally:
            await conn.close()

    first = asyncio.run(oldest())
    assert first is None or first >= CUTOFF


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_datastream_another_worker_is_expiring_is_left_to_it(api: Api, town: dict[str, int],
                                                              settings: Settings) -> None:
    """Every worker runs the retention job; one that finds a Datastream taken (its lock
    held, as the other worker's transaction holds it) goes on without waiting and without
    doing it twice."""
    client = api.client
    assert client.put("/api/datastreams/1/retention", json={"days": 5}).status_code == 200

    async def other_worker() -> tuple[Any, Any]:
        conn = await asyncpg.connect(settings.database)
        busy = conn.transaction()
        await busy.start()
        await conn.execute("SELECT pg_advisory_xact_lock($1::int, $2::int)", 0x5245_5444, 1)
        return conn, busy

    async def done_with(held: tuple[Any, Any]) -> None:
        await held[1].rollback()
        await held[0].close()

    assert client.portal is not None
    held = client.portal.call(other_worker)
    try:
        skipped = _retain(client)
    finally:
        client.portal.call(done_with, held)
    assert skipped.observations == 0 and skipped.historical_locations == 1  # the Thing was free
    assert len(_times(api, "Datastreams(1)/Observations")) == 4
    done = _retain(client)
    assert done.observations == 2 and done.historical_locations == 0
    assert sorted(_times(api, "Datastreams(1)/Observations")) == sorted(_iso(t) for t in NEW)
