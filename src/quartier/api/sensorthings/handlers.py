"""One set of handlers for every entity type and path: GET, POST, PATCH, PUT, DELETE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jsonpatch
import orjson
from starlette.requests import Request
from starlette.responses import Response

from quartier.api.body import JSON_PATCH_TYPE, JSON_TYPE, media_type, read_json
from quartier.api.responses import json_response
from quartier.api.sensorthings.serialize import entity_json, self_link
from quartier.errors import BadRequest, MethodNotAllowed, NotFound
from quartier.model.changes import Batch, Delete, IdRef, NewRef
from quartier.model.entities import ENTITY_SETS, EntityType
from quartier.model.parse import parse_create, parse_update
from quartier.query.options import check_select, order_terms, parse_options
from quartier.query.path import Target, parse_path, resolve
from quartier.settings import Settings
from quartier.store.base import Store
from quartier.store.read import Scope, count_entities, fetch_entities

CONFORMANCE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
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


class SensorThingsApi:
    """The handlers, bound to a store and settings."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def _context(self, request: Request) -> Context:
        tenant = request.path_params.get("tenant", "default")
        tenant_id = await self.store.tenant_id(tenant)
        if tenant_id is None:
            raise NotFound(f"no tenant {tenant!r}")
        version = request.path_params["version"]
        root = self.settings.base_url.rstrip("/") or str(request.base_url).rstrip("/")
        prefix = f"/t/{tenant}" if "tenant" in request.path_params else ""
        return Context(self.store, self.settings, tenant_id, f"{root}{prefix}/{version}")

    async def root(self, request: Request) -> Response:
        ctx = await self._context(request)
        return json_response({
            "value": [
                {"name": etype.plural, "url": f"{ctx.base}/{etype.plural}"}
                for etype in ENTITY_SETS.values()
            ],
            "serverSettings": {"conformance": list(CONFORMANCE)},
        })

    async def resource(self, request: Request) -> Response:
        ctx = await self._context(request)
        path = parse_path(request.path_params["path"])
        method = request.method
        target = await resolve(self.store, ctx.tenant_id, path, for_create=method == "POST")
        if method in ("GET", "HEAD"):
            return await self._get(ctx, request, target)
        allowed = _allowed(target)
        if method not in allowed:
            raise MethodNotAllowed(f"{method} is not allowed on {path.text}", allowed=allowed)
        if method == "POST":
            return await self._post(ctx, request, target)
        if method == "DELETE":
            return await self._delete(ctx, target)
        return await self._update(ctx, request, target, replace=method == "PUT")

    # -- reads ------------------------------------------------------------------------

    async def _get(self, ctx: Context, request: Request, target: Target) -> Response:
        options = parse_options(
            request.query_params.multi_items(), ctx.settings.default_top, ctx.settings.max_top
        )
        check_select(target.etype, options.select)
        order = order_terms(target.etype, options.orderby)
        etype = target.etype
        if target.single:
            entity = await self._one(ctx, target.scope)
            if target.ref:
                return json_response({"@iot.selfLink": self_link(ctx.base, etype, entity["id"])})
            if target.property is not None:
                return _property_response(target, entity[target.property.name])
            return json_response(entity_json(etype, entity, ctx.base, options.select))
        async with self.store.reader() as conn:
            rows = await fetch_entities(
                conn, self.store.dialect, ctx.tenant_id, target.scope, order,
                limit=options.top + 1, offset=options.skip,
            )
            count = (
                await count_entities(conn, ctx.tenant_id, target.scope) if options.count else None
            )
        more = len(rows) > options.top
        rows = rows[: options.top]
        body: dict[str, Any] = {}
        if count is not None:
            body["@iot.count"] = count
        if more:
            body["@iot.nextLink"] = _next_link(request, ctx, options.skip + options.top,
                                               options.top)
        if target.ref:
            body["value"] = [{"@iot.selfLink": self_link(ctx.base, etype, r["id"])} for r in rows]
        else:
            body["value"] = [entity_json(etype, r, ctx.base, options.select) for r in rows]
        return json_response(body)

    async def _one(self, ctx: Context, scope: Scope) -> dict[str, Any]:
        async with self.store.reader() as conn:
            rows = await fetch_entities(conn, self.store.dialect, ctx.tenant_id, scope, limit=1)
        if not rows:
            raise NotFound(f"no such {scope.etype.name}")
        return rows[0]

    # -- writes -----------------------------------------------------------------------

    async def _post(self, ctx: Context, request: Request, target: Target) -> Response:
        body = await read_json(request, ctx.settings.max_body_bytes)
        batch, root = parse_create(target.etype, body, target.parent)
        result = await self.store.write(ctx.tenant_id, batch)
        stored = result.rows.get(root.index) if isinstance(root, NewRef) else None
        new_id = result.ids[root.index] if isinstance(root, NewRef) else root.id
        entity = stored or await self._one(ctx, Scope(target.etype, [("t.id = ?", (new_id,))]))
        location = self_link(ctx.base, target.etype, new_id)
        return json_response(entity_json(target.etype, entity, ctx.base), 201,
                             {"Location": location})

    async def _update(self, ctx: Context, request: Request, target: Target, replace: bool) -> Response:
        etype = target.etype
        accepted = (JSON_TYPE,) if replace else (JSON_TYPE, JSON_PATCH_TYPE)
        body = await read_json(request, ctx.settings.max_body_bytes, accepted)
        current = await self._one(ctx, target.scope)
        entity_id = current["id"]
        if media_type(request) == JSON_PATCH_TYPE:
            body = _apply_json_patch(etype, current, body)
        batch = parse_update(etype, entity_id, body, replace)
        await self.store.write(ctx.tenant_id, batch)
        entity = await self._one(ctx, Scope(etype, [("t.id = ?", (entity_id,))]))
        return json_response(entity_json(etype, entity, ctx.base))

    async def _delete(self, ctx: Context, target: Target) -> Response:
        current = await self._one(ctx, target.scope)
        batch = Batch()
        batch.add(Delete(IdRef(target.etype, current["id"])))
        await self.store.write(ctx.tenant_id, batch)
        return Response(status_code=200)


def _allowed(target: Target) -> list[str]:
    if target.property is not None or target.ref:
        return _READ_ONLY
    return _ENTITY_METHODS if target.single else _COLLECTION_METHODS


def _property_response(target: Target, value: Any) -> Response:
    assert target.property is not None
    if value is None:
        return Response(status_code=204)
    if target.raw_value:
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        return Response(text, media_type="text/plain; charset=utf-8")
    return json_response({target.property.name: value})


def _next_link(request: Request, ctx: Context, skip: int, top: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("$skip", "$top")]
    params.extend((("$top", str(top)), ("$skip", str(skip))))
    path = request.url.path
    version_at = path.find(f"/{request.path_params['version']}/")
    tail = path[version_at + len(request.path_params["version"]) + 1:] if version_at >= 0 else path
    return f"{ctx.base}{tail}?{urlencode(params, safe='$,()')}"


def _apply_json_patch(etype: EntityType, current: dict[str, Any], patch: Any) -> dict[str, Any]:
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
