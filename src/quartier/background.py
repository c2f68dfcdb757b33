"""Background tasks of the server (publishers, engines, periodic jobs): running them in
passes, and stopping them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)


async def keep_passing(one_pass: Callable[[], Awaitable[None]], wake: asyncio.Event, every: float,
                       what: str) -> None:
    """Run ``one_pass`` again and again: at once when ``wake`` is set, else every ``every``
    seconds. A pass that fails (the database away for a moment) is logged, and the next
    one tries again."""
    while True:
        try:
            await one_pass()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: a pass failed", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), every)
        wake.clear()


async def cancel_all(tasks: Iterable[asyncio.Task[object] | asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until each has stopped."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
