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
from typing import Any

from quartier.errors import BadRequest, NotFound, QuartierError
from quartier.model.changes import Batch, ChangeEvent, Create, IdRef
from quartier.model.entities import ENTITY_TYPES
from quartier.store.read import decode_row, returning_columns
from quartier.store.write import BatchWriter, property_columns

_OBSERVATION = ENTITY_TYPES["Observation"]
_PROPERTY_NAMES = tuple(p.name for p in _OBSERVATION.properties)
_COLUMNS_PER_QUERY = 30_000  # below SQLite's limit of bound parameters


@dataclass
class Outcome:
    """What became of one batch: its error, or its events and stored row."""

    error: QuartierError | None = None
    events: list[ChangeEvent] | None = None
    id: int = 0
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
    """Write an :func:`is_observation_batch` batch in bulk, all of it or (raising) none."""
    creates = [c for c in batch.changes if isinstance(c, Create)]
    outcomes = await _write(writer, creates, keep_rows=False)
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
    writer.events.extend(e for o in outcomes for e in o.events or ())
    return [o.id for o in outcomes]


def is_lone_observation(batch: Batch) -> bool:
    """One new Observation linked to an existing Datastream, with no FeatureOfInterest."""
    if len(batch.changes) != 1:
        return False
    change = batch.changes[0]
    return (
        isinstance(change, Create)
        and change.etype is _OBSERVATION
        and set(change.foreign_keys) == {"Datastream"}
        and isinstance(change.foreign_keys["Datastream"], IdRef)
    )


async def write_lone_observations(writer: BatchWriter, batches: list[Batch]) -> list[Outcome]:
    """Write the batches (all :func:`is_lone_observation`, of the writer's tenant)."""
    creates = [b.changes[0] for b in batches]
    return await _write(writer, [c for c in creates if isinstance(c, Create)], keep_rows=True)


async def _write(writer: BatchWriter, creates: list[Create], keep_rows: bool) -> list[Outcome]:
    """Each Create's outcome; with ``keep_rows``, the stored row comes back too."""
    parents = [
        p for c in creates if isinstance(c, Create)
        for p in [c.foreign_keys["Datastream"]] if isinstance(p, IdRef)
    ]
    await writer.load_datastreams([p.id for p in parents])
    outcomes: list[Outcome] = []
    ready: list[tuple[Outcome, Create, Any, int, list[Any]]] = []
    for change, parent in zip(creates, parents, strict=True):
        assert isinstance(change, Create) and isinstance(parent, IdRef)
        outcome = Outcome()
        outcomes.append(outcome)
        mark = len(writer.events)
        try:
            state = await writer.datastream(parent.id, NotFound if parent.from_path else BadRequest)
            feature = await writer.observation_feature(state, change.foreign_keys.get("FeatureOfInterest"))
        except QuartierError as exc:
            outcome.error = exc
            continue
        outcome.events = writer.events[mark:]  # a FeatureOfInterest it made
        if keep_rows:
            values = {name: change.values.get(name) for name in _PROPERTY_NAMES}
            row: Any = [
                ("tenant_id", "?", writer.tenant_id), *writer.columns(_OBSERVATION, values),
                ("datastream_id", "?", state.id), ("feature_id", "?", feature),
            ]
        else:
            row = [writer.tenant_id, *writer.record(_OBSERVATION, change.values), state.id, feature]
        ready.append((outcome, change, state, feature, row))
    ids: list[int] = []
    if keep_rows:
        rows: list[dict[str, Any]] = []
        per_query = max(1, _COLUMNS_PER_QUERY // (len(ready[0][4]) if ready else 1))
        for start in range(0, len(ready), per_query):
            rows.extend(await _insert_rows([r[4] for r in ready[start:start + per_query]], writer))
        ids = [row["id"] for row in rows]
    elif ready:
        names = ["tenant_id", *property_columns(_OBSERVATION), "datastream_id", "feature_id"]
        ids = await writer.copy_rows(_OBSERVATION.table, names, [r[4] for r in ready])
    for index, (outcome, change, state, feature, _) in enumerate(ready):
        writer.note_observation(state, feature, change.values)
        outcome.id = ids[index]
        outcome.row = rows[index] if keep_rows else None
        assert outcome.events is not None
        outcome.events.append(ChangeEvent(writer.tenant_id, "Observation", ids[index], "create"))
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
