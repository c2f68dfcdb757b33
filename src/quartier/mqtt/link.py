"""One connection to an MQTT broker, for asyncio code (paho-mqtt underneath, MQTT 5).

* QoS 1 both ways, and a persistent session (clean start off, a session that outlives a
  restart by a day), so that the broker keeps what it accepted while Quartier is away.
* Messages are acknowledged by the caller (:meth:`BrokerLink.ack`), after they are
  committed, not when they arrive.
* paho's network thread reconnects by itself, waiting 1 s and then up to 30 s between
  attempts; publications made meanwhile wait in its queue.
* Quartier's own publications carry a user property, so that a worker can tell them
  from a client's message on the same topic (:attr:`Message.own`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import urllib.parse
from collections.abc import Sequence
from typing import Any, NamedTuple

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from quartier.errors import SettingsError

log = logging.getLogger(__name__)

RECEIVE_MAXIMUM = 1000  # messages the broker may have sent us that we have not acknowledged
SESSION_SECONDS = 86_400  # how long the broker keeps the session while Quartier is away
# Publications kept while the broker is away (newer ones are dropped, with a warning).
MAX_QUEUED = 10_000
# While connected, publishers wait (:meth:`BrokerLink.room`) when this many publications
# await the broker's acknowledgement: announcing slows down instead of dropping any.
HIGH_WATER = 2_000
_ORIGIN = ("origin", "quartier")


class Message(NamedTuple):
    """A received message, kept light while it waits: paho's own message object (with
    its lock, condition and properties) is some kilobytes, and the broker may send many
    more messages than the Receive Maximum asks for once acknowledgements flow."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    own: bool  # published by Quartier: an announcement, not a request


def broker_address(url: str) -> tuple[str, int, str | None, str | None]:
    """(host, port, user, password) from ``mqtt://[user[:password]@]host[:port]``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise SettingsError(f"mqtt must be a URL like mqtt://127.0.0.1:1883, not {url!r}")
    try:
        port = parts.port or 1883
    except ValueError:
        raise SettingsError(f"the port in mqtt={url!r} is not a number") from None
    return parts.hostname, port, parts.username, parts.password


def _options(topic: str) -> SubscribeOptions:
    """QoS 1, and none of our own publications back (MQTT 5 "No Local"; a shared
    subscription may not ask for it, so there the user property tells them apart)."""
    return SubscribeOptions(qos=1, noLocal=not topic.startswith("$share/"))


class BrokerLink:
    """A persistent MQTT 5 session with manual acknowledgements."""

    def __init__(self, url: str, client_id: str, subscriptions: Sequence[str],
                 stale: Sequence[str] = ()) -> None:
        self.host, self.port, user, password = broker_address(url)
        self.subscriptions = list(subscriptions)
        # Filters an earlier run of this session may have subscribed to, left at connect.
        self.stale = list(stale)
        self.connected = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if user is not None:
            client.username_pw_set(user, password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_queued_messages_set(MAX_QUEUED)
        # No in-flight window in paho: each publication goes out at once, and the broker
        # acknowledges it at once. (With a window, paho walks the in-flight messages at
        # every acknowledgement to find the next one to send.) :meth:`room` bounds them.
        client.max_inflight_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._client = client
        self._unacknowledged = 0  # our publications the broker has not acknowledged yet
        self._count_lock = threading.Lock()
        self._room = asyncio.Event()
        self._room.set()
        self._stopping = False
        self._warned_full = False
        self._publish_properties = Properties(PacketTypes.PUBLISH)
        self._publish_properties.UserProperty = [_ORIGIN]

    def start(self) -> None:
        """Connect in the background; returns at once, also when the broker is away."""
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = SESSION_SECONDS
        # The broker sends no more unacknowledged messages than this: a burst waits in
        # the broker, not in this process's memory.
        connect.ReceiveMaximum = RECEIVE_MAXIMUM
        self._client.connect_async(self.host, self.port, keepalive=30, clean_start=False,
                                   properties=connect)
        self._client.loop_start()

    async def stop(self, end_session: bool = False) -> None:
        """Disconnect; the broker keeps the session (and what arrives for it) unless
        ``end_session``, for subscriptions that are given up for good."""
        self._stopping = True
        properties = None
        if end_session:
            properties = Properties(PacketTypes.DISCONNECT)
            properties.SessionExpiryInterval = 0
        self._client.disconnect(properties=properties)
        await asyncio.to_thread(self._client.loop_stop)

    async def room(self) -> None:
        """Wait, while the broker is connected, until fewer than :data:`HIGH_WATER` of our
        publications await its acknowledgement. (While it is away, publications wait in
        paho's queue, up to :data:`MAX_QUEUED`, and nobody is held up.)"""
        while self.connected.is_set() and self._unacknowledged >= HIGH_WATER:
            self._room.clear()
            if self._unacknowledged < HIGH_WATER:  # acknowledged meanwhile
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), 1.0)

    def pending(self) -> int:
        """Our publications the broker has not acknowledged yet."""
        return self._unacknowledged

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        with self._count_lock:
            self._unacknowledged += 1
        info = self._client.publish(topic, payload, qos=1, retain=retain,
                                    properties=self._publish_properties)
        if info.rc == paho.MQTT_ERR_QUEUE_SIZE:
            with self._count_lock:
                self._unacknowledged -= 1
        if info.rc == paho.MQTT_ERR_QUEUE_SIZE and not self._warned_full:
            self._warned_full = True
            log.warning("%d announcements wait for the MQTT broker; newer ones are dropped "
                        "until it is back", MAX_QUEUED)
        elif info.rc != paho.MQTT_ERR_QUEUE_SIZE:
            self._warned_full = False

    def resubscribe(self, topics: Sequence[str]) -> None:
        """Subscribe to ``topics`` from now on: the new ones are added, the others left."""
        wanted = list(topics)
        added = [t for t in wanted if t not in self.subscriptions]
        dropped = [t for t in self.subscriptions if t not in wanted]
        self.subscriptions = wanted  # also what a reconnect subscribes to
        if added:
            self._client.subscribe([(topic, _options(topic)) for topic in added])
        if dropped:
            self._client.unsubscribe(dropped)

    async def receive(self) -> Message:
        return await self._queue.get()

    def ack(self, message: Message) -> None:
        """Acknowledge a received message: the broker forgets it."""
        self._client.ack(message.mid, message.qos)

    # -- paho's network thread ----------------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            log.warning("the MQTT broker at %s:%d refused the connection: %s", self.host,
                        self.port, reason)
            return
        log.info("connected to the MQTT broker at %s:%d", self.host, self.port)
        if self.stale:
            client.unsubscribe(self.stale)
        if self.subscriptions:
            client.subscribe([(topic, _options(topic)) for topic in self.subscriptions])
        self._loop.call_soon_threadsafe(self.connected.set)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        if not self._stopping:
            log.warning("lost the MQTT broker at %s:%d (%s); reconnecting", self.host,
                        self.port, reason)
        self._loop.call_soon_threadsafe(self.connected.clear)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any,
                    properties: Any) -> None:
        with self._count_lock:
            self._unacknowledged -= 1
            wake = self._unacknowledged == HIGH_WATER // 2
        if wake:
            self._loop.call_soon_threadsafe(self._room.set)

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        props = getattr(message, "properties", None)
        own = _ORIGIN in (getattr(props, "UserProperty", None) or [])
        received = Message(message.topic, bytes(message.payload), message.mid, message.qos, own)
        self._loop.call_soon_threadsafe(self._queue.put_nowait, received)
