"""Live messages between the worker processes of one database.

Each worker learns values and moves only from the batches it committed itself. With
several workers a page would hear about half of them, so a worker passes what it tells
its own pages on to the others, through the database's signals (PostgreSQL's
``NOTIFY``; SQLite has none, and there a page hears its own worker's values and reads
the rest when it reconnects).

Nothing is sent while nobody listens: a worker whose pages listen to a tenant says so
every :data:`WANT_EVERY` seconds, and the others send that tenant's messages until
:data:`WANT_FOR` seconds after the last such word.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from quartier.store import Store

log = logging.getLogger(__name__)

CHANNEL = "quartier_live"
WANT_EVERY = 5.0  # seconds between a listening worker's reminders
WANT_FOR = 3 * WANT_EVERY  # how long one reminder holds
PAYLOAD_MAX = 7000  # bytes per signal; PostgreSQL takes up to 8,000
IN_FLIGHT = 64  # signals on their way at most; beyond, the live view skips a beat

Deliver = Callable[[int, str, Any], None]  # tenant id, message kind, its items


class Relay:
    """Sends this worker's live messages to the others, and hands theirs to ``deliver``."""

    def __init__(self, store: Store, workers: int, deliver: Deliver,
                 listened: Callable[[], set[int]]) -> None:
        self.store = store
        self.active = workers > 1 and store.signalling
        self.deliver = deliver
        self.listened = listened  # the tenants this worker's pages listen to
        self.me = secrets.token_hex(6)
        self._wanted: dict[int, float] = {}  # tenant id: until when other workers listen
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self.active and not self._tasks:
            self._tasks = [asyncio.create_task(self.store.listen_signals(CHANNEL, self._received)),
                           asyncio.create_task(self._remind_forever())]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._sending]:
            task.cancel()
        for task in [*self._tasks, *self._sending]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._sending.clear()

    def wanted(self, tenant_id: int) -> bool:
        """Whether another worker's pages listen to the tenant."""
        return self.active and self._wanted.get(tenant_id, 0.0) > time.monotonic()

    def any_wanted(self) -> bool:
        now = time.monotonic()
        return self.active and any(until > now for until in self._wanted.values())

    def listening(self) -> None:
        """This worker's pages listen to a new tenant: tell the others now, not at the
        next reminder."""
        if self.active:
            self._send({"from": self.me, "want": sorted(self.listened())})

    def send(self, tenant_id: int, kind: str, items: list[Any]) -> None:
        """Pass a message on, in pieces that fit a signal."""
        for piece in _pieces(items):
            self._send({"from": self.me, "tenant": tenant_id, "kind": kind, "items": piece})

    # -- the wire ---------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        if len(self._sending) >= IN_FLIGHT:
            return  # the database is slow or away: a live view may skip, a write may not
        task = asyncio.create_task(self._signal(orjson.dumps(message).decode()))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _signal(self, payload: str) -> None:
        try:
            await self.store.signal(CHANNEL, payload)
        except Exception as exc:  # the live view skips a beat; the data is committed
            log.debug("could not pass a live message on: %s", exc)

    async def _remind_forever(self) -> None:
        while True:
            tenants = self.listened()
            if tenants:
                self._send({"from": self.me, "want": sorted(tenants)})
            await asyncio.sleep(WANT_EVERY)

    def _received(self, payload: str) -> None:
        try:
            message = orjson.loads(payload)
            if message.get("from") == self.me:
                return
            if "want" in message:
                until = time.monotonic() + WANT_FOR
                for tenant_id in message["want"]:
                    self._wanted[int(tenant_id)] = until
            else:
                self.deliver(int(message["tenant"]), str(message["kind"]), list(message["items"]))
        except (ValueError, KeyError, TypeError) as exc:  # not ours: another program's NOTIFY
            log.debug("ignored a signal on %s: %s", CHANNEL, exc)


def _pieces(items: list[Any]) -> Iterator[list[Any]]:
    piece: list[Any] = []
    size = 0
    for item in items:
        length = len(orjson.dumps(item)) + 1
        if length > PAYLOAD_MAX:
            continue  # a huge result: the other workers' pages read it on reconnect
        if piece and size + length > PAYLOAD_MAX:
            yield piece
            piece, size = [], 0
        piece.append(item)
        size += length
    if piece:
        yield piece
