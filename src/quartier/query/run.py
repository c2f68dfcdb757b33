"""Running a query: filter, count, order, page, then fetch what ``$expand`` asks for.

The order of evaluation is the specification's: ``$filter``, ``$count``, ``$orderby``,
``$skip``, ``$top``. Expanded relations are read with one query per relation and level,
never one per parent entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quartier.errors import BadRequest
from quartier.model.entities import ENTITY_TYPES, EntityType, Relation, RelationKind
from quartier.query.compile import Compiler
from quartier.query.flavor import flavor_for
from quartier.query.options import Expand, QueryOptions
from quartier.store.connection import Connection
from quartier.store.dialect import Dialect
from quartier.store.read import (
    OrderTerm,
    Related,
    Scope,
    count_entities,
    count_related,
    decode_row,
    fetch_entities,
    fetch_related,
    id_scope,
)
from quartier.store.tenancy import Reader

EXPANDED = "@expanded"  # key under which a row carries its expanded relations
_ID_CHUNK = 500


@dataclass
class Page:
    rows: list[dict[str, Any]]
    count: int | None
    more: bool


class QueryRunner:
    """Reads on one connection for one tenant."""

    def __init__(
        self, conn: Connection, dialect: Dialect, reader: Reader, exact_count_limit: int,
        max_expanded: int = 200_000,
    ) -> None:
        self.max_expanded = max_expanded
        self.conn = conn
        self.dialect = dialect
        self.flavor = flavor_for(dialect.name)
        self.reader = reader
        self.exact_count_limit = exact_count_limit

    def filtered(self, scope: Scope, options: QueryOptions) -> Scope:
        if options.filter is None:
            return scope
        sql = Compiler(self.flavor, scope.etype, reader=self.reader).predicate(options.filter)
        return scope.narrowed(sql.text, *sql.params)

    def order(self, etype: EntityType, options: QueryOptions) -> list[OrderTerm]:
        compiler = Compiler(self.flavor, etype, option="$orderby", reader=self.reader)
        terms: list[OrderTerm] = []
        for node, desc in options.orderby:
            terms.extend(compiler.order_term(node, desc))
        return terms

    async def count(self, scope: Scope) -> int:
        return await count_entities(
            self.conn, self.reader, scope, self.exact_count_limit,
            estimate=self.dialect.name == "postgresql",
        )

    async def collection(self, scope: Scope, options: QueryOptions) -> Page:
        scope = self.filtered(scope, options)
        count = await self.count(scope) if options.count else None
        rows = await fetch_entities(
            self.conn, self.dialect, self.reader, scope, self.order(scope.etype, options),
            limit=options.top + 1, offset=options.skip,
        )
        more = 0 < options.top < len(rows)  # $top=0 asks for no page, so none follows
        rows = rows[: options.top]
        await self.expand(scope.etype, rows, options.expand)
        return Page(rows, count, more)

    async def expand(self, etype: EntityType, rows: list[dict[str, Any]], expands: list[Expand]) -> None:
        if not rows:
            return
        for item in expands:
            if item.relation.kind is RelationKind.FOREIGN_KEY:
                await self._expand_one(rows, item)
            else:
                await self._expand_many(rows, item)

    async def _expand_one(self, rows: list[dict[str, Any]], item: Expand) -> None:
        rel = item.relation
        target = ENTITY_TYPES[rel.target]
        ids = sorted({row[rel.name] for row in rows if row.get(rel.name) is not None})
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start:start + _ID_CHUNK]
            scope = self.filtered(id_scope(target, chunk), item.options)
            for child in await fetch_entities(self.conn, self.dialect, self.reader, scope):
                found[child["id"]] = child
        for row in rows:
            match = found.get(row.get(rel.name) or 0)
            row.setdefault(EXPANDED, {})[rel.name] = None if match is None else dict(match)
        children = [row[EXPANDED][rel.name] for row in rows if row[EXPANDED][rel.name] is not None]
        await self.expand(target, children, item.options.expand)

    async def _expand_many(self, rows: list[dict[str, Any]], item: Expand) -> None:
        rel = item.relation
        target = ENTITY_TYPES[rel.target]
        options = item.options
        related = _related(rel)
        parent_ids = [row["id"] for row in rows]
        if len(parent_ids) * (options.top + 1) > self.max_expanded:
            raise BadRequest(
                f"$expand={rel.name} could read {len(parent_ids) * (options.top + 1):,} entities, "
                f"more than the allowed {self.max_expanded:,}: give it a smaller $top, or ask "
                "for fewer entities at a time"
            )
        scope = self.filtered(Scope(target), options)
        found = await fetch_related(
            self.conn, self.dialect, self.reader, scope, related, parent_ids,
            self.order(target, options), options.top + 1, options.skip,
        )
        counts = (
            await count_related(self.conn, self.reader, scope, related, parent_ids)
            if options.count else {}
        )
        by_parent: dict[int, list[Any]] = {}
        for pid, child in found:
            siblings = by_parent.get(pid)
            if siblings is None:
                by_parent[pid] = [child]
            else:
                siblings.append(child)
        children: list[dict[str, Any]] = []
        top, dialect = options.top, self.dialect
        for row in rows:
            raw_rows = by_parent.get(row["id"], [])
            more = 0 < top < len(raw_rows)
            page_rows = [decode_row(target, r, dialect) for r in raw_rows[:top]]
            children.extend(page_rows)
            count = counts.get(row["id"], 0) if options.count else None
            row.setdefault(EXPANDED, {})[rel.name] = Page(page_rows, count, more)
        await self.expand(target, children, options.expand)


def _related(rel: Relation) -> Related:
    if rel.kind is RelationKind.REVERSE_KEY:
        return Related("", f"t.{rel.column}")
    return Related(f" JOIN {rel.link_table} k ON k.{rel.link_other} = t.id", f"k.{rel.link_self}")
