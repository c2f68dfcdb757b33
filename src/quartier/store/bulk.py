"""Bulk writes of Observations: group commit's hot path.

A POST of one Observation to a Datastream is what devices send most, and an uplink is a
few Observations and the mark that it was stored. When several such batches meet in one
group, their Datastreams are read (and locked) in one query, their marks claimed in one
INSERT, their rows go in with one INSERT, and each Datastream's derived fields
are updated once. A batch that cannot be written (an unknown Datastream, an uplink stored
before, no Location to make a FeatureOfInterest from) is left out whole, so it needs no
savepoint. A single batch of many Observations (CreateObservations) goes in with COPY.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from quartier.errors import BadRequest, NotFound, QuartierError
from quartier.model.changes import Batch, ChangeEvent, Create, IdRef, NewRef, Record
from quartier.model.entities import ENTITY_TYPES
from quartier.store.connection import MAX_PARAMETERS
from quartier.store.read import decode_row, returning_columns
from quartier.store.write import BatchWriter, property_columns

_OBSERVATION = ENTITY_TYPES["Observation"]
# The columns of an Observation row, in the order of :func:`_row`.
_ROW_COLUMNS = ["tenant_id", *property_columns(_OBSERVATION), "datastream_id", "feature_id"]


@dataclass
class Outcome:
    """What became of one batch: its error, or its events, new ids and stored rows."""

    error: QuartierError | None = None
    events: list[ChangeEvent] | None = None
    ids: list[int] = field(default_factory=list)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)  # by change index


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
    go in column by column with one COPY (PostgreSQL) or multi-row INSERT (SQLite).
    """
    creates = [c for c in batch.changes if isinstance(c, Create)]
    await writer.load_datastreams([_parent(c).id for c in creates])
    resolved: dict[tuple[int, int | None], tuple[Any, int]] = {}
    datastream_ids: list[int] = []
    feature_ids: list[int] = []
    for change in creates:
        parent = _parent(change)
        given = change.foreign_keys.get("FeatureOfInterest")
        key = (parent.id, given.id if isinstance(given, IdRef) else None)
        found = resolved.get(key)
        if found is None:
            state = await writer.datastream(parent.id, NotFound if parent.from_path else BadRequest)
            found = resolved[key] = (state, await writer.observation_feature(state, given))
        state, feature = found
        datastream_ids.append(state.id)
        feature_ids.append(feature)
        writer.note_observation(state, feature, change.values)
    names, columns = writer.record_columns(_OBSERVATION, [c.values for c in creates])
    tenant = writer.tenant_id
    ids = await writer.copy_columns(
        _OBSERVATION.table, ["tenant_id", *names, "datastream_id", "feature_id"],
        [[tenant] * len(creates), *columns, datastream_ids, feature_ids],
    )
    writer.events.extend(
        ChangeEvent(tenant, "Observation", new_id, "create",
                    facts=(ds, change.values.get("phenomenonTime"), change.values.get("result")))
        for new_id, ds, change in zip(ids, datastream_ids, creates, strict=True))
    await writer.finish()
    return ids


def _row(writer: BatchWriter, change: Create, datastream: int, feature: int) -> list[Any]:
    """The values of one Observation row, in :data:`_ROW_COLUMNS` order."""
    return [writer.tenant_id, *writer.record(_OBSERVATION, change.values), datastream, feature]


def _parent(change: Create) -> IdRef:
    parent = change.foreign_keys["Datastream"]
    assert isinstance(parent, IdRef)
    return parent


# Batches of up to this many Observations are merged with others of their write group;
# larger ones (CreateObservations) go in by COPY, which is faster for many rows.
MERGE_LIMIT = 16


def is_bulk_batch(batch: Batch) -> bool:
    """A few new Observations of existing Datastreams (and FeaturesOfInterest), with
    records of plain values (an uplink's mark): a batch the write group merges with others."""
    # Loops rather than all(generator): this runs for every message of MQTT ingest.
    changes = batch.changes
    if not 0 < len(changes) <= MERGE_LIMIT:
        return False
    for change in changes:
        if not _plain_observation(change):
            return False
    return not batch.records or all(_plain_values(r) for r in batch.records)


def _plain_values(record: Record) -> bool:
    return not any(isinstance(v, IdRef | NewRef | dict | list) for v in record.values.values())


