"""The request time limit: a read whose answer has not started within the limit is
cancelled and answered 503 (:class:`~quartier.errors.RequestTimeout`).

Only reads (GET, HEAD) are cut off. A write hands its batch to the group commit, which
goes on in its own task; cancelling the request could answer "failed" for a write that
then commits, so writes always run to their end and are acknowledged only after the
commit (or fail whole). Once an answer has started (a streamed CSV), it is not cut off:
the limit bounds the time to the first byte, and on PostgreSQL every statement,
each cursor fetch of a stream too (``statement_timeout``, see
:mod:`quartier.store.postgres`).

Cancelling the request's task also stops its database work: asyncpg sends PostgreSQL a
cancel request for the running query, and the SQLite reader is interrupted
(:meth:`quartier.store.sqlite.SqliteConnection._run`).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quartier.api.responses import error_response
from quartier.errors import RequestTimeout

log = logging.getLogger(__name__)

_READS = ("GET", "HEAD")


class Deadline:
    """ASGI middleware: the time limit of ``seconds`` (0: none) on reads."""

    def __init__(self, app: ASGIApp, seconds: int) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.seconds or scope["method"] not in _READS:
            await self.app(scope, receive, send)
            return
        started = False
        timer: asyncio.Timeout | None = None

        async def send_watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                if timer is not None:
                    timer.reschedule(None)  # the answer is on its way: no more limit
            await send(message)

        try:
            async with asyncio.timeout(self.seconds) as timer:
                await self.app(scope, receive, send_watched)
        except TimeoutError:
            if started:  # cannot happen once rescheduled; never send a second start
                raise
            log.warning("%s %s took longer than %d s and was stopped",
                        scope["method"], scope["path"], self.seconds)
            await error_response(RequestTimeout(
                f"the request took longer than the limit of {self.seconds} s and was stopped; "
                "ask for less (a narrower $filter, a smaller $top or $expand)",
                limitSeconds=self.seconds,
            ))(scope, receive, send)
