"""Background tasks of the server (publishers, engines, periodic jobs): stopping them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable


async def cancel_all(tasks: Iterable[asyncio.Task[object] | asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until each has stopped."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
