"""The outbox's job runner: leases, and a dead worker's jobs taken over at once."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import anyio

from ktwidget.adapters.clock import FakeClock
from ktwidget.services.context import Gateway
from ktwidget.storage import jobs as repo
from ktwidget.storage.jobs import Job
from ktwidget.worker import owners
from ktwidget.worker.runner import Done, JobRunner, Outcome


def enqueue(gateway: Gateway, clock: FakeClock, key: str) -> None:
    with gateway.db.write() as conn:
        repo.enqueue(
            conn, kind="capture", transaction_id=None, dedupe_key=key, due_at=clock.now(),
            now=clock.now(),
        )  # fmt: skip


def test_a_claimed_job_is_not_claimed_again_until_its_lease_runs_out(
    gateway: Gateway, clock: FakeClock
) -> None:
    enqueue(gateway, clock, "capture:a")
    with gateway.db.write() as conn:
        first = repo.claim(
            conn,
            kinds=["capture"],
            now=clock.now(),
            owner="w1",
            lease=timedelta(seconds=60),
            limit=5,
        )
        second = repo.claim(
            conn,
            kinds=["capture"],
            now=clock.now(),
            owner="w2",
            lease=timedelta(seconds=60),
            limit=5,
        )
    assert [j.dedupe_key for j in first] == ["capture:a"]
    assert second == []
    clock.advance(seconds=61)
    with gateway.db.write() as conn:
        third = repo.claim(
            conn,
            kinds=["capture"],
            now=clock.now(),
            owner="w2",
            lease=timedelta(seconds=60),
            limit=5,
        )
        # The first worker's lease is gone: it may no longer finish the job.
        assert not repo.complete(conn, first[0], clock.now())
        assert repo.complete(conn, third[0], clock.now())


def test_a_dead_local_workers_leases_are_given_back_at_once(
    gateway: Gateway, clock: FakeClock
) -> None:
    enqueue(gateway, clock, "capture:b")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_owner = f"{owners.local_prefix()}{int(dead.stdout)}:deadbeef"
    with gateway.db.write() as conn:
        repo.claim(
            conn, kinds=["capture"], now=clock.now(), owner=dead_owner,
            lease=timedelta(seconds=120), limit=5,
        )  # fmt: skip
    ran: list[str] = []

    async def handler(gw: Gateway, job: Job) -> Outcome:
        ran.append(job.dedupe_key)
        return Done()

    runner = JobRunner(gateway, {"capture": handler})
    assert anyio.run(runner.run_until_idle) == 0  # still leased
    assert runner.release_dead_leases() == 1
    assert anyio.run(runner.run_until_idle) == 1
    assert ran == ["capture:b"]
