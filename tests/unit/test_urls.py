"""SPEC sections 2 and 4: trusted domains, redirect URLs, and notification addresses (SSRF)."""

from __future__ import annotations

import ipaddress

import pytest

from ktwidget.domain.urls import (
    TrustedDomain,
    URLRuleError,
    allowed,
    check_notification_url,
    is_public_address,
    normalize_url,
    parse_domains,
    private_host_reason,
)

# TrustedDomain.parse: a host, `*.host` for its subdomains, optional `:port`.


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("shop.example", TrustedDomain("shop.example")),
        ("  Shop.Example.  ", TrustedDomain("shop.example")),
        ("localhost", TrustedDomain("localhost")),
        ("localhost:3000", TrustedDomain("localhost", port=3000)),
        ("*.shop.example", TrustedDomain("shop.example", wildcard=True)),
        ("*.shop.example:8443", TrustedDomain("shop.example", wildcard=True, port=8443)),
        ("127.0.0.1:8000", TrustedDomain("127.0.0.1", port=8000)),
        ("::1", TrustedDomain("::1")),
        ("[::1]", TrustedDomain("::1")),
        ("[::1]:8080", TrustedDomain("::1", port=8080)),
        ("[2001:db8::1]", TrustedDomain("2001:db8::1")),
        ("магазин.рф", TrustedDomain("магазин.рф")),
        ("xn--80aaxitdbjk.xn--p1ai", TrustedDomain("xn--80aaxitdbjk.xn--p1ai")),
    ],
)
def test_parse(text: str, domain: TrustedDomain) -> None:
    assert TrustedDomain.parse(text) == domain


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "https://shop.example",
        "shop.example/path",
        "user@shop.example",
        "shop..example",
        "-shop.example",
        "shop-.example",
        "shop_example.com",
        "sh op.example",
        "*",
        "*.",
        "**.shop.example",
        "*.127.0.0.1",
        "*.[::1]",
        "shop.example:",
        "shop.example:0",
        "shop.example:65536",
        "shop.example:http",
        "shop.example:-1",
        "[::1",
        "[::1]x",
        "[::1]:",
        "a" * 64 + ".example",
        ("a" * 60 + ".") * 5 + "example",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(URLRuleError):
        TrustedDomain.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "shop.example",
        "*.shop.example",
        "localhost:3000",
        "*.shop.example:8443",
        "[::1]:8080",
        "::1",
    ],
)
def test_str_parses_back(text: str) -> None:
    domain = TrustedDomain.parse(text)
    assert TrustedDomain.parse(str(domain)) == domain


def test_parse_domains() -> None:
    assert parse_domains(["a.example", "*.b.example"]) == (
        TrustedDomain("a.example"),
        TrustedDomain("b.example", wildcard=True),
    )
    with pytest.raises(URLRuleError):
        parse_domains(["a.example", "https://b.example"])


# Matching: without a port any port and either scheme; with a port only that one (80/443 implied).


@pytest.mark.parametrize(
    ("domain", "url", "expected"),
    [
        ("shop.example", "https://shop.example/", True),
        ("shop.example", "http://shop.example/", True),
        ("shop.example", "https://shop.example:8443/", True),
        ("shop.example", "http://shop.example:3000", True),
        ("shop.example", "https://SHOP.example./", True),
        ("shop.example", "https://www.shop.example/", False),
        ("shop.example", "https://shop.example.evil.example/", False),
        ("shop.example", "https://evilshop.example/", False),
        ("shop.example", "ftp://shop.example/", False),
        ("shop.example", "javascript://shop.example/", False),
        ("shop.example", "ws://shop.example/", False),
        ("shop.example", "https://user@shop.example/", False),
        ("localhost", "http://localhost:5173", True),
        ("localhost", "https://localhost", True),
        ("shop.example:8443", "https://shop.example:8443/", True),
        ("shop.example:8443", "http://shop.example:8443/", True),
        ("shop.example:8443", "https://shop.example/", False),
        ("shop.example:8443", "https://shop.example:8444/", False),
        ("shop.example:443", "https://shop.example/", True),
        ("shop.example:443", "https://shop.example:443/", True),
        ("shop.example:443", "http://shop.example/", False),
        ("shop.example:80", "http://shop.example/", True),
        ("shop.example:80", "https://shop.example/", False),
        ("*.shop.example", "https://pay.shop.example/", True),
        ("*.shop.example", "http://a.b.shop.example:81/", True),
        ("*.shop.example", "https://shop.example/", False),
        ("*.shop.example", "https://evilshop.example/", False),
        ("*.shop.example", "https://shop.example.evil.example/", False),
        ("*.shop.example", "https://evil.example\\.shop.example/", False),
        ("*.shop.example:8443", "https://pay.shop.example:8443/", True),
        ("*.shop.example:8443", "https://pay.shop.example/", False),
        ("::1", "http://[::1]:8000/", True),
        ("[::1]:8000", "http://[::1]:8000/", True),
        ("[::1]:8000", "http://[::1]:8001/", False),
        ("[::1]", "http://127.0.0.1/", False),
        ("127.0.0.1", "http://127.0.0.1:8000", True),
    ],
)
def test_allowed(domain: str, url: str, expected: bool) -> None:
    assert allowed(url, [TrustedDomain.parse(domain)]) is expected


