"""Claims due jobs, runs their handlers concurrently, and records each outcome.

Handlers are idempotent: a job may run again after a crash or a lost lease, and must then do nothing
twice. Time comes from the gateway's clock, so tests drive the runner with `run_until_idle`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool

from ktwidget.services.context import Gateway
from ktwidget.storage import jobs as repo
from ktwidget.storage.jobs import Job
from ktwidget.worker import owners

log = logging.getLogger("ktwidget.worker")


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class RetryAt:
    at: datetime
    error: str


Outcome = Done | RetryAt
Handler = Callable[[Gateway, Job], Awaitable[Outcome]]

# Unexpected exceptions (a bank that cannot be reached, a database hiccup) are retried with
# exponential backoff, capped, for as long as it takes: giving up would strand a payment with
# its hold neither captured nor released. Every crash is logged as an error for the operator.
CRASH_BACKOFF_BASE = 5
CRASH_BACKOFF_CAP = 600
RELEASE_SWEEP_INTERVAL = 5.0  # seconds between looks for leases held by dead local workers


class JobRunner:
    def __init__(
        self,
        gateway: Gateway,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int = 8,
        lease: timedelta = timedelta(seconds=120),
        poll_interval: float = 0.5,
        owner: str | None = None,
    ) -> None:
        self.gateway = gateway
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        self.lease = lease
        self.poll_interval = poll_interval
        self.owner = owner or owners.owner_id()

    def _claim(self, limit: int) -> list[Job]:
        now = self.gateway.clock.now()
        with self.gateway.db.write() as conn:
            return repo.claim(
                conn,
                kinds=list(self.handlers),
                now=now,
                owner=self.owner,
                lease=self.lease,
                limit=limit,
            )

    def _record(self, job: Job, outcome: Outcome) -> None:
        now = self.gateway.clock.now()
        with self.gateway.db.write() as conn:
            if isinstance(outcome, Done):
                kept = repo.complete(conn, job, now)
            else:
                kept = repo.retry(conn, job, now, outcome.at, outcome.error)
        if not kept:
            log.warning("job_lease_lost", extra={"job_id": job.id, "kind": job.kind})

    async def _run(self, job: Job) -> None:
        try:
            outcome = await self.handlers[job.kind](self.gateway, job)
        except Exception as exc:
            log.exception(
                "job_crashed", extra={"job_id": job.id, "kind": job.kind, "attempts": job.attempts}
            )
            error = f"{type(exc).__name__}: {exc}"
            delay = min(CRASH_BACKOFF_CAP, CRASH_BACKOFF_BASE * 2 ** min(job.attempts - 1, 16))
            outcome = RetryAt(self.gateway.clock.now() + timedelta(seconds=delay), error)
        await run_in_threadpool(self._record, job, outcome)

    def release_dead_leases(self) -> int:
        """Give back job leases held by dead worker processes of this machine; how many.

        A killed worker's jobs are then taken at once instead of when their lease runs out.
        """
        return owners.release_dead_leases(
            self.gateway, self.owner, repo.lease_owners, repo.release_owner, "job_leases_released"
        )

    async def run_once(self) -> int:
        """Run every job due now, up to `concurrency` at a time; the number run."""
        claimed = await run_in_threadpool(self._claim, self.concurrency)
        await asyncio.gather(*(self._run(job) for job in claimed))
        return len(claimed)

    async def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Run rounds until nothing is due (follow-up jobs due now included); the total run."""
        total = 0
        for _ in range(max_rounds):
            ran = await self.run_once()
            if ran == 0:
                return total
            total += ran
        raise RuntimeError("jobs keep falling due: is a handler re-enqueueing itself?")

    async def run(self, stop: asyncio.Event) -> None:
        """Keep `concurrency` jobs in flight until ``stop`` is set; finish those in flight."""
        running: set[asyncio.Task[None]] = set()
        log.info("job_runner_started", extra={"owner": self.owner, "kinds": sorted(self.handlers)})
        stopping = asyncio.ensure_future(stop.wait())
        last_sweep = -RELEASE_SWEEP_INTERVAL
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if loop.time() - last_sweep >= RELEASE_SWEEP_INTERVAL:
                last_sweep = loop.time()
                try:
                    await run_in_threadpool(self.release_dead_leases)
                except Exception:
                    log.exception("job_lease_sweep_failed")
            free = self.concurrency - len(running)
            claimed: list[Job] = []
            if free > 0:
                try:
                    claimed = await run_in_threadpool(self._claim, free)
                except Exception:
                    log.exception("job_claim_failed")
            for job in claimed:
                task = asyncio.create_task(self._run(job))
                running.add(task)
                task.add_done_callback(running.discard)
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)
                continue
            # Sleep until a job finishes (a slot frees), the poll interval passes, or we stop.
            await asyncio.wait(
                {stopping, *running},
                timeout=self.poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
        stopping.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        log.info("job_runner_stopped", extra={"owner": self.owner})
