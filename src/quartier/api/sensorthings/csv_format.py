"""``$resultFormat=CSV``: entities as comma-separated rows, streamed from a cursor."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import StreamingResponse

from quartier.errors import BadRequest
from quartier.model.entities import ENTITY_TYPES, EntityType
from quartier.query.options import Expand, QueryOptions
from quartier.store.read import Scope, stream_entities

if TYPE_CHECKING:
    from quartier.api.sensorthings.handlers import Context, SensorThingsApi

_CSV_CHUNK = 1_000


def csv_response(
    api: SensorThingsApi, ctx: Context, scope: Scope, options: QueryOptions
) -> StreamingResponse:
    """Rows as CSV, read and sent in chunks; without ``$top`` every matching row."""
    if _expands_many(options.expand):
        raise BadRequest("$resultFormat=CSV cannot hold expanded collections; expand to-one "
                         "relations only (e.g. Datastream), or use JSON")
    etype = scope.etype
    columns = _csv_columns(etype, options)
    total = options.top if options.top_given else None
    return StreamingResponse(
        _csv_chunks(api, ctx, scope, options, columns, total), media_type="text/csv; charset=utf-8"
    )


def _expands_many(expands: list[Expand]) -> bool:
    return any(e.relation.many or _expands_many(e.options.expand) for e in expands)


def _csv_columns(etype: EntityType, options: QueryOptions) -> list[tuple[str, ...]]:
    names = [p.name for p in etype.properties if options.select is None or p.name in options.select]
    columns: list[tuple[str, ...]] = [("id",), *((n,) for n in names)]
    for item in options.expand:
        target = ENTITY_TYPES[item.relation.target]
        inner = [p.name for p in target.properties
                 if item.options.select is None or p.name in item.options.select]
        columns.extend((item.relation.name, n) for n in ["id", *inner])
    return columns


async def _csv_chunks(
    api: SensorThingsApi, ctx: Context, scope: Scope, options: QueryOptions,
    columns: list[tuple[str, ...]], total: int | None,
) -> AsyncIterator[bytes]:
    from quartier.query.run import EXPANDED

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["@iot.id" if c == ("id",) else "/".join(c) for c in columns])
    async with ctx.store.reader() as conn:
        runner = api.runner(ctx, conn)
        filtered = runner.filtered(scope, options)
        order = runner.order(scope.etype, options)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        async for rows in stream_entities(conn, ctx.store.dialect, ctx.reader, filtered, order,
                                          total, options.skip, _CSV_CHUNK):
            await runner.expand(scope.etype, rows, options.expand)
            for row in rows:
                writer.writerow([_csv_value(_cell(row, c, EXPANDED)) for c in columns])
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()


def _cell(row: dict[str, Any], column: tuple[str, ...], expanded_key: str) -> Any:
    if len(column) == 1:
        return row.get(column[0])
    related = row.get(expanded_key, {}).get(column[0])
    return related.get(column[1]) if isinstance(related, dict) else None


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
