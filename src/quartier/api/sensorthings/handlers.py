"""One set of handlers for every entity type and path: GET, POST, PATCH, PUT, DELETE.

A request becomes a :class:`Call` and its answer a :class:`Reply`, so that ``$batch``
runs its parts through exactly the same code as single requests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import orjson
from starlette.requests import Request
from starlette.responses import Response

from quartier.api.body import JSON_PATCH_TYPE, accepted_types, media_type, read_json
from quartier.api.params import public_root, request_tenant
from quartier.api.responses import json_response
from quartier.api.sensorthings import csv_format, data_array, geojson
from quartier.api.sensorthings.batch import batch_endpoint
from quartier.api.sensorthings.serialize import EntityWriter, entity_json, page_link, self_link
from quartier.errors import BadRequest, MethodNotAllowed, NotFound
from quartier.model.changes import Batch, Delete, IdRef, NewRef
from quartier.model.entities import ENTITY_SETS, EntityType
from quartier.model.parse import parse_create, parse_update
from quartier.query.options import Limits, QueryOptions, parse_options
from quartier.query.path import Target, parse_path, resolve
from quartier.query.run import QueryRunner
from quartier.settings import Settings
from quartier.store.base import Store
from quartier.store.read import Scope, fetch_entities
from quartier.store.tenancy import Reader, RegionView

CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/batch-request/batch-request",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
)
_ENTITY_METHODS = ["GET", "PATCH", "PUT", "DELETE"]
_COLLECTION_METHODS = ["GET", "POST"]
_READ_ONLY = ["GET"]


@dataclass
class Context:
    """What one request works on: its tenant and the base of its links."""

    store: Store
    settings: Settings
    tenant_id: int
    base: str  # e.g. http://host/v1.1 or http://host/t/nord/v1.1
    region: bool = False  # a region tenant: reads what was granted to it, writes nothing

    @property
    def reader(self) -> Reader:
        """Who reads: the tenant itself, or a region's view of what it was granted."""
        return RegionView(self.tenant_id) if self.region else self.tenant_id


@dataclass
class Call:
    """One request below the version root, from HTTP or from a ``$batch``."""

    method: str
    path: str  # e.g. "Things(1)/Datastreams"
    query: list[tuple[str, str]]
    media_type: str
    # The parsed body, after its media type is checked against the method's (415).
    read_body: Callable[[], Awaitable[Any]]


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    response: Response | None = None  # a streamed or non-JSON answer

    def to_response(self) -> Response:
        if self.response is not None:
            return self.response
        if self.body is None:
            return Response(status_code=self.status, headers=self.headers)
        return json_response(self.body, self.status, self.headers)


