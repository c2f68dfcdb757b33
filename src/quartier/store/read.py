"""Reading entities: SELECT, decode rows into JSON-ready values, count."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from quartier.model.entities import EntityType, Property, RelationKind
from quartier.model.values import PLAIN, ValueReader, column_kinds, from_columns, value_reader
from quartier.query.sqltext import OrderTerm
from quartier.store import archive, visibility
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect
from quartier.store.tenancy import Reader, RegionView, tenant_predicate

Condition = tuple[str, tuple[Any, ...]]  # SQL on alias ``t`` with ? placeholders


@dataclass
class Scope:
    """A set of rows of one entity type, narrowed by conditions."""

    etype: EntityType
    conditions: list[Condition] = field(default_factory=list)

    def effective(self, parent_key: str = "") -> list[Condition]:
        """The conditions, and what the current reader may not see (:mod:`visibility`);
        ``parent_key``: the column that ties the rows to a parent the reader could see."""
        hidden = visibility.condition(self.etype, parent_key=parent_key)
        return self.conditions if hidden is None else [*self.conditions, (hidden, ())]

    def where(self, reader: Reader, parent_key: str = "") -> tuple[str, list[Any]]:
        """The WHERE clause (on alias ``t``) of the rows ``reader`` sees in this scope."""
        visible, visible_params = tenant_predicate(reader, self.etype)
        parts = [visible]
        params: list[Any] = list(visible_params)
        for sql, values in self.effective(parent_key):
            parts.append(sql)
            params.extend(values)
        return " AND ".join(parts), params

    def narrowed(self, sql: str, *params: Any) -> Scope:
        return Scope(self.etype, [*self.conditions, (sql, params)])

    def with_id(self, entity_id: int) -> Scope:
        """Narrowed to one entity (for archived entities, to the blocks that hold it)."""
        return Scope(self.etype, [*self.conditions, *id_scope(self.etype, [entity_id]).conditions])


def id_scope(etype: EntityType, ids: Sequence[int]) -> Scope:
    """The entities of ``etype`` with these ids (keep ``ids`` to a few hundred)."""
    scope = Scope(etype, [(f"t.id IN ({', '.join('?' * len(ids))})", tuple(ids))])
    if etype.source and ids:  # archived rows: look only into blocks that hold the ids
        scope.conditions.append(archive.id_hint(ids))
    return scope


@dataclass(frozen=True)
class _Layout:
    """Where each property's columns sit in a SELECT of an entity type."""

    select: str
    returning: str  # the same columns, for INSERT ... RETURNING
    returning_aliased: str  # the same columns on alias t
    slices: tuple[tuple[Property, int, int, tuple[str, ...]], ...]
    foreign_keys: tuple[tuple[str, int], ...]
    # For values the driver decoded: None where the value is the column's as it is.
    readers: tuple[tuple[str, int, ValueReader | None], ...]


@cache
def _layout(etype: EntityType) -> _Layout:
    columns = ["t.id"]
    slices = []
    for prop in etype.properties:
        start = len(columns)
        columns.extend(f"t.{c}" for c in prop.columns)
        slices.append((prop, start, len(columns), column_kinds(prop)))
    fks = []
    for rel in etype.relations:
        if rel.kind is RelationKind.FOREIGN_KEY:
            fks.append((rel.name, len(columns)))
            columns.append(f"t.{rel.column}")
    return _Layout(
        f"SELECT {', '.join(columns)} FROM {etype.rows} t",
        ", ".join(c.removeprefix("t.") for c in columns),
        ", ".join(columns),
        tuple(slices),
        tuple(fks),
        tuple((prop.name, start, value_reader(prop)) for prop, start, _end, _kinds in slices),
    )


def returning_columns(etype: EntityType) -> str:
    """The columns of :func:`decode_row`, for an INSERT's RETURNING clause."""
    return _layout(etype).returning


def decode_row(etype: EntityType, row: Sequence[Any], dialect: Dialect) -> dict[str, Any]:
    """An entity as JSON-ready values: ``id``, each property, and each foreign key id.

    Columns after the entity's own (e.g. a parent's id) are ignored.
    """
    layout = _layout(etype)
    out: dict[str, Any] = {"id": int(row[0])}
    if dialect.encodes:
        decode = dialect.decode
        for prop, start, end, kinds in layout.slices:
            if kinds == (PLAIN,):
                out[prop.name] = row[start]
            else:
                out[prop.name] = from_columns(
                    prop, tuple(decode(k, v) for k, v in zip(kinds, row[start:end], strict=True))
                )
    else:  # the driver already gives Python values
        for name, start, read in layout.readers:
            out[name] = row[start] if read is None else read(row, start)
    for name, index in layout.foreign_keys:
        out[name] = row[index]
    return out