async def write_bulk_batches(writer: BatchWriter, batches: list[Batch]) -> list[Outcome]:
    """Write the batches (all :func:`is_bulk_batch`, of the writer's tenant) together:
    their Datastreams read and locked in one query, their records claimed in one INSERT
    per table, their rows in one multi-row INSERT. Each batch gets its own outcome: a
    batch that cannot be written (an unknown Datastream, a claimed record, no Location to
    make a FeatureOfInterest from) is left out whole, and the others are written."""
    creates = [_creates(b) for b in batches]
    await writer.load_datastreams([_parent(c).id for batch in creates for c in batch])
    outcomes = [Outcome() for _ in batches]
    states: dict[int, list[Any]] = {}
    loaded = writer.loaded_datastream
    for index, batch_creates in enumerate(creates):
        found = []
        try:
            for change in batch_creates:
                parent = _parent(change)
                state = loaded(parent.id)
                if state is None:  # not there: raises the error a single write gets
                    state = await writer.datastream(
                        parent.id, NotFound if parent.from_path else BadRequest)
                found.append(state)
        except QuartierError as exc:
            outcomes[index].error = exc
            continue
        states[index] = found
    claimed = await _claim_records(writer, {i: batches[i].records for i in states})
    ready: list[tuple[int, Create, Any, int, list[Any]]] = []
    known = writer.known_feature
    for index, error in claimed.items():
        if error is not None:
            outcomes[index].error = error
            del states[index]
    for index, batch_states in states.items():
        outcome = outcomes[index]
        mark = len(writer.events)
        planned = []
        try:
            for change, state in zip(creates[index], batch_states, strict=True):
                given = change.foreign_keys.get("FeatureOfInterest")
                feature = known(state, given)
                if feature is None:
                    feature = await writer.observation_feature(state, given)
                planned.append((index, change, state, feature,
                                _row(writer, change, state.id, feature)))
        except QuartierError as exc:
            outcome.error = exc
            await _release_records(writer, batches[index].records)  # all claimed above
            continue
        outcome.events = writer.events[mark:]  # FeaturesOfInterest it made
        ready.extend(planned)
    rows = await _insert_rows([r[4] for r in ready], writer) if ready else []
    for (index, change, state, feature, _), row in zip(ready, rows, strict=True):
        writer.note_observation(state, feature, change.values)
        outcome = outcomes[index]
        outcome.rows[len(outcome.ids)] = row
        outcome.ids.append(row["id"])
        assert outcome.events is not None
        outcome.events.append(ChangeEvent(writer.tenant_id, "Observation", row["id"], "create",
                                          row=row))
    await writer.finish()
    return outcomes


def _creates(batch: Batch) -> list[Create]:
    return [c for c in batch.changes if isinstance(c, Create)]


async def _claim_records(
    writer: BatchWriter, records: dict[int, list[Record]]
) -> dict[int, QuartierError | None]:
    """Insert the batches' records, one statement per table and columns; a record whose
    unique key exists already (or that an earlier batch of this group has) fails its batch,
    and the batch's other records are taken out again."""
    out: dict[int, QuartierError | None] = {index: None for index in records}
    mine: dict[int, list[Record]] = {index: [] for index in records}
    shapes: dict[tuple[str, tuple[str, ...]], list[tuple[int, Record]]] = {}
    for index, batch_records in records.items():
        for record in batch_records:
            shapes.setdefault((record.table, tuple(record.values)), []).append((index, record))
    for (table, names), items in shapes.items():
        per_query = max(1, MAX_PARAMETERS // len(names))
        for start in range(0, len(items), per_query):
            chunk = items[start:start + per_query]
            one = "(" + ", ".join("?" for _ in names) + ")"
            returned = await writer.conn.fetch(
                f"INSERT INTO {table} ({', '.join(names)}) VALUES {', '.join(one for _ in chunk)} "
                f"ON CONFLICT DO NOTHING RETURNING {', '.join(names)}",
                [v for _, record in chunk for v in record.values.values()])
            inserted = Counter(tuple(row) for row in returned)
            for index, record in chunk:
                key = tuple(record.values.values())
                if inserted[key] > 0:
                    inserted[key] -= 1
                    mine[index].append(record)
                elif record.unique is not None and out[index] is None:
                    out[index] = record.unique
    for index, error in out.items():
        if error is not None:
            await _release_records(writer, mine[index])
    return out


async def _release_records(writer: BatchWriter, records: list[Record]) -> None:
    """Delete records this group inserted, for a batch that is left out after all."""
    for record in records:
        names = list(record.values)
        await writer.conn.execute(
            f"DELETE FROM {record.table} WHERE {' AND '.join(f'{n} = ?' for n in names)}",
            list(record.values.values()))


async def _insert_rows(rows: list[list[Any]], writer: BatchWriter) -> list[dict[str, Any]]:
    """Insert :data:`_ROW_COLUMNS` rows; the stored rows, decoded, in the given order."""
    stored = await writer.conn.insert_columns(
        _OBSERVATION.table, _ROW_COLUMNS, list(zip(*rows, strict=True)),
        returning_columns(_OBSERVATION),
    )
    # Ids are drawn in the order of the rows, so sorting by id restores that order.
    decoded = [decode_row(_OBSERVATION, r, writer.dialect) for r in stored]
    return sorted(decoded, key=lambda r: int(r["id"]))
