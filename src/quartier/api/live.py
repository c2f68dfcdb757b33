"""The dashboard's own API: its settings, chart series and the live stream.

    GET /api/dashboard                        the map's tile server and attribution
    GET /api/datastreams/{id}/series?from=&to=&points=
                                              values for a chart, grouped into time
                                              buckets when the range holds more than
                                              ``points`` (default 2,000)
    GET /api/live                             Server-Sent Events: ``values`` (newest
                                              value per Datastream of each commit),
                                              ``moved`` (Things with a new position),
                                              ``alert`` (an alert changed; its id is
                                              the alert event's, so a reconnect with
                                              ``Last-Event-ID`` catches up)

Every path also works under ``/t/{tenant}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from quartier.api.params import request_tenant, whole_number
from quartier.api.responses import json_response
from quartier.background import within
from quartier.errors import BadRequest
from quartier.live import CLOSED, LiveFeed, Message
from quartier.model.times import format_instant, parse_instant
from quartier.series import DEFAULT_POINTS, Series, SeriesRequest
from quartier.settings import Settings
from quartier.store import Store, visibility

KEEP_ALIVE = 15.0  # seconds between comments on a quiet stream, so proxies keep it open
RETRY_MS = 3000  # how soon a browser reconnects after the stream broke


def sse(message: Message) -> bytes:
    """One Server-Sent Event."""
    head = f"id: {message.id}\n" if message.id is not None else ""
    return f"{head}event: {message.kind}\ndata: ".encode() + orjson.dumps(message.data) + b"\n\n"


class DashboardApi:
    def __init__(self, store: Store, settings: Settings, feed: LiveFeed) -> None:
        self.store = store
        self.settings = settings
        self.feed = feed
        self.series = Series(store)

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/api/dashboard", self.config, methods=["GET"]),
            Route(prefix + "/api/datastreams/{id:id}/series", self.datastream_series, methods=["GET"]),
            Route(prefix + "/api/live", self.live, methods=["GET"]),
        ]

    async def config(self, request: Request) -> Response:
        await request_tenant(self.store, request)
        return json_response({"tenant": request.path_params.get("tenant", "default"),
                              "tiles": self.settings.map_tiles,
                              "attribution": self.settings.map_attribution})

    async def datastream_series(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        query = request.query_params
        end = parse_instant(query["to"], "to") if "to" in query else datetime.now(UTC)
        start = parse_instant(query["from"], "from") if "from" in query else end - timedelta(days=1)
        wanted = SeriesRequest(request.path_params["id"], start, end,
                               whole_number(request, "points", DEFAULT_POINTS))
        return json_response(await self.series.read(tenant_id, wanted))

    async def live(self, request: Request) -> Response:
        tenant_id = await request_tenant(self.store, request)
        raw = request.headers.get("last-event-id") or request.query_params.get("after")
        after: int | None = None
        if raw:
            if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
                raise BadRequest(f"Last-Event-ID must be a whole number, not {raw!r}")
            after = int(raw)
        listener, newest = await self.feed.listen(tenant_id, visibility.public_only.get())
        try:
            missed = await self.feed.missed(listener, after) if after is not None else []
        except BaseException:
            self.feed.leave(listener)
            raise

        async def stream() -> AsyncIterator[bytes]:
            sent: set[int] = set()
            try:
                yield f"retry: {RETRY_MS}\n\n".encode()
                for message in missed:
                    sent.add(message.id or 0)
                    yield sse(message)
                # Its id is what a reconnect names as the last event it had.
                yield sse(Message("hello", {"time": format_instant(datetime.now(UTC))},
                                  max([newest, after or 0, *(m.id or 0 for m in missed)])))
                while True:
                    got, item = await within(KEEP_ALIVE, listener.queue.get())
                    if not got or item is None:
                        yield b": keep-alive\n\n"
                        continue
                    message = item
                    if message is CLOSED:
                        return
                    if message.id is not None:
                        if message.id in sent:
                            continue
                        sent.add(message.id)
                    yield sse(message)
            finally:
                self.feed.leave(listener)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
