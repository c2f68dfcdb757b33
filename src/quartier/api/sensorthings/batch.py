"""``POST $batch``: many requests in one, as OData JSON batch or multipart/mixed.

Requests outside a change set (atomicity group) run one after another through the same
handlers as single requests. The writes of a change set are parsed into one
:class:`Batch` and written in one transaction: all of them or none. ``$1`` in a URL
names the entity a request with that id created, inside its change set or before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from quartier.api.batch_format import (
    SubRequest,
    SubResponse,
    format_json_batch,
    format_multipart_batch,
    new_boundary,
    parse_json_batch,
    parse_multipart_batch,
)
from quartier.api.body import JSON_TYPE, accepted_types, check_media_type, parse_json, read_bytes
from quartier.api.responses import json_response
from quartier.api.sensorthings.serialize import entity_json, self_link
from quartier.errors import BadRequest, MethodNotAllowed, NotFound, QuartierError, UnsupportedMediaType
from quartier.model.changes import Batch, Create, Delete, IdRef, NewRef, Ref
from quartier.model.parse import parse_create, parse_members
from quartier.query.path import parse_path, resolve
from quartier.store.read import Scope

if TYPE_CHECKING:
    from quartier.api.sensorthings.handlers import Call, Context, SensorThingsApi

_FAILED_DEPENDENCY = 424


async def batch_endpoint(api: SensorThingsApi, ctx: Context, request: Request) -> Response:
    if request.method != "POST":
        raise MethodNotAllowed("$batch takes POST only", allowed=["POST"])
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";", 1)[0].strip().lower()
    raw = await read_bytes(request, api.settings.max_body_bytes)
    limit = api.settings.max_batch_requests
    if kind == JSON_TYPE:
        requests = parse_json_batch(parse_json(raw), limit)
    elif kind == "multipart/mixed":
        requests = parse_multipart_batch(raw, content_type, limit)
    else:
        raise UnsupportedMediaType(
            f"$batch takes application/json or multipart/mixed, not {kind or 'no Content-Type'}"
        )
    responses = await BatchRun(api, ctx).run(requests, multipart=kind != JSON_TYPE)
    if kind == JSON_TYPE:
        return json_response(format_json_batch(responses))
    boundary = new_boundary()
    return Response(format_multipart_batch(responses, boundary), 200,
                    media_type=f"multipart/mixed; boundary={boundary}")


class BatchRun:
    def __init__(self, api: SensorThingsApi, ctx: Context) -> None:
        self.api = api
        self.ctx = ctx
        self.created: dict[str, str] = {}  # request id -> path of the entity it created
        self.failed: set[str] = set()  # ids (and groups) of requests that did not succeed

    async def run(self, requests: list[SubRequest], multipart: bool) -> list[SubResponse]:
        out: list[SubResponse] = []
        index = 0
        while index < len(requests):
            group = requests[index].atomicity_group
            if group is None:
                out.append(await self._single(requests[index]))
                index += 1
                continue
            end = index + 1
            while end < len(requests) and requests[end].atomicity_group == group:
                end += 1
            members, index = requests[index:end], end
            out.extend(await self._change_set(group, members, multipart))
        return out

    # -- one request ------------------------------------------------------------------

    async def _single(self, sub: SubRequest) -> SubResponse:
        if any(dep in self.failed for dep in sub.depends_on):
            self.failed.add(sub.id)
            return _error(sub, _FAILED_DEPENDENCY, "failed_dependency",
                          "a request it depends on did not succeed")
        try:
            path, query = self._url(sub)
            reply = await self.api.execute(self.ctx, self._call(sub, path, query))
        except QuartierError as exc:
            self.failed.add(sub.id)
            return SubResponse(sub.id, exc.status, {}, exc.body())
        if isinstance(reply.response, StreamingResponse):
            return _error(sub, 400, "bad_request", "$resultFormat=CSV cannot be used inside $batch")
        if reply.response is not None:  # a $value: carried as text
            text = bytes(reply.response.body).decode()
            return SubResponse(sub.id, reply.status, {"Content-Type": "text/plain; charset=utf-8"}, text)
        if reply.status == 201 and "Location" in reply.headers:
            self.created[sub.id] = reply.headers["Location"].removeprefix(self.ctx.base + "/")
        return SubResponse(sub.id, reply.status, dict(reply.headers), reply.body)

    def _call(self, sub: SubRequest, path: str, query: list[tuple[str, str]]) -> Call:
        from quartier.api.sensorthings.handlers import Call

        async def body() -> Any:
            return _body(sub)

        return Call(sub.method, path, query, _media_type(sub), body)

    def _url(self, sub: SubRequest) -> tuple[str, list[tuple[str, str]]]:
        """The path below the version root and the query of a request's URL."""
        parts = urlsplit(sub.url)
        path = parts.path
        version_root = self.ctx.base.split("://", 1)[-1]
        version_root = version_root[version_root.find("/"):] if "/" in version_root else ""
        for prefix in (version_root + "/", "/v1.1/", "/v1.0/"):
            if path.startswith(prefix):
                path = path[len(prefix):]
                break
        path = path.lstrip("/")
        if path.startswith("$"):
            head, sep, rest = path.partition("/")
            ref = head[1:]
            if ref not in self.created:
                raise NotFound(f"{head} names no entity created earlier in this batch")
            path = self.created[ref] + sep + rest
        return path, parse_qsl(parts.query, keep_blank_values=True)

    # -- change sets ------------------------------------------------------------------

    async def _change_set(self, group: str, members: list[SubRequest], multipart: bool) -> list[SubResponse]:
        combined = Batch()
        roots: dict[str, Ref] = {}
        plans: list[tuple[SubRequest, Any, Ref | None]] = []  # (request, entity type, its ref)
        try:
            if any(dep in self.failed for m in members for dep in m.depends_on):
                raise _Dependency()
            for sub in members:
                plans.append(await self._plan(sub, combined, roots))
            result = await self.ctx.store.write(self.ctx.tenant_id, combined)
        except QuartierError as exc:
            return self._group_failed(group, members, multipart, exc.status, exc.body())
        except _Dependency:
            body = {"code": "failed_dependency", "message": "a request it depends on did not succeed"}
            return self._group_failed(group, members, multipart, _FAILED_DEPENDENCY, body)
        out = []
        for sub, etype, ref in plans:
            if sub.method == "DELETE" or ref is None:
                out.append(SubResponse(sub.id, 200, {}, None, group))
                continue
            entity_id = result.ids[ref.index] if isinstance(ref, NewRef) else ref.id
            stored = result.rows.get(ref.index) if isinstance(ref, NewRef) else None
            entity = stored or await self.api.one(self.ctx, Scope(etype).with_id(entity_id))
            body = entity_json(etype, entity, self.ctx.base)
            if sub.method == "POST":
                location = self_link(self.ctx.base, etype, entity_id)
                self.created[sub.id] = location.removeprefix(self.ctx.base + "/")
                out.append(SubResponse(sub.id, 201, {"Location": location}, body, group))
            else:
                out.append(SubResponse(sub.id, 200, {}, body, group))
        return out

    def _group_failed(self, group: str, members: list[SubRequest], multipart: bool, status: int,
                      body: dict[str, Any]) -> list[SubResponse]:
        self.failed.add(group)
        self.failed.update(m.id for m in members)
        if multipart:  # OData: a failed change set answers with one response
            return [SubResponse(members[0].id, status, {}, body)]
        return [SubResponse(m.id, status, {}, body, group) for m in members]

    async def _plan(
        self, sub: SubRequest, combined: Batch, roots: dict[str, Ref]
    ) -> tuple[SubRequest, Any, Ref | None]:
        """Add a change set member's changes to ``combined``; return what it will answer."""
        from quartier.model.entities import ENTITY_TYPES

        if sub.method == "GET":
            raise BadRequest(f"request {sub.id}: a change set may only hold writes, not GET")
        path_text, _query = self._url_in_group(sub, roots)
        if isinstance(path_text, tuple):  # $N or $N/Relation, N created in this change set
            owner, relation_name = path_text
            if not relation_name:
                return self._patch_new(sub, combined, owner)
            body = _body(sub)
            rel = owner.etype.find_relation(relation_name)
            if rel is None or sub.method != "POST":
                raise BadRequest(f"request {sub.id}: cannot {sub.method} {sub.url} in a change set")
            etype = ENTITY_TYPES[rel.target]
            _, root = parse_create(etype, body, (rel, owner), into=combined)
            roots[sub.id] = root
            return sub, etype, root
        path = parse_path(path_text)
        target = await resolve(self.ctx.store, self.ctx.reader, path, for_create=sub.method == "POST")
        if target.property is not None or target.ref:
            raise BadRequest(f"request {sub.id}: a change set cannot write {sub.url}")
        if sub.method == "POST":
            body = _body(sub)
            if target.single:
                raise BadRequest(f"request {sub.id}: POST goes to a collection, not {sub.url}")
            _, root = parse_create(target.etype, body, target.parent, into=combined)
            roots[sub.id] = root
            return sub, target.etype, root
        if not target.single:
            raise BadRequest(f"request {sub.id}: {sub.method} needs one entity, not {sub.url}")
        current = await self.api.one(self.ctx, target.scope)
        ref = IdRef(target.etype, current["id"])
        if sub.method == "DELETE":
            combined.add(Delete(ref))
            return sub, target.etype, None
        from quartier.api.sensorthings.handlers import update_batch

        body = _body(sub)
        update_batch(target.etype, current, body, _media_type(sub), sub.method == "PUT", into=combined)
        return sub, target.etype, ref

    def _patch_new(self, sub: SubRequest, combined: Batch, ref: Ref) -> tuple[SubRequest, Any, Ref]:
        """A PATCH of an entity the change set creates: its properties change before it is."""
        if sub.method != "PATCH" or _media_type(sub) != JSON_TYPE:
            raise BadRequest(f"request {sub.id}: an entity made in this change set can only be "
                             "changed by a PATCH with application/json")
        assert isinstance(ref, NewRef)
        create = combined.changes[ref.index]
        assert isinstance(create, Create)
        values, relations = parse_members(ref.etype, _body(sub))
        if relations:
            raise BadRequest(f"request {sub.id}: links of an entity made in this change set "
                             "cannot be changed in it")
        create.values.update(values)
        return sub, ref.etype, ref

    def _url_in_group(self, sub: SubRequest, roots: dict[str, Ref]) -> tuple[Any, list[tuple[str, str]]]:
        parts = urlsplit(sub.url)
        head, _, rest = parts.path.lstrip("/").partition("/")
        if head.startswith("$") and head[1:] in roots:
            owner = roots[head[1:]]
            if "/" in rest:
                raise BadRequest(f"request {sub.id}: {head} may only be followed by one relation "
                                 "inside its change set")
            return (owner, rest), []
        return self._url(sub)



class _Dependency(Exception):
    pass


def _body(sub: SubRequest) -> Any:
    """A request's body, checked as a single request's would be: its media type (415), then
    that there is one."""
    check_media_type(_media_type(sub), accepted_types(sub.method))
    if sub.body is None:
        raise BadRequest(f"request {sub.id}: {sub.method} needs a JSON body")
    return sub.body


def _media_type(sub: SubRequest) -> str:
    return sub.headers.get("content-type", JSON_TYPE).split(";", 1)[0].strip().lower()


def _error(sub: SubRequest, status: int, code: str, message: str) -> SubResponse:
    return SubResponse(sub.id, status, {}, {"code": code, "message": message})

