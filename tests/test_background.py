"""Background loops stop when their task is cancelled, even as they are woken.

On Python 3.11 ``asyncio.wait_for`` swallows a cancellation that arrives in the same step
as the thing it waits for finishes; a loop around it then ran on after ``cancel()``, and a
server's shutdown waited for ever on the tasking dispatcher (seen once in CI).
"""

from __future__ import annotations

import asyncio

from quartier.background import keep_passing, within


def test_a_loop_cancelled_as_it_is_woken_stops() -> None:
    async def scenario() -> None:
        wake = asyncio.Event()
        passes = 0

        async def one_pass() -> None:
            nonlocal passes
            passes += 1

        task = asyncio.create_task(keep_passing(one_pass, wake, 60.0, "test loop"))
        await asyncio.sleep(0.01)
        assert passes == 1  # the first pass ran; now it waits to be woken
        wake.set()
        task.cancel()  # in the same step as the wake-up
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done and task.cancelled()

    asyncio.run(scenario())


def test_within_gives_the_result_or_nothing_in_time() -> None:
    async def scenario() -> None:
        async def answer() -> int:
            await asyncio.sleep(0)
            return 42

        assert await within(1.0, answer()) == (True, 42)
        assert await within(0.01, asyncio.sleep(5)) == (False, None)
        queue: asyncio.Queue[int] = asyncio.Queue()
        assert await within(0.01, queue.get()) == (False, None)
        queue.put_nowait(7)  # a get that timed out took nothing
        assert await within(0.01, queue.get()) == (True, 7)

    asyncio.run(scenario())
