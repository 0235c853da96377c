"""What a customer sees, in real Chromium: the demo shop's buttons, the widget's modal, the sandbox
bank's card page, the receipt; and what the gateway's database says at the end."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
from playwright.sync_api import FrameLocator, Page, expect

from ktwidget.adapters.clock import FakeClock
from ktwidget.sandbox import customer
from ktwidget.services.payments import HANDLERS
from ktwidget.services.transactions import get_transaction, list_transactions
from ktwidget.storage.transactions import TransactionFilter
from ktwidget.worker.runner import JobRunner
from tests.e2e.conftest import Stack


def run_jobs(stack: Stack) -> None:
    """Run the due jobs now; in a thread of its own, since Playwright's loop owns this one."""

    async def go() -> None:
        await JobRunner(stack.gateway, HANDLERS).run_until_idle()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(anyio.run, go).result()


def clear(stack: Stack, clock: FakeClock) -> None:
    clock.advance(stack.gateway.settings.clearing_interval + 1)
    run_jobs(stack)


def only_transaction(stack: Stack) -> tuple[str, str | None, Any]:
    found = list_transactions(stack.gateway, TransactionFilter())
    assert len(found) == 1
    view = get_transaction(stack.gateway, found[0].transaction_hash)
    last = view.history[-1]
    error = None if last.error is None else last.error.error_type.value
    return view.transaction.status.value, error, view.transaction


def widget(page: Page) -> FrameLocator:
    return page.frame_locator("iframe")


def fill_card(frame: FrameLocator, number: str, expiry: str = "12/30", cvc: str = "123") -> None:
    frame.locator("#number").fill(number)
    frame.locator("#expiry").fill(expiry)
    frame.locator("#cvc").fill(cvc)
    frame.locator("#holder").fill("IVAN IVANOV")
    frame.get_by_role("button", name="Оплатить").click()


def open_ecom(page: Page, stack: Stack) -> FrameLocator:
    page.goto(stack.shop_url + "/")
    page.locator("#pay-ecom").click()
    frame = widget(page)
    expect(frame.locator("#number")).to_be_visible()
    return frame


def test_card_page_offers_the_standard_autocomplete_tokens(page: Page, stack: Stack) -> None:
    frame = open_ecom(page, stack)
    for field, token in [
        ("#number", "cc-number"),
        ("#expiry", "cc-exp"),
        ("#cvc", "cc-csc"),
        ("#holder", "cc-name"),
    ]:
        expect(frame.locator(field)).to_have_attribute("autocomplete", token)


def test_ecom_approved_ends_completed(page: Page, stack: Stack, clock: FakeClock) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, customer.APPROVED)
    expect(frame.get_by_test_id("status")).to_have_text("Оплачено")
    expect(frame.get_by_test_id("card")).to_have_text("411111******1111")
    assert only_transaction(stack)[:2] == ("success", None)
    clear(stack, clock)
    assert only_transaction(stack)[:2] == ("completed", None)


def test_declined_card_ends_in_error_payment(page: Page, stack: Stack) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, customer.DECLINED)
    expect(frame.get_by_test_id("status")).to_have_text("Ошибка оплаты")
    assert only_transaction(stack)[:2] == ("error", "ERROR_PAYMENT")


def test_three_bad_card_entries_end_in_error_input(page: Page, stack: Stack) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, "4111 1111 1111 1112")
    expect(frame.locator("#number-error")).to_be_visible()
    fill_card(frame, "4111 1111 1111 1112")
    expect(frame.get_by_test_id("attempts")).to_contain_text("1")
    fill_card(frame, customer.APPROVED, expiry="01/21")
    expect(frame.get_by_test_id("status")).to_have_text("Ошибка оплаты")
    assert only_transaction(stack)[:2] == ("error", "ERROR_INPUT")


def test_a_corrected_typo_still_pays(page: Page, stack: Stack) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, "4111 1111 1111 1112")
    expect(frame.locator("#number-error")).to_have_text("Неверный номер карты")
    fill_card(frame, customer.APPROVED)
    expect(frame.get_by_test_id("status")).to_have_text("Оплачено")
    assert only_transaction(stack)[:2] == ("success", None)


def test_3ds_right_code_pays(page: Page, stack: Stack) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, customer.CHALLENGE)
    code = frame.get_by_test_id("code").inner_text()
    frame.locator("#code").fill(code)
    frame.get_by_role("button", name="Подтвердить").click()
    expect(frame.get_by_test_id("status")).to_have_text("Оплачено")
    assert only_transaction(stack)[:2] == ("success", None)


