"""Uplinks by MQTT: the network servers' MQTT integrations.

The Things Stack publishes uplinks on ``v3/{application}@{tenant}/devices/{device}/up`` (on
its own broker, user ``{application}@{tenant}``, an API key as password); ChirpStack on
``application/{id}/device/{devEui}/event/up`` (on the broker it is configured with). An
integration that names a topic (and a broker URL, or none for the platform's own broker,
``--mqtt``) is subscribed to by every server process, with QoS 1 and a persistent session.
A message is acknowledged after its Observations are committed, or after it is kept as a
dead letter. Several workers each receive every message where the broker has no shared
subscriptions (TTS); the uplink's deduplication mark stores it once all the same.

Integrations are read again every :data:`REFRESH_SECONDS`, so one added or deleted through
the API (in any worker) is subscribed to or left without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import paho.mqtt.client as paho

from quartier import deadletters
from quartier.errors import QuartierError
from quartier.lorawan import integrations
from quartier.lorawan.ingest import UplinkIngest, source_of
from quartier.lorawan.integrations import Integration
from quartier.mqtt.link import BrokerLink, Message
from quartier.mqtt.service import client_id
from quartier.settings import Settings

log = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0
IN_FLIGHT = 256


class LorawanMqtt:
    """One broker link per broker that integrations name, kept in step with the table."""

    def __init__(self, ingest: UplinkIngest, settings: Settings) -> None:
        self.ingest = ingest
        self.settings = settings
        self._links: dict[str, tuple[BrokerLink, list[Integration], asyncio.Task[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(IN_FLIGHT)

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_periodically())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for url in list(self._links):
            await self._close(url, end_session=False)

    async def _refresh_periodically(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh()
            except Exception:  # the database may be away; the links stay as they are
                log.exception("could not read the LoRaWAN integrations")

    async def refresh(self) -> None:
        """Subscribe to what the integrations name now, and leave what they no longer do."""
        wanted: dict[str, list[Integration]] = {}
        for integration in await integrations.listing(self.ingest.store):
            if integration.mqtt_topic is None:
                continue
            url = integration.mqtt_url or self.settings.mqtt
            if not url:
                log.warning("LoRaWAN integration %r names no MQTT broker and the platform has "
                            "none (--mqtt); its MQTT uplinks are not received", integration.name)
                continue
            wanted.setdefault(url, []).append(integration)
        for url in list(self._links):
            if url not in wanted:
                await self._close(url, end_session=True)  # its session would keep the topics
        for url, group in wanted.items():
            if url in self._links:
                link, _, task = self._links[url]
                link.resubscribe(sorted(_topics(group)))
                self._links[url] = (link, group, task)
                continue
            number = min(i.id for i in group)
            link = BrokerLink(url, f"{client_id(self.settings)}-lorawan-{number}", sorted(_topics(group)))
            link.start()
            task = asyncio.create_task(self._receive_all(url, link))
            self._links[url] = (link, group, task)

    async def _close(self, url: str, end_session: bool) -> None:
        link, _, task = self._links.pop(url)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await link.stop(end_session)

    async def _receive_all(self, url: str, link: BrokerLink) -> None:
        while True:
            message = await link.receive()
            await self._slots.acquire()
            task = asyncio.create_task(self._take(url, link, message))
            task.add_done_callback(lambda _: self._slots.release())

    async def _take(self, url: str, link: BrokerLink, message: Message) -> None:
        group = self._links[url][1] if url in self._links else []
        integration = next((i for i in group if i.mqtt_topic is not None
                            and paho.topic_matches_sub(i.mqtt_topic, message.topic)), None)
        if integration is not None:
            await self._store(integration, message.topic, message.payload)
        else:  # its integration was dropped while the message was on its way: keep it
            with contextlib.suppress(Exception):
                await deadletters.keep(self.ingest.store, None, "lorawan:mqtt", message.topic,
                                       message.payload, "422: no LoRaWAN integration takes this "
                                       "topic any more")
        link.ack(message)

    async def _store(self, integration: Integration, topic: str, payload: bytes) -> None:
        """Store the uplink or keep it as a dead letter; while the database is away, try
        again (1 s, doubling up to 30 s), unacknowledged."""
        event = topic.rpartition("/")[2]
        delay = 1.0
        while True:
            try:
                await self.ingest.message(integration, payload, event, "mqtt",
                                          f"{integration.name}:{topic}")
                return
            except QuartierError as exc:
                if exc.status < 500:
                    return  # a duplicate, or kept as a dead letter
                log.warning("could not store an uplink from %s (%s); trying again in %.0f s",
                            topic, exc.message, delay)
            except Exception:  # a bug: keep the message rather than lose it
                log.exception("storing an uplink from %s failed", topic)
                with contextlib.suppress(Exception):
                    await deadletters.keep(self.ingest.store, integration.tenant_id,
                                           source_of(integration, "mqtt"),
                                           f"{integration.name}:{topic}", payload,
                                           "500: internal error while storing; see the log")
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def _topics(group: list[Integration]) -> set[str]:
    return {i.mqtt_topic for i in group if i.mqtt_topic is not None}
