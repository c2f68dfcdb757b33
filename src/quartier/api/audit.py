"""HTTP API of the audit log (admins only; there is no way to change it).

    GET /api/audit?from=&to=&principal=&action=&limit=&before=
        {"value": [...], "nextLink": "...&before=ID" or absent}, newest first
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.params import request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.model.times import parse_instant
from quartier.store import Store
from quartier.store.audit import AuditQuery, read_log

MAX_LIMIT = 1000


class AuditApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, prefix: str) -> list[Route]:
        return [Route(prefix + "/api/audit", self.listing, methods=["GET"])]

    async def listing(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        params = request.query_params
        limit = min(max(whole_number(request, "limit", 100), 1), MAX_LIMIT)
        before = whole_number(request, "before", 0)
        query = AuditQuery(
            since=parse_instant(params["from"], "from") if params.get("from") else None,
            until=parse_instant(params["to"], "to") if params.get("to") else None,
            principal=params.get("principal") or None,
            action=params.get("action") or None,
            limit=limit,
            before_id=before or None,
        )
        async with self.store.reader() as conn:
            entries = await read_log(conn, self.store.dialect, tenant_id, query)
        out: dict[str, object] = {"value": entries}
        if len(entries) == limit:
            out["nextLink"] = str(request.url.include_query_params(before=entries[-1]["id"]))
        return json_response(out)
