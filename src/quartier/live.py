"""What the live dashboard is told: new values, moved Things and alert changes.

* Values and moves come from this process's stream of committed changes
  (:meth:`Store.subscribe`). Per committed batch, each Datastream's newest value is
  passed on; values older than :data:`HISTORY` (an import, a backfill) are history and
  are not. With several worker processes each passes its values on to the others
  (:mod:`quartier.relay`), so every page hears every value.
* Alert changes are rows of ``alert_events``, written by the rules engine of whichever
  process evaluated the value. One task per process reads the new rows every
  :data:`POLL_EVERY` seconds while anyone listens, so every page hears every alert
  change, whichever process made it. A page that reconnects names the last event it had
  (SSE ``Last-Event-ID``) and gets what it missed.

Each listener hears only what its reader may see (:mod:`quartier.live_view`): an
anonymous page only public Datastreams and Things, a region what its members granted it.

Nothing here knows HTTP; :mod:`quartier.api.live` turns a :class:`Listener` into a
Server-Sent Events stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from quartier.live_view import REFRESH, LiveView, view_of
from quartier.model.changes import ChangeEvent
from quartier.model.entities import ENTITY_TYPES
from quartier.model.times import format_instant, parse_instant_or_interval
from quartier.model.values import JSON, TIME
from quartier.relay import Relay
from quartier.store import Store, audience
from quartier.store.read import decode_row, returning_columns

log = logging.getLogger(__name__)

POLL_EVERY = 1.0  # seconds between reads of new alert events
HISTORY = 3600.0  # values older than this (seconds) are history, not news
GAP_WAIT = 30.0  # how long a missing alert-event id may still turn up (a late commit)
QUEUE_SIZE = 1000  # messages a slow listener may have waiting before it is dropped
CATCH_UP = 500  # alert events a reconnecting listener gets at most
_READ_BACK = 5000  # Observations of one batch read back for their values, at most
_OBSERVATION = ENTITY_TYPES["Observation"]
_EVENT_COLUMNS = "id, tenant_id, alert_id, kind, at, by_person, comment, alert"


@dataclass
class Message:
    """One thing to tell a page: ``kind`` is values, moved or alert; alerts carry the
    id of their ``alert_events`` row."""

    kind: str
    data: Any
    id: int | None = None


CLOSED = Message("closed", None)  # the listener fell too far behind; it should reconnect


@dataclass(eq=False)
class Listener:
    view: LiveView
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    closed: bool = False

    def offer(self, message: Message) -> None:
        if self.closed:
            return
        if message is not CLOSED and not self.view.everything:
            data = self.view.admit(message.kind, message.data)
            if data is None:
                return
            message = Message(message.kind, data, message.id)
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # Better a reconnect that catches up than a process that hoards messages.
            self.closed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(CLOSED)


class LiveFeed:
    """The live messages of one process, handed to the pages that listen."""

    def __init__(self, store: Store, poll_every: float = POLL_EVERY, workers: int = 1) -> None:
        self.store = store
        self.poll_every = poll_every
        self.relay = Relay(store, workers, self._offer, lambda: set(self._listeners))
        self._listeners: dict[int, set[Listener]] = defaultdict(set)  # by the tenant heard
        self._views: dict[Any, LiveView] = {}  # shared by the listeners of one reader
        self._poller: asyncio.Task[None] | None = None
        self._cursor: int | None = None  # every alert event up to here was handed on
        self._delivered: set[int] = set()  # ids above the cursor handed on
        self._gaps: dict[int, float] = {}  # ids above the cursor not seen yet, since when
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.store.subscribe(self._committed)
            self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.offer(CLOSED)
        self._listeners.clear()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    @property
    def listening(self) -> int:
        return len({listener for group in self._listeners.values() for listener in group})

    async def listen(self, tenant_id: int, public_only: bool = False) -> tuple[Listener, int]:
        """A new listener of a tenant (anonymous: ``public_only``), and the id of the
        newest alert event it need not be told of (what a later reconnect names as its
        last event)."""
        if self._cursor is None:
            self._cursor = await self._newest_event()
        key = (audience.reader_of(self.store, tenant_id), public_only)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = await view_of(self.store, tenant_id, public_only)
        listener = Listener(view)
        new_tenant = not view.tenants <= set(self._listeners)
        for heard in view.tenants:
            self._listeners[heard].add(listener)
        if new_tenant:
            self.relay.listening()
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll_forever())
        return listener, self._cursor

    def leave(self, listener: Listener) -> None:
        for heard in listener.view.tenants:
            self._listeners[heard].discard(listener)
            if not self._listeners[heard]:
                del self._listeners[heard]

    async def missed(self, listener: Listener, after: int) -> list[Message]:
        """The alert events a listener may hear after ``after`` (a reconnect's
        Last-Event-ID)."""
        tenants = sorted(listener.view.tenants)
        if not tenants:
            return []
        async with self.store.reader() as conn:
            rows = await conn.fetch(
                f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE tenant_id IN "
                f"({', '.join('?' * len(tenants))}) AND id > ? ORDER BY id LIMIT ?",
                (*tenants, after, CATCH_UP))
        out = []
        for row in rows:
            message = self._alert_message(row)
            data = listener.view.admit(message.kind, message.data)
            if data is not None:
                out.append(message)
        return out

    async def _refresh_views(self) -> None:
        """Read again what the restricted views see; forget the views nobody uses."""
        used = {listener.view.key for group in self._listeners.values() for listener in group}
        now = time.monotonic()
        for key, view in list(self._views.items()):
            if key not in used:
                del self._views[key]
            elif not view.everything and now - view.read_at >= REFRESH:
                await view.refresh(self.store)

    # -- alert events, polled -------------------------------------------------------

    async def _newest_event(self) -> int:
        async with self.store.reader() as conn:
            return int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM alert_events"))

    async def _poll_forever(self) -> None:
        while self._listeners:
            try:
                await self._refresh_views()
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next round tries again; the pages keep their stream
                log.exception("could not read new alert events")
            await asyncio.sleep(self.poll_every)

    async def poll(self) -> None:
        """Hand on the alert events committed since the last round."""
        if self._cursor is None:
            self._cursor = await self._newest_event()
        async with self.store.reader() as conn:
            rows = await conn.fetch(f"SELECT {_EVENT_COLUMNS} FROM alert_events WHERE id > ? "
                                    "ORDER BY id LIMIT 2000", (self._cursor,))
        now = time.monotonic()
        for row in rows:
            event_id = int(row[0])
            if event_id in self._delivered:
                continue
            self._delivered.add(event_id)
            self._gaps.pop(event_id, None)
            message = self._alert_message(row)
            for listener in list(self._listeners.get(int(row[1]), ())):
                listener.offer(message)
        self._advance(now)

    def _advance(self, now: float) -> None:
        """Move the cursor over what was handed on. An id below the newest seen that has
        not turned up may belong to a transaction that commits later (PostgreSQL hands
        out ids before the commit): it is waited for up to :data:`GAP_WAIT` seconds."""
        assert self._cursor is not None
        top = max(self._delivered, default=self._cursor)
        for missing in range(self._cursor + 1, min(top, self._cursor + 10_000)):
            if missing not in self._delivered:
                self._gaps.setdefault(missing, now)
        while True:
            following = self._cursor + 1
            if following in self._delivered:
                self._delivered.discard(following)
            elif following in self._gaps and now - self._gaps[following] > GAP_WAIT:
                del self._gaps[following]
            else:
                break
            self._cursor = following
        if top - self._cursor >= 10_000:  # far behind: give up on old gaps
            self._cursor = top
            self._delivered.clear()
            self._gaps.clear()

    def _alert_message(self, row: Sequence[Any]) -> Message:
        decode = self.store.dialect.decode
        at = decode(TIME, row[4])
        return Message("alert", {
            "event": int(row[0]), "alertId": int(row[2]), "kind": row[3],
            "at": format_instant(at) if at is not None else None,
            "by": row[5], "comment": row[6], "alert": decode(JSON, row[7]),
        }, int(row[0]))

    # -- values and moves, from committed batches -------------------------------------

    async def _committed(self, events: Sequence[ChangeEvent]) -> None:
        if not self._listeners and not self.relay.any_wanted():
            return  # nobody listens: cost nothing
        values: dict[int, dict[int, tuple[float, list[Any]]]] = defaultdict(dict)
        unread: list[int] = []
        moved: list[int] = []
        for e in events:
            if e.tenant_id not in self._listeners and not self.relay.wanted(e.tenant_id):
                continue
            if e.entity_type == "HistoricalLocation" and e.operation == "create":
                moved.append(e.id)
            elif e.entity_type != "Observation" or e.operation != "create":
                continue
            elif e.row is not None:
                self._note(values, e.tenant_id, e.row["Datastream"], e.row["phenomenonTime"],
                           e.row["result"])
            elif e.facts is not None:
                self._note(values, e.tenant_id, *e.facts)
            elif len(unread) < _READ_BACK:
                unread.append(e.id)
        if unread:
            for tenant_id, row in await self._observations(unread):
                self._note(values, tenant_id, row["Datastream"], row["phenomenonTime"], row["result"])
        for tenant_id, by_datastream in values.items():
            self._tell(tenant_id, "values", [item for _, item in by_datastream.values()])
        if moved:
            for tenant_id, items in (await self._moves(moved)).items():
                self._tell(tenant_id, "moved", items)

    def _tell(self, tenant_id: int, kind: str, items: list[Any]) -> None:
        """Hand a message to this worker's pages and to the other workers'."""
        self._offer(tenant_id, kind, items)
        if self.relay.wanted(tenant_id):
            self.relay.send(tenant_id, kind, items)

    def _offer(self, tenant_id: int, kind: str, items: list[Any]) -> None:
        message = Message(kind, items)
        for listener in list(self._listeners.get(tenant_id, ())):
            listener.offer(message)

    def _note(self, values: dict[int, dict[int, tuple[float, list[Any]]]], tenant_id: int,
              datastream: Any, when: Any, result: Any) -> None:
        """Keep the value if it is news and the newest of its Datastream in this batch."""
        if not isinstance(when, tuple):
            when = parse_instant_or_interval(when, "phenomenonTime")
        start, end = when
        moment = end or start
        t = moment.timestamp()
        if t < time.time() - HISTORY:
            return
        seen = values[tenant_id].get(int(datastream))
        if seen is None or seen[0] <= t:
            values[tenant_id][int(datastream)] = (t, [int(datastream), format_instant(moment), result])

    async def _observations(self, ids: list[int]) -> list[tuple[int, dict[str, Any]]]:
        async with self.store.reader() as conn:
            among, params = self.store.dialect.among("id", ids)
            rows = await conn.fetch(
                f"SELECT {returning_columns(_OBSERVATION)}, tenant_id FROM observations "
                f"WHERE {among}", params)
        return [(int(r[-1]), decode_row(_OBSERVATION, r, self.store.dialect)) for r in rows]

    async def _moves(self, history_ids: list[int]) -> dict[int, list[Any]]:
        """Where the moved Things are now: [thing id, [lon, lat], time] per tenant."""
        out: dict[int, list[Any]] = defaultdict(list)
        decode = self.store.dialect.decode
        among, params = self.store.dialect.among("h.id", history_ids)
        async with self.store.reader() as conn:
            rows = await conn.fetch(
                "SELECT h.tenant_id, h.thing_id, h.time, l.location FROM historical_locations h "
                "JOIN historical_locations_locations hl ON hl.historical_location_id = h.id "
                "JOIN locations l ON l.id = hl.location_id "
                f"WHERE {among}", params)
        for row in rows:
            geometry = decode(JSON, row[3])
            if isinstance(geometry, dict) and geometry.get("type") == "Point":
                when = decode(TIME, row[2])
                out[int(row[0])].append([int(row[1]), list(geometry["coordinates"][:2]),
                                         format_instant(when) if when is not None else None])
        return out
