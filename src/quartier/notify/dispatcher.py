"""The dispatcher: a background task in every server process that fans alert events out
into deliveries, makes due reminders, and sends what is due on each channel.

Several processes may run it on one database at once; the outbox's marks and claims
(:mod:`quartier.notify.outbox`) keep every delivery to one sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from quartier.background import keep_passing
from quartier.claims import send_claimed
from quartier.notify import outbox, reminders
from quartier.notify.mail import EmailSender
from quartier.notify.outbox import Delivery, DeliveryError
from quartier.notify.webhook import WebhookSender
from quartier.settings import Settings
from quartier.store import Store

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often a worker looks for new events and due deliveries
CURSOR_EVERY = 60.0  # seconds between moves of the fan-out cursor


class Sender(Protocol):
    async def send(self, delivery: Delivery) -> None: ...

    async def close(self) -> None: ...


class Dispatcher:
    """Runs the outbox of one process until :meth:`stop`."""

    def __init__(self, store: Store, settings: Settings, poll: float = POLL_SECONDS) -> None:
        self.store = store
        self.settings = settings
        self.poll = poll
        self._senders: dict[str, Sender] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="quartier-notifications")

    def wake(self) -> None:
        """Look for work now rather than at the next poll (e.g. after an alert changed)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Sends under way finish (each is bounded by its timeout), so that what was sent
        # is also recorded as sent.
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        for sender in self._senders.values():
            await sender.close()
        self._senders.clear()

    async def _run(self) -> None:
        last_cursor = 0.0

        async def one_pass() -> None:
            nonlocal last_cursor
            await self.run_once()
            if time.monotonic() - last_cursor > CURSOR_EVERY:
                await outbox.advance_cursor(self.store)
                last_cursor = time.monotonic()

        await keep_passing(one_pass, self._wake, self.poll, "notification dispatcher")

    async def run_once(self) -> None:
        """One pass: fan out new events, make due reminders, send due deliveries."""
        while await outbox.fan_out(self.store) >= outbox.FANOUT_BATCH:
            pass
        await reminders.remind(self.store)
        await send_claimed(lambda: outbox.claim(self.store), self._deliver, self._sending)

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            await self._sender(delivery.channel.kind).send(delivery)
        except DeliveryError as exc:
            await outbox.failed(self.store, delivery, str(exc), self.settings.notify_retry_seconds,
                                self.settings.notify_max_attempts)
            return
        except Exception as exc:  # a bug or an unexpected library error: keep the delivery
            log.exception("notifications: sending delivery %d failed unexpectedly", delivery.id)
            await outbox.failed(self.store, delivery, f"{type(exc).__name__}: {exc}",
                                self.settings.notify_retry_seconds,
                                self.settings.notify_max_attempts)
            return
        await outbox.delivered(self.store, delivery)

    def _sender(self, kind: str) -> Sender:
        if kind not in self._senders:
            if kind == "webhook":
                self._senders[kind] = WebhookSender()
            elif kind == "email":
                self._senders[kind] = EmailSender(self.settings)
            elif kind == "mqtt":
                if not self.settings.mqtt:
                    raise DeliveryError("no MQTT broker is set (--mqtt)")
                from quartier.notify.mqtt_topic import MqttSender

                self._senders[kind] = MqttSender(self.settings)
            else:
                raise DeliveryError(f"channels of type {kind!r} are not sent")
        return self._senders[kind]
