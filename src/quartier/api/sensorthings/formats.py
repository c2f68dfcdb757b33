"""Other shapes of the same data: ``dataArray`` (both ways), GeoJSON and streamed CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import StreamingResponse

from quartier.errors import BadRequest
from quartier.model.changes import Batch, Create, IdRef
from quartier.model.entities import ENTITY_TYPES, EntityType, Property
from quartier.model.parse import parse_id
from quartier.model.times import now_utc
from quartier.model.values import parse_property
from quartier.query.options import Expand, Limits, QueryOptions, build_options
from quartier.store.read import Scope, stream_entities

if TYPE_CHECKING:
    from quartier.api.sensorthings.handlers import Context, Reply, SensorThingsApi

_OBSERVATION = ENTITY_TYPES["Observation"]
_DATA_ARRAY_DEFAULT = ("id", "phenomenonTime", "resultTime", "result", "resultQuality", "validTime",
                       "parameters")
_INPUT_COMPONENTS = ("phenomenonTime", "result", "resultTime", "resultQuality", "validTime",
                     "parameters", "FeatureOfInterest/id")
_CSV_CHUNK = 1_000
_Row = tuple[int, int | None, dict[str, Any]]  # Datastream id, FeatureOfInterest id, values
_GEOMETRY_LIMITS = Limits(default_top=100, max_top=100)

# Where each entity type keeps its geometry: (property, relation to expand for it)
_GEOMETRY = {
    "Location": ("location", None),
    "FeatureOfInterest": ("feature", None),
    "Datastream": ("observedArea", None),
    "Thing": ("location", "Locations"),
    "Observation": ("feature", "FeatureOfInterest"),
}


# -- dataArray out --------------------------------------------------------------------


def data_array(rows: list[dict[str, Any]], options: QueryOptions, base: str) -> list[dict[str, Any]]:
    """Observations grouped by Datastream, each row an array of the components."""
    components = [c for c in (options.select or _DATA_ARRAY_DEFAULT) if c != "@iot.selfLink"]
    components = ["id" if c == "@iot.id" else c for c in components]
    groups: dict[int, list[list[Any]]] = {}
    for row in rows:
        groups.setdefault(row["Datastream"], []).append([row[c] for c in components])
    return [
        {
            "Datastream@iot.navigationLink": f"{base}/Datastreams({datastream})",
            "components": components,
            "dataArray@iot.count": len(values),
            "dataArray": values,
        }
        for datastream, values in groups.items()
    ]


# -- dataArray in: CreateObservations ---------------------------------------------------


async def create_observations(ctx: Context, body: Any) -> Reply:
    """``POST CreateObservations``: one selfLink or error per row, in request order.

    Rows that are malformed, or name a Datastream or FeatureOfInterest that does not
    exist, get their error; all other rows are written together, in one transaction.
    """
    from quartier.api.sensorthings.handlers import Reply

    if not isinstance(body, list):
        raise BadRequest("CreateObservations takes a JSON array of {Datastream, components, dataArray}")
    rows: list[_Row | str] = []
    for index, group in enumerate(body):
        rows.extend(_group_rows(group, index))
    await _check_links(ctx, rows)
    batch = Batch()
    for row in rows:
        if isinstance(row, tuple):
            datastream, feature, values = row
            keys: dict[str, Any] = {"Datastream": IdRef(ENTITY_TYPES["Datastream"], datastream)}
            if feature is not None:
                keys["FeatureOfInterest"] = IdRef(ENTITY_TYPES["FeatureOfInterest"], feature)
            batch.add(Create(_OBSERVATION, values, keys))
    result = await ctx.store.write(ctx.tenant_id, batch) if batch.changes else None
    ids = iter(result.ids if result else [])
    links = [
        f"{ctx.base}/Observations({next(ids)})" if isinstance(row, tuple) else row for row in rows
    ]
    return Reply(201, links)


def _group_rows(group: Any, index: int) -> list[_Row | str]:
    what = f"item {index}"
    if not isinstance(group, dict):
        raise BadRequest(f"CreateObservations: {what} must be an object")
    datastream = group.get("Datastream")
    if not isinstance(datastream, dict) or "@iot.id" not in datastream:
        raise BadRequest(f"CreateObservations: {what} needs \"Datastream\": {{\"@iot.id\": …}}")
    datastream_id = parse_id(datastream["@iot.id"], f"{what}.Datastream.@iot.id")
    components = group.get("components")
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        raise BadRequest(f"CreateObservations: {what}.components must be an array of names")
    unknown = [c for c in components if c not in _INPUT_COMPONENTS]
    if unknown or len(set(components)) != len(components) or "result" not in components:
        raise BadRequest(
            f"CreateObservations: {what}.components must name result and may name "
            f"{', '.join(c for c in _INPUT_COMPONENTS if c != 'result')}, each once; got {components}"
        )
    data = group.get("dataArray")
    if not isinstance(data, list):
        raise BadRequest(f"CreateObservations: {what}.dataArray must be an array of arrays")
    props = [None if c == "FeatureOfInterest/id" else _OBSERVATION.find_property(c) for c in components]
    out: list[_Row | str] = []
    for number, values in enumerate(data):
        try:
            out.append(_row(datastream_id, props, values))
        except BadRequest as exc:
            out.append(f"error: {what}.dataArray[{number}]: {exc.message}")
    return out


def _row(datastream: int, props: list[Property | None], values: Any) -> _Row:
    """One dataArray row; ``props`` are the components' properties (None: the
    FeatureOfInterest's id)."""
    if not isinstance(values, list) or len(values) != len(props):
        raise BadRequest(f"expected an array of {len(props)} values, one per component")
    parsed: dict[str, Any] = {}
    feature = None
    for prop, raw in zip(props, values, strict=True):
        if prop is None:
            feature = parse_id(raw, "FeatureOfInterest/id")
        else:
            parsed[prop.name] = parse_property(_OBSERVATION, prop, raw)
    if parsed.get("phenomenonTime") is None:
        now = now_utc()
        parsed["phenomenonTime"] = (now, None)
    return datastream, feature, parsed


