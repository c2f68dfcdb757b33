"""The Task dispatcher: a background task in every server process that sends new Tasks to
their devices, confirms the sent ones from uplinks, and fails those whose confirmation
does not come in time. Several processes may run it on one database at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from quartier.background import keep_passing
from quartier.claims import send_claimed
from quartier.model.changes import ChangeEvent
from quartier.notify.outbox import DeliveryError
from quartier.settings import Settings
from quartier.store import Store
from quartier.tasking import outbox
from quartier.tasking.confirm import Confirmations
from quartier.tasking.routes import Undeliverable, route
from quartier.tasking.senders import CommandSender

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


class TaskDispatcher:
    def __init__(self, store: Store, settings: Settings, poll: float = POLL_SECONDS) -> None:
        self.store = store
        self.settings = settings
        self.poll = poll
        self.sender = CommandSender(settings)
        self._wake = asyncio.Event()
        self.confirmations = Confirmations(store, self._wake.set)
        self._task: asyncio.Task[None] | None = None
        # A full pass (send due Tasks, fail overdue ones) runs when a Task was created and
        # every poll interval; new Observations alone only wake the confirmations.
        self._due = True
        self._next_full = 0.0
        self._sending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.store.subscribe(self._listen)
        self._task = asyncio.create_task(self._run(), name="quartier-tasks")

    def _listen(self, events: Sequence[ChangeEvent]) -> None:
        self.confirmations.listen(events)
        if any(e.entity_type == "Task" and e.operation == "create" for e in events):
            self._due = True
            self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sending:  # sends under way finish, so that what was sent is recorded
            await asyncio.gather(*self._sending, return_exceptions=True)
        await self.sender.close()

    async def _run(self) -> None:
        await keep_passing(self.run_once, self._wake, self.poll, "tasking dispatcher")

    async def run_once(self) -> None:
        """One pass: confirm from new uplinks, send due Tasks, fail overdue ones."""
        full = self._due or time.monotonic() >= self._next_full
        await self.confirmations.check(full)
        if not full:
            return
        self._due, self._next_full = False, time.monotonic() + self.poll
        await send_claimed(lambda: outbox.claim(self.store), self._deliver, self._sending)
        wait = timedelta(seconds=self.settings.task_confirm_seconds)
        for tenant_id, task_id in await outbox.overdue(self.store, wait):
            await outbox.move(self.store, tenant_id, task_id, "final", "failed",
                              f"the device did not report the commanded state within "
                              f"{self.settings.task_confirm_seconds} s")

    async def _deliver(self, claimed: outbox.Claimed) -> None:
        try:
            target = await route(self.store, claimed.tenant_id, claimed.task_id)
            await self.sender.send(target)
        except Undeliverable as exc:
            await self._give_up(claimed, str(exc))
            return
        except DeliveryError as exc:
            await self._failed_attempt(claimed, str(exc))
            return
        except Exception as exc:  # a bug: try again, as for a failed send
            log.exception("tasking: sending Task %d failed unexpectedly", claimed.task_id)
            await self._failed_attempt(claimed, f"internal error ({type(exc).__name__})")
            return
        self.confirmations.awaiting = True  # before the move: its uplink may come at once
        await outbox.move(self.store, claimed.tenant_id, claimed.task_id, "sent", "sent")
        await outbox.delivery_done(self.store, claimed.task_id, "sent")

    async def _failed_attempt(self, claimed: outbox.Claimed, error: str) -> None:
        if claimed.attempts >= self.settings.task_max_attempts:
            await self._give_up(claimed, f"{claimed.attempts} attempts failed; the last: {error}")
            return
        log.warning("tasking: Task %d not sent (attempt %d): %s", claimed.task_id,
                    claimed.attempts, error)
        await outbox.retry_later(self.store, claimed, error, self.settings.notify_retry_seconds)

    async def _give_up(self, claimed: outbox.Claimed, reason: str) -> None:
        log.warning("tasking: Task %d failed: %s", claimed.task_id, reason)
        await outbox.move(self.store, claimed.tenant_id, claimed.task_id, "final", "failed", reason)
        await outbox.delivery_done(self.store, claimed.task_id, "failed", reason)