def test_3ds_wrong_code_three_times_fails(page: Page, stack: Stack) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, customer.CHALLENGE)
    for _ in range(3):
        frame.locator("#code").fill("000000")
        frame.get_by_role("button", name="Подтвердить").click()
    expect(frame.get_by_test_id("status")).to_have_text("Ошибка оплаты")
    assert only_transaction(stack)[:2] == ("error", "ERROR_PAYMENT")


def test_service_credited_ends_completed(page: Page, stack: Stack, clock: FakeClock) -> None:
    page.goto(stack.shop_url + "/")
    page.locator("#pay-service").click()  # the seed's example, verbatim but for the keys
    frame = widget(page)
    fill_card(frame, customer.APPROVED)
    expect(frame.get_by_test_id("status")).to_have_text("Средства заблокированы")
    run_jobs(stack)  # the provider accepts the crediting and takes its time
    clock.advance(stack.gateway.settings.sandbox_credit_delay)
    run_jobs(stack)
    expect(frame.get_by_test_id("status")).to_have_text(
        "Оплачено", timeout=10_000
    )  # refreshes itself
    clear(stack, clock)
    status, error, tx = only_transaction(stack)
    assert (status, error, tx.contract_value) == ("completed", None, "1111111")


def test_service_refused_is_denied_with_the_hold_released(page: Page, stack: Stack) -> None:
    page.goto(stack.shop_url + "/")
    page.evaluate(
        """([key, id]) => { new ApiClient(key, id, true).createTransaction({
            order_id: "refused", amount: 500, type: "service",
            service: {service_id: 2, contract_value: "7000000000"} }) }""",
        [_demo_key(stack), _demo_id(stack)],
    )
    frame = widget(page)
    fill_card(frame, customer.APPROVED)
    expect(frame.get_by_test_id("status")).to_have_text("Средства заблокированы")
    run_jobs(stack)
    status, error, tx = only_transaction(stack)
    assert (status, error) == ("denied", "ERROR_PAYMENT")
    order = stack.gateway.sandbox_bank().get(tx.transaction_hash)
    assert order is not None
    assert order.state == "voided"


def test_capture_failure_ends_in_error_system(page: Page, stack: Stack, clock: FakeClock) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, customer.CAPTURE_FAILS)
    expect(frame.get_by_test_id("status")).to_have_text("Оплачено")
    for _ in range(3):
        clear(stack, clock)
    assert only_transaction(stack)[:2] == ("error", "ERROR_SYSTEM")


def test_continue_lands_on_the_success_page_and_closes_the_modal(page: Page, stack: Stack) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, customer.APPROVED)
    frame.get_by_test_id("continue").click()
    page.wait_for_url(f"{stack.gateway_url}/pay/*/success")
    expect(page.locator("h1")).to_have_text("Оплата прошла успешно")


def test_continue_after_a_failure_lands_on_the_failed_page(page: Page, stack: Stack) -> None:
    frame = open_ecom(page, stack)
    fill_card(frame, customer.DECLINED)
    frame.get_by_test_id("continue").click()
    page.wait_for_url(f"{stack.gateway_url}/pay/*/failed")
    expect(page.locator("h1")).to_have_text("Оплата не прошла")


def test_closing_the_modal_leaves_the_payment_pending(page: Page, stack: Stack) -> None:
    open_ecom(page, stack)
    page.locator("[data-ktwidget=close]").click()
    expect(page.locator("iframe")).to_have_count(0)
    expect(page.locator("#outcome")).to_have_text("Результат: closed")
    assert only_transaction(stack)[:2] == ("pending", None)


def test_escape_closes_the_modal(page: Page, stack: Stack) -> None:
    open_ecom(page, stack)
    page.locator("[data-ktwidget=close]").focus()  # keys typed inside the bank's frame stay there
    page.keyboard.press("Escape")
    expect(page.locator("iframe")).to_have_count(0)


def test_phone_sized_viewport_pays(browser: Any, stack: Stack) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="ru-RU"
    )
    page = context.new_page()
    try:
        frame = open_ecom(page, stack)
        box = page.locator("iframe").bounding_box()
        assert box is not None
        assert box["width"] >= 350
        fill_card(frame, customer.APPROVED)
        expect(frame.get_by_test_id("status")).to_have_text("Оплачено")
    finally:
        context.close()


def _demo_key(stack: Stack) -> str:
    from ktwidget.services import merchants

    return merchants.current_app_key(stack.gateway, stack.merchant_id)


def _demo_id(stack: Stack) -> str:
    from ktwidget.services import merchants

    return merchants.get_merchant(stack.gateway, stack.merchant_id).app_id
