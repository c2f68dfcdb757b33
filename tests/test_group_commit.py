"""Concurrent batches share a transaction, yet each one succeeds or fails on its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from conftest import full_thing_body
from quartier.errors import BadRequest, Conflict
from quartier.model.changes import Batch, Create, IdRef, Record
from quartier.model.entities import ENTITY_TYPES
from quartier.model.parse import parse_create
from quartier.settings import Settings
from quartier.store import Store, open_store
from quartier.store.read import Scope, count_entities, fetch_entities

_OBSERVATION = ENTITY_TYPES["Observation"]


def _observation(datastream: int, value: Any) -> Batch:
    batch, _ = parse_create(_OBSERVATION, {
        "result": value, "phenomenonTime": f"2026-11-22T10:{value % 60:02d}:00Z",
        "Datastream": {"@iot.id": datastream},
    })
    return batch


async def _seed(store: Store, body: dict[str, Any] | None = None) -> tuple[int, list[int]]:
    """A Thing with its Datastreams in the default tenant: the tenant and their ids."""
    tenant = await store.tenant_id("default")
    assert tenant is not None
    thing, _ = parse_create(ENTITY_TYPES["Thing"], body or full_thing_body())
    await store.write(tenant, thing)
    async with store.reader() as conn:
        rows = await fetch_entities(conn, store.dialect, tenant, Scope(ENTITY_TYPES["Datastream"]))
    return tenant, [row["id"] for row in rows]


def test_concurrent_batches_fail_alone(settings: Settings) -> None:
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        try:
            tenant, (ds,) = await _seed(store)
            # Every fifth batch names a Datastream that does not exist.
            batches = [_observation(ds if i % 5 else 999_999, i) for i in range(100)]
            results = await asyncio.gather(
                *(store.write(tenant, b) for b in batches), return_exceptions=True
            )
            failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
            assert failed == list(range(0, 100, 5))
            assert all(isinstance(results[i], BadRequest) for i in failed)
            async with store.reader() as conn:
                stored = await fetch_entities(
                    conn, store.dialect, tenant, Scope(_OBSERVATION), limit=1000
                )
                assert sorted(o["result"] for o in stored) == [i for i in range(100) if i % 5]
                # What each caller got back is the row as stored.
                by_id = {o["id"]: o for o in stored}
                for i, result in enumerate(results):
                    if i % 5:
                        assert not isinstance(result, BaseException)
                        row = result.rows[0]
                        assert row == by_id[row["id"]]
                        assert row["result"] == i
                assert await count_entities(conn, tenant, Scope(ENTITY_TYPES["FeatureOfInterest"])) == 1
                datastream = (await fetch_entities(conn, store.dialect, tenant,
                                                   Scope(ENTITY_TYPES["Datastream"])))[0]
            # The derived time range covers exactly the committed Observations.
            assert datastream["phenomenonTime"] == "2026-11-22T10:01:00Z/2026-11-22T10:59:00Z"
        finally:
            await store.close()

    asyncio.run(scenario())


def test_caller_that_goes_away_does_not_break_the_group(settings: Settings) -> None:
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        published: list[str] = []
        store.subscribe(lambda events: published.extend(e.entity_type for e in events))
        try:
            tenant, (ds,) = await _seed(store)
            published.clear()
            tasks = [asyncio.create_task(store.write(tenant, _observation(ds, i))) for i in range(10)]
            await asyncio.sleep(0)  # all ten are queued
            tasks[3].cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert isinstance(results[3], asyncio.CancelledError)
            assert all(not isinstance(r, BaseException) for i, r in enumerate(results) if i != 3)
            # The group was committed whole, so the abandoned batch is stored and announced too.
            async with store.reader() as conn:
                assert await count_entities(conn, tenant, Scope(_OBSERVATION)) == 10
            assert published.count("Observation") == 10
        finally:
            await store.close()

    asyncio.run(scenario())


def test_two_stores_writing_one_datastream_keep_its_range(settings: Settings) -> None:
    """Two stores on one database stand for two worker processes."""

    async def scenario() -> None:
        first, second = open_store(settings), open_store(settings)
        await first.open()
        await second.open()
        try:
            tenant, (ds,) = await _seed(first)
            # Pairs of lone writes, one through each store: two transactions at once.
            for pair in range(50):
                writes = []
                for store, minute in ((first, 2 * pair + 1), (second, 2 * pair)):
                    batch, _ = parse_create(_OBSERVATION, {
                        "result": minute, "Datastream": {"@iot.id": ds},
                        "phenomenonTime": f"2026-11-22T{minute // 60:02d}:{minute % 60:02d}:00Z",
                    })
                    writes.append(store.write(tenant, batch))
                await asyncio.gather(*writes)
            async with first.reader() as conn:
                datastream = (await fetch_entities(conn, first.dialect, tenant,
                                                   Scope(ENTITY_TYPES["Datastream"])))[0]
            assert datastream["phenomenonTime"] == "2026-11-22T00:00:00Z/2026-11-22T01:39:00Z"
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_crossing_writers_survive_a_deadlock(settings: Settings) -> None:
    """Batches that lock two Datastreams in opposite orders: the database breaks the
    deadlock by aborting one transaction, and the group is written again."""

    async def scenario() -> None:
        first, second = open_store(settings), open_store(settings)
        await first.open()
        await second.open()
        try:
            body = full_thing_body()
            body["Datastreams"].append(dict(body["Datastreams"][0], name="Second"))
            tenant, (a, b) = await _seed(first, body)

            def crossing(one: int, other: int, value: int) -> Batch:
                return Batch([*_observation(one, value).changes, *_observation(other, value).changes])

            for round_ in range(10):
                await asyncio.gather(
                    first.write(tenant, crossing(a, b, round_)),
                    second.write(tenant, crossing(b, a, round_)),
                )
            async with first.reader() as conn:
                assert await count_entities(conn, tenant, Scope(_OBSERVATION)) == 40
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


def test_batches_with_records_claim_them_together(settings: Settings) -> None:
    """Batches of Observations with unique records (an uplink and its mark) meet in one
    group: each record is claimed once, and a batch that fails leaves neither its
    Observations nor its records behind."""
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        try:
            tenant, (ds,) = await _seed(store)
            bare = {"name": "Ohne Ort", "description": "no Location",
                    "Datastreams": full_thing_body()["Datastreams"]}
            _, streams = await _seed(store, bare)
            homeless = max(streams)

            def uplink(datastreams: list[int], claim: str) -> Batch:
                batch = Batch()
                for n, datastream in enumerate(datastreams):
                    batch.add(Create(_OBSERVATION, {
                        "result": n, "phenomenonTime": (datetime(2026, 11, 22, 10, n, tzinfo=UTC), None),
                        "resultTime": None},
                        {"Datastream": IdRef(ENTITY_TYPES["Datastream"], datastream)}))
                batch.records.append(Record("tenants", {"name": claim},
                                            unique=Conflict(f"{claim} is taken")))
                return batch

            batches = [uplink([ds, ds], f"claim-{i % 10}") for i in range(20)]
            batches.append(uplink([ds], "default"))  # claimed long ago
            batches.append(uplink([homeless], "claim-no-location"))
            batches.append(uplink([999_999], "claim-no-datastream"))
            results = await asyncio.gather(*(store.write(tenant, b) for b in batches),
                                           return_exceptions=True)
            won = [i for i, r in enumerate(results[:20]) if not isinstance(r, BaseException)]
            assert sorted(i % 10 for i in won) == list(range(10))  # one of each pair
            for i, result in enumerate(results[:20]):
                if i in won:
                    assert not isinstance(result, BaseException)
                    assert len(result.ids) == 2
                else:
                    assert isinstance(result, Conflict), result
            assert isinstance(results[20], Conflict) and "default" in results[20].message
            assert isinstance(results[21], BadRequest) and "no Location" in results[21].message
            assert isinstance(results[22], BadRequest)
            names = set(await store.tenant_names())
            assert {f"claim-{n}" for n in range(10)} <= names
            assert "claim-no-location" not in names and "claim-no-datastream" not in names
            async with store.reader() as conn:
                assert await count_entities(conn, tenant, Scope(_OBSERVATION)) == 20
        finally:
            await store.close()

    asyncio.run(scenario())


def test_group_of_observations_keeps_each_rows_optional_values(settings: Settings) -> None:
    """Observations merged into one INSERT, some with optional values and most without
    (a column of NULLs in every row goes differently from a mixed one): each row is
    stored with exactly its own values."""
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        try:
            tenant, (ds,) = await _seed(store)

            def observation(n: int, extra: dict[str, Any]) -> Batch:
                batch, _ = parse_create(_OBSERVATION, {
                    "result": n, "phenomenonTime": f"2026-11-22T11:{n:02d}:00Z",
                    "Datastream": {"@iot.id": ds}, **extra})
                return batch

            extras: list[dict[str, Any]] = [{} for _ in range(12)]
            extras[3] = {"resultTime": "2026-11-22T12:00:00Z", "parameters": {"gain": 3}}
            extras[7] = {"resultQuality": "ok",
                         "validTime": "2026-11-22T00:00:00Z/2026-11-23T00:00:00Z"}
            results = await asyncio.gather(
                *(store.write(tenant, observation(n, extra)) for n, extra in enumerate(extras)))
            async with store.reader() as conn:
                stored = {o["result"]: o for o in await fetch_entities(
                    conn, store.dialect, tenant, Scope(_OBSERVATION), limit=100)}
            assert sorted(stored) == list(range(12))
            for n, extra in enumerate(extras):
                row = stored[n]
                assert results[n].rows[0] == row
                for name in ("resultTime", "parameters", "resultQuality", "validTime"):
                    assert row.get(name) == extra.get(name), (n, name, row)
        finally:
            await store.close()

    asyncio.run(scenario())