def _order_by(order: Sequence[OrderTerm], params: list[Any]) -> str:
    terms = []
    for term in order:
        terms.append(term.sql.text)
        params.extend(term.sql.params)
    if not any(term.is_id for term in order):
        # The id in the direction of the last term, so that an index on (…, time, id)
        # serves "latest first" by reading backwards.
        terms.append("t.id DESC" if order and order[-1].descending else "t.id ASC")
    return " ORDER BY " + ", ".join(terms)


# scope conditions blocks share
_BLOCK_LEVEL = {"t.datastream_id = ?": "b.datastream_id = ?", **visibility.BLOCK_CONDITIONS}


def _gate(
    dialect: Dialect, reader: Reader, scope: Scope, order: Sequence[OrderTerm], where: str,
    params: Sequence[Any], limit: int | None, offset: int, parent_key: str = "",
) -> tuple[str, list[Any]]:
    """For the first rows of archived entities by id or phenomenonTime: the condition
    that skips the blocks that cannot hold them (see :func:`archive.order_gate`).
    ``parent_key``: the LATERAL join's condition on the parent, already in ``where``."""
    if not (dialect.archive and scope.etype.source and limit):
        return "", []
    first = order[0] if order else None
    column = "id" if first is None or first.is_id else first.column
    blocks_params: list[Any] = []
    blocks_where: str | None = None
    conditions = scope.effective(parent_key.partition(" = ")[0])
    # Blocks carry their tenant, so only a tenant's own rows can be narrowed to blocks.
    block_level = all(sql in _BLOCK_LEVEL for sql, _ in conditions)
    if not isinstance(reader, RegionView) and block_level and parent_key in (
        "", "t.datastream_id = p.pid"
    ):
        parts = ["b.tenant_id = ?", *(_BLOCK_LEVEL[sql] for sql, _ in conditions)]
        if parent_key:
            parts.append("b.datastream_id = p.pid")
        blocks_where = " AND ".join(parts)
        blocks_params = list(params[:1 + sum(len(p) for _, p in conditions)])
    gate = archive.order_gate(
        column, first is not None and first.descending, where, blocks_where
    )
    if gate is None:
        return "", []
    sql, plan = gate
    k = limit + offset
    values = {"w": list(params), "o": [k - 1], "b": blocks_params, "k": [k]}
    return f" AND {sql}", [v for letter in plan for v in values[letter]]


def _entities_sql(
    dialect: Dialect, reader: Reader, scope: Scope, order: Sequence[OrderTerm],
    limit: int | None, offset: int,
) -> tuple[str, list[Any]]:
    """The SELECT of :func:`decode_row`'s columns for ``scope``, ordered (then by id) and
    paged; no ``limit`` means all rows after ``offset``."""
    where, params = scope.where(reader)
    gate, gate_params = _gate(dialect, reader, scope, order, where, params, limit, offset)
    params.extend(gate_params)
    sql = f"{_layout(scope.etype).select} WHERE {where}{gate}{_order_by(order, params)}"
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        # SQLite has no LIMIT NULL; -1 means no limit there.
        params.extend((-1 if limit is None and dialect.name == "sqlite" else limit, offset))
    return sql, params


