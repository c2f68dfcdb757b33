"""HTTP API for maintenance work orders. Every path also works under ``/t/{tenant}``.

    POST   /api/workorders        {"title", "description", "thingId", "alertId", "assignee",
                                   "createdBy"} (201)
    GET    /api/workorders?status=open,in_progress&assignee=&limit=&offset=
    GET    /api/workorders/{id}
    PATCH  /api/workorders/{id}   {"status": "in_progress" | "done", "assignee", "closingNote",
                                   "title", "description"}; done needs a closing note
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.errors import BadRequest
from quartier.settings import Settings
from quartier.store import Store
from quartier.workorders import STATUSES, WorkOrders

_MAX_PAGE = 1000


class WorkOrderApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.orders = WorkOrders(store)

    def routes(self, prefix: str) -> list[Route]:
        base = prefix + "/api/workorders"
        return [
            Route(base, self.create, methods=["POST"]),
            Route(base, self.listing, methods=["GET"]),
            Route(base + "/{id:id}", self.one, methods=["GET"]),
            Route(base + "/{id:id}", self.change, methods=["PATCH"]),
        ]

    async def create(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        body = await read_json(request, self.settings.max_body_bytes)
        order = await self.orders.create(tenant_id, body)
        return json_response(order, 201, {"Location": f"{request.url.path}/{order['id']}"})

    async def listing(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        raw = request.query_params.get("status")
        status = [v.strip() for v in raw.split(",") if v.strip()] if raw else []
        wrong = [v for v in status if v not in STATUSES]
        if wrong:
            raise BadRequest(f"status takes {', '.join(STATUSES)} (comma-separated), not {wrong[0]!r}")
        limit = whole_number(request, "limit", 100)
        offset = whole_number(request, "offset", 0)
        if not 1 <= limit <= _MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {_MAX_PAGE}")
        found, total = await self.orders.listing(tenant_id, status,
                                                 request.query_params.get("assignee"), limit, offset)
        return json_response({"total": total, "value": found})

    async def one(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response(await self.orders.find(tenant_id, request.path_params["id"]))

    async def change(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        body = await read_json(request, self.settings.max_body_bytes)
        return json_response(await self.orders.update(tenant_id, request.path_params["id"], body))
