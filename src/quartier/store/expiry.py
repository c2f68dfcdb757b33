"""Deleting what has outlived its retention, inside one transaction per Datastream or
Thing (see :mod:`quartier.retention` for the policy and the job).

On PostgreSQL, Observations may sit in archive blocks (:mod:`quartier.store.archive`):
a block that lies wholly before the cut-off is dropped, one that straddles it is first
moved back into rows, so that nothing older than the cut-off stays readable in any
block. Afterwards the Datastream's phenomenonTime, resultTime and observedArea are
computed again from what is left, as a DELETE through the API does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from quartier.model.values import TIME
from quartier.store import archive
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect
from quartier.store.write import BatchWriter


async def expire_observations(
    conn: Connection, dialect: Dialect, tenant_id: int, datastream_id: int, cutoff: datetime
) -> int:
    """Delete the Datastream's Observations whose phenomenonTime starts before
    ``cutoff``, and the FeaturesOfInterest only they observed; returns how many went."""
    at = dialect.encode(TIME, cutoff)
    features: set[int] = set()
    deleted = 0
    if dialect.archive:
        await archive.lock_for_change(conn)
        for count, block_features in await conn.fetch(
            "DELETE FROM observation_blocks WHERE datastream_id = ? AND last_time < ? "
            "RETURNING observation_count, features", (datastream_id, at),
        ):
            deleted += int(count)
            features.update(int(f) for f in block_features)
        await archive.unarchive(conn, tenant_id, "b.datastream_id = ? AND b.first_time < ?",
                                datastream_id, at)
    rows = await conn.fetch(
        "DELETE FROM observations WHERE datastream_id = ? AND phenomenon_time_start < ? "
        "RETURNING feature_id", (datastream_id, at),
    )
    deleted += len(rows)
    features.update(int(r[0]) for r in rows)
    if deleted:
        await _drop_unobserved_features(conn, dialect, sorted(features))
        writer = BatchWriter(conn, dialect, tenant_id)
        await writer.recompute_datastreams([datastream_id])
    return deleted


async def _drop_unobserved_features(conn: Connection, dialect: Dialect, ids: Sequence[int]) -> None:
    """A FeatureOfInterest that no Observation observes any more goes too: made from a
    moving Thing's Location, it is a point of its track."""
    in_blocks = (" AND NOT EXISTS (SELECT 1 FROM observation_blocks b "
                 "WHERE b.features @> ARRAY[f.id])") if dialect.archive else ""
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        await conn.execute(
            f"DELETE FROM features AS f WHERE f.id IN ({', '.join('?' * len(chunk))}) AND NOT "
            f"EXISTS (SELECT 1 FROM observations o WHERE o.feature_id = f.id){in_blocks}",
            chunk,
        )


async def expire_track(conn: Connection, dialect: Dialect, thing_id: int, cutoff: datetime) -> int:
    """Delete the Thing's HistoricalLocations before ``cutoff``, and the Locations that
    only they recorded (not the Thing's current ones); returns how many HistoricalLocations
    went."""
    at = dialect.encode(TIME, cutoff)
    locations = [int(r[0]) for r in await conn.fetch(
        "SELECT DISTINCT k.location_id FROM historical_locations h "
        "JOIN historical_locations_locations k ON k.historical_location_id = h.id "
        "WHERE h.thing_id = ? AND h.time < ?", (thing_id, at),
    )]
    deleted = await conn.execute(
        "DELETE FROM historical_locations WHERE thing_id = ? AND time < ?", (thing_id, at)
    )
    for start in range(0, len(locations), 500):
        chunk: list[Any] = locations[start:start + 500]
        await conn.execute(
            f"DELETE FROM locations AS l WHERE l.id IN ({', '.join('?' * len(chunk))}) "
            "AND NOT EXISTS (SELECT 1 FROM things_locations t WHERE t.location_id = l.id) "
            "AND NOT EXISTS (SELECT 1 FROM historical_locations_locations k "
            "WHERE k.location_id = l.id)",
            chunk,
        )
    return deleted
