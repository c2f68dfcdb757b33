"""Applying a :class:`Batch` inside one transaction: the single write path.

Besides the rows themselves this keeps the SensorThings side effects in one place:
HistoricalLocations when a Thing's Locations change, FeaturesOfInterest made from a
Thing's Location, and a Datastream's time ranges and observed area, updated once per
batch rather than by a trigger per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from shapely.geometry import shape

from quartier.errors import BadRequest, NotFound, QuartierError
from quartier.model.changes import (
    Batch,
    ChangeEvent,
    Create,
    Delete,
    IdRef,
    Link,
    NewRef,
    Reassign,
    Record,
    Ref,
    Update,
)
from quartier.model.entities import ENTITY_TYPES, EntityType, Kind, Property, RelationKind
from quartier.model.geometry import area_of, extend_area, geometry_json
from quartier.model.times import now_utc
from quartier.model.values import JSON, TIME, column_kinds, encode_result, to_columns
from quartier.store import archive, tasking
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect
from quartier.store.read import decode_row, returning_columns

_THING = ENTITY_TYPES["Thing"]
_LOCATION = ENTITY_TYPES["Location"]
_FEATURE = ENTITY_TYPES["FeatureOfInterest"]
_HISTORICAL_LOCATION = ENTITY_TYPES["HistoricalLocation"]
_OBSERVATION = ENTITY_TYPES["Observation"]
_TASK = ENTITY_TYPES["Task"]
# What Observations point at; PostgreSQL keeps these references without foreign keys
# (migration 0018), so a writer locks the rows it points new Observations at.
_REFERENCED_BY_OBSERVATIONS = (ENTITY_TYPES["Datastream"], _FEATURE)


@dataclass
class _DatastreamState:
    """A Datastream's derived fields, as the batch moves them."""

    id: int
    thing_id: int
    phenomenon: list[datetime | None]
    result: list[datetime | None]
    area: dict[str, Any] | None
    location_id: int | None = None  # the Thing's first Location, for FeaturesOfInterest
    location: dict[str, Any] | None = None
    location_feature_id: int | None = None
    new_geometries: list[dict[str, Any]] = field(default_factory=list)  # GeoJSON
    seen_features: set[int] = field(default_factory=set)
    changed: bool = False

    def widen(self, bounds: list[datetime | None], start: datetime, end: datetime) -> None:
        if bounds[0] is None or start < bounds[0]:
            bounds[0] = start
            self.changed = True
        if bounds[1] is None or end > bounds[1]:
            bounds[1] = end
            self.changed = True


_SINGLE, _PAIR, _RESULT = "single", "pair", "result"


@cache
def _record_plan(etype: EntityType) -> tuple[tuple[str, tuple[Any, ...], str], ...]:
    """Per property: its name, its columns when it is null, and how a value fills them."""
    plan = []
    for prop, names, _kinds in _column_plan(etype):
        fill = _RESULT if prop.kind is Kind.RESULT else _PAIR if len(names) == 2 else _SINGLE
        plan.append((prop.name, to_columns(prop, None), fill))
    return tuple(plan)


@cache
def property_columns(etype: EntityType) -> list[str]:
    """The names of every property column, in :meth:`BatchWriter.record` order."""
    return [name for _, names, _ in _column_plan(etype) for name in names]


@cache
def _column_plan(etype: EntityType) -> tuple[tuple[Property, tuple[str, ...], tuple[str, ...]], ...]:
    return tuple((prop, prop.columns, column_kinds(prop)) for prop in etype.properties)


