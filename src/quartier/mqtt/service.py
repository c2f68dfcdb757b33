"""The platform's MQTT side, for one server process.

* Announcing: after each commit, the store's events are queued; a task publishes each
  change on its topics (:mod:`quartier.mqtt.topics`) with what a GET of the matching
  path answers, byte for byte. Every change is announced by the process that committed
  it, so several worker processes announce each change once. The queue is bounded and
  the task waits for the broker's acknowledgements (:meth:`BrokerLink.room`), so when
  announcing falls behind, writers wait instead of announcements being dropped.
* Creating: messages on the topics that create Observations are stored as a POST over
  HTTP stores them, with the same checks and errors; the messages of one read become a
  batch each and go to the store together (:meth:`Store.write_many`), up to
  :data:`IN_FLIGHT` reads at a time (concurrent writes share transactions). A message is
  acknowledged only after its Observation is committed, or after it is kept as a dead
  letter; while the database is away it is retried, unacknowledged, so that a crash
  leaves it with the broker. Several workers share one subscription (``$share``), so
  each message reaches one of them; one worker subscribes plainly with "No Local", so
  that the broker does not send it its own announcements.
* Internal Things and Datastreams, and what hangs off them, are never announced on these
  public topics (:mod:`quartier.mqtt.internal`).
* ``$select`` topics: each worker follows the broker's log of subscriptions
  (:mod:`quartier.mqtt.select`) and publishes a change also on the ``$select`` topics
  clients want, narrowed as a GET with that ``$select`` answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from quartier import deadletters
from quartier.api.sensorthings.handlers import Call, Context, SensorThingsApi
from quartier.api.sensorthings.serialize import entity_json
from quartier.background import cancel_all
from quartier.errors import NotFound, QuartierError
from quartier.model.changes import Batch, ChangeEvent
from quartier.model.entities import ENTITY_TYPES, EntityType, RelationKind
from quartier.model.times import format_instant
from quartier.model.values import TIME
from quartier.mqtt.ingest import (
    SOURCE,
    MessageBatches,
    create_from_message,
    link_base,
    tenant_of,
)
from quartier.mqtt.internal import internal_changes, internal_topic
from quartier.mqtt.link import BrokerLink, Message
from quartier.mqtt.select import LOG_TOPICS, SelectTopic, SelectTopics
from quartier.mqtt.topics import Notice, create_subscriptions, notices, tenant_root
from quartier.settings import Settings
from quartier.store.dialect import Dialect
from quartier.store.read import fetch_entities, id_scope

log = logging.getLogger(__name__)

CHUNK = 256  # messages of one read stored together, at most
IN_FLIGHT = 4  # such chunks being stored at once
PENDING_GROUPS = 64  # committed write groups (up to 200 batches each) that may wait to be announced
ANNOUNCE_MERGE = 1_000  # changes of waiting batches announced together, at most
SHARE_GROUP = "quartier"
_ID_CHUNK = 500
_LINKS = "@links"  # key of a created row's link-table ids


def client_id(settings: Settings) -> str:
    """A client id that stays the same across restarts, so the broker keeps the session:
    the setting itself for one worker; with several, the setting and the first free slot,
    held by a lock file in the data folder for as long as the process lives."""
    if settings.workers == 1:
        return settings.mqtt_client_id
    if _held_slots:  # this process holds its slot already
        return f"{settings.mqtt_client_id}-{_held_slots[0][1]}"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(settings.workers * 4):
        handle = open(settings.data_dir / f"mqtt-slot-{slot}.lock", "a")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _held_slots.append((handle, slot))  # released when the process ends
        return f"{settings.mqtt_client_id}-{slot}"
    raise RuntimeError(f"no free MQTT client slot in {settings.data_dir}")


_held_slots: list[tuple[Any, int]] = []


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    """``ids`` in pieces small enough for one ``IN (…)`` list."""
    return [ids[start:start + _ID_CHUNK] for start in range(0, len(ids), _ID_CHUNK)]


def _end(phenomenon_time: Any) -> str | None:
    """The end of a phenomenonTime as the API writes it (an instant, or start/end)."""
    return None if phenomenon_time is None else str(phenomenon_time).rpartition("/")[2]


class MqttService:
    def __init__(self, api: SensorThingsApi, settings: Settings) -> None:
        self.api = api
        self.store = api.store
        self.settings = settings
        self.prefix = settings.mqtt_prefix
        self.root = settings.base_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
        # Committed write groups waiting to be announced. When announcing falls behind, writers
        # wait for room (after their commit, before they answer): the backlog, and with it
        # the process's memory, stays bounded, and MQTT intake slows to what is announced.
        self._events: asyncio.Queue[Sequence[ChangeEvent]] = asyncio.Queue(PENDING_GROUPS)
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._batches = MessageBatches(api, self.prefix)
        self._tasks: list[asyncio.Task[None]] = []
        self._tenant_names: dict[int, str] = {}
        self.selects = SelectTopics(self.prefix, settings.mqtt_select_topics.split())
        self.link: BrokerLink | None = None

    async def start(self) -> None:
        plain = create_subscriptions(self.prefix)
        shared = [f"$share/{SHARE_GROUP}/{t}" for t in plain]
        # One worker subscribes plainly, so that the broker keeps our announcements (on the
        # same topics) from us; several share a subscription, so that each message reaches
        # one of them, and ignore the announcements that come back.
        subscriptions, stale = (plain, shared) if self.settings.workers == 1 else (shared, plain)
        subscriptions = [*subscriptions, *LOG_TOPICS]  # every worker needs every line
        self.link = BrokerLink(self.settings.mqtt, client_id(self.settings), subscriptions, stale,
                               publish_qos=self.settings.mqtt_announce_qos)
        self.link.start()
        self.store.subscribe(self._events.put)
        self._tasks = [asyncio.create_task(self._announce_all()),
                       asyncio.create_task(self._receive_all())]

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        if self.link is not None:
            await self.link.stop()

    # -- announcing ----------------------------------------------------------------------

    async def _announce_all(self) -> None:
        queue = self._events
        while True:
            # The batches committed meanwhile, announced together: their new rows are
            # read (when not at hand) in one go, and each path's answer is made once.
            events = list(await queue.get())
            while not queue.empty() and len(events) < ANNOUNCE_MERGE:
                events += queue.get_nowait()
            try:
                await self.announce(events)
            except Exception:  # one failed batch must not stop the announcements
                log.exception("could not announce %d changes over MQTT", len(events))

    async def announce(self, events: Sequence[ChangeEvent]) -> None:
        """Publish the messages for one committed batch of changes. A new entity's
        message is built from its row, as GET builds it; other messages come from GET."""
        assert self.link is not None
        created = await self._created(events)
        newest = await self._newest_of_datastreams(created) if self.settings.mqtt_retain_latest else {}
        internal = await internal_changes(self.store, events, created)
        internal_prefix = self.settings.mqtt_internal_prefix
        answers: dict[tuple[int, str], bytes | None] = {}
        link, names = self.link, self._tenant_names
        for event in events:
            hidden = (event.entity_type, event.id) in internal
            if hidden and not internal_prefix:
                continue  # internal, and no protected topics to put it on
            if link.crowded():
                await link.room()
            etype = ENTITY_TYPES[event.entity_type]
            tenant = names.get(event.tenant_id) or await self._tenant_name(event.tenant_id)
            root = tenant_root(self.prefix, tenant)
            row = created.get((event.entity_type, event.id))
            links = row.get(_LINKS) if row is not None else None
            for notice in notices(root, etype, event.id, event.operation, event.fields,
                                  row or {}, links):
                key = (event.tenant_id, notice.path)
                if key not in answers:
                    answers[key] = (
                        orjson.dumps(entity_json(etype, row, link_base(self.root, tenant)))
                        if row is not None and event.operation == "create"
                        else await self._answer(event.tenant_id, tenant, notice)
                    )
                payload = answers[key]
                if payload is None:
                    continue
                retain = (
                    bool(newest) and row is not None and etype.name == "Observation"
                    and notice.topic == f"{root}Datastreams({row['Datastream']})/Observations"
                    and newest.get(row["Datastream"]) == _end(row["phenomenonTime"])
                )
                if hidden:
                    topic = internal_topic(self.prefix, internal_prefix, notice.topic)
                    self.link.publish(topic, payload, retain=retain)
                    continue
                self.link.publish(notice.topic, payload, retain=retain)
                narrowed = self.selects.get(notice.topic)
                if narrowed:
                    created_row = row if event.operation == "create" else None
                    await self._announce_selected(narrowed.values(), etype, event.tenant_id,
                                                  tenant, notice, created_row, answers)

    async def _announce_selected(
        self, topics: Iterable[SelectTopic], etype: EntityType, tenant_id: int, tenant: str,
        notice: Notice, created: dict[str, Any] | None,
        answers: dict[tuple[int, str], bytes | None],
    ) -> None:
        """Publish on each ``$select`` topic that narrows the notice's: a new entity's row
        as GET shows it with that ``$select``, otherwise that GET's answer."""
        assert self.link is not None
        for topic in list(topics):  # the set may change while a GET waits
            key = (tenant_id, f"{notice.path}?$select={topic.select}")
            if key not in answers:
                answers[key] = (
                    orjson.dumps(entity_json(etype, created, link_base(self.root, tenant),
                                             list(topic.names)))
                    if created is not None
                    else await self._answer(tenant_id, tenant, notice, [("$select", topic.select)])
                )
            payload = answers[key]
            if payload is not None:
                self.link.publish(topic.topic, payload)

    async def _created(self, events: Sequence[ChangeEvent]) -> dict[tuple[str, int], dict[str, Any]]:
        """The created entities as stored (with their foreign keys), read in a few queries."""
        wanted: dict[tuple[int, str], list[int]] = defaultdict(list)
        out: dict[tuple[str, int], dict[str, Any]] = {}
        for event in events:
            if event.operation != "create":
                continue
            if event.row is not None:  # the write read it back already
                out[(event.entity_type, event.id)] = event.row
            else:
                wanted[(event.tenant_id, event.entity_type)].append(event.id)
        if not wanted:
            return out
        async with self.store.reader() as conn:
            for (tenant_id, name), ids in wanted.items():
                etype = ENTITY_TYPES[name]
                for chunk in _chunks(ids):
                    rows = await fetch_entities(conn, self.store.dialect, tenant_id,
                                                id_scope(etype, chunk))
                    for row in rows:
                        out[(name, row["id"])] = row
                await self._add_links(conn, self.store.dialect, etype, ids, out)
        return out

    @staticmethod
    async def _add_links(conn: Any, dialect: Dialect, etype: Any, ids: list[int],
                         rows: dict[tuple[str, int], dict[str, Any]]) -> None:
        """The ids each new entity is linked to through link tables, under ``_LINKS``."""
        for rel in etype.relations:
            if rel.kind is not RelationKind.LINK_TABLE:
                continue
            for chunk in _chunks(ids):
                among, params = dialect.among(rel.link_self, chunk)
                pairs = await conn.fetch(
                    f"SELECT {rel.link_self}, {rel.link_other} FROM {rel.link_table} "
                    f"WHERE {among}", params)
                for own, other in pairs:
                    row = rows.get((etype.name, int(own)))
                    if row is not None:
                        row.setdefault(_LINKS, {}).setdefault(rel.name, []).append(int(other))

    async def _newest_of_datastreams(
        self, created: dict[tuple[str, int], dict[str, Any]]
    ) -> dict[int, str | None]:
        """The end of each Datastream's phenomenonTime, for the Datastreams of the new
        Observations: an Observation that reaches it is the latest, kept retained."""
        ids = sorted({row["Datastream"] for (name, _), row in created.items()
                      if name == "Observation"})
        if not ids:
            return {}
        out: dict[int, str | None] = {}
        async with self.store.reader() as conn:
            for chunk in _chunks(ids):
                among, params = self.store.dialect.among("id", chunk)
                rows = await conn.fetch(
                    f"SELECT id, phenomenon_time_end FROM datastreams WHERE {among}", params)
                for ds_id, end in rows:
                    value = self.store.dialect.decode(TIME, end)
                    out[int(ds_id)] = None if value is None else format_instant(value)
        return out

    async def _answer(self, tenant_id: int, tenant: str, notice: Notice,
                      query: list[tuple[str, str]] | None = None) -> bytes | None:
        """What GET of the notice's path (with ``query``) answers now; None when it is
        gone again."""
        ctx = Context(self.store, self.settings, tenant_id, link_base(self.root, tenant))

        async def no_body() -> Any:
            return None

        try:
            reply = await self.api.execute(ctx, Call("GET", notice.path, query or [], "", no_body))
        except NotFound:
            return None
        return orjson.dumps(reply.body)

    async def _tenant_name(self, tenant_id: int) -> str:
        name = self._tenant_names.get(tenant_id)
        if name is None:
            async with self.store.reader() as conn:
                name = str(await conn.fetchval("SELECT name FROM tenants WHERE id = ?", (tenant_id,)))
            self._tenant_names[tenant_id] = name
        return name

    # -- creating --------------------------------------------------------------------------

    async def _receive_all(self) -> None:
        assert self.link is not None
        while True:
            wanted: list[Message] = []
            for message in await self.link.receive_many(CHUNK):
                if message.topic in LOG_TOPICS:  # at once and in order: it is cheap
                    try:
                        self.selects.take_log(message.topic, bytes(message.payload))
                    except Exception:  # a bug: the line is lost, the service goes on
                        log.exception("could not follow the broker's log line %r", message.payload)
                    self.link.ack(message)
                elif message.own:  # our own announcement, back through a shared subscription
                    self.link.ack(message)
                else:
                    wanted.append(message)
            if wanted:
                await self._slots.acquire()
                task = asyncio.create_task(self._take(wanted))
                task.add_done_callback(lambda _: self._slots.release())

    async def _take(self, messages: list[Message]) -> None:
        """Store the messages of one read together, a batch each. A message that cannot
        be stored goes the way of :meth:`store_message` alone (a dead letter, or retried
        while the database is away), and does not hold the others back."""
        assert self.link is not None
        ready: list[tuple[Message, tuple[int, Batch]]] = []
        alone: list[Message] = []
        for message in messages:
            try:
                ready.append((message, await self._batches.batch(message.topic, message.payload)))
            except Exception:
                alone.append(message)
        results = await self.store.write_many([batch for _, batch in ready])
        for (message, _), result in zip(ready, results, strict=True):
            if isinstance(result, Exception):
                alone.append(message)
            else:
                self.link.ack(message)
        for message in alone:
            await self.store_message(message.topic, bytes(message.payload))
            self.link.ack(message)

    async def _keep_dead(self, topic: str, payload: bytes, exc: QuartierError) -> None:
        tenant_id = await tenant_of(self.api, self.prefix, topic)
        await deadletters.keep(self.store, tenant_id, SOURCE, topic, payload,
                               f"{exc.status}: {exc.message}")

    async def store_message(self, topic: str, payload: bytes) -> None:
        """Create what the message asks for, or keep it as a dead letter; while the
        database is away, try again (1 s, doubling up to 30 s)."""
        delay = 1.0
        while True:
            try:
                try:
                    await create_from_message(self.api, self.prefix, self.root, topic, payload)
                except QuartierError as exc:
                    if exc.status >= 500:
                        raise
                    await self._keep_dead(topic, payload, exc)
                return
            except QuartierError as exc:
                log.warning("could not store an MQTT message from %s (%s); trying again in "
                            "%.0f s", topic, exc.message, delay)
            except Exception:  # a bug: keep the message rather than lose it
                log.exception("storing an MQTT message from %s failed", topic)
                with contextlib.suppress(Exception):
                    await deadletters.keep(self.store, None, SOURCE, topic, payload,
                                           "500: internal error while storing; see the log")
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
