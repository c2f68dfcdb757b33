"""An Observation's Datastream and FeatureOfInterest: never an Observation without them.

On PostgreSQL these references are kept without foreign keys (migration 0018): a writer
locks the rows it points new Observations at, and deleting a Datastream or a
FeatureOfInterest deletes their Observations by trigger. These tests race a delete with
a write that is still open, and check that nothing is left pointing nowhere.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from quartier.model.changes import Batch, Delete, IdRef
from quartier.model.entities import ENTITY_TYPES
from quartier.settings import Settings
from quartier.store import Store, open_store
from quartier.store.write import BatchWriter
from test_group_commit import _observation, _seed

POSTGRES = pytest.mark.parametrize("backend", ["postgresql"])


def _delete(name: str, entity_id: int) -> Batch:
    batch = Batch()
    batch.add(Delete(IdRef(ENTITY_TYPES[name], entity_id)))
    return batch


async def _count(store: Store, where: str, value: int) -> int:
    async with store.reader() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM observations WHERE {where} = ?",
                                       (value,)))


async def _race(store: Store, tenant: int, datastream: int, victim: Batch) -> None:
    """Write an Observation in a transaction held open while ``victim`` (a delete) runs;
    the delete must wait for the commit and then take the new Observation with it."""
    written, release = asyncio.Event(), asyncio.Event()

    async def write() -> None:
        async with store.transaction() as conn:
            await BatchWriter(conn, store.dialect, tenant).apply(_observation(datastream, 7))
            written.set()
            await release.wait()

    writer = asyncio.create_task(write())
    await written.wait()
    deleter = asyncio.create_task(store.write(tenant, victim))
    await asyncio.sleep(0.5)
    assert not deleter.done(), "the delete did not wait for the open write"
    release.set()
    await writer
    await deleter


@POSTGRES
def test_deleting_a_datastream_waits_for_a_write_and_takes_its_observations(
    settings: Settings,
) -> None:
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        try:
            tenant, (ds,) = await _seed(store)
            await store.write(tenant, _observation(ds, 1))
            assert await _count(store, "datastream_id", ds) == 1
            await _race(store, tenant, ds, _delete("Datastream", ds))
            assert await _count(store, "datastream_id", ds) == 0
        finally:
            await store.close()

    asyncio.run(scenario())


@POSTGRES
def test_deleting_a_made_feature_waits_for_a_write_and_takes_its_observations(
    settings: Settings,
) -> None:
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        try:
            tenant, (ds,) = await _seed(store)
            first = await store.write(tenant, _observation(ds, 1))
            feature = first.rows[0]["FeatureOfInterest"]  # made from the Thing's Location
            await _race(store, tenant, ds, _delete("FeatureOfInterest", feature))
            assert await _count(store, "feature_id", feature) == 0
            assert await _count(store, "datastream_id", ds) == 0
            # The next Observation gets a new FeatureOfInterest from the Location.
            later = await store.write(tenant, _observation(ds, 2))
            assert later.rows[0]["FeatureOfInterest"] != feature
        finally:
            await store.close()

    asyncio.run(scenario())


@POSTGRES
def test_deleting_a_thing_deletes_the_observations_of_its_datastreams(settings: Settings) -> None:
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        try:
            tenant, (ds,) = await _seed(store)
            for value in range(5):
                await store.write(tenant, _observation(ds, value))
            async with store.reader() as conn:
                thing = int(await conn.fetchval("SELECT thing_id FROM datastreams WHERE id = ?",
                                                (ds,)))
            assert await _count(store, "datastream_id", ds) == 5
            await store.write(tenant, _delete("Thing", thing))  # Datastreams go by cascade
            assert await _count(store, "datastream_id", ds) == 0
        finally:
            await store.close()

    asyncio.run(scenario())


@POSTGRES
def test_a_write_that_read_a_made_feature_holds_it_against_a_delete(settings: Settings) -> None:
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        try:
            tenant, (ds,) = await _seed(store)
            first = await store.write(tenant, _observation(ds, 1))
            feature = first.rows[0]["FeatureOfInterest"]
            async with store.transaction() as conn:
                writer = BatchWriter(conn, store.dialect, tenant)
                state = await writer.datastream(ds)  # reads (and locks) the made feature
                assert await writer.observation_feature(state, None) == feature
                other = await asyncpg.connect(settings.database)
                try:
                    await other.execute("SET lock_timeout = '300ms'")
                    with pytest.raises(asyncpg.LockNotAvailableError):
                        await other.execute("DELETE FROM features WHERE id = $1", feature)
                finally:
                    await other.close()
            assert await _count(store, "feature_id", feature) == 1  # nothing was deleted
        finally:
            await store.close()

    asyncio.run(scenario())
