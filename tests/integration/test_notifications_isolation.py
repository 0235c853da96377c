"""Isolation: a slow or dead endpoint never delays deliveries to the others (SPEC section 7).

Real time here: what is measured is how soon healthy endpoints hear from the dispatcher while half
of the endpoints hang with a backlog larger than all of the dispatcher's slots.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from ktwidget.adapters.clock import SystemClock
from ktwidget.services import merchants
from ktwidget.services.context import Gateway
from ktwidget.worker.deliveries import DeliveryDispatcher
from tests.integration.notify_support import (
    ANSWERS,
    OK,
    delivery_rows,
    final_transaction,
    final_transactions,
    receivers,
)

ENDPOINTS = 6  # of each kind
BACKLOG = 20  # per hanging endpoint: 120 in all, more than the dispatcher's 32 slots
FRESH = 4  # per healthy endpoint, falling due while the hanging ones are in flight


def test_healthy_endpoints_start_within_a_second_while_half_hang(gateway: Gateway) -> None:
    gw = replace(
        gateway,
        clock=SystemClock(),
        settings=replace(gateway.settings, notify_allow_private=True),
    )
    with receivers(*[ANSWERS["hang"]] * ENDPOINTS, *[OK] * ENDPOINTS) as started:
        hanging, healthy = started[:ENDPOINTS], started[ENDPOINTS:]
        shops = [
            merchants.create_merchant(
                gw,
                name=f"Shop {i}",
                domains=["localhost"],
                callbacks={"callback_post_url": r.url()},
            ).merchant_id
            for i, r in enumerate(started)
        ]
        # The backlog for the hanging endpoints falls due first.
        for merchant_id in shops[:ENDPOINTS]:
            final_transactions(gw, merchant_id, BACKLOG)

        async def scenario() -> None:
            stop = asyncio.Event()
            dispatcher = DeliveryDispatcher(gw, concurrency=32, timeout=10)
            running = asyncio.create_task(dispatcher.run(stop))
            await asyncio.sleep(0.5)  # the hanging endpoints now hold their slots
            for _ in range(FRESH):
                for merchant_id in shops[ENDPOINTS:]:
                    await asyncio.to_thread(final_transaction, gw, merchant_id)
                await asyncio.sleep(0.2)
            for _ in range(100):  # until the healthy endpoints have everything, at most 5 s
                if sum(len(r.received) for r in healthy) >= FRESH * ENDPOINTS:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            for r in hanging:
                r.release()
            await asyncio.wait_for(running, timeout=15)

        asyncio.run(scenario())

    rows = delivery_rows(gw)
    due = {r.webhook_id: r.created_at.timestamp() for r in rows}
    delays = []
    for r in healthy:
        assert len(r.received) == FRESH
        delays += [got.arrived - due[got.headers["webhook-id"]] for got in r.received]
    print(f"healthy deliveries started {max(delays):.3f} s after falling due at worst")
    assert max(delays) <= 1.0, sorted(delays)
    # A hanging endpoint held one slot, however long its backlog.
    assert [r.max_in_flight for r in hanging] == [1] * ENDPOINTS
    healthy_ids = {got.headers["webhook-id"] for r in healthy for got in r.received}
    assert {r.state for r in rows if r.webhook_id in healthy_ids} == {"delivered"}
