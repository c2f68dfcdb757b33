"""``GET /api/openapi.json``: the API description, for the default tenant and, below
``/t/{tenant}``, for each tenant."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.params import request_tenant
from quartier.api.responses import json_response
from quartier.openapi import openapi_document
from quartier.store import Store


class OpenApiDocument:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, prefix: str) -> list[Route]:
        return [Route(prefix + "/api/openapi.json", self.document, methods=["GET", "HEAD"])]

    async def document(self, request: Request) -> Response:
        await request_tenant(self.store, request)  # 404 for a tenant that does not exist
        tenant = request.path_params.get("tenant")
        return json_response(openapi_document(f"/t/{tenant}" if tenant else "/"))