class BatchWriter:
    """Writes one batch on a connection that is inside a transaction."""

    def __init__(self, conn: Connection, dialect: Dialect, tenant_id: int) -> None:
        self.conn = conn
        self.dialect = dialect
        self.tenant_id = tenant_id
        self.events: list[ChangeEvent] = []
        self._ids: list[int] = []
        # Created Observations as stored (no later change in a batch alters them), by index.
        self.rows: dict[int, dict[str, Any]] = {}
        self._known: set[tuple[str, int]] = set()
        self._datastreams: dict[int, _DatastreamState] = {}
        self._recompute: set[int] = set()
        # GeoJSON, not shapely: most areas are one point, compared as it is (extend_area)
        self._feature_geometry: dict[int, dict[str, Any]] = {}
        self._thing_feature: dict[int, int] = {}
        self._thing_locations: dict[int, list[int]] = {}
        self._archive_held = False

    async def apply(self, batch: Batch, observations_only: bool | None = None) -> list[int]:
        """Write the batch's changes; ``observations_only`` when the caller has already
        checked :func:`~quartier.store.bulk.is_observation_batch`."""
        from quartier.store.bulk import is_observation_batch, write_observation_batch

        if observations_only is None:
            observations_only = is_observation_batch(batch)
        if observations_only:
            self._ids = await write_observation_batch(self, batch)
        else:
            for change in batch.changes:
                if isinstance(change, Create):
                    self._ids.append(await self._create(change))
                elif isinstance(change, Link):
                    self._ids.append(await self._link(change))
                elif isinstance(change, Reassign):
                    self._ids.append(await self._reassign(change))
                elif isinstance(change, Update):
                    self._ids.append(await self._update(change))
                elif isinstance(change, Delete):
                    self._ids.append(await self._delete(change))
            await self.finish()
            self._attach_rows(batch)
        for record in batch.records:
            await self._record_row(record)
        return self._ids

    def _attach_rows(self, batch: Batch) -> None:
        """Give the events of created Observations their stored rows, for announcing
        without reading them back; only when no later change of the batch altered them."""
        if not self.rows or not all(isinstance(c, Create | Link) for c in batch.changes):
            return
        by_id = {row["id"]: row for row in self.rows.values()}
        self.events = [
            replace(e, row=by_id[e.id])
            if e.operation == "create" and e.entity_type == "Observation" and e.id in by_id else e
            for e in self.events
        ]

    async def finish(self) -> None:
        """The side effects owed once per batch: history, derived Datastream fields."""
        await self._record_thing_moves()
        await self._save_datastreams()
        await self._recompute_datastreams()

    # -- references -------------------------------------------------------------------

    async def _resolve(self, ref: Ref) -> int:
        if isinstance(ref, NewRef):
            return self._ids[ref.index]
        await self._require(ref.etype, ref.id, NotFound if ref.from_path else BadRequest)
        return ref.id

    async def _require(
        self, etype: EntityType, entity_id: int, missing: type[QuartierError] = BadRequest
    ) -> None:
        key = (etype.name, entity_id)
        if key in self._known:
            return
        sql = f"SELECT 1 FROM {etype.table} WHERE id = ? AND tenant_id = ?"
        if etype in _REFERENCED_BY_OBSERVATIONS:
            sql += self.dialect.lock_referenced
        archived = etype is _OBSERVATION and self.dialect.archive
        if archived:
            await self._hold_archive()
        found = await self.conn.fetchval(sql, (entity_id, self.tenant_id))
        if found is None and archived:
            await archive.unarchive(
                self.conn, self.tenant_id,
                "b.max_id >= ? AND b.min_id <= ? AND array_position(b.ids, ?) IS NOT NULL",
                entity_id, entity_id, entity_id,
            )
            # Look again even when nothing moved: a concurrent writer may just have moved
            # the same block back, and this statement sees what it committed.
            found = await self.conn.fetchval(sql, (entity_id, self.tenant_id))
        if found is None:
            raise missing(f"no {etype.name} with @iot.id {entity_id}")
        self._known.add(key)

    async def _hold_archive(self) -> None:
        """Archived Observations are about to change: keep the archive job off them."""
        if not self._archive_held:
            await archive.lock_for_change(self.conn)
            self._archive_held = True

    # -- columns ----------------------------------------------------------------------

    def columns(self, etype: EntityType, values: dict[str, Any]) -> list[tuple[str, str, Any]]:
        """(column, SQL placeholder, parameter) for the given property values."""
        out: list[tuple[str, str, Any]] = []
        encode = self.dialect.encode if self.dialect.encodes else None
        for prop, names, kinds in _column_plan(etype):
            if prop.name not in values:
                continue
            value = values[prop.name]
            parts = to_columns(prop, value)
            if encode is None:
                out.extend(zip(names, ("?",) * len(names), parts, strict=True))
            else:
                out.extend(
                    (col, "?", encode(kind, part))
                    for col, kind, part in zip(names, kinds, parts, strict=True)
                )
            if prop.kind is Kind.GEOMETRY and self.dialect.geometry_from_geojson:
                geo = None if value is None else orjson.dumps(geometry_json(value)).decode()
                expr = self.dialect.geometry_from_geojson if geo is not None else "?"
                out.append((f"{prop.column}_geom", expr, geo))
        return out

    async def insert_rows(
        self, table: str, rows: list[list[tuple[str, str, Any]]], returning: str = "id"
    ) -> list[Sequence[Any]]:
        """One INSERT of rows that name the same columns; the ``returning`` columns of each."""
        names = ", ".join(c for c, _, _ in rows[0])
        one = "(" + ", ".join(m for _, m, _ in rows[0]) + ")"
        return await self.conn.fetch(
            f"INSERT INTO {table} ({names}) VALUES {', '.join(one for _ in rows)} "
            f"RETURNING {returning}",
            [p for columns in rows for _, _, p in columns],
        )

    def record(self, etype: EntityType, values: dict[str, Any]) -> list[Any]:
        """The parameters of every property column (as :meth:`columns` with all properties
        given); ``etype`` may have no geometry."""
        if self.dialect.encodes:
            encode = self.dialect.encode
            out: list[Any] = []
            for prop, _names, kinds in _column_plan(etype):
                parts = to_columns(prop, values.get(prop.name))
                out.extend(encode(kind, part) for kind, part in zip(kinds, parts, strict=True))
            return out
        out = []  # the hot path of bulk ingest on PostgreSQL: no per-value dispatch
        for name, empty, fill in _record_plan(etype):
            value = values.get(name)
            if value is None:
                out.extend(empty)
            elif fill is _SINGLE:
                out.append(value)
            elif fill is _PAIR:
                out.extend(value)
            else:
                out.extend(encode_result(value))
        return out

    def record_columns(
        self, etype: EntityType, rows: Sequence[dict[str, Any]]
    ) -> tuple[list[str], list[list[Any]]]:
        """The property columns of many rows, column by column, for :meth:`copy_columns`;
        columns that are null in every row are left out (they are null by default)."""
        encode = self.dialect.encode if self.dialect.encodes else None
        names: list[str] = []
        columns: list[list[Any]] = []
        for prop, prop_names, kinds in _column_plan(etype):
            name = prop.name
            values = [row.get(name) for row in rows]
            parts: list[list[Any]]
            if prop.kind is Kind.RESULT:
                parts = [list(column) for column in zip(*map(encode_result, values), strict=True)]
            elif values.count(None) == len(values):
                continue
            elif len(prop_names) == 2:
                parts = [[None if v is None else v[0] for v in values],
                         [None if v is None else v[1] for v in values]]
            else:
                parts = [values]
            for column_name, kind, column in zip(prop_names, kinds, parts, strict=True):
                if column.count(None) == len(column):
                    continue
                names.append(column_name)
                columns.append(column if encode is None else [encode(kind, v) for v in column])
        return names, columns

    async def copy_columns(
        self, table: str, names: list[str], columns: Sequence[Sequence[Any]]
    ) -> list[int]:
        """Many rows of plain values on the fastest path the database has; the new ids."""
        return await self.conn.copy_columns(table, names, columns)

    async def _insert(self, table: str, columns: list[tuple[str, str, Any]]) -> int:
        return int((await self.insert_rows(table, [columns]))[0][0])

    async def _record_row(self, record: Record) -> None:
        """Insert one of the platform's own rows, its references resolved to ids."""
        names = list(record.values)
        params = []
        for value in record.values.values():
            value = await self._resolved(value)
            params.append(self.dialect.encode(JSON, value) if isinstance(value, dict | list) else value)
        sql = (f"INSERT INTO {record.table} ({', '.join(names)}) "
               f"VALUES ({', '.join('?' * len(names))})")
        if record.unique is None:
            await self.conn.execute(sql, params)
        elif await self.conn.fetchval(sql + " ON CONFLICT DO NOTHING RETURNING 1", params) is None:
            raise record.unique

    async def _resolved(self, value: Any) -> Any:
        """``value`` with every reference in it (also inside JSON) replaced by its id."""
        if isinstance(value, IdRef | NewRef):
            return await self._resolve(value)
        if isinstance(value, dict):
            return {k: await self._resolved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [await self._resolved(v) for v in value]
        return value

    # -- changes ----------------------------------------------------------------------

    async def _create(self, change: Create) -> int:
        etype = change.etype
        if etype is _TASK:
            change = replace(change, values=tasking.new_task_values(change.values))
        columns = [("tenant_id", "?", self.tenant_id), *self.columns(etype, change.values)]
        fk_ids: dict[str, int] = {}
        if etype is _OBSERVATION:
            parent = change.foreign_keys["Datastream"]
            datastream = await self.datastream(
                self._ids[parent.index] if isinstance(parent, NewRef) else parent.id,
                NotFound if isinstance(parent, IdRef) and parent.from_path else BadRequest,
            )
            fk_ids["Datastream"] = datastream.id
            fk_ids["FeatureOfInterest"] = await self.observation_feature(
                datastream, change.foreign_keys.get("FeatureOfInterest")
            )
        for rel in etype.relations:
            ref = change.foreign_keys.get(rel.name)
            if rel.kind is RelationKind.FOREIGN_KEY and ref is not None and rel.name not in fk_ids:
                fk_ids[rel.name] = await self._resolve(ref)
        for rel in etype.relations:
            if rel.name in fk_ids:
                columns.append((rel.column, "?", fk_ids[rel.name]))
        if etype is _TASK:
            await tasking.check_task(self, fk_ids["TaskingCapability"], change.values)
        if etype is _OBSERVATION:
            stored = await self.insert_rows(etype.table, [columns], returning_columns(etype))
            row = decode_row(etype, stored[0], self.dialect)
            self.rows[len(self._ids)] = row
            new_id = row["id"]
        else:
            new_id = await self._insert(etype.table, columns)
        self._known.add((etype.name, new_id))
        if etype.name == "FeatureOfInterest":
            self._feature_geometry[new_id] = geometry_json(change.values["feature"])
        elif etype.name == "Observation":
            await self.observation_added(fk_ids["Datastream"], fk_ids["FeatureOfInterest"],
                                          change.values)
        elif etype is _TASK:
            await tasking.add_delivery(self, new_id)
        self.events.append(ChangeEvent(self.tenant_id, etype.name, new_id, "create"))
        return new_id

    async def _link(self, change: Link) -> int:
        owner = await self._resolve(change.owner)
        other = await self._resolve(change.other)
        rel = change.relation
        await self.conn.execute(
            f"INSERT INTO {rel.link_table} ({rel.link_self}, {rel.link_other}) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            (owner, other),
        )
        self._note_thing_location(change.owner.etype, owner, other)
        return owner

    def _note_thing_location(self, owner_type: EntityType, owner: int, other: int) -> None:
        if owner_type is _THING:
            self._thing_locations.setdefault(owner, []).append(other)
        elif owner_type is _LOCATION:
            self._thing_locations.setdefault(other, []).append(owner)

    async def _reassign(self, change: Reassign) -> int:
        child = change.child
        await self._require(child.etype, child.id)
        parent = await self._resolve(change.parent)
        if child.etype.name == "Observation":
            await self._observation_moves(child.id)
        await self.conn.execute(
            f"UPDATE {child.etype.table} SET {change.relation.column} = ? "
            "WHERE id = ? AND tenant_id = ?",
            (parent, child.id, self.tenant_id),
        )
        if child.etype.name == "Observation":
            self._recompute.add(parent)
        self.events.append(
            ChangeEvent(self.tenant_id, child.etype.name, child.id, "update",
                        (change.relation.name,))
        )
        return child.id

    async def _update(self, change: Update) -> int:
        etype, entity_id = change.target.etype, change.target.id
        await self._require(etype, entity_id, NotFound)
        if etype is _TASK:
            tasking.check_update(change)
        columns = self.columns(etype, change.values)
        if etype is _LOCATION and "location" in change.values:
            # A moved Location makes a new FeatureOfInterest for later Observations.
            columns.append(("generated_feature_id", "?", None))
        for name, ref in change.foreign_keys.items():
            rel = etype.find_relation(name)
            assert rel is not None
            linked = await self._resolve(ref)
            columns.append((rel.column, "?", linked))
            if etype is _OBSERVATION and name == "Datastream":
                self._recompute.add(linked)  # the Datastream it moves to
        if etype is _OBSERVATION:
            await self._observation_moves(entity_id)  # the Datastream it leaves or stays in
        if columns:
            assignments = ", ".join(f"{col} = {mark}" for col, mark, _ in columns)
            await self.conn.execute(
                f"UPDATE {etype.table} SET {assignments} WHERE id = ? AND tenant_id = ?",
                [*(p for _, _, p in columns), entity_id, self.tenant_id],
            )
        for name, refs in change.replace_links.items():
            rel = etype.find_relation(name)
            assert rel is not None
            others = [await self._resolve(ref) for ref in refs]
            await self.conn.execute(
                f"DELETE FROM {rel.link_table} WHERE {rel.link_self} = ?", (entity_id,)
            )
            for other in others:
                await self.conn.execute(
                    f"INSERT INTO {rel.link_table} ({rel.link_self}, {rel.link_other}) "
                    "VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (entity_id, other),
                )
                self._note_thing_location(etype, entity_id, other)
            if etype is _THING and rel.target == "Location" and not others:
                self._thing_locations.setdefault(entity_id, [])
        fields = (*change.values, *change.foreign_keys, *change.replace_links)
        self.events.append(ChangeEvent(self.tenant_id, etype.name, entity_id, "update", fields))
        return entity_id

    async def _delete(self, change: Delete) -> int:
        etype, entity_id = change.target.etype, change.target.id
        await self._require(etype, entity_id, NotFound)
        if etype.name == "Observation":
            await self._observation_moves(entity_id)
        elif etype is _FEATURE:
            if self.dialect.archive:  # its archived Observations go with it too
                await self._hold_archive()
                await archive.unarchive(
                    self.conn, self.tenant_id, "b.features @> ARRAY[CAST(? AS bigint)]", entity_id
                )
            rows = await self.conn.fetch(
                "SELECT DISTINCT datastream_id FROM observations WHERE feature_id = ?",
                (entity_id,),
            )
            self._recompute.update(int(r[0]) for r in rows)
        elif etype is _LOCATION:
            # HistoricalLocations that pointed only at this Location go with it.
            await self.conn.execute(
                "DELETE FROM historical_locations WHERE id IN ("
                " SELECT historical_location_id FROM historical_locations_locations h"
                " WHERE h.location_id = ? AND NOT EXISTS ("
                "  SELECT 1 FROM historical_locations_locations o"
                "  WHERE o.historical_location_id = h.historical_location_id"
                "  AND o.location_id <> h.location_id))",
                (entity_id,),
            )
        await self.conn.execute(
            f"DELETE FROM {etype.table} WHERE id = ? AND tenant_id = ?",
            (entity_id, self.tenant_id),
        )
        self._known.discard((etype.name, entity_id))
        self.events.append(ChangeEvent(self.tenant_id, etype.name, entity_id, "delete"))
        return entity_id

    # -- Things and their Locations ---------------------------------------------------

    async def _record_thing_moves(self) -> None:
        """Each Thing whose Locations changed now has exactly those, and a new
        HistoricalLocation that records them."""
        for thing_id, location_ids in self._thing_locations.items():
            keep = sorted(set(location_ids))
            if keep:
                marks = ", ".join("?" for _ in keep)
                await self.conn.execute(
                    f"DELETE FROM things_locations WHERE thing_id = ? "
                    f"AND location_id NOT IN ({marks})",
                    (thing_id, *keep),
                )
            else:
                await self.conn.execute(
                    "DELETE FROM things_locations WHERE thing_id = ?", (thing_id,)
                )
                continue
            time = self.dialect.encode(TIME, now_utc())
            hl_id = await self._insert(
                _HISTORICAL_LOCATION.table,
                [("tenant_id", "?", self.tenant_id), ("time", "?", time),
                 ("thing_id", "?", thing_id)],
            )
            await self.conn.executemany(
                "INSERT INTO historical_locations_locations "
                "(historical_location_id, location_id) VALUES (?, ?)",
                [(hl_id, loc) for loc in keep],
            )
            self.events.append(
                ChangeEvent(self.tenant_id, "HistoricalLocation", hl_id, "create")
            )

    # -- Observations and their Datastream --------------------------------------------

    async def datastream(
        self, datastream_id: int, missing: type[QuartierError] = BadRequest
    ) -> _DatastreamState:
        """The Datastream's derived fields and its Thing's first Location, in one query."""
        state = self._datastreams.get(datastream_id)
        if state is not None:
            return state
        await self.load_datastreams([datastream_id])
        state = self._datastreams.get(datastream_id)
        if state is None:
            raise missing(f"no Datastream with @iot.id {datastream_id}")
        return state

    def loaded_datastream(self, datastream_id: int) -> _DatastreamState | None:
        """The Datastream's state when it is read already (no await: bulk ingest's hot path)."""
        return self._datastreams.get(datastream_id)

    def known_feature(self, state: _DatastreamState, given: Ref | None) -> int | None:
        """What :meth:`observation_feature` answers, when it is at hand without a query."""
        if given is not None:
            return None
        return self._thing_feature.get(state.thing_id)

    async def load_datastreams(self, ids: Sequence[int]) -> None:
        """Read (and on PostgreSQL lock, in id order) the state of several Datastreams."""
        wanted = sorted(set(ids) - set(self._datastreams))
        if not wanted:
            return
        among, params = self.dialect.among("d.id", wanted)
        # The FeatureOfInterest made from the Location is locked as it is read (NULL when it
        # was deleted meanwhile: then a new one is made), so no later query needs to.
        rows = await self.conn.fetch(
            "SELECT d.id, d.thing_id, d.phenomenon_time_start, d.phenomenon_time_end,"
            " d.result_time_start, d.result_time_end, d.observed_area,"
            " l.id, l.location, (SELECT f.id FROM features f WHERE f.id = l.generated_feature_id"
            f"{self.dialect.lock_referenced}) FROM datastreams d"
            " LEFT JOIN locations l ON l.id = ("
            "  SELECT min(tl.location_id) FROM things_locations tl WHERE tl.thing_id = d.thing_id)"
            f" WHERE {among} AND d.tenant_id = ? ORDER BY d.id"
            + self.dialect.lock_for_update,
            (*params, self.tenant_id),
        )
        decode = self.dialect.decode
        for row in rows:
            state = _DatastreamState(
                int(row[0]),
                int(row[1]),
                [decode(TIME, row[2]), decode(TIME, row[3])],
                [decode(TIME, row[4]), decode(TIME, row[5])],
                decode(JSON, row[6]),
                location_id=row[7],
                location=decode(JSON, row[8]),
                location_feature_id=row[9],
            )
            self._datastreams[state.id] = state
            self._known.add(("Datastream", state.id))
            if row[9] is not None:
                self._known.add(("FeatureOfInterest", int(row[9])))

    async def observation_feature(self, state: _DatastreamState, given: Ref | None) -> int:
        """The FeatureOfInterest of a new Observation: the given one, or the one made
        from its Thing's Location (made once per Location and reused)."""
        if given is not None:
            feature_id = await self._resolve(given)
            if feature_id not in self._feature_geometry:
                raw = await self.conn.fetchval(
                    "SELECT feature FROM features WHERE id = ?", (feature_id,)
                )
                self._feature_geometry[feature_id] = geometry_json(self.dialect.decode(JSON, raw))
            return feature_id
        cached = self._thing_feature.get(state.thing_id)
        if cached is not None:
            return cached
        if state.location_id is None or state.location is None:
            raise BadRequest(
                f"the Observation has no FeatureOfInterest, and Thing {state.thing_id} of "
                f"Datastream {state.id} has no Location to make one from: give a "
                "FeatureOfInterest"
            )
        known = state.location_feature_id
        feature_id = (
            int(known) if known is not None
            else await self._feature_from_location(state.location_id)
        )
        if feature_id not in self._feature_geometry:
            self._feature_geometry[feature_id] = geometry_json(state.location)
        self._thing_feature[state.thing_id] = feature_id
        return feature_id

    async def _feature_from_location(self, location_id: int) -> int:
        # Locked, and read again: a concurrent writer may have made the feature since the
        # Datastream was read (a waiting lock does not refresh the rows joined to it). The
        # lock also holds the feature found: deleting it sets this row's reference to NULL,
        # which waits for the lock (and then its trigger sees the Observations written).
        row = await self.conn.fetchrow(
            "SELECT name, description, encoding_type, location, properties,"
            " generated_feature_id FROM locations WHERE id = ?" + self.dialect.lock_row,
            (location_id,),
        )
        assert row is not None
        if row[5] is not None:
            return int(row[5])
        decode = self.dialect.decode
        values = {
            "name": row[0], "description": row[1], "encodingType": row[2],
            "feature": decode(JSON, row[3]), "properties": decode(JSON, row[4]),
        }
        feature_id = await self._insert(
            _FEATURE.table, [("tenant_id", "?", self.tenant_id), *self.columns(_FEATURE, values)]
        )
        self._known.add(("FeatureOfInterest", feature_id))  # made here: nobody can delete it
        await self.conn.execute(
            "UPDATE locations SET generated_feature_id = ? WHERE id = ?", (feature_id, location_id)
        )
        for state in self._datastreams.values():
            if state.location_id == location_id:
                state.location_feature_id = feature_id
        self.events.append(ChangeEvent(self.tenant_id, "FeatureOfInterest", feature_id, "create"))
        return feature_id

    async def observation_added(
        self, datastream_id: int, feature_id: int, values: dict[str, Any]
    ) -> None:
        self.note_observation(await self.datastream(datastream_id), feature_id, values)

    def note_observation(self, state: _DatastreamState, feature_id: int, values: dict[str, Any]) -> None:
        """Widen the Datastream's derived fields by a new Observation."""
        start, end = values["phenomenonTime"]
        state.widen(state.phenomenon, start, end or start)
        result_time = values.get("resultTime")
        if result_time is not None:
            state.widen(state.result, result_time, result_time)
        if feature_id not in state.seen_features:
            state.seen_features.add(feature_id)
            state.new_geometries.append(self._feature_geometry[feature_id])

    async def _observation_moves(self, observation_id: int) -> None:
        """An Observation changes or goes: its Datastream's fields are recomputed."""
        datastream_id = await self.conn.fetchval(
            "SELECT datastream_id FROM observations WHERE id = ?", (observation_id,)
        )
        if datastream_id is not None:
            self._recompute.add(int(datastream_id))

    async def _save_datastreams(self) -> None:
        times_only: list[list[Any]] = []
        enc = self.dialect.encode
        for state in self._datastreams.values():
            if state.id in self._recompute:
                continue
            # The area only changes when a FeatureOfInterest lies outside it.
            area = extend_area(state.area, state.new_geometries)
            if area is not None:
                await self._store_derived(state.id, state.phenomenon, state.result, area)
            elif state.changed:
                times = (*state.phenomenon, *state.result)
                times_only.append([*(enc(TIME, t) for t in times), state.id])
        if times_only:  # one pipelined statement for all of them
            await self.conn.executemany(
                "UPDATE datastreams SET phenomenon_time_start = ?, phenomenon_time_end = ?, "
                "result_time_start = ?, result_time_end = ? WHERE id = ?",
                times_only,
            )

    async def _store_derived(
        self,
        datastream_id: int,
        phenomenon: list[datetime | None],
        result: list[datetime | None],
        area: dict[str, Any] | None,
    ) -> None:
        enc = self.dialect.encode
        columns = [
            ("phenomenon_time_start", "?", enc(TIME, phenomenon[0])),
            ("phenomenon_time_end", "?", enc(TIME, phenomenon[1])),
            ("result_time_start", "?", enc(TIME, result[0])),
            ("result_time_end", "?", enc(TIME, result[1])),
        ]
        columns.append(("observed_area", "?", enc(JSON, area)))
        if self.dialect.geometry_from_geojson:
            geo = None if area is None else orjson.dumps(area).decode()
            mark = self.dialect.geometry_from_geojson if geo is not None else "?"
            columns.append(("observed_area_geom", mark, geo))
        assignments = ", ".join(f"{col} = {mark}" for col, mark, _ in columns)
        await self.conn.execute(
            f"UPDATE datastreams SET {assignments} WHERE id = ?",
            [*(p for _, _, p in columns), datastream_id],
        )

    async def recompute_datastreams(self, ids: Sequence[int]) -> None:
        """Compute the derived fields of these Datastreams again from their Observations
        (after Observations were deleted outside a batch, e.g. by retention)."""
        self._recompute.update(ids)
        await self._recompute_datastreams()

    async def _recompute_datastreams(self) -> None:
        decode = self.dialect.decode
        for datastream_id in sorted(self._recompute):
            await self.conn.fetch(
                "SELECT d.id FROM datastreams d WHERE d.id = ?" + self.dialect.lock_for_update,
                (datastream_id,),
            )
            sql = _ARCHIVED_DERIVED if self.dialect.archive else _DERIVED
            twice = (datastream_id,) * (2 if self.dialect.archive else 1)
            row = await self.conn.fetchrow(sql[0], twice)
            assert row is not None
            features = await self.conn.fetch(sql[1], twice)
            area = area_of([shape(geometry_json(decode(JSON, f[0]))) for f in features])
            await self._store_derived(
                datastream_id,
                [decode(TIME, row[0]), decode(TIME, row[1])],
                [decode(TIME, row[2]), decode(TIME, row[3])],
                area,
            )


# A Datastream's time spans, and the geometries of its FeaturesOfInterest, from its
# Observations: rows only, or rows and archived blocks (whose bounds suffice).
_DERIVED = (
    "SELECT min(phenomenon_time_start), max(coalesce(phenomenon_time_end, phenomenon_time_start)),"
    " min(result_time), max(result_time) FROM observations WHERE datastream_id = ?",
    "SELECT feature FROM features WHERE id IN ("
    " SELECT DISTINCT feature_id FROM observations WHERE datastream_id = ?)",
)
_ARCHIVED_DERIVED = (
    "SELECT min(a), max(b), min(c), max(d) FROM ("
    " SELECT min(phenomenon_time_start) a,"
    " max(coalesce(phenomenon_time_end, phenomenon_time_start)) b, min(result_time) c,"
    " max(result_time) d FROM observations WHERE datastream_id = ?"
    " UNION ALL SELECT min(first_time), max(last_time), min(result_time_min),"
    " max(result_time_max) FROM observation_blocks WHERE datastream_id = ?) s",
    "SELECT feature FROM features WHERE id IN ("
    " SELECT feature_id FROM observations WHERE datastream_id = ?"
    " UNION SELECT unnest(features) FROM observation_blocks WHERE datastream_id = ?)",
)
