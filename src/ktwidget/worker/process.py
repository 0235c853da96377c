"""The worker process: the outbox's job runner and the notification dispatcher, side by side.

`ktwidget worker` runs it alone; `ktwidget serve` runs it inside the web server's process unless
told not to. Any number of workers may run against PostgreSQL: claims use leases and
``FOR UPDATE SKIP LOCKED``, so a job is never in flight in two workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable

from ktwidget.services.context import Gateway
from ktwidget.services.payments import HANDLERS
from ktwidget.worker.runner import JobRunner

log = logging.getLogger("ktwidget.worker")

Loop = Callable[[asyncio.Event], Awaitable[None]]


def loops(gw: Gateway) -> list[Loop]:
    from ktwidget.worker.deliveries import DeliveryDispatcher

    runner = JobRunner(gw, HANDLERS)
    dispatcher = DeliveryDispatcher(gw)
    return [runner.run, dispatcher.run]


async def run_worker(gw: Gateway, stop: asyncio.Event) -> None:
    """Run every loop until ``stop`` is set; a loop that crashes is logged and restarted."""

    async def guarded(loop: Loop) -> None:
        while not stop.is_set():
            try:
                await loop(stop)
            except Exception:
                log.exception("worker_loop_crashed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1)

    await asyncio.gather(*(guarded(loop) for loop in loops(gw)))


def main(gw: Gateway) -> None:
    """`ktwidget worker`: run until SIGINT or SIGTERM, finishing the jobs in flight."""

    # The database work runs in threads beside the event loop; a thread back from a round trip
    # waits up to the switch interval for the GIL while the loop is busy sending.
    sys.setswitchinterval(0.0005)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker_started")
        await run_worker(gw, stop)
        log.info("worker_stopped")

    asyncio.run(run())
