"""HTTP API of the public warning feed (OASIS CAP 1.2). Every path also works under
``/t/{tenant}``; nothing here needs a login, since the feed is public.

    GET /api/cap                   Atom feed of the current messages (the latest of each alert
                                   on each CAP channel; an all-clear stays until it expires),
                                   each entry linking to its CAP XML; ?channel=NAME for one feed
    GET /api/cap.json              the same as JSON (also /api/cap?format=json)
    GET /api/cap/{id}.xml          one CAP message; {id}.json (or ?format=json) as JSON
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quartier.api.params import public_root, request_tenant
from quartier.api.responses import json_response
from quartier.errors import BadRequest, NotFound
from quartier.model.values import JSON
from quartier.notify import cap
from quartier.settings import Settings
from quartier.store import Store

CAP_TYPE = "application/cap+xml"
ATOM_TYPE = "application/atom+xml"
_FEED_LIMIT = 500


class CapApi:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/cap", self.feed, methods=["GET", "HEAD"]),
            Route(prefix + "/api/cap.json", self.feed_json, methods=["GET", "HEAD"]),
            Route(prefix + "/api/cap/{ref}", self.message, methods=["GET", "HEAD"]),
        ]

    def _base(self, request: Request) -> str:
        return public_root(self.settings, request)

    def _url(self, request: Request, message_id: int) -> str:
        tenant = request.path_params.get("tenant")
        prefix = f"/t/{tenant}" if tenant else ""
        return f"{self._base(request)}{prefix}/api/cap/{message_id}.xml"

    async def feed(self, request: Request) -> Response:
        fmt = request.query_params.get("format", "atom")
        if fmt == "json":
            return await self.feed_json(request)
        if fmt != "atom":
            raise BadRequest(f"format must be atom or json, not {fmt!r}")
        tenant = request.path_params.get("tenant", "default")
        entries = [(m, self._url(request, i)) for i, m in await self._current(request)]
        body = cap.atom_feed(
            feed_id=f"urn:quartier:{tenant}:cap", title=f"Quartier warnings ({tenant})",
            self_url=str(request.url), entries=entries, now=datetime.now(UTC))
        return Response(body, media_type=ATOM_TYPE)

    async def feed_json(self, request: Request) -> Response:
        found = await self._current(request)
        return json_response({"value": [{"url": self._url(request, i), "alert": m}
                                        for i, m in found]})

    async def message(self, request: Request) -> Response:
        ref: str = request.path_params["ref"]
        number, dot, suffix = ref.partition(".")
        fmt = suffix if dot else request.query_params.get("format", "xml")
        if not number.isascii() or not number.isdigit() or len(number) > 18 or fmt not in ("xml", "json"):
            raise NotFound(f"no CAP message {ref!r}; messages are at /api/cap/{{id}}.xml or .json")
        tenant_id = await request_tenant(self.store, request)
        async with self.store.reader() as conn:
            raw = await conn.fetchval(
                "SELECT d.message FROM notification_deliveries d WHERE d.id = ? AND d.tenant_id = ? "
                "AND d.message IS NOT NULL", (int(number), tenant_id))
        if raw is None:
            raise NotFound(f"no CAP message {number}")
        message = cap.in_order(self.store.dialect.decode(JSON, raw))
        if fmt == "json":
            return json_response(message)
        return Response(cap.to_xml(message), media_type=CAP_TYPE)

    async def _current(self, request: Request) -> list[tuple[int, dict[str, Any]]]:
        tenant_id = await request_tenant(self.store, request)
        channel = request.query_params.get("channel")
        where, params = "", list[Any]([tenant_id])
        if channel is not None:
            where = " AND c.name = ?"
            params.append(channel)
        async with self.store.reader() as conn:
            if channel is not None and await conn.fetchval(
                    "SELECT id FROM notification_channels WHERE tenant_id = ? AND name = ? "
                    "AND kind = 'cap'", (tenant_id, channel)) is None:
                raise NotFound(f"no CAP channel {channel!r}")
            rows = await conn.fetch(
                "SELECT d.id, d.message FROM notification_deliveries d JOIN notification_channels c "
                "ON c.id = d.channel_id WHERE d.tenant_id = ? AND c.kind = 'cap' "
                f"AND d.message IS NOT NULL{where} AND NOT EXISTS (SELECT 1 FROM "
                "notification_deliveries n WHERE n.channel_id = d.channel_id AND n.alert_id = "
                "d.alert_id AND n.message IS NOT NULL AND n.event_id > d.event_id) "
                "ORDER BY d.id DESC LIMIT ?", (*params, _FEED_LIMIT))
        now = cap.cap_time(datetime.now(UTC))
        out = []
        for row in rows:
            message = cap.in_order(self.store.dialect.decode(JSON, row[1]))
            expires = message["info"][0]["expires"] if message.get("info") else now
            if message["msgType"] == "Cancel" and expires < now:
                continue
            out.append((int(row[0]), message))
        return out