async def fetch_entities(
    conn: Connection,
    dialect: Dialect,
    reader: Reader,
    scope: Scope,
    order: Sequence[OrderTerm] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Entities in ``scope``, ordered by the given SQL expressions, then by id."""
    sql, params = _entities_sql(dialect, reader, scope, order, limit, offset)
    rows = await conn.fetch(sql, params)
    return [decode_row(scope.etype, row, dialect) for row in rows]


async def stream_entities(
    conn: Connection,
    dialect: Dialect,
    reader: Reader,
    scope: Scope,
    order: Sequence[OrderTerm],
    limit: int | None,
    offset: int,
    chunk: int,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Like :func:`fetch_entities`, but read through a cursor ``chunk`` rows at a time,
    so that memory stays flat however many rows there are."""
    sql, params = _entities_sql(dialect, reader, scope, order, limit, offset)
    async for rows in conn.stream(sql, params, chunk):
        yield [decode_row(scope.etype, row, dialect) for row in rows]


@dataclass(frozen=True)
class Related:
    """How the rows of a to-many relation are found: a join and the parent's key."""

    join: str  # e.g. " JOIN things_locations k ON k.location_id = t.id", or ""
    key: str  # e.g. "t.thing_id" or "k.thing_id"


_UNION_CHUNK = 200  # SQLite allows 500 terms in one compound SELECT


async def fetch_related(
    conn: Connection,
    dialect: Dialect,
    reader: Reader,
    scope: Scope,
    related: Related,
    parent_ids: Sequence[int],
    order: Sequence[OrderTerm],
    limit: int,
    offset: int,
) -> list[tuple[int, Sequence[Any]]]:
    """For each parent, its first ``limit`` related entities after ``offset``, in order, as
    (parent id, row for :func:`decode_row`): callers decode only the rows they keep.

    PostgreSQL runs one LATERAL subquery per parent; SQLite a UNION ALL of them. Either
    way each parent's page comes from the index, not from all of its rows.
    """
    layout = _layout(scope.etype)
    where, where_params = scope.where(reader, related.key)
    order_params: list[Any] = []
    order_sql = _order_by(order, order_params)
    head = f"SELECT {layout.returning_aliased}"
    body = f" FROM {scope.etype.rows} t{related.join} WHERE {where} AND {related.key} = "
    tail = f"{order_sql} LIMIT ? OFFSET ?"
    if dialect.name == "postgresql":
        gate, gate_params = _gate(
            dialect, reader, scope, order, f"{where} AND {related.key} = p.pid", where_params,
            limit, offset, parent_key=f"{related.key} = p.pid",
        )
        sql = (f"SELECT x.*, p.pid FROM unnest(CAST(? AS bigint[])) AS p(pid) CROSS JOIN LATERAL "
               f"({head}{body}p.pid{gate}{tail}) x")
        rows = await conn.fetch(
            sql, [list(parent_ids), *where_params, *gate_params, *order_params, limit, offset]
        )
    else:
        rows = []
        for start in range(0, len(parent_ids), _UNION_CHUNK):
            chunk = parent_ids[start:start + _UNION_CHUNK]
            branch = f"SELECT * FROM ({head}, ?{body}?{tail})"
            params: list[Any] = []
            for pid in chunk:
                params.extend((pid, *where_params, pid, *order_params, limit, offset))
            rows.extend(await conn.fetch(" UNION ALL ".join([branch] * len(chunk)), params))
    return [(int(row[-1]), row) for row in rows]


async def count_related(
    conn: Connection, reader: Reader, scope: Scope, related: Related, parent_ids: Sequence[int]
) -> dict[int, int]:
    where, params = scope.where(reader, related.key)
    marks = ", ".join("?" * len(parent_ids))
    rows = await conn.fetch(
        f"SELECT {related.key}, count(*) FROM {scope.etype.rows} t{related.join} "
        f"WHERE {where} AND {related.key} IN ({marks}) GROUP BY {related.key}",
        [*params, *parent_ids],
    )
    return {int(key): int(n) for key, n in rows}


async def count_entities(
    conn: Connection, reader: Reader, scope: Scope, exact_up_to: int | None = None,
    estimate: bool = False,
) -> int:
    """How many entities ``scope`` holds.

    With ``exact_up_to``, counting stops there; above it, ``estimate`` asks the planner
    (PostgreSQL) instead of reading every row, and the larger of the two is returned.
    """
    where, params = scope.where(reader)
    rows_sql = f"FROM {scope.etype.rows} t WHERE {where}"
    if exact_up_to is None:
        return int(await conn.fetchval(f"SELECT count(*) {rows_sql}", params))
    value = int(await conn.fetchval(
        f"SELECT count(*) FROM (SELECT 1 {rows_sql} LIMIT ?) s", [*params, exact_up_to + 1]
    ))
    if value <= exact_up_to:
        return value
    if not estimate:
        return int(await conn.fetchval(f"SELECT count(*) {rows_sql}", params))
    plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 {rows_sql}", params)
    planned = (orjson.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]
    return max(value, int(planned))


async def first_id(conn: Connection, reader: Reader, scope: Scope) -> int | None:
    where, params = scope.where(reader)
    value = await conn.fetchval(
        f"SELECT t.id FROM {scope.etype.rows} t WHERE {where} ORDER BY t.id LIMIT 1", params
    )
    return None if value is None else int(value)


async def foreign_key(
    conn: Connection, reader: Reader, etype: EntityType, entity_id: int, column: str
) -> int | None:
    where, params = id_scope(etype, [entity_id]).where(reader)
    value = await conn.fetchval(f"SELECT t.{column} FROM {etype.rows} t WHERE {where}", params)
    return None if value is None else int(value)
