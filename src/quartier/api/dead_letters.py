"""HTTP API for dead letters: list, inspect, retry and drop them.

    GET    /api/dead-letters?limit=&offset=   oldest first, with a total count
    GET    /api/dead-letters/{id}
    POST   /api/dead-letters/{id}/retry       store it again as it came; 200 and gone, or
                                              422 with the new reason (kept, attempts + 1)
    DELETE /api/dead-letters/{id}

Each path also works under ``/t/{tenant}``; a tenant sees only its own dead letters.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from quartier import deadletters
from quartier.api.params import public_root, request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.api.sensorthings.handlers import SensorThingsApi
from quartier.errors import BadRequest, NotFound, QuartierError, Unprocessable
from quartier.lorawan import integrations
from quartier.lorawan.ingest import UplinkIngest
from quartier.mqtt import ingest

_MAX_PAGE = 1000


class DeadLetterApi:
    def __init__(self, api: SensorThingsApi, uplinks: UplinkIngest) -> None:
        self.api = api
        self.store = api.store
        self.uplinks = uplinks

    async def listing(self, request: Request) -> Response:
        limit = whole_number(request, "limit", 100)
        offset = whole_number(request, "offset", 0)
        if not 1 <= limit <= _MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {_MAX_PAGE}")
        tenant_id = await request_tenant(self.store, request)
        letters, total = await deadletters.listing(self.store, tenant_id, limit, offset)
        return json_response({"total": total, "value": [_public(x) for x in letters]})

    async def one(self, request: Request) -> Response:
        return json_response(_public(await self._find(request)))

    async def drop(self, request: Request) -> Response:
        letter = await self._find(request)
        await deadletters.drop(self.store, letter["id"])
        return Response(status_code=204)

    async def retry(self, request: Request) -> Response:
        letter = await self._find(request)
        source = letter["source"]
        lorawan = source.startswith("lorawan:") and letter["tenantId"] is not None
        if source != ingest.SOURCE and not lorawan:
            raise Unprocessable(f"dead letters from {source!r} cannot be retried")
        try:
            if lorawan:
                stored: Any = await self._retry_uplink(letter)
            else:
                root = public_root(self.api.settings, request)
                reply = await ingest.create_from_message(
                    self.api, self.api.settings.mqtt_prefix, root, letter["address"],
                    letter["rawPayload"],
                )
                stored = reply.headers.get("Location")
        except QuartierError as exc:
            if exc.status >= 500:
                raise
            await deadletters.failed_again(self.store, letter["id"], f"{exc.status}: {exc.message}")
            raise Unprocessable(f"dead letter {letter['id']} failed again: {exc.message}") from None
        await deadletters.drop(self.store, letter["id"])
        return json_response({"stored": stored, "deadLetter": letter["id"]})

    async def _retry_uplink(self, letter: dict[str, Any]) -> Any:
        """Store a LoRaWAN message again through its integration (``name`` or
        ``name:topic`` as its address)."""
        name, _, topic = letter["address"].partition(":")
        integration = await integrations.find(self.store, letter["tenantId"], name)
        event = topic.rpartition("/")[2] if topic else "up"
        outcome = await self.uplinks.store_message(integration, letter["rawPayload"], event)
        return {"Observations": outcome.observations, "duplicate": outcome.duplicate}

    def routes(self, prefix: str) -> list[BaseRoute]:
        base = prefix + "/api/dead-letters"
        return [
            Route(base, self.listing, methods=["GET"]),
            Route(base + "/{id}", self.one, methods=["GET"]),
            Route(base + "/{id}", self.drop, methods=["DELETE"]),
            Route(base + "/{id}/retry", self.retry, methods=["POST"]),
        ]

    async def _find(self, request: Request) -> dict[str, Any]:
        raw = request.path_params["id"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise NotFound(f"no dead letter {raw!r}")
        tenant_id = await request_tenant(self.store, request)
        letter = await deadletters.find(self.store, tenant_id, int(raw))
        if letter is None:
            raise NotFound(f"no dead letter {raw}")
        return letter


def _public(letter: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in letter.items() if k != "rawPayload"}
