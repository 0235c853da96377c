"""Merchant notifications (SPEC section 7): written with the final status, sent, retried, logged.

Receivers are real HTTP servers on loopback; time is the injected FakeClock, so the retry schedule
is checked to the second without sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from ktwidget.adapters.clock import FakeClock
from ktwidget.config import Settings
from ktwidget.domain.notification import NotificationFacts, StatusRecord, notification_bytes
from ktwidget.domain.status import ErrorType, Event, Status, StatusError
from ktwidget.notifications import parse_notification
from ktwidget.services import merchants, notifications, payments
from ktwidget.services.context import Gateway
from ktwidget.services.errors import OperatorError
from ktwidget.storage import transactions as tx_repo
from ktwidget.worker.deliveries import DeliveryDispatcher
from tests.integration.notify_support import (
    ANSWERS,
    OK,
    Answer,
    Receiver,
    attempt_rows,
    closed_port_url,
    delivery_rows,
    final_transaction,
    finish,
    new_transaction,
    ok_after,
)

SCHEDULE = "2,5,10"  # shortened through KTWIDGET_NOTIFY_RETRY_SCHEDULE


@pytest.fixture
def gw(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    """The gateway with the retry schedule and the private-address switch taken from the
    environment, as a deployment would set them."""
    monkeypatch.setenv("KTWIDGET_NOTIFY_RETRY_SCHEDULE", SCHEDULE)
    monkeypatch.setenv("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "1")
    env = Settings.from_env()
    return replace(
        gateway,
        settings=replace(
            gateway.settings,
            notify_retry_schedule=env.notify_retry_schedule,
            notify_allow_private=env.notify_allow_private,
        ),
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def merchant(gw: Gateway, url: str | None) -> merchants.Credentials:
    callbacks = {} if url is None else {"callback_post_url": url}
    return merchants.create_merchant(gw, name="Shop", domains=["localhost"], callbacks=callbacks)


def run(gw: Gateway, *rounds: float, timeout: float = 10.0) -> list[int]:
    """Run the dispatcher once, then once more after each clock step; attempts per round."""
    clock = gw.clock
    assert isinstance(clock, FakeClock)

    async def go() -> list[int]:
        sent = []
        async with DeliveryDispatcher(gw, timeout=timeout) as dispatcher:
            sent.append(await dispatcher.run_once())
            for step in rounds:
                clock.advance(step)
                sent.append(await dispatcher.run_once())
        return sent

    return asyncio.run(go())


# --- written with the status change ------------------------------------------------------------


def test_delivery_is_written_in_the_status_change_transaction(gw: Gateway) -> None:
    shop = merchant(gw, "http://127.0.0.1:9/hook")
    tx_id = new_transaction(gw, shop.merchant_id)

    def crash_before_commit() -> None:
        with gw.db.write() as conn:
            tx = tx_repo.get(conn, tx_id)
            assert tx is not None
            assert payments.change(conn, gw, tx, Event.EXPIRED, gw.clock.now())
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        crash_before_commit()
    assert delivery_rows(gw) == []
    finish(gw, tx_id)
    (row,) = delivery_rows(gw)
    assert row.state == "pending"
    assert row.due_at == gw.clock.now()
    assert row.event == "denied"
    assert row.webhook_id.startswith("msg_")


def test_url_is_the_transactions_else_the_merchants_else_nothing(gw: Gateway) -> None:
    shop = merchant(gw, "http://127.0.0.1:9/merchant")
    final_transaction(gw, shop.merchant_id)
    final_transaction(gw, shop.merchant_id, callback_post_url="http://127.0.0.1:9/override")
    silent = merchant(gw, None)
    final_transaction(gw, silent.merchant_id)
    urls = [r.url for r in delivery_rows(gw)]
    assert urls == ["http://127.0.0.1:9/merchant", "http://127.0.0.1:9/override"]


def test_enqueue_happens_once_and_only_for_final_statuses(gw: Gateway) -> None:
    shop = merchant(gw, "http://127.0.0.1:9/hook")
    pending = new_transaction(gw, shop.merchant_id)
    with pytest.raises(ValueError, match="final"), gw.db.write() as conn:
        notifications.enqueue_notification(conn, gw, pending, gw.clock.now())
    finish(gw, pending)
    with gw.db.write() as conn:
        notifications.enqueue_notification(conn, gw, pending, gw.clock.now())
    assert len(delivery_rows(gw)) == 1


def test_body_is_exactly_the_seeds_shape_and_stored_once(gw: Gateway) -> None:
    shop = merchant(gw, "http://127.0.0.1:9/hook")
    tx_id = new_transaction(gw, shop.merchant_id, order_id="1", amount=1050, description=None)
    finish(gw, tx_id, Event.DECLINED)
    with gw.db.read() as conn:
        tx = tx_repo.get(conn, tx_id)
        last = tx_repo.history(conn, tx_id)[-1]
    assert tx is not None
    expected = notification_bytes(
        NotificationFacts(
            merchant_id=shop.merchant_id,
            order_id="1",
            description=None,
            amount=1050,
            transaction_hash=tx.transaction_hash,
            created_at=tx.created_at,
            updated_at=tx.updated_at,
            status=StatusRecord(
                Status.ERROR,
                last.created_at,
                None,
                StatusError(
                    ErrorType.ERROR_PAYMENT, last.error.error_message if last.error else ""
                ),
            ),
        ),
        gw.settings.timezone,
    )
    (row,) = delivery_rows(gw)
    assert bytes(row.body) == expected
    assert b'"amount":10.5' in expected
    assert b'"description":null' in expected
    assert b'+05:00"' in expected


# --- sending ------------------------------------------------------------------------------------


def test_delivered_signed_and_verifiable(gateway: Gateway, receiver: Receiver) -> None:
    clock = FakeClock(datetime.now(UTC))  # the receivers check timestamps against real time
    gw = replace(
        gateway, clock=clock, settings=replace(gateway.settings, notify_allow_private=True)
    )
    shop = merchant(gw, receiver.url())
    tx_id = final_transaction(gw, shop.merchant_id, order_id="A-1", amount=150_050)
    assert run(gw) == [1]
    (got,) = receiver.received
    (row,) = delivery_rows(gw)
    assert got.body == bytes(row.body)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == row.webhook_id
    assert got.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    Webhook(shop.webhook_secret).verify(got.body, got.headers)
    n = parse_notification(
        got.body, got.headers, shop.webhook_secret, expected_order_id="A-1", expected_amount=1500.5
    )
    assert n.status.status == "denied"
    assert row.state == "delivered"
    assert row.delivered_at == clock.now()
    (attempt,) = attempt_rows(gw, row.id)
    assert attempt.accepted
    assert attempt.status_code == 200
    assert attempt.reply_excerpt == '{"status":"ok"}'
    assert attempt.address == f"127.0.0.1:{receiver.port}"
    assert attempt.latency_ms is not None
    assert attempt.error is None
    shown = notifications.deliveries_for_transaction(gw, tx_id)
    assert shown[0]["state"] == "delivered"
    assert shown[0]["attempt_log"][0]["status_code"] == 200


def test_both_signatures_during_a_rotation_grace_period(gateway: Gateway) -> None:
    clock = FakeClock(datetime.now(UTC))
    gw = replace(
        gateway, clock=clock, settings=replace(gateway.settings, notify_allow_private=True)
    )
    with Receiver() as receiver:
        shop = merchant(gw, receiver.url())
        new_secret = merchants.rotate_webhook_secret(gw, shop.merchant_id, grace_seconds=60)
        final_transaction(gw, shop.merchant_id)
        run(gw)
        clock.advance(61)
        final_transaction(gw, shop.merchant_id)
        run(gw)
    during, after = receiver.received
    assert len(during.headers["webhook-signature"].split()) == 2
    Webhook(new_secret).verify(during.body, during.headers)
    Webhook(shop.webhook_secret).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split()) == 1
    assert after.headers["webhook-signature"] == Webhook(new_secret).sign(
        after.headers["webhook-id"],
        datetime.fromtimestamp(int(after.headers["webhook-timestamp"]), UTC),
        after.body.decode(),
    )


WRONG_WAYS = {
    "500": "HTTP 500",
    "fail": '"status": "fail"',
    "html": "text/html",
    "redirect": "redirects are not followed",
    "hang": "no complete reply within 0.3 s",
    "refused": "connection refused",
}


@pytest.mark.parametrize("how", list(WRONG_WAYS))
def test_wrong_answers_are_retried_on_the_schedule_then_failed(gw: Gateway, how: str) -> None:
    with Receiver(ANSWERS.get(how, OK)) as receiver:
        url = closed_port_url() if how == "refused" else receiver.url()
        shop = merchant(gw, url)
        final_transaction(gw, shop.merchant_id)
        start = gw.clock.now()
        # Due after 2 s, then 5 s, then 10 s after the previous attempt; never a moment early.
        sent = run(gw, 1.999, 0.001, 4.999, 0.001, 9.999, 0.001, 3600, timeout=0.3)
    assert sent == [1, 0, 1, 0, 1, 0, 1, 0]
    (row,) = delivery_rows(gw)
    assert row.state == "failed"
    assert row.due_at is None
    attempts = attempt_rows(gw, row.id)
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    assert [a.started_at - start for a in attempts] == [timedelta(seconds=s) for s in (0, 2, 7, 17)]
    for a in attempts:
        assert not a.accepted
        assert WRONG_WAYS[how] in a.error, a.error
    assert row.last_error == attempts[-1].error
    if how == "refused":
        assert receiver.received == []
        return
    assert len(receiver.received) == 4
    assert {r.path for r in receiver.received} == {"/hook"}  # the redirect was not followed
    assert {r.headers["webhook-id"] for r in receiver.received} == {row.webhook_id}
    assert {r.body for r in receiver.received} == {bytes(row.body)}
    if how in ("500", "fail", "html", "redirect"):
        assert all(a.status_code is not None for a in attempts)
        assert attempts[0].reply_excerpt is not None or how == "redirect"
    else:
        assert all(a.status_code is None for a in attempts)


def test_a_receiver_that_answers_well_after_the_third_attempt_ends_delivered(gw: Gateway) -> None:
    with Receiver(ok_after(3)) as receiver:
        shop = merchant(gw, receiver.url())
        final_transaction(gw, shop.merchant_id)
        assert run(gw, 2, 5, 10, 3600) == [1, 1, 1, 1, 0]
    (row,) = delivery_rows(gw)
    assert row.state == "delivered"
    assert [a.accepted for a in attempt_rows(gw, row.id)] == [False, False, False, True]
    assert len(receiver.received) == 4


def test_the_default_schedule_is_the_seeds(gateway: Gateway) -> None:
    gw = replace(gateway, settings=replace(gateway.settings, notify_allow_private=True))
    shop = merchant(gw, closed_port_url())
    final_transaction(gw, shop.merchant_id)
    rounds = [x for step in (15, 60, 300, 600, 1800, 3600) for x in (step - 1, 1)]
    sent = run(gw, *rounds)
    assert sent == [1] + [0, 1] * 6
    (row,) = delivery_rows(gw)
    assert row.state == "failed"
    assert len(attempt_rows(gw, row.id)) == 7


def test_many_deliveries_to_one_endpoint_all_arrive(gw: Gateway, receiver: Receiver) -> None:
    shop = merchant(gw, receiver.url())
    for _ in range(30):
        final_transaction(gw, shop.merchant_id)

    async def go() -> int:
        async with DeliveryDispatcher(gw) as dispatcher:
            return await dispatcher.run_until_idle()

    assert asyncio.run(go()) == 30
    assert {r.state for r in delivery_rows(gw)} == {"delivered"}
    assert sorted(receiver.ids()) == sorted(r.webhook_id for r in delivery_rows(gw))
    # Each arrived once, and the endpoint never had more than per_endpoint in flight.
    assert max(receiver.max_in_flight_per_id.values()) == 1


# --- the delivery log and resends ---------------------------------------------------------------


def test_resend_keeps_the_webhook_id_and_follows_the_same_rules(gw: Gateway) -> None:
    healthy = {"now": False}

    def behaviour(_path: str, _count: int) -> Answer:
        return OK if healthy["now"] else ANSWERS["500"]

    with Receiver(behaviour) as receiver:
        shop = merchant(gw, receiver.url())
        final_transaction(gw, shop.merchant_id)
        assert run(gw, 2, 5, 10) == [1, 1, 1, 1]
        (row,) = delivery_rows(gw)
        assert row.state == "failed"
        assert [
            d["delivery_id"]
            for d in notifications.list_deliveries(gw, notifications.ListFilter(state="failed"))
        ] == [row.id]

        # Resent while the endpoint is still broken: the whole schedule again, then failed.
        shown = notifications.resend(gw, row.webhook_id)
        assert shown["state"] == "pending"
        assert shown["attempts"] == 0
        assert run(gw, 1.999, 0.001, 5, 10, 3600) == [1, 0, 1, 1, 1, 0]
        assert delivery_rows(gw)[0].state == "failed"

        # The endpoint recovers; a resend delivers with the same webhook-id.
        healthy["now"] = True
        notifications.resend(gw, str(row.id))
        assert run(gw) == [1]
    (after,) = delivery_rows(gw)
    assert after.state == "delivered"
    assert after.resends == 2
    assert after.webhook_id == row.webhook_id
    assert {r.headers["webhook-id"] for r in receiver.received} == {row.webhook_id}
    assert [a.number for a in attempt_rows(gw, row.id)] == list(range(1, 10))
    shown = notifications.show_delivery(gw, row.webhook_id)
    assert len(shown["attempt_log"]) == 9
    assert shown["attempt_log"][-1]["accepted"] is True
    assert shown["body"] == bytes(row.body).decode()


def test_resend_refuses_a_delivery_in_flight_and_unknown_refs(gw: Gateway) -> None:
    shop = merchant(gw, "http://127.0.0.1:9/hook")
    final_transaction(gw, shop.merchant_id)
    (row,) = delivery_rows(gw)
    with gw.db.write() as conn:
        from ktwidget.storage import deliveries

        claim = deliveries.claim(
            conn,
            now=gw.clock.now(),
            owner="someone",
            lease=timedelta(seconds=30),
            limit=1,
            admit=lambda _e: True,
        )
    assert len(claim.claimed) == 1
    with pytest.raises(OperatorError, match="being sent"):
        notifications.resend(gw, row.webhook_id)
    with pytest.raises(OperatorError, match="no delivery"):
        notifications.resend(gw, "msg_nothing")
    with pytest.raises(OperatorError, match="no delivery"):
        notifications.show_delivery(gw, "12345")
