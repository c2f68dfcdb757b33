"""Lone Observations of a write group, written with one INSERT: group commit's hot path.

A POST of one Observation to a Datastream is what devices send most. When several such
batches meet in one group, their Datastreams are read (and locked) in one query, their
rows go in with one multi-row INSERT, and each Datastream's derived fields are updated
once. A batch that cannot be written (an unknown Datastream, no Location to make a
FeatureOfInterest from) is refused before anything of it is written, so it needs no
savepoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Any

from quartier.errors import BadRequest, NotFound, QuartierError
from quartier.model.changes import Batch, ChangeEvent, Create, IdRef
from quartier.model.entities import ENTITY_TYPES
from quartier.store.connection import MAX_PARAMETERS
from quartier.store.read import decode_row, returning_columns
from quartier.store.write import BatchWriter, property_columns

_OBSERVATION = ENTITY_TYPES["Observation"]
# The columns of an Observation row, in the order of :func:`_row`.
_ROW_COLUMNS = ["tenant_id", *property_columns(_OBSERVATION), "datastream_id", "feature_id"]


@dataclass
class Outcome:
    """What became of one batch: its error, or its events and stored row."""

    error: QuartierError | None = None
    events: list[ChangeEvent] | None = None
    row: dict[str, Any] | None = None


def is_observation_batch(batch: Batch) -> bool:
    """Several new Observations of existing Datastreams (and FeaturesOfInterest), nothing else."""
    return len(batch.changes) > 1 and all(_plain_observation(c) for c in batch.changes)


def _plain_observation(change: object) -> bool:
    if not (isinstance(change, Create) and change.etype is _OBSERVATION):
        return False
    keys = change.foreign_keys
    feature = keys.get("FeatureOfInterest")
    return (
        isinstance(keys.get("Datastream"), IdRef)
        and (feature is None or isinstance(feature, IdRef))
        and len(keys) <= 2
    )


async def write_observation_batch(writer: BatchWriter, batch: Batch) -> list[int]:
    """Write an :func:`is_observation_batch` batch in bulk, all of it or (raising) none.

    Each Datastream (and FeatureOfInterest) is looked up once for all its rows; the rows
    go in with one COPY (PostgreSQL) or multi-row INSERT (SQLite).
    """
    creates = [c for c in batch.changes if isinstance(c, Create)]
    await writer.load_datastreams([_parent(c).id for c in creates])
    resolved: dict[tuple[int, int | None], tuple[Any, int]] = {}
    tenant = writer.tenant_id
    records: list[list[Any]] = []
    for change in creates:
        parent = _parent(change)
        given = change.foreign_keys.get("FeatureOfInterest")
        key = (parent.id, given.id if isinstance(given, IdRef) else None)
        found = resolved.get(key)
        if found is None:
            state = await writer.datastream(parent.id, NotFound if parent.from_path else BadRequest)
            found = resolved[key] = (state, await writer.observation_feature(state, given))
        state, feature = found
        records.append(_row(writer, change, state.id, feature))
        writer.note_observation(state, feature, change.values)
    ids = await writer.copy_rows(_OBSERVATION.table, _ROW_COLUMNS, records)
    writer.events.extend(ChangeEvent(tenant, "Observation", new_id, "create") for new_id in ids)
    await writer.finish()
    return ids


def _row(writer: BatchWriter, change: Create, datastream: int, feature: int) -> list[Any]:
    """The values of one Observation row, in :data:`_ROW_COLUMNS` order."""
    return [writer.tenant_id, *writer.record(_OBSERVATION, change.values), datastream, feature]


def _parent(change: Create) -> IdRef:
    parent = change.foreign_keys["Datastream"]
    assert isinstance(parent, IdRef)
    return parent


def is_lone_observation(batch: Batch) -> bool:
    """One new Observation linked to an existing Datastream, with no FeatureOfInterest."""
    if len(batch.changes) != 1 or batch.records:
        return False
    change = batch.changes[0]
    return (
        isinstance(change, Create)
        and change.etype is _OBSERVATION
        and set(change.foreign_keys) == {"Datastream"}
        and isinstance(change.foreign_keys["Datastream"], IdRef)
    )


async def write_lone_observations(writer: BatchWriter, batches: list[Batch]) -> list[Outcome]:
    """Write the batches (all :func:`is_lone_observation`, of the writer's tenant); each
    gets its own outcome, and the stored row for its answer."""
    creates = [c for b in batches for c in b.changes if isinstance(c, Create)]
    await writer.load_datastreams([_parent(c).id for c in creates])
    outcomes: list[Outcome] = []
    ready: list[tuple[Outcome, Create, Any, int, list[tuple[str, str, Any]]]] = []
    for change in creates:
        parent = _parent(change)
        outcome = Outcome()
        outcomes.append(outcome)
        mark = len(writer.events)
        try:
            state = await writer.datastream(parent.id, NotFound if parent.from_path else BadRequest)
            feature = await writer.observation_feature(state, None)
        except QuartierError as exc:
            outcome.error = exc
            continue
        outcome.events = writer.events[mark:]  # a FeatureOfInterest it made
        columns = list(zip(_ROW_COLUMNS, repeat("?"), _row(writer, change, state.id, feature)))
        ready.append((outcome, change, state, feature, columns))
    rows: list[dict[str, Any]] = []
    per_query = max(1, MAX_PARAMETERS // len(_ROW_COLUMNS))
    for start in range(0, len(ready), per_query):
        rows.extend(await _insert_rows([r[4] for r in ready[start:start + per_query]], writer))
    for (outcome, change, state, feature, _), row in zip(ready, rows, strict=True):
        writer.note_observation(state, feature, change.values)
        outcome.row = row
        assert outcome.events is not None
        outcome.events.append(ChangeEvent(writer.tenant_id, "Observation", row["id"], "create"))
    await writer.finish()
    return outcomes


async def _insert_rows(
    rows: list[list[tuple[str, str, Any]]], writer: BatchWriter
) -> list[dict[str, Any]]:
    stored = await writer.insert_rows(
        _OBSERVATION.table, rows, returning_columns(_OBSERVATION)
    )
    # Ids are drawn in the order of the VALUES rows, so sorting by id restores that order.
    decoded = [decode_row(_OBSERVATION, r, writer.dialect) for r in stored]
    return sorted(decoded, key=lambda r: int(r["id"]))
