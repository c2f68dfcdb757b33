"""The Observation archive: older Observations packed into compressed blocks (PostgreSQL).

A row per Observation costs about 200 bytes with its indexes. Most Observations are
only read again as a series of their Datastream, so once a day of a Datastream has
passed, :func:`archive` moves its rows into ``observation_blocks``: one row per
Datastream and UTC day (at most :data:`BLOCK_ROWS` Observations), each column an array
that PostgreSQL compresses. The newest day of each Datastream always stays a row.

Reads select from the view ``observation_rows``, which unpacks blocks as needed, so
every query means the same whether its Observations are archived or not. What keeps
reads fast are conditions on a block's bounds that let PostgreSQL skip a block without
unpacking it: :func:`id_hint` for ids, :func:`time_hint` for ``phenomenonTime``, and
:func:`order_gate` for "the first k by phenomenonTime". They are true for every recent
row, so they never change an answer.

A write that changes or deletes an archived Observation first moves its block back into
the table (:func:`unarchive`). An advisory lock keeps :func:`archive` from moving rows
that a write transaction is about to change.

SQLite keeps every Observation a row; its ``observation_rows`` view has the same columns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quartier.store.connection import Connection

log = logging.getLogger(__name__)

LOCK = 0x5155_4152_0A0B  # held shared by writers of archived rows, exclusively by archive()
BLOCK_ROWS = 2000  # most Observations in one block: what one read may have to unpack

# Columns of one Observation, as in the table and as the block's arrays.
_COLUMNS = (
    "id", "phenomenon_time_start", "phenomenon_time_end", "result_time", "result_type",
    "result_number", "result_string", "result_json", "result_quality", "valid_time_start",
    "valid_time_end", "parameters", "feature_id",
)
_REQUIRED = {"id", "phenomenon_time_start", "result_type", "feature_id"}
_ARRAYS = dict(zip(_COLUMNS, ("ids", *_COLUMNS[1:]), strict=True))


def id_hint(ids: Sequence[int], alias: str = "t") -> tuple[str, tuple[Any, ...]]:
    """A condition on ``observation_rows`` that keeps the blocks holding any of ``ids``
    (for more than eight ids, the blocks whose id range reaches them)."""
    inside = f"{alias}.block_min_id <= ? AND {alias}.block_max_id >= ?"
    params: tuple[Any, ...] = (max(ids), min(ids))
    if len(ids) <= 8:
        found = " OR ".join(f"array_position({alias}.block_ids, ?) IS NOT NULL" for _ in ids)
        inside += f" AND ({found})"
        params += tuple(ids)
    return f"({alias}.block_ids IS NULL OR ({inside}))", params


def time_hint(bound: str, placeholder: str, alias: str = "t") -> str:
    """A condition that keeps the blocks that may hold an Observation whose
    phenomenonTime starts at or before (``bound`` "upper") or ends at or after ("lower")
    the time in ``placeholder``."""
    if bound == "upper":
        return f"({alias}.block_first IS NULL OR {alias}.block_first <= {placeholder})"
    return f"({alias}.block_last IS NULL OR {alias}.block_last >= {placeholder})"


@dataclass(frozen=True)
class _Order:
    """How a first-k query in one order bounds the blocks it needs."""

    keep: str  # the view's block bound that a needed block reaches past the limit with
    block_limit: str  # blocks sorted by this, counted until k: the last one's gives the limit
    none: str  # the limit when nothing bounds it


_ORDERS = {  # by (sort column, descending)
    ("phenomenon_time_start", True): _Order("block_last", "first_time", "'-infinity'::timestamptz"),
    ("phenomenon_time_start", False): _Order("block_first", "last_time", "'infinity'::timestamptz"),
    ("id", True): _Order("block_max_id", "min_id", "-9223372036854775808"),
    ("id", False): _Order("block_min_id", "max_id", "9223372036854775807"),
}


def order_gate(
    column: str, descending: bool, where: str, blocks_where: str | None
) -> tuple[str, str] | None:
    """For the first k Observations ordered by ``column`` (phenomenon_time_start or id):
    a condition that keeps only the blocks that may hold some of them, or None.

    Either of two limits bounds the k-th value. The k-th recent row that ``where``
    selects: any of the first k of all rows lies at least as far. And, when
    ``blocks_where`` (a condition on blocks ``b``) selects exactly the blocks whose every
    Observation ``where`` selects: the blocks taken in order until they hold k
    Observations, whose last one's bound the k-th value cannot pass. A block that does
    not reach the limit holds none of the first k. The limit from the side that comes
    first in this order is tried first (recent rows for descending, blocks for
    ascending); the other subquery runs only when the first finds fewer than k. They run
    once per query (or per parent in a LATERAL join), and the condition folds away for
    recent rows.

    Returns (SQL, parameter plan): the plan's letters say what to bind in order: ``w``
    the parameters of ``where``, ``b`` those of ``blocks_where``, ``o`` k - 1, ``k`` k.
    """
    order = _ORDERS.get((column, descending))
    if order is None:
        return None
    direction, cmp = ("DESC", ">=") if descending else ("ASC", "<=")
    recent = (f"(SELECT t.{column} FROM observation_rows t WHERE NOT t.archived AND "
              f"{where} ORDER BY t.{column} {direction}, t.id {direction} LIMIT 1 OFFSET ?)")
    limits, plan = [recent], "wo"
    if blocks_where is not None:
        limits.append(
            f"(SELECT s.v FROM (SELECT b.{order.block_limit} AS v, sum(b.observation_count) "
            f"OVER (ORDER BY b.{order.block_limit} {direction}) AS n FROM observation_blocks b "
            f"WHERE {blocks_where}) s WHERE s.n >= ? ORDER BY s.n LIMIT 1)"
        )
        plan += "bk"
    if not descending:
        limits.reverse()
        plan = plan[2:] + plan[:2]
    bound = f"COALESCE({', '.join(limits)}, {order.none})"
    return f"(t.{order.keep} IS NULL OR t.{order.keep} {cmp} {bound})", plan


async def lock_for_change(conn: Connection) -> None:
    """Keep :func:`archive` from moving Observations until this transaction ends."""
    await conn.fetchval("SELECT pg_advisory_xact_lock_shared(?)", (LOCK,))


async def unarchive(conn: Connection, tenant_id: int, condition: str, *params: Any) -> int:
    """Move the blocks that match ``condition`` (on alias ``b``) back into rows; returns
    how many Observations came back. Call :func:`lock_for_change` first."""
    unpacked = ", ".join(f"b.{_ARRAYS[c]}" for c in _COLUMNS)
    status = await conn.fetchval(
        f"WITH moved AS (DELETE FROM observation_blocks b WHERE b.tenant_id = ? AND "
        f"({condition}) RETURNING b.*), back AS ("
        f"INSERT INTO observations (tenant_id, datastream_id, {', '.join(_COLUMNS)}) "
        f"SELECT b.tenant_id, b.datastream_id, u.* FROM moved b "
        f"CROSS JOIN LATERAL unnest({unpacked}) AS u ({', '.join(_COLUMNS)}) RETURNING 1) "
        "SELECT count(*) FROM back",
        (tenant_id, *params),
    )
    return int(status or 0)


def _pack_sql() -> str:
    order = "ORDER BY phenomenon_time_start, id"
    arrays = []
    for column in _COLUMNS:
        agg = f"array_agg({column} {order})"
        arrays.append(agg if column in _REQUIRED else
                      f"CASE WHEN count({column}) > 0 THEN {agg} END")
    return (
        "WITH moved AS (DELETE FROM observations WHERE datastream_id = ? "
        "AND phenomenon_time_start < ? RETURNING *), "
        "numbered AS (SELECT m.*, date_trunc('day', phenomenon_time_start, 'UTC') AS day, "
        "(row_number() OVER (PARTITION BY date_trunc('day', phenomenon_time_start, 'UTC') "
        f"{order}) - 1) / {BLOCK_ROWS} AS part FROM moved m), "
        "packed AS (INSERT INTO observation_blocks (tenant_id, datastream_id, first_time, "
        "last_time, result_time_min, result_time_max, min_id, max_id, observation_count, "
        "features, "
        f"{', '.join(_ARRAYS[c] for c in _COLUMNS)}) "
        "SELECT tenant_id, datastream_id, min(phenomenon_time_start), "
        "max(coalesce(phenomenon_time_end, phenomenon_time_start)), min(result_time), "
        "max(result_time), min(id), max(id), count(*), array_agg(DISTINCT feature_id), "
        f"{', '.join(arrays)} FROM numbered GROUP BY tenant_id, datastream_id, day, part "
        "RETURNING cardinality(ids) AS n) SELECT coalesce(sum(n), 0) FROM packed"
    )


_PACK = _pack_sql()


async def candidates(conn: Connection, older_than: datetime, keep_newest_day: bool) -> list[
    tuple[int, datetime]
]:
    """(Datastream id, cut-off) for each Datastream with rows to archive."""
    cutoff = (
        "least(CAST(? AS timestamptz), date_trunc('day', d.phenomenon_time_end, 'UTC'))"
        if keep_newest_day else "CAST(? AS timestamptz)"
    )
    rows = await conn.fetch(
        f"SELECT d.id, c.cutoff FROM datastreams d CROSS JOIN LATERAL (SELECT {cutoff} "
        "AS cutoff) c WHERE EXISTS (SELECT 1 FROM observations o WHERE o.datastream_id = d.id "
        "AND o.phenomenon_time_start < c.cutoff) ORDER BY d.id",
        (older_than,),
    )
    return [(int(r[0]), r[1]) for r in rows]


async def archive_datastream(conn: Connection, datastream_id: int, cutoff: datetime) -> int:
    """In the caller's transaction: pack the Datastream's rows that start before
    ``cutoff`` into blocks. Returns how many Observations moved; none when a writer
    holds the Datastream or archived Observations just now."""
    # Never wait for a lock: writers take the Datastream's row and the archive lock in
    # either order, so waiting could deadlock. What is busy now is archived next time.
    if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(?)", (LOCK,)):
        return 0
    found = await conn.fetchval(
        "SELECT 1 FROM datastreams WHERE id = ? FOR KEY SHARE SKIP LOCKED", (datastream_id,)
    )
    if found is None:  # being written or deleted
        return 0
    return int(await conn.fetchval(_PACK, (datastream_id, cutoff)) or 0)
