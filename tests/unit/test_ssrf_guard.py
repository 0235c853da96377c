"""Which addresses the notification SSRF guard refuses."""

from __future__ import annotations

import ipaddress

import pytest

from ktwidget.adapters.webhook_sender import refusal

REFUSED = [
    "10.0.0.1",  # private
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",  # loopback
    "127.8.8.8",
    "169.254.169.254",  # link-local: cloud metadata
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "0.0.0.0",  # unspecified  # noqa: S104
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:127.0.0.1",
    "2001:db8::1",  # documentation
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
]
ALLOWED = [
    "93.184.216.34",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    reason = refusal("hooks.example", [ipaddress.ip_address(address)])
    assert reason is not None
    assert "hooks.example resolves to" in reason


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert refusal("hooks.example", [ipaddress.ip_address(address)]) is None


def test_one_bad_address_refuses_the_host() -> None:
    addresses = [ipaddress.ip_address("1.1.1.1"), ipaddress.ip_address("10.0.0.1")]
    assert refusal("mixed.example", addresses) is not None
