"""HTTP API of grants: what a tenant shares with region tenants. Every path also works
under ``/t/{tenant}`` (the granting tenant).

    POST   /api/grants           {"region": "kreis", "entityType": "Thing", "entityId": 7}
    GET    /api/grants           {"value": [grant, ...]}
    GET    /api/grants/{id}
    DELETE /api/grants/{id}      204; the region no longer sees what it shared
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.errors import BadRequest
from quartier.settings import Settings
from quartier.store import Store, sharing

_MEMBERS = {"region": str, "entityType": str, "entityId": int}


class GrantApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/grants", self.create, methods=["POST"]),
            Route(prefix + "/api/grants", self.listing, methods=["GET"]),
            Route(prefix + "/api/grants/{id:id}", self.one, methods=["GET"]),
            Route(prefix + "/api/grants/{id:id}", self.delete, methods=["DELETE"]),
        ]

    async def create(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        body = _grant_body(await read_json(request, self.settings.max_body_bytes))
        made = await sharing.grant(self.store, tenant_id, body["region"], body["entityType"],
                                   body["entityId"])
        return json_response(made, 201)

    async def listing(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response({"value": await sharing.grants(self.store, tenant_id)})

    async def one(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        return json_response(await sharing.find(self.store, tenant_id, request.path_params["id"]))

    async def delete(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        await sharing.revoke(self.store, tenant_id, request.path_params["id"])
        return Response(status_code=204)


def _grant_body(body: Any) -> dict[str, Any]:
    """The members of a new grant, checked; 400 for anything else."""
    if not isinstance(body, dict):
        raise BadRequest("a grant is a JSON object: {\"region\", \"entityType\", \"entityId\"}")
    unknown = sorted(set(body) - set(_MEMBERS))
    if unknown:
        raise BadRequest(f"a grant has no member {unknown[0]!r}; known: {', '.join(_MEMBERS)}")
    for name, kind in _MEMBERS.items():
        value = body.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BadRequest(f"{name} must be {'a whole number' if kind is int else 'a string'}")
    if not 0 < body["entityId"] < 2**63:
        raise BadRequest("entityId is out of range")
    return body
