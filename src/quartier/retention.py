"""Data retention per Datastream: keep N days of Observations, then delete them.

Towns must delete vehicle tracks and people-counting data on schedule, so retention is
the operator's setting of a Datastream, kept in its own column (``retention_days``)
and set through the management API, not a SensorThings property that any PATCH of
``properties`` could drop by accident. It can be set for one Datastream, or for every
Datastream of a Thing (a vehicle) or of an ObservedProperty (all people counts) at once.

:func:`run_retention` deletes, per Datastream, the Observations whose phenomenonTime
starts more than its days ago, from rows and archive blocks alike, and the Features of
Interest only they observed. A Thing with any Datastream under retention is a Thing
whose whereabouts are sensitive: its HistoricalLocations (its track) are deleted after
the shortest retention among its Datastreams, with the Locations only they recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from quartier.errors import BadRequest, NotFound
from quartier.model.times import now_utc
from quartier.store import Store
from quartier.store.expiry import expire_observations, expire_track

log = logging.getLogger(__name__)

MAX_DAYS = 36_500  # a hundred years: more is a typo


def days_from_body(body: Any) -> int | None:
    """The ``days`` of a ``{"days": N}`` body: a whole number of days from 1, or null to
    keep forever; 400 for anything else."""
    if not isinstance(body, dict) or set(body) != {"days"}:
        raise BadRequest('send {"days": N} (N from 1 to 36500), or {"days": null} to keep forever')
    days = body["days"]
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be a whole number from 1 to {MAX_DAYS}, or null, not {days!r}")
    return days


# What a retention can be set on: the column of datastreams that names it.
OWNERS = {"datastream": "id", "thing": "thing_id", "observed_property": "observed_property_id"}
_OWNER_TABLES = {"datastream": "datastreams", "thing": "things",
                 "observed_property": "observed_properties"}


async def set_retention(
    store: Store, tenant_id: int, owner: str, owner_id: int, days: int | None
) -> list[int]:
    """Set the retention of the Datastreams of one Datastream, Thing or ObservedProperty;
    returns their ids. 404 when the owner does not exist in the tenant."""
    async with store.transaction() as conn:
        exists = await conn.fetchval(
            f"SELECT 1 FROM {_OWNER_TABLES[owner]} WHERE id = ? AND tenant_id = ?",
            (owner_id, tenant_id),
        )
        if exists is None:
            raise NotFound(f"no {owner.replace('_', ' ')} with id {owner_id}")
        rows = await conn.fetch(
            f"UPDATE datastreams SET retention_days = ? WHERE {OWNERS[owner]} = ? "
            "AND tenant_id = ? RETURNING id", (days, owner_id, tenant_id),
        )
    return sorted(int(r[0]) for r in rows)


async def retention_of(store: Store, tenant_id: int, datastream_id: int) -> int | None:
    async with store.reader() as conn:
        row = await conn.fetchrow(
            "SELECT retention_days FROM datastreams WHERE id = ? AND tenant_id = ?",
            (datastream_id, tenant_id),
        )
    if row is None:
        raise NotFound(f"no datastream with id {datastream_id}")
    return None if row[0] is None else int(row[0])


@dataclass
class Expired:
    """What one run of :func:`run_retention` deleted."""

    observations: int = 0
    historical_locations: int = 0


async def run_retention(store: Store, now: datetime | None = None) -> Expired:
    """Delete everything older than its retention, in every tenant: one transaction per
    Datastream and per Thing, so that writes go on meanwhile; one that another worker is
    expiring at the same moment is left to it."""
    now = now or now_utc()
    done = Expired()
    async with store.reader() as conn:
        datastreams = await conn.fetch(
            "SELECT tenant_id, id, retention_days FROM datastreams "
            "WHERE retention_days IS NOT NULL ORDER BY id")
        things = await conn.fetch(
            "SELECT thing_id, min(retention_days) FROM datastreams "
            "WHERE retention_days IS NOT NULL GROUP BY thing_id ORDER BY thing_id")
    for tenant_id, datastream_id, days in datastreams:
        async with store.transaction() as conn:
            if await _taken(store, conn, _DATASTREAM_LOCKS, int(datastream_id)):
                continue
            done.observations += await expire_observations(
                conn, store.dialect, int(tenant_id), int(datastream_id),
                now - timedelta(days=int(days)))
    for thing_id, days in things:
        async with store.transaction() as conn:
            if await _taken(store, conn, _THING_LOCKS, int(thing_id)):
                continue
            done.historical_locations += await expire_track(
                conn, store.dialect, int(thing_id), now - timedelta(days=int(days)))
    return done


# The two key spaces of the advisory locks (PostgreSQL) by which a worker takes one
# Datastream's or Thing's expiry for the length of its transaction.
_DATASTREAM_LOCKS = 0x5245_5444  # "RETD"
_THING_LOCKS = 0x5245_5454  # "RETT"


async def _taken(store: Store, conn: Any, space: int, key: int) -> bool:
    """Whether another worker is expiring this Datastream or Thing right now (every worker
    runs the job): then this one goes on to the next rather than doing it again. SQLite
    has one writer at a time anyway."""
    if store.dialect.name != "postgresql":
        return False
    return not await conn.fetchval("SELECT pg_try_advisory_xact_lock(?::int, ?::int)",
                                   (space, key % 2_147_483_647))