class SensorThingsApi:
    """The handlers, bound to a store and settings."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.limits = Limits(
            settings.default_top, settings.max_top, settings.max_expand_depth,
            settings.max_filter_length, settings.max_filter_nodes,
        )

    async def context(self, request: Request) -> Context:
        tenant_id = await request_tenant(self.store, request)
        version = request.path_params["version"]
        root = public_root(self.settings, request)
        prefix = f"/t/{request.path_params['tenant']}" if "tenant" in request.path_params else ""
        return Context(self.store, self.settings, tenant_id, f"{root}{prefix}/{version}",
                       region=self.store.is_region(tenant_id))

    async def root(self, request: Request) -> Response:
        ctx = await self.context(request)
        return json_response({
            "value": [
                {"name": etype.plural, "url": f"{ctx.base}/{etype.plural}"}
                for etype in ENTITY_SETS.values()
            ],
            "serverSettings": {"conformance": list(CONFORMANCE)},
        })

    async def resource(self, request: Request) -> Response:
        ctx = await self.context(request)
        if request.path_params["path"].strip("/") == "$batch":
            return await batch_endpoint(self, ctx, request)

        async def body() -> Any:
            return await read_json(request, self.settings.max_body_bytes,
                                   accepted_types(request.method))

        call = Call(request.method, request.path_params["path"], request.query_params.multi_items(),
                    media_type(request), body)
        reply = await self.execute(ctx, call)
        return reply.to_response()

    async def execute(self, ctx: Context, call: Call) -> Reply:
        if ctx.region and call.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(f"{call.method} is not allowed: a region's view is read-only",
                                   allowed=["GET", "HEAD"])
        if call.path.strip("/") == "CreateObservations":
            if call.method != "POST":
                raise MethodNotAllowed("CreateObservations takes POST only", allowed=["POST"])
            return await data_array.create_observations(ctx, await call.read_body())
        path = parse_path(call.path)
        method = call.method
        target = await resolve(self.store, ctx.reader, path, for_create=method == "POST")
        if method in ("GET", "HEAD"):
            return await self._get(ctx, call, target)
        allowed = _allowed(target)
        if method not in allowed:
            raise MethodNotAllowed(f"{method} is not allowed on {path.text}", allowed=allowed)
        if method == "POST":
            return await self._post(ctx, call, target)
        if method == "DELETE":
            return await self._delete(ctx, target)
        return await self._update(ctx, call, target, replace=method == "PUT")

    # -- reads ------------------------------------------------------------------------

    def runner(self, ctx: Context, conn: Any) -> QueryRunner:
        return QueryRunner(conn, self.store.dialect, ctx.reader, self.settings.exact_count_limit,
                           self.settings.max_expanded_entities)

    async def _get(self, ctx: Context, call: Call, target: Target) -> Reply:
        etype = target.etype
        options = parse_options(call.query, etype, self.limits)
        if target.single:
            return await self._get_one(ctx, target, options)
        if options.result_format == "CSV" and not target.ref:
            return Reply(200, response=csv_format.csv_response(self, ctx, target.scope, options))
        async with self.store.reader() as conn:
            runner = self.runner(ctx, conn)
            if options.result_format == "GeoJSON":
                geojson.add_geometry_expand(etype, options)
            page = await runner.collection(target.scope, options)
        body: dict[str, Any] = {}
        if page.count is not None:
            body["@iot.count"] = page.count
        if page.more:
            raw = dict(call.query)
            body["@iot.nextLink"] = page_link(
                f"{ctx.base}/{call.path.strip('/')}", raw, options.skip + options.top, options.top
            )
        if target.ref:
            body["value"] = [{"@iot.selfLink": self_link(ctx.base, etype, r["id"])} for r in page.rows]
            return Reply(200, body)
        if options.result_format == "dataArray":
            body["value"] = data_array.data_array(page.rows, options, ctx.base)
            return Reply(200, body)
        write = EntityWriter(etype, ctx.base, options.select, options.expand)
        values = [write(r) for r in page.rows]
        if options.result_format == "GeoJSON":
            return Reply(200, geojson.feature_collection(etype, values, body,
                                                         geojson.implicit_geometry(options)))
        body["value"] = values
        return Reply(200, body)

    async def _get_one(self, ctx: Context, target: Target, options: QueryOptions) -> Reply:
        etype = target.etype
        if options.result_format is not None and options.result_format != "GeoJSON":
            raise BadRequest(f"$resultFormat={options.result_format} applies to collections only")
        if options.result_format == "GeoJSON":
            geojson.add_geometry_expand(etype, options)
        entity = await self.one(ctx, target.scope, options)
        if target.ref:
            return Reply(200, {"@iot.selfLink": self_link(ctx.base, etype, entity["id"])})
        if target.property is not None:
            return _property_reply(target, entity[target.property.name])
        value = entity_json(etype, entity, ctx.base, options.select, options.expand)
        if options.result_format == "GeoJSON":
            return Reply(200, geojson.feature(etype, value, geojson.implicit_geometry(options)))
        return Reply(200, value)

    async def one(self, ctx: Context, scope: Scope, options: QueryOptions | None = None) -> dict[str, Any]:
        """The entity ``scope`` names (404 when there is none), with what ``options``
        expands."""
        async with self.store.reader() as conn:
            rows = await fetch_entities(conn, self.store.dialect, ctx.reader, scope, limit=1)
            if not rows:
                raise NotFound(f"no such {scope.etype.name}")
            if options is not None:
                await self.runner(ctx, conn).expand(scope.etype, rows, options.expand)
        return rows[0]

    # -- writes -----------------------------------------------------------------------

    async def _post(self, ctx: Context, call: Call, target: Target) -> Reply:
        body = await call.read_body()
        batch, root = parse_create(target.etype, body, target.parent)
        result = await self.store.write(ctx.tenant_id, batch)
        stored = result.rows.get(root.index) if isinstance(root, NewRef) else None
        new_id = result.ids[root.index] if isinstance(root, NewRef) else root.id
        entity = stored or await self.one(ctx, Scope(target.etype).with_id(new_id))
        location = self_link(ctx.base, target.etype, new_id)
        return Reply(201, entity_json(target.etype, entity, ctx.base), {"Location": location})

    async def _update(self, ctx: Context, call: Call, target: Target, replace: bool) -> Reply:
        etype = target.etype
        body = await call.read_body()
        current = await self.one(ctx, target.scope)
        entity_id = current["id"]
        batch = update_batch(etype, current, body, call.media_type, replace)
        await self.store.write(ctx.tenant_id, batch)
        entity = await self.one(ctx, Scope(etype).with_id(entity_id))
        return Reply(200, entity_json(etype, entity, ctx.base))

    async def _delete(self, ctx: Context, target: Target) -> Reply:
        current = await self.one(ctx, target.scope)
        batch = Batch()
        batch.add(Delete(IdRef(target.etype, current["id"])))
        await self.store.write(ctx.tenant_id, batch)
        return Reply(200)


def _allowed(target: Target) -> list[str]:
    if target.property is not None or target.ref:
        return _READ_ONLY
    return _ENTITY_METHODS if target.single else _COLLECTION_METHODS


def _property_reply(target: Target, value: Any) -> Reply:
    assert target.property is not None
    if value is None:
        return Reply(204)
    if target.raw_value:
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        return Reply(200, response=Response(text, media_type="text/plain; charset=utf-8"))
    return Reply(200, {target.property.name: value})


def update_batch(
    etype: EntityType, current: dict[str, Any], body: Any, kind: str, replace: bool,
    into: Batch | None = None,
) -> Batch:
    """The changes of a PATCH (a merge, or JSON Patch operations) or a PUT of ``current``."""
    if kind == JSON_PATCH_TYPE:
        body = apply_json_patch(etype, current, body)
    return parse_update(etype, current["id"], body, replace, into)


def apply_json_patch(etype: EntityType, current: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply RFC 6902 operations to the entity's properties; return the properties changed."""
    if not isinstance(patch, list):
        raise BadRequest("a JSON Patch body must be an array of operations")
    document = {p.name: current[p.name] for p in etype.properties if not p.derived}
    try:
        patched = jsonpatch.JsonPatch(patch).apply(document)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError,
            KeyError, ValueError) as exc:
        raise BadRequest(f"the JSON Patch cannot be applied: {exc}") from None
    if not isinstance(patched, dict) or set(patched) - set(document):
        unknown = set(patched) - set(document) if isinstance(patched, dict) else set()
        raise BadRequest(
            f"the JSON Patch may only change {etype.name} properties; unknown: "
            f"{', '.join(sorted(unknown)) or 'the whole document'}"
        )
    changed = {k: v for k, v in patched.items() if document.get(k) != v}
    changed.update({k: None for k in document if k not in patched})  # removed properties
    return changed
