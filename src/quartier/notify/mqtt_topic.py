"""MQTT deliveries: the event as JSON on the channel's topic of the platform's broker
(``--mqtt``, with ``--mqtt-prefix`` in front), QoS 1. A delivery counts once the broker has
acknowledged it (PUBACK)."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from typing import Any

import orjson
import paho.mqtt.client as paho

from quartier.mqtt.link import broker_address
from quartier.notify.outbox import Delivery, DeliveryError
from quartier.settings import Settings

log = logging.getLogger(__name__)

ACK_TIMEOUT = 15.0


class MqttSender:
    """One connection to the broker for notifications (a clean session of its own, so
    that it does not disturb the SensorThings session)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: paho.Client | None = None
        self._ready = threading.Event()

    def _connected(self) -> paho.Client:
        if self._client is None:
            host, port, user, password = broker_address(self.settings.mqtt)
            client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5,
                                 client_id=f"{self.settings.mqtt_client_id}-notify-{uuid.uuid4().hex[:8]}")
            if user is not None:
                client.username_pw_set(user, password)
            client.reconnect_delay_set(min_delay=1, max_delay=30)
            client.on_connect = lambda *args: self._ready.set()
            client.on_disconnect = lambda *args: self._ready.clear()
            client.connect_async(host, port, keepalive=30)
            client.loop_start()
            self._client = client
        return self._client

    async def send(self, delivery: Delivery) -> None:
        config: dict[str, Any] = delivery.channel.config
        await self.publish(self.settings.mqtt_prefix + config["topic"],
                           orjson.dumps(delivery.event.as_json()), bool(config.get("retain", False)))

    async def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish with QoS 1 and wait for the broker's acknowledgement; DeliveryError
        when it does not come."""
        client = self._connected()
        # Publish only while connected: paho would keep a message for later otherwise, and
        # send it besides the retry.
        if not await asyncio.to_thread(self._ready.wait, ACK_TIMEOUT):
            raise DeliveryError(f"the MQTT broker at {self.settings.mqtt} is not reachable")
        info = client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise DeliveryError(f"could not publish on {topic!r}: {paho.error_string(info.rc)}")
        try:
            await asyncio.to_thread(info.wait_for_publish, ACK_TIMEOUT)
        except (RuntimeError, ValueError) as exc:
            raise DeliveryError(f"could not publish on {topic!r}: {exc}") from None
        if not info.is_published():
            raise DeliveryError(f"the broker did not acknowledge the message on {topic!r} "
                                f"within {ACK_TIMEOUT:.0f} s")

    async def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            await asyncio.to_thread(self._client.loop_stop)
            self._client = None
