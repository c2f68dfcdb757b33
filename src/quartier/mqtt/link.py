"""One connection to an MQTT broker, for asyncio code (paho-mqtt underneath, MQTT 5).

* QoS 1 both ways, and a persistent session (clean start off, a session that outlives a
  restart by a day), so that the broker keeps what it accepted while Quartier is away.
* Messages are acknowledged by the caller (:meth:`BrokerLink.ack`), after they are
  committed, not when they arrive.
* paho's network thread reconnects by itself, waiting 1 s and then up to 30 s between
  attempts; publications made meanwhile wait in its queue.
* Quartier's own publications carry a user property, so that a worker can tell them
  from a client's message on the same topic (:func:`is_own`).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from quartier.errors import SettingsError

log = logging.getLogger(__name__)

RECEIVE_MAXIMUM = 1000  # messages the broker may have sent us that we have not acknowledged
SESSION_SECONDS = 86_400  # how long the broker keeps the session while Quartier is away
# Publications kept while the broker is away (newer ones are dropped, with a warning).
# paho walks its whole queue at each acknowledgement, so a long queue costs much CPU.
MAX_QUEUED = 10_000
_ORIGIN = ("origin", "quartier")

Message = paho.MQTTMessage


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


def is_own(message: Message) -> bool:
    """Whether Quartier published this message (an announcement, not a request)."""
    props = getattr(message, "properties", None)
    return _ORIGIN in (getattr(props, "UserProperty", None) or [])


class BrokerLink:
    """A persistent MQTT 5 session with manual acknowledgements."""

    def __init__(self, url: str, client_id: str, subscriptions: Sequence[str]) -> None:
        self.host, self.port, user, password = broker_address(url)
        self.subscriptions = list(subscriptions)
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
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
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

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain,
                                    properties=self._publish_properties)
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
            self._client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in added])
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
        if self.subscriptions:
            client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in self.subscriptions])
        self._loop.call_soon_threadsafe(self.connected.set)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        if not self._stopping:
            log.warning("lost the MQTT broker at %s:%d (%s); reconnecting", self.host,
                        self.port, reason)
        self._loop.call_soon_threadsafe(self.connected.clear)

    def _on_message(self, client: Any, userdata: Any, message: Message) -> None:
        self._loop.call_soon_threadsafe(self._queue.put_nowait, message)
