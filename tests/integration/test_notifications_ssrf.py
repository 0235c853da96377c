"""The SSRF guard: addresses are checked after DNS resolution, at connect time, and the address
checked is the one connected to. A refusal is a failed attempt with a clear reason."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace

import pytest

from ktwidget.adapters.webhook_sender import HttpSender, IPAddress
from ktwidget.services import merchants
from ktwidget.services.context import Gateway
from ktwidget.worker.deliveries import DeliveryDispatcher
from tests.integration.notify_support import (
    Receiver,
    attempt_rows,
    delivery_rows,
    final_transaction,
)


class FakeDNS:
    """A resolver answering from a table, counting lookups."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        return [ipaddress.ip_address(a) for a in self.table.get(host, [])]


def deliver(gw: Gateway, sender: HttpSender | None = None) -> int:
    async def go() -> int:
        try:
            async with DeliveryDispatcher(gw, sender=sender, timeout=2) as dispatcher:
                return await dispatcher.run_once()
        finally:
            if sender is not None:
                await sender.aclose()

    return asyncio.run(go())


def shop_with_url(gateway: Gateway, url: str) -> merchants.Credentials:
    # The operator may register a private URL while private targets are allowed ...
    allowing = replace(gateway, settings=replace(gateway.settings, notify_allow_private=True))
    return merchants.create_merchant(
        allowing, name="Shop", domains=["localhost"], callbacks={"callback_post_url": url}
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_unless_allowed(gateway: Gateway, host: str) -> None:
    with Receiver() as receiver:
        shop = shop_with_url(gateway, f"http://{host}:{receiver.port}/hook")
        final_transaction(gateway, shop.merchant_id)
        # ... and once they are no longer allowed, nothing leaves for them.
        assert not gateway.settings.notify_allow_private
        assert deliver(gateway) == 1
    assert receiver.received == []
    (row,) = delivery_rows(gateway)
    (attempt,) = attempt_rows(gateway, row.id)
    assert not attempt.accepted
    assert attempt.status_code is None
    assert "refused by the SSRF guard" in attempt.error
    assert "127.0.0.1" in attempt.error
    assert "KTWIDGET_NOTIFY_ALLOW_PRIVATE" in attempt.error
    assert row.state == "pending"  # a failed attempt like any other: retried on the schedule


def test_a_public_name_resolving_to_a_private_address_is_refused(gateway: Gateway) -> None:
    shop = shop_with_url(gateway, "https://hooks.shop.example/notify")
    final_transaction(gateway, shop.merchant_id)
    dns = FakeDNS({"hooks.shop.example": ["10.1.2.3"]})
    deliver(gateway, HttpSender(allow_private=False, resolver=dns))
    assert dns.lookups == ["hooks.shop.example"]
    (row,) = delivery_rows(gateway)
    (attempt,) = attempt_rows(gateway, row.id)
    assert "hooks.shop.example resolves to 10.1.2.3" in attempt.error


def test_any_private_address_among_the_answers_refuses_the_host(gateway: Gateway) -> None:
    # A rebinding name answering a public and a private address is refused as a whole.
    shop = shop_with_url(gateway, "http://rebind.example/notify")
    final_transaction(gateway, shop.merchant_id)
    dns = FakeDNS({"rebind.example": ["93.184.216.34", "127.0.0.1"]})
    deliver(gateway, HttpSender(allow_private=False, resolver=dns))
    (row,) = delivery_rows(gateway)
    (attempt,) = attempt_rows(gateway, row.id)
    assert "rebind.example resolves to 127.0.0.1" in attempt.error


def test_the_checked_address_is_the_one_connected_to(gateway: Gateway) -> None:
    """The name never reaches the system resolver: the connection goes to the address our
    resolver answered and the guard checked, with the name kept in the Host header."""
    with Receiver() as receiver:
        shop = shop_with_url(gateway, f"http://hooks.shop.example:{receiver.port}/notify")
        final_transaction(gateway, shop.merchant_id)
        dns = FakeDNS({"hooks.shop.example": ["127.0.0.1"]})
        allowing = replace(gateway, settings=replace(gateway.settings, notify_allow_private=True))
        deliver(allowing, HttpSender(allow_private=True, resolver=dns))
    (got,) = receiver.received
    assert got.headers["host"] == f"hooks.shop.example:{receiver.port}"
    assert got.path == "/notify"
    (row,) = delivery_rows(gateway)
    assert row.state == "delivered"
    (attempt,) = attempt_rows(gateway, row.id)
    assert attempt.address == f"127.0.0.1:{receiver.port}"


def test_a_name_without_addresses_is_a_failed_attempt(gateway: Gateway) -> None:
    shop = shop_with_url(gateway, "https://nowhere.example/notify")
    final_transaction(gateway, shop.merchant_id)
    deliver(gateway, HttpSender(allow_private=False, resolver=FakeDNS({})))
    (row,) = delivery_rows(gateway)
    (attempt,) = attempt_rows(gateway, row.id)
    assert "nowhere.example has no address" in attempt.error


def test_no_proxy_from_the_environment_is_used(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect on our behalf to an address the guard never saw.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    allowing = replace(gateway, settings=replace(gateway.settings, notify_allow_private=True))
    with Receiver() as receiver:
        shop = shop_with_url(gateway, receiver.url())
        final_transaction(gateway, shop.merchant_id)
        deliver(allowing)
    assert len(receiver.received) == 1
