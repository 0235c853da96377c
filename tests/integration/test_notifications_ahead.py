"""Deliveries claimed ahead of their slots never wait on a lease that could run out.

Real time here, as in the isolation test: what matters is what the dispatcher does while requests
are in flight. A claimed-ahead delivery is given back to the database (its lease released) when
its endpoint turns slow, when it could no longer finish within its lease, or when the dispatcher
stops; then any worker may claim it, and it is still delivered once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ktwidget.adapters.clock import SystemClock
from ktwidget.services import merchants
from ktwidget.services.context import Gateway
from ktwidget.storage import deliveries as repo
from ktwidget.storage.schema import deliveries
from ktwidget.worker.deliveries import DeliveryDispatcher
from tests.integration.notify_support import (
    ANSWERS,
    OK,
    Answer,
    delivery_rows,
    final_transactions,
    receivers,
)


@pytest.fixture
def gw(gateway: Gateway) -> Gateway:
    return replace(
        gateway,
        clock=SystemClock(),
        settings=replace(gateway.settings, notify_allow_private=True),
    )


def shop(gw: Gateway, url: str) -> int:
    return merchants.create_merchant(
        gw, name="Shop", domains=["localhost"], callbacks={"callback_post_url": url}
    ).merchant_id


def leased(gw: Gateway) -> int:
    with gw.db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    deliveries.c.state == "pending", deliveries.c.lease_owner.is_not(None)
                )
            ).scalar_one()
        )


def test_an_endpoint_that_turns_slow_gives_back_what_was_claimed_ahead(gw: Gateway) -> None:
    # Quick for the first eight requests (so it earns its slots and a queue), then it hangs.
    def turns_slow(_path: str, count: int) -> Answer:
        return OK if count < 8 else ANSWERS["hang"]

    with receivers(turns_slow) as (receiver,):
        final_transactions(gw, shop(gw, receiver.url()), 40)

        async def scenario() -> tuple[int, int]:
            stop = asyncio.Event()
            dispatcher = DeliveryDispatcher(
                gw, per_endpoint=4, ahead=8, timeout=5, slow_after=0.3, flush_interval=0.01
            )
            running = asyncio.create_task(dispatcher.run(stop))
            for _ in range(100):  # the endpoint hangs with its slots taken
                await asyncio.sleep(0.05)
                if receiver.in_flight >= 1 and len(receiver.received) >= 8:
                    break
            await asyncio.sleep(0.6)  # past slow_after: demoted, its queue written back
            held, hanging = await asyncio.to_thread(leased, gw), receiver.in_flight
            stop.set()
            receiver.release()
            await asyncio.wait_for(running, timeout=15)
            return held, hanging

        held, hanging = asyncio.run(scenario())

    # Only the requests actually hanging keep their leases; the queue went back to the database.
    assert 1 <= hanging <= 4
    assert held == hanging
    assert leased(gw) == 0  # and on stop, nothing stays leased
    assert len(receiver.received) == 8 + hanging


def test_a_queued_delivery_that_could_outlive_its_lease_is_given_back_and_sent_later(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    given_back: list[int] = []
    release = repo.release

    def counting(conn, claimed):  # type: ignore[no-untyped-def]
        given_back.extend(c.id for c in claimed)
        release(conn, claimed)

    monkeypatch.setattr(repo, "release", counting)
    # Each answer takes 0.3 s: quick enough to queue for (slow_after 0.5 s), but one slot and a
    # lease of 2.5 s with a 1 s timeout leave a queued delivery 0.5 s to start.
    with receivers(replace(OK, delay=0.3)) as (receiver,):
        final_transactions(gw, shop(gw, receiver.url()), 6)

        async def scenario() -> None:
            stop = asyncio.Event()
            dispatcher = DeliveryDispatcher(
                gw,
                per_endpoint=1,
                ahead=4,
                timeout=1,
                lease=timedelta(seconds=2.5),
                slow_after=0.5,
                poll_interval=0.1,
                flush_interval=0.01,
            )
            running = asyncio.create_task(dispatcher.run(stop))
            deadline = time.monotonic() + 20
            while len(receiver.received) < 6 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(running, timeout=15)

        asyncio.run(scenario())

    assert given_back, "a delivery waited in the queue past the point its lease allowed"
    assert Counter(receiver.ids()).most_common(1)[0][1] == 1  # each arrived once
    assert len(receiver.ids()) == 6
    assert {r.state for r in delivery_rows(gw)} == {"delivered"}


def test_giving_back_an_old_claim_leaves_a_newer_lease_alone(gateway: Gateway) -> None:
    # A claimed-ahead copy whose lease ran out, claimed again by the same worker: giving the old
    # copy back must not free the delivery while the new claim sends it.
    gw = replace(gateway, settings=replace(gateway.settings, notify_allow_private=True))
    final_transactions(gw, shop(gw, "http://127.0.0.1:9/hook"), 1)
    clock = gw.clock

    def claim() -> list[repo.Claimed]:
        with gw.db.write() as conn:
            return repo.claim(
                conn,
                now=clock.now(),
                owner="worker-1",
                lease=timedelta(seconds=30),
                limit=1,
                admit=lambda _e: True,
            ).claimed

    (old,) = claim()
    clock.advance(31)  # type: ignore[attr-defined]
    (new,) = claim()
    assert new.id == old.id
    assert new.lease_until != old.lease_until
    with gw.db.write() as conn:
        repo.release(conn, [old])
    assert leased(gw) == 1
    with gw.db.write() as conn:
        repo.release(conn, [new])
    assert leased(gw) == 0
