"""Reading entities: SELECT, decode rows into JSON-ready values, count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from quartier.model.entities import EntityType, Property, RelationKind
from quartier.model.values import PLAIN, column_kinds, from_columns
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect

Condition = tuple[str, tuple[Any, ...]]  # SQL on alias ``t`` with ? placeholders


@dataclass
class Scope:
    """A set of rows of one entity type, narrowed by conditions."""

    etype: EntityType
    conditions: list[Condition] = field(default_factory=list)

    def where(self, tenant_id: int) -> tuple[str, list[Any]]:
        parts = ["t.tenant_id = ?"]
        params: list[Any] = [tenant_id]
        for sql, values in self.conditions:
            parts.append(sql)
            params.extend(values)
        return " AND ".join(parts), params

    def narrowed(self, sql: str, *params: Any) -> Scope:
        return Scope(self.etype, [*self.conditions, (sql, params)])


@dataclass(frozen=True)
class _Layout:
    """Where each property's columns sit in a SELECT of an entity type."""

    select: str
    returning: str  # the same columns, for INSERT ... RETURNING
    slices: tuple[tuple[Property, int, int, tuple[str, ...]], ...]
    foreign_keys: tuple[tuple[str, int], ...]


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
        f"SELECT {', '.join(columns)} FROM {etype.table} t",
        ", ".join(c.removeprefix("t.") for c in columns),
        tuple(slices),
        tuple(fks),
    )


def returning_columns(etype: EntityType) -> str:
    """The columns of :func:`decode_row`, for an INSERT's RETURNING clause."""
    return _layout(etype).returning


def decode_row(etype: EntityType, row: Sequence[Any], dialect: Dialect) -> dict[str, Any]:
    """An entity as JSON-ready values: ``id``, each property, and each foreign key id."""
    layout = _layout(etype)
    decode = dialect.decode
    out: dict[str, Any] = {"id": int(row[0])}
    for prop, start, end, kinds in layout.slices:
        raw = row[start:end]
        if kinds == (PLAIN,):
            out[prop.name] = raw[0]
        else:
            out[prop.name] = from_columns(
                prop, tuple(decode(k, v) for k, v in zip(kinds, raw, strict=True))
            )
    for name, index in layout.foreign_keys:
        out[name] = row[index]
    return out


async def fetch_entities(
    conn: Connection,
    dialect: Dialect,
    tenant_id: int,
    scope: Scope,
    order: Sequence[tuple[str, bool]] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Entities in ``scope``, ordered by the given SQL expressions, then by id."""
    where, params = scope.where(tenant_id)
    terms = [f"{expr} {'DESC' if desc else 'ASC'}" for expr, desc in order]
    if not any(expr == "t.id" for expr, _ in order):
        terms.append("t.id ASC")
    sql = f"{_layout(scope.etype).select} WHERE {where} ORDER BY {', '.join(terms)}"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend((limit, offset))
    rows = await conn.fetch(sql, params)
    return [decode_row(scope.etype, row, dialect) for row in rows]


async def count_entities(conn: Connection, tenant_id: int, scope: Scope) -> int:
    where, params = scope.where(tenant_id)
    value = await conn.fetchval(f"SELECT count(*) FROM {scope.etype.table} t WHERE {where}", params)
    return int(value)


async def first_id(conn: Connection, tenant_id: int, scope: Scope) -> int | None:
    where, params = scope.where(tenant_id)
    value = await conn.fetchval(
        f"SELECT t.id FROM {scope.etype.table} t WHERE {where} ORDER BY t.id LIMIT 1", params
    )
    return None if value is None else int(value)


async def foreign_key(
    conn: Connection, tenant_id: int, etype: EntityType, entity_id: int, column: str
) -> int | None:
    value = await conn.fetchval(
        f"SELECT {column} FROM {etype.table} WHERE id = ? AND tenant_id = ?",
        (entity_id, tenant_id),
    )
    return None if value is None else int(value)