def test_any_of_several_domains() -> None:
    domains = parse_domains(["a.example", "*.b.example:8443"])
    assert allowed("https://a.example/", domains)
    assert allowed("https://x.b.example:8443/", domains)
    assert not allowed("https://b.example:8443/", domains)
    assert not allowed("https://a.example/", [])


@pytest.mark.parametrize(
    "origin", ["null", "", "shop.example", "https://", "https://shop.example:99999"]
)
def test_odd_origins_are_not_allowed(origin: str) -> None:
    assert not allowed(origin, parse_domains(["shop.example"]))


def test_matches_directly() -> None:
    domain = TrustedDomain.parse("*.shop.example:8443")
    assert domain.matches("https", "pay.shop.example", 8443)
    assert not domain.matches("https", "pay.shop.example", None)
    assert not domain.matches("gopher", "pay.shop.example", 8443)


# normalize_url: http(s) only; a bare host means https://host/.


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("widget.nplus.tech", "https://widget.nplus.tech/"),
        ("  widget.nplus.tech  ", "https://widget.nplus.tech/"),
        ("widget.nplus.tech/back", "https://widget.nplus.tech/back"),
        ("widget.nplus.tech?from=kt", "https://widget.nplus.tech/?from=kt"),
        ("widget.nplus.tech#top", "https://widget.nplus.tech/#top"),
        ("localhost:3000", "https://localhost:3000/"),
        ("https://shop.example/ok?x=1#y", "https://shop.example/ok?x=1#y"),
        ("http://shop.example", "http://shop.example"),
    ],
)
def test_normalize_url(text: str, url: str) -> None:
    assert normalize_url(text) == url


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "javascript:alert(1)",
        "javascript://shop.example/%0aalert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "ftp://shop.example/",
        "//shop.example/",
        "/relative/path",
        "https://",
        "https:///path",
        "https://shop.example:99999/",
        "https://shop.example:port/",
        "https://user:pass@shop.example/",
        "https://user@shop.example/",
        "https://shop.example/a b",
        "https://shop.example/\x00",
        "https://shop.example/a\tb",
        "https://shop.example\\@evil.example/",
        "https://evil.example\\.shop.example/",
        "https://shop.example/" + "a" * 2048,
    ],
)
def test_normalize_url_refuses(text: str) -> None:
    with pytest.raises(URLRuleError):
        normalize_url(text)


# Addresses a notification may not reach.


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.0.1",
        "127.0.0.1",  # loopback
        "127.255.255.254",
        "169.254.169.254",  # link-local (cloud metadata)
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "100.64.0.1",  # CGNAT 100.64/10
        "100.127.255.254",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "0.0.0.0",  # noqa: S104 - unspecified
        "192.0.2.1",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "ff0e::1",  # global-scope multicast
        "2001:db8::1",
        "::ffff:127.0.0.1",  # IPv4-mapped IPv6
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_not_public(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "host", ["localhost", "LocalHost.", "api.localhost", "127.0.0.1", "[::1]", "::1", "10.0.0.1"]
)
def test_private_host_reason(host: str) -> None:
    assert private_host_reason(host)


@pytest.mark.parametrize("host", ["shop.example", "8.8.8.8", "localhost.example", "mylocalhost"])
def test_no_private_host_reason(host: str) -> None:
    assert private_host_reason(host) is None


def test_check_notification_url() -> None:
    assert (
        check_notification_url("hooks.shop.example/kt", require_https=True, allow_private=False)
        == "https://hooks.shop.example/kt"
    )
    with pytest.raises(URLRuleError, match="https"):
        check_notification_url(
            "http://hooks.shop.example/", require_https=True, allow_private=False
        )
    with pytest.raises(URLRuleError, match="localhost"):
        check_notification_url("http://localhost:9000/", require_https=False, allow_private=False)
    assert (
        check_notification_url("http://localhost:9000/", require_https=False, allow_private=True)
        == "http://localhost:9000/"
    )
    # Production still wants https, even for an allowed private address.
    with pytest.raises(URLRuleError):
        check_notification_url("http://127.0.0.1:9000/", require_https=True, allow_private=True)