async def _check_links(ctx: Context, rows: list[_Row | str]) -> None:
    """Replace rows that cannot be written by an error: an unknown Datastream or
    FeatureOfInterest, or no FeatureOfInterest and no Location to make one from."""
    wanted = {
        "Datastream": {r[0] for r in rows if isinstance(r, tuple)},
        "FeatureOfInterest": {r[1] for r in rows if isinstance(r, tuple) and r[1] is not None},
    }
    found: dict[str, set[int]] = {name: set() for name in wanted}
    located: set[int] = set()  # Datastreams whose Thing has a Location
    async with ctx.store.reader() as conn:
        for name, ids in wanted.items():
            ordered = sorted(ids)
            table = ENTITY_TYPES[name].table
            extra = (", EXISTS (SELECT 1 FROM things_locations k WHERE k.thing_id = t.thing_id)"
                     if name == "Datastream" else ", 1")
            for start in range(0, len(ordered), 500):
                chunk = ordered[start:start + 500]
                for entity_id, has_location in await conn.fetch(
                    f"SELECT t.id{extra} FROM {table} t WHERE t.tenant_id = ? "
                    f"AND t.id IN ({', '.join('?' * len(chunk))})",
                    [ctx.tenant_id, *chunk],
                ):
                    found[name].add(int(entity_id))
                    if has_location:
                        located.add(int(entity_id))
    for index, row in enumerate(rows):
        if not isinstance(row, tuple):
            continue
        if row[0] not in found["Datastream"]:
            rows[index] = f"error: no Datastream({row[0]})"
        elif row[1] is not None and row[1] not in found["FeatureOfInterest"]:
            rows[index] = f"error: no FeatureOfInterest({row[1]})"
        elif row[1] is None and row[0] not in located:
            rows[index] = (f"error: the row has no FeatureOfInterest/id, and the Thing of "
                           f"Datastream({row[0]}) has no Location to make one from")


# -- GeoJSON ------------------------------------------------------------------------


def add_geometry_expand(etype: EntityType, options: QueryOptions) -> None:
    """Things and Observations take their geometry from a related entity: expand it."""
    if etype.name not in _GEOMETRY:
        raise BadRequest(
            f"$resultFormat=GeoJSON is for {', '.join(ENTITY_TYPES[n].plural for n in _GEOMETRY)}"
        )
    prop, relation = _GEOMETRY[etype.name]
    if relation is None or any(e.relation.name == relation for e in options.expand):
        return
    rel = etype.find_relation(relation)
    assert rel is not None
    target = ENTITY_TYPES[rel.target]
    nested = build_options({"$select": prop}, target, _GEOMETRY_LIMITS)
    options.expand.append(Expand(rel, nested, {"$select": prop}, implicit=True))


def feature(etype: EntityType, entity: dict[str, Any], implicit: bool = False) -> dict[str, Any]:
    """One entity as a GeoJSON Feature; ``implicit``: its geometry's relation was expanded
    only for the geometry, so it is left out of the properties."""
    prop, relation = _GEOMETRY[etype.name]
    properties = {k: v for k, v in entity.items() if not k.endswith("@iot.navigationLink")}
    geometry: Any = None
    if relation is None:
        geometry = properties.pop(prop, None)
    else:
        related = entity.get(relation)
        if implicit:
            for key in (relation, f"{relation}@iot.nextLink", f"{relation}@iot.count"):
                properties.pop(key, None)
        members = related if isinstance(related, list) else [related] if related else []
        shapes = [m.get(prop) for m in members if isinstance(m, dict) and m.get(prop)]
        shapes = [_geometry_only(s) for s in shapes]
        if len(shapes) == 1:
            geometry = shapes[0]
        elif shapes:
            geometry = {"type": "GeometryCollection", "geometries": shapes}
    return {
        "type": "Feature",
        "id": entity.get("@iot.id"),
        "geometry": _geometry_only(geometry) if geometry else None,
        "properties": properties,
    }


def _geometry_only(value: Any) -> Any:
    if isinstance(value, dict) and value.get("type") == "Feature":
        return value.get("geometry")
    return value


def feature_collection(
    etype: EntityType, values: list[dict[str, Any]], body: dict[str, Any], implicit: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "FeatureCollection"}
    out.update(body)
    out["features"] = [feature(etype, v, implicit) for v in values]
    return out


def implicit_geometry(options: QueryOptions) -> bool:
    return any(e.implicit for e in options.expand)


# -- CSV ----------------------------------------------------------------------------


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
        async for rows in stream_entities(conn, ctx.store.dialect, ctx.tenant_id, filtered, order,
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

