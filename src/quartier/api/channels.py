"""HTTP API for notification channels and their deliveries. Every path also works under
``/t/{tenant}``.

    POST   /api/channels                         create (201); a webhook's answer shows its
                                                 secret, once
    GET    /api/channels                         list
    GET    /api/channels/{name}                  read; PUT replaces, PATCH changes members,
                                                 DELETE removes it (with its deliveries)
    POST   /api/channels/{name}/secret           a webhook's new secret, shown once
    GET    /api/channels/{name}/deliveries       ?status=pending|delivered|failed&limit=&offset=
    GET    /api/channels/{name}/deliveries/{id}
    POST   /api/channels/{name}/deliveries/{id}/retry   try a failed delivery again now
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.body import read_json
from quartier.api.params import request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.errors import BadRequest, NotFound
from quartier.notify import channels, outbox
from quartier.settings import Settings
from quartier.store import Store

_MAX_PAGE = 1000


class ChannelApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def routes(self, prefix: str) -> list[Route]:
        base = prefix + "/api/channels"
        return [
            Route(base, self.create, methods=["POST"]),
            Route(base, self.listing, methods=["GET"]),
            Route(base + "/{name}", self.one, methods=["GET"]),
            Route(base + "/{name}", self.replace, methods=["PUT"]),
            Route(base + "/{name}", self.change, methods=["PATCH"]),
            Route(base + "/{name}", self.delete, methods=["DELETE"]),
            Route(base + "/{name}/secret", self.secret, methods=["POST"]),
            Route(base + "/{name}/deliveries", self.deliveries, methods=["GET"]),
            Route(base + "/{name}/deliveries/{id:id}", self.delivery, methods=["GET"]),
            Route(base + "/{name}/deliveries/{id:id}/retry", self.retry, methods=["POST"]),
        ]

    async def _json(self, request: Request) -> Any:
        return await read_json(request, self.settings.max_body_bytes)

    async def create(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        config = channels.parse_channel(await self._json(request), self.settings)
        channel, secret = await channels.create(self.store, tenant_id, config)
        body = channel.as_json()
        if secret is not None:
            body["secret"] = secret
        return json_response(body, 201, {"Location": f"{request.url.path}/{channel.name}"})

    async def listing(self, request: Request) -> Response:
        found = await channels.listing(self.store, await request_tenant(self.store, request))
        return json_response({"value": [c.as_json() for c in found]})

    async def one(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        channel = await channels.find(self.store, tenant_id, request.path_params["name"])
        return json_response(channel.as_json())

    async def replace(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        name = request.path_params["name"]
        await channels.find(self.store, tenant_id, name)
        config = channels.parse_channel(await self._json(request), self.settings, name)
        return json_response((await channels.replace(self.store, tenant_id, config)).as_json())

    async def change(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        name = request.path_params["name"]
        current = await channels.find(self.store, tenant_id, name)
        patch = await self._json(request)
        if not isinstance(patch, dict):
            raise BadRequest("PATCH a channel with a JSON object of the members to change")
        merged = {**current.as_json(), **patch}
        merged = {k: v for k, v in merged.items() if v is not None}  # null removes a member
        config = channels.parse_channel(merged, self.settings, name)
        return json_response((await channels.replace(self.store, tenant_id, config)).as_json())

    async def delete(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        await channels.delete(self.store, tenant_id, request.path_params["name"])
        return Response(status_code=204)

    async def secret(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        secret = await channels.new_secret(self.store, tenant_id, request.path_params["name"])
        return json_response({"secret": secret})

    async def deliveries(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        channel = await channels.find(self.store, tenant_id, request.path_params["name"])
        status = request.query_params.get("status")
        if status is not None and status not in ("pending", "delivered", "failed"):
            raise BadRequest(f"status must be pending, delivered or failed, not {status!r}")
        limit = min(whole_number(request, "limit", 100), _MAX_PAGE)
        offset = whole_number(request, "offset", 0)
        found, total = await outbox.deliveries(self.store, channel, status, limit, offset)
        return json_response({"count": total, "value": found})

    async def delivery(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        channel = await channels.find(self.store, tenant_id, request.path_params["name"])
        found = await outbox.delivery(self.store, channel, request.path_params["id"])
        if found is None:
            raise NotFound(f"channel {channel.name!r} has no delivery {request.path_params['id']}")
        return json_response(found)

    async def retry(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        channel = await channels.find(self.store, tenant_id, request.path_params["name"])
        if not await outbox.retry(self.store, channel, request.path_params["id"]):
            raise NotFound(f"channel {channel.name!r} has no undelivered delivery "
                           f"{request.path_params['id']}")
        dispatcher = getattr(request.app.state, "notifications", None)
        if dispatcher is not None:
            dispatcher.wake()
        return json_response(await outbox.delivery(self.store, channel, request.path_params["id"]),
                             202)
