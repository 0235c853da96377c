"""Crash safety and scale-out with real worker processes (`ktwidget worker`), killed with SIGKILL.

200 transactions are driven to final statuses (through the payment flow's status change, which
writes the notification in the same database transaction) while worker processes are killed and
restarted. At the end every notification has reached its merchant at least once, none reached
another merchant's URL, and none was in flight twice at once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import IO

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from ktwidget.adapters.clock import SystemClock
from ktwidget.adapters.crypto import MasterKey
from ktwidget.services import merchants
from ktwidget.services.context import Gateway
from ktwidget.storage.schema import deliveries
from tests.conftest import PG_URL
from tests.integration.notify_support import (
    OK,
    Answer,
    Receiver,
    delivery_rows,
    final_transactions,
    receivers,
)

TOTAL = 200
MERCHANTS = 4
BATCH = 10
KTWIDGET = str(Path(sys.executable).parent / "ktwidget")


class Workers:
    """`ktwidget worker` processes, started, SIGKILLed and restarted at will."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.files: list[IO[bytes]] = []
        self.kills = 0

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.files)}.log").open("wb")
        self.files.append(log)
        proc = subprocess.Popen(
            [KTWIDGET, "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        return proc

    def live(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def kill_one(self, rng: random.Random) -> None:
        victim = rng.choice(self.live())
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)  # reaped: its PID is gone, so its leases may be given back
        self.kills += 1
        self.start()

    def stop(self) -> None:
        for p in self.live():
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in self.files:
            f.close()

    def tail(self) -> str:
        return "\n".join(
            f.name + ":\n" + Path(f.name).read_text(errors="replace")[-2000:] for f in self.files
        )


def delivered_count(gw: Gateway) -> int:
    with gw.db.read() as conn:
        return int(
            conn.execute(select(func.count()).where(deliveries.c.state == "delivered")).scalar_one()
        )


def scenario(
    gateway: Gateway,
    database_url: str,
    tmp_path: Path,
    *,
    workers: int,
    kills: int,
    answer: Answer = OK,
) -> None:
    key = Fernet.generate_key().decode()
    gw = replace(
        gateway,
        master_key=MasterKey([key]),
        clock=SystemClock(),
        settings=replace(gateway.settings, notify_allow_private=True),
    )
    env = {
        **os.environ,
        "KTWIDGET_DATABASE_URL": database_url,
        "KTWIDGET_SECRET_KEY": key,
        "KTWIDGET_DATA_DIR": str(tmp_path),
        "KTWIDGET_NOTIFY_ALLOW_PRIVATE": "1",
        "KTWIDGET_LOG_LEVEL": "WARNING",
    }
    rng = random.Random(os.getpid())
    with receivers(*[answer] * MERCHANTS) as hooks:
        shops = [
            merchants.create_merchant(
                gw,
                name=f"Shop {i}",
                domains=["localhost"],
                callbacks={"callback_post_url": hook.url(f"/shop-{i}")},
            ).merchant_id
            for i, hook in enumerate(hooks)
        ]
        pool = Workers(env, tmp_path)
        try:
            for _ in range(workers):
                pool.start()

            def produce() -> None:
                for n in range(TOTAL // BATCH):
                    final_transactions(gw, shops[n % MERCHANTS], BATCH)
                    time.sleep(0.2)

            producer = threading.Thread(target=produce)
            producer.start()
            for _ in range(kills):
                # Once the workers are delivering, kill one at a random moment.
                seen = delivered_count(gw)
                deadline = time.monotonic() + 10
                while delivered_count(gw) == seen and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.3))
                pool.kill_one(rng)
            producer.join()
            deadline = time.monotonic() + 60
            while delivered_count(gw) < TOTAL and time.monotonic() < deadline:
                time.sleep(0.2)
            assert delivered_count(gw) == TOTAL, pool.tail()
        finally:
            pool.stop()

        check(gw, shops, hooks, pool.kills)


def check(gw: Gateway, shops: list[int], hooks: list[Receiver], kills: int) -> None:
    rows = delivery_rows(gw)
    assert len(rows) == TOTAL
    assert {r.state for r in rows} == {"delivered"}
    arrivals: Counter[str] = Counter()
    for merchant_id, hook in zip(shops, hooks, strict=True):
        mine = {r.webhook_id for r in rows if r.merchant_id == merchant_id}
        got = hook.ids()
        # Every one of this merchant's notifications arrived here; nobody else's did.
        assert set(got) == mine
        assert {b["merchant_id"] for b in hook.bodies()} == {merchant_id}
        assert {r.path for r in hook.received} == {f"/shop-{shops.index(merchant_id)}"}
        arrivals.update(got)
        # Never in flight twice at once.
        assert set(hook.max_in_flight_per_id.values()) == {1}
    repeated = sum(n - 1 for n in arrivals.values() if n > 1)
    print(
        json.dumps(
            {
                "notifications": TOTAL,
                "kills": kills,
                "arrived_more_than_once": sum(1 for n in arrivals.values() if n > 1),
                "extra_arrivals": repeated,
                "cut_off_mid_request": sum(h.broken for h in hooks),
            }
        )
    )


def test_crash_safety_sigkill_and_restart(
    gateway: Gateway, database_url: str, tmp_path: Path
) -> None:
    # Receivers take 20 ms to answer, so kills land while deliveries are in flight. One worker:
    # its replacement starts long after any request of the killed one has ended.
    scenario(gateway, database_url, tmp_path, workers=1, kills=5, answer=Answer(delay=0.02))


@pytest.mark.skipif(not PG_URL, reason="scale-out runs on PostgreSQL (KTWIDGET_TEST_DATABASE_URL)")
def test_scale_out_three_workers_on_postgresql(
    gateway: Gateway, database_url: str, tmp_path: Path
) -> None:
    # Receivers answer at once: a request of a killed worker ends long before a live worker
    # can have claimed its delivery, so overlaps at the receiver would be real double sends.
    scenario(gateway, database_url, tmp_path, workers=3, kills=4)
