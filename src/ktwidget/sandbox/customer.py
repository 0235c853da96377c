"""A scripted sandbox customer: follows the payment page to the bank, types a card, comes back.

Used by the tests and the payment-flow benchmark to drive the sandbox over HTTP without a browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

APPROVED = "4111 1111 1111 1111"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS = "4000 0000 0000 9995"
CHALLENGE = "4000 0000 0000 3220"
CAPTURE_FAILS = "4000 0000 0000 0341"

_CODE = re.compile(r'data-testid="code">(\d{6})<')


@dataclass(frozen=True)
class Card:
    number: str = APPROVED
    expiry: str = "12/30"
    cvc: str = "123"
    holder: str = "IVAN IVANOV"

    def form(self) -> dict[str, str]:
        return {
            "number": self.number,
            "expiry": self.expiry,
            "cvc": self.cvc,
            "holder": self.holder,
        }


def open_card_page(client: httpx.Client, payment_url: str) -> httpx.Response:
    """The widget's iframe: the payment page leads to the bank's card page."""
    return client.get(payment_url, follow_redirects=True)


def submit_card(client: httpx.Client, card_page: httpx.Response, card: Card) -> httpx.Response:
    return client.post(str(card_page.url), data=card.form(), follow_redirects=True)


def challenge_code(page: httpx.Response) -> str:
    match = _CODE.search(page.text)
    if match is None:
        raise AssertionError("no 3-D Secure code on the page")
    return match.group(1)


def submit_code(client: httpx.Client, page: httpx.Response, code: str) -> httpx.Response:
    return client.post(str(page.url), data={"code": code}, follow_redirects=True)


def pay(client: httpx.Client, payment_url: str, card: Card | None = None) -> httpx.Response:
    """Pay in one go (answering a 3-D Secure challenge rightly); the receipt page."""
    page = submit_card(client, open_card_page(client, payment_url), card or Card())
    if "/3ds" in page.url.path:
        page = submit_code(client, page, challenge_code(page))
    return page
