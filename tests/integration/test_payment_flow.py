"""The payment lifecycle of SPEC section 5 over HTTP: widget API, sandbox bank, receipt, worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from ktwidget.adapters.clock import FakeClock
from ktwidget.domain.model import Service
from ktwidget.sandbox import customer
from ktwidget.sandbox.cards import CardForm
from ktwidget.sandbox.customer import Card
from ktwidget.services import catalog
from ktwidget.services.context import Gateway
from ktwidget.services.merchants import Credentials
from ktwidget.services.payments import HANDLERS
from ktwidget.services.transactions import get_transaction
from ktwidget.worker.runner import JobRunner
from tests.conftest import LiveServer
from tests.support import envelope

ORIGIN = "http://localhost:3000"


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def create(api: httpx.Client, shop: Credentials, **params: Any) -> dict[str, Any]:
    body = {"order_id": "order-1", "amount": 1500, "type": "ecom", **params}
    reply = api.post(
        "/api/v1/widget/transactions",
        json=envelope(shop.app_id, shop.app_key, body),
        headers={"Origin": ORIGIN},
    )
    assert reply.status_code == 201, reply.text
    data: dict[str, Any] = reply.json()
    return data


def status_of(gw: Gateway, tx_hash: str) -> tuple[str, str | None]:
    view = get_transaction(gw, tx_hash)
    last = view.history[-1]
    return view.transaction.status.value, None if last.error is None else last.error.error_type


def history(gw: Gateway, tx_hash: str) -> list[str]:
    return [h.status.value for h in get_transaction(gw, tx_hash).history]


def run_jobs(gw: Gateway) -> int:
    async def go() -> int:
        return await JobRunner(gw, HANDLERS).run_until_idle()

    return anyio.run(go)


def clear(gw: Gateway, clock: FakeClock) -> None:
    """Let a clearing interval pass and run what fell due."""
    clock.advance(gw.settings.clearing_interval + 1)
    run_jobs(gw)


def test_ecom_approved_is_held_then_captured_at_clearing(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway, clock: FakeClock
) -> None:
    created = create(api, shop, description="Книга")
    receipt = customer.pay(browser, created["payment_url"] + f"?origin={ORIGIN}")
    assert receipt.status_code == 200
    assert "/receipt/" in receipt.url.path
    assert "Оплачено" in receipt.text
    assert "411111******1111" in receipt.text
    assert status_of(gateway, created["transaction_hash"]) == ("success", None)
    assert receipt.headers["cache-control"] == "no-store"
    assert "frame-ancestors https://shop.example:*" in receipt.headers["content-security-policy"]
    clear(gateway, clock)
    assert history(gateway, created["transaction_hash"]) == [
        "pending", "authorized", "success", "completed"
    ]  # fmt: skip
    bank = gateway.sandbox_bank().get(created["transaction_hash"])
    assert bank is not None
    assert bank.state == "captured"


def test_declined_card_ends_in_error_payment(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    created = create(api, shop)
    receipt = customer.pay(browser, created["payment_url"], Card(customer.DECLINED))
    assert status_of(gateway, created["transaction_hash"]) == ("error", "ERROR_PAYMENT")
    assert "Ошибка оплаты" in receipt.text
    assert "Card declined" in receipt.text


def test_insufficient_funds(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    created = create(api, shop)
    customer.pay(browser, created["payment_url"], Card(customer.INSUFFICIENT_FUNDS))
    assert status_of(gateway, created["transaction_hash"]) == ("error", "ERROR_PAYMENT")


def test_three_refused_card_entries_end_in_error_input(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    created = create(api, shop)
    page = customer.open_card_page(browser, created["payment_url"])
    bad = Card("4111 1111 1111 1112")
    page = customer.submit_card(browser, page, bad)
    assert page.status_code == 422
    assert "Неверный номер карты" in page.text
    page = customer.submit_card(browser, page, Card(expiry="01/20"))
    assert "Срок действия карты истёк" in page.text
    assert status_of(gateway, created["transaction_hash"]) == ("pending", None)
    receipt = customer.submit_card(browser, page, Card(cvc="12"))
    assert "/receipt/" in receipt.url.path
    assert status_of(gateway, created["transaction_hash"]) == ("error", "ERROR_INPUT")


def test_a_corrected_typo_still_pays(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    created = create(api, shop)
    page = customer.open_card_page(browser, created["payment_url"])
    page = customer.submit_card(browser, page, Card("4111 1111 1111 1112"))
    assert 'value="4111 1111 1111 1112"' in page.text  # given back for correction
    assert 'name="cvc"' in page.text
    receipt = customer.submit_card(browser, page, Card())
    assert "/receipt/" in receipt.url.path
    assert status_of(gateway, created["transaction_hash"]) == ("success", None)


def test_3ds_right_code_pays_and_three_wrong_codes_fail(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    good = create(api, shop, order_id="3ds-good")
    customer.pay(browser, good["payment_url"], Card(customer.CHALLENGE))
    assert status_of(gateway, good["transaction_hash"]) == ("success", None)

    bad = create(api, shop, order_id="3ds-bad")
    page = customer.submit_card(
        browser, customer.open_card_page(browser, bad["payment_url"]), Card(customer.CHALLENGE)
    )
    for _ in range(2):
        page = customer.submit_code(browser, page, "000000")
        assert "Неверный код" in page.text
    receipt = customer.submit_code(browser, page, "000000")
    assert "/receipt/" in receipt.url.path
    assert status_of(gateway, bad["transaction_hash"]) == ("error", "ERROR_PAYMENT")


def test_capture_failure_releases_the_hold_and_ends_in_error_system(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway, clock: FakeClock
) -> None:
    created = create(api, shop)
    customer.pay(browser, created["payment_url"], Card(customer.CAPTURE_FAILS))
    for _ in range(3):
        clear(gateway, clock)
    assert status_of(gateway, created["transaction_hash"]) == ("error", "ERROR_SYSTEM")
    bank = gateway.sandbox_bank().get(created["transaction_hash"])
    assert bank is not None
    assert bank.state == "voided"


UTILITIES = Service(
    id=7, name="Utilities", category="utilities", pattern=r"^\d{7}$", hint="7 digits",
    min_amount=100_00, max_amount=500_000_00, provider="sandbox", active=True,
)  # fmt: skip


def test_service_is_credited_after_the_provider_delay_then_cleared(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway, clock: FakeClock
) -> None:
    catalog.add_service(gateway, UTILITIES)
    created = create(
        api, shop, type="service", service={"service_id": 7, "contract_value": "1111111"}
    )
    receipt = customer.pay(browser, created["payment_url"])
    assert status_of(gateway, created["transaction_hash"]) == ("authorized", None)
    assert "Зачисляем" in receipt.text
    assert '<meta http-equiv="refresh"' in receipt.text
    run_jobs(gateway)
    assert status_of(gateway, created["transaction_hash"]) == ("authorized", None)
    clock.advance(gateway.settings.sandbox_credit_delay)
    run_jobs(gateway)
    assert status_of(gateway, created["transaction_hash"]) == ("success", None)
    clear(gateway, clock)
    assert status_of(gateway, created["transaction_hash"]) == ("completed", None)
    page = browser.get(f"/receipt/{created['transaction_hash']}?lang=en")
    assert "Utilities" in page.text
    assert "1111111" in page.text
    assert "Test payment" in page.text


def test_service_refused_is_denied_after_the_hold_is_released(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    catalog.add_service(gateway, UTILITIES)
    created = create(
        api, shop, type="service", service={"service_id": 7, "contract_value": "1234000"}
    )
    customer.pay(browser, created["payment_url"])
    run_jobs(gateway)
    assert status_of(gateway, created["transaction_hash"]) == ("denied", "ERROR_PAYMENT")
    bank = gateway.sandbox_bank().get(created["transaction_hash"])
    assert bank is not None
    assert bank.state == "voided"


def test_provider_unavailable_is_retried_with_backoff_then_given_up(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway, clock: FakeClock
) -> None:
    catalog.add_service(gateway, UTILITIES)
    flaky = create(
        api,
        shop,
        order_id="flaky",
        type="service",
        service={"service_id": 7, "contract_value": "1234998"},
    )
    dead = create(
        api,
        shop,
        order_id="dead",
        type="service",
        service={"service_id": 7, "contract_value": "1234999"},
    )
    customer.pay(browser, flaky["payment_url"])
    customer.pay(browser, dead["payment_url"])
    for _ in range(12):
        run_jobs(gateway)
        clock.advance(seconds=301)
    assert status_of(gateway, flaky["transaction_hash"])[0] in ("success", "completed")
    assert status_of(gateway, dead["transaction_hash"]) == ("error", "ERROR_SYSTEM")
    bank = gateway.sandbox_bank().get(dead["transaction_hash"])
    assert bank is not None
    assert bank.state == "voided"


def test_abandoned_payment_expires_to_denied_and_the_bank_page_closes(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway, clock: FakeClock
) -> None:
    created = create(api, shop)
    page = customer.open_card_page(browser, created["payment_url"])
    assert run_jobs(gateway) == 0
    clock.advance(seconds=gateway.settings.payment_ttl)
    assert run_jobs(gateway) == 1
    assert status_of(gateway, created["transaction_hash"]) == ("denied", "ERROR_PAYMENT")
    late = customer.submit_card(browser, page, Card())
    assert late.status_code == 410
    assert browser.get(created["payment_url"], follow_redirects=True).url.path.startswith(
        "/receipt/"
    )


def test_the_bank_result_arriving_twice_changes_nothing(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    created = create(api, shop)
    page = customer.open_card_page(browser, created["payment_url"])
    reply = browser.post(str(page.url), data=Card().form())  # not following: see the redirect
    back = reply.headers["location"]
    browser.get(back)
    browser.get(back)
    bank = gateway.sandbox_bank()
    order = bank.get(created["transaction_hash"])
    assert order is not None
    body, sig = bank.result_message(order)
    again = browser.post(
        "/api/v1/acquirers/sandbox/results", content=body, headers={"X-Signature": sig}
    )
    assert again.json() == {"status": "ok"}
    forged = browser.post(
        "/api/v1/acquirers/sandbox/results", content=body, headers={"X-Signature": "0" * 64}
    )
    assert forged.status_code == 400
    assert history(gateway, created["transaction_hash"]) == ["pending", "authorized", "success"]


def test_continue_leads_to_the_merchants_urls_or_the_default_pages(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    ok = create(api, shop, order_id="ok", callback_success_url="https://shop.example/thanks")
    page = customer.pay(browser, ok["payment_url"])
    assert 'href="https://shop.example/thanks"' in page.text
    failed = create(api, shop, order_id="failed")
    page = customer.pay(browser, failed["payment_url"], Card(customer.DECLINED))
    default = f"/pay/{failed['transaction_hash']}/failed"
    assert default in page.text
    assert "Оплата не прошла" in browser.get(default).text


def test_card_numbers_never_reach_the_database(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway, db: Any
) -> None:
    from sqlalchemy import text

    from ktwidget.storage.schema import metadata

    created = create(api, shop)
    customer.pay(browser, created["payment_url"], Card("4111111111111111", cvc="987"))
    with db.read() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(text(f"SELECT * FROM {table.name}")):  # noqa: S608
                dump = " ".join(str(v) for v in row)
                assert "4111111111111111" not in dump
                assert "987" not in dump.replace(created["transaction_hash"], "")


def test_pages_are_unknown_for_a_wrong_hash(browser: httpx.Client) -> None:
    page = browser.get("/receipt/" + "0" * 40)
    assert page.status_code == 404
    assert "Платёж не найден" in page.text
    assert browser.get("/sandbox-bank/orders/nope").status_code == 410


def test_a_hold_whose_result_was_lost_is_released_at_expiry(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway, clock: FakeClock
) -> None:
    created = create(api, shop)
    customer.open_card_page(browser, created["payment_url"])
    bank = gateway.sandbox_bank()
    # The customer pays at the bank, but the bank's result never reaches the gateway.
    step = bank.submit_card(
        created["transaction_hash"],
        CardForm("4111111111111111", "12/30", "123", "A B"),
        clock.now(),
    )
    assert step.order.state == "held"
    clock.advance(seconds=gateway.settings.payment_ttl)
    run_jobs(gateway)
    assert status_of(gateway, created["transaction_hash"]) == ("denied", "ERROR_PAYMENT")
    order = bank.get(created["transaction_hash"])
    assert order is not None
    assert order.state == "voided"
    # The lost result turns up late: the payment stays denied and nothing is charged.
    body, sig = bank.result_message(order)
    late = browser.post(
        "/api/v1/acquirers/sandbox/results", content=body, headers={"X-Signature": sig}
    )
    assert late.status_code == 200
    assert status_of(gateway, created["transaction_hash"]) == ("denied", "ERROR_PAYMENT")
    assert gateway.sandbox_bank().capture(created["transaction_hash"], clock.now()) is False


def test_odd_input_at_the_bank_and_on_the_way_back_is_refused_not_a_crash(
    api: httpx.Client, browser: httpx.Client, shop: Credentials, gateway: Gateway
) -> None:
    created = create(api, shop)
    page = customer.open_card_page(browser, created["payment_url"])
    odd = customer.submit_card(browser, page, Card("411111111111111²"))
    assert odd.status_code == 422
    assert "Неверный номер карты" in odd.text
    back = browser.get(f"/pay/{created['transaction_hash']}/return?result=e30&sig=é")
    assert back.status_code == 400
    s2s = browser.post(
        "/api/v1/acquirers/sandbox/results", content=b"{}", headers={"X-Signature": "zz"}
    )
    assert s2s.status_code == 400
    assert s2s.headers["content-type"] == "application/problem+json"


def test_a_job_that_keeps_crashing_is_retried_not_abandoned(
    gateway: Gateway, clock: FakeClock
) -> None:
    from ktwidget.storage import jobs as jobs_repo
    from ktwidget.worker.runner import CRASH_BACKOFF_CAP, Outcome

    calls = 0

    async def broken(gw: Gateway, job: object) -> Outcome:
        nonlocal calls
        calls += 1
        raise ConnectionError("the bank is down")

    with gateway.db.write() as conn:
        jobs_repo.enqueue(
            conn, kind="capture", transaction_id=None, dedupe_key="capture:x",
            due_at=clock.now(), now=clock.now(),
        )  # fmt: skip
    runner = JobRunner(gateway, {"capture": broken})
    for _ in range(20):
        anyio.run(runner.run_until_idle)
        clock.advance(seconds=CRASH_BACKOFF_CAP)
    assert calls == 20
    with gateway.db.read() as conn:
        assert jobs_repo.next_due(conn, ["capture"]) is not None  # still pending
