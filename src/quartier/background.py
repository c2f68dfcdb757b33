"""Background tasks of the server (publishers, engines, periodic jobs): running them in
passes, and stopping them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


async def within(seconds: float, awaitable: Awaitable[T]) -> tuple[bool, T | None]:
    """(True, its result) when ``awaitable`` finishes within ``seconds``, else (False, None).
    Not ``asyncio.wait_for``: on Python 3.11 that swallows a cancellation which arrives as
    the awaited thing finishes, and a loop around it then runs on after its task was
    cancelled (seen: a server's shutdown waiting for ever on the tasking dispatcher)."""
    try:
        async with asyncio.timeout(seconds):
            return True, await awaitable
    except TimeoutError:
        return False, None


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
        await within(every, wake.wait())
        wake.clear()


async def cancel_all(tasks: Iterable[asyncio.Task[object] | asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until each has stopped."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
