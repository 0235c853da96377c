"""Trusted domains, redirect URLs and the address rules that keep notifications off private networks."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class URLRuleError(ValueError):
    """A URL or domain that breaks a rule; the message is meant for a person."""


@dataclass(frozen=True)
class TrustedDomain:
    """``host``, ``*.host`` (its subdomains) or either with ``:port``.

    Without a port it matches any port and either scheme, so ``localhost`` serves local development.
    """

    host: str
    wildcard: bool = False
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> TrustedDomain:
        raw = text.strip().lower().rstrip(".")
        if not raw or "/" in raw or "@" in raw:
            raise URLRuleError(f"{text!r} is not a domain: give a host such as shop.example.com")
        wildcard = raw.startswith("*.")
        if wildcard:
            raw = raw[2:]
        port: int | None = None
        host = raw
        if raw.startswith("["):
            end = raw.find("]")
            if end < 0:
                raise URLRuleError(f"{text!r} is not a domain")
            host, rest = raw[1:end], raw[end + 1 :]
            if rest:
                port = _parse_port(rest.removeprefix(":"), text)
        elif raw.count(":") == 1:
            host, port_text = raw.split(":")
            port = _parse_port(port_text, text)
        if not _valid_host(host) or (wildcard and _ip(host) is not None):
            raise URLRuleError(f"{text!r} is not a domain: give a host such as shop.example.com")
        return cls(host=host, wildcard=wildcard, port=port)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"*.{host}" if self.wildcard else host
        return f"{text}:{self.port}" if self.port is not None else text

    def csp_sources(self) -> tuple[str, ...]:
        """CSP source expressions matching what this domain matches (``frame-ancestors``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        host = f"*.{host}" if self.wildcard else host
        port = "*" if self.port is None else str(self.port)
        return (f"https://{host}:{port}", f"http://{host}:{port}")

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        if scheme not in _DEFAULT_PORTS:
            return False
        host = host.lower().rstrip(".")
        if self.wildcard:
            if not host.endswith("." + self.host):
                return False
        elif host != self.host:
            return False
        if self.port is None:
            return True
        return (port if port is not None else _DEFAULT_PORTS[scheme]) == self.port


def _parse_port(text: str, original: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise URLRuleError(f"{original!r} has an invalid port")
    return int(text)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _valid_host(host: str) -> bool:
    if _ip(host) is not None:
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(ascii_host) <= 253 and _HOST_RE.fullmatch(ascii_host) is not None


def parse_domains(texts: Iterable[str]) -> tuple[TrustedDomain, ...]:
    return tuple(TrustedDomain.parse(t) for t in texts)


@dataclass(frozen=True)
class _Parts:
    scheme: str
    host: str
    port: int | None


def _split(url: str) -> _Parts:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise URLRuleError("is not a valid URL") from exc
    if parts.scheme not in _DEFAULT_PORTS:
        raise URLRuleError("must be an http or https URL")
    if not parts.hostname:
        raise URLRuleError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise URLRuleError("must not carry a user name or password")
    if "\\" in url:
        # Browsers read a backslash as "/" in http(s) URLs and urlsplit does not, so
        # https://evil.com<backslash>.shop.example/ would pass for a subdomain of shop.example.
        raise URLRuleError("must not contain backslashes")
    return _Parts(parts.scheme, parts.hostname, port)


def allowed(url: str, domains: Iterable[TrustedDomain]) -> bool:
    """Whether an http(s) URL or an ``Origin`` value stands on one of the trusted domains."""
    try:
        parts = _split(url)
    except URLRuleError:
        return False
    return any(d.matches(parts.scheme, parts.host, parts.port) for d in domains)


def normalize_url(value: str) -> str:
    """Validate an http(s) URL; a bare host such as ``widget.nplus.tech`` means ``https://…/``."""
    text = value.strip()
    if not text:
        raise URLRuleError("must not be empty")
    if len(text) > MAX_URL_LENGTH:
        raise URLRuleError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise URLRuleError("must not contain spaces or control characters")
    if "://" not in text:
        if text.startswith("/"):
            raise URLRuleError("must be an http or https URL")
        # The path starts after the host: widget.nplus.tech?x=1 -> https://widget.nplus.tech/?x=1
        end = min((i for i in map(text.find, "/?#") if i >= 0), default=len(text))
        if text[end : end + 1] != "/":
            text = text[:end] + "/" + text[end:]
        text = "https://" + text
    _split(text)
    return text


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """False for private, loopback, link-local, multicast, CGNAT, reserved and unspecified ranges."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def private_host_reason(host: str) -> str | None:
    """Why a host, judged by its name alone, is not a public address; None when nothing is known.

    Names are resolved and checked again when a notification is sent.
    """
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "points at this machine (localhost)"
    ip = _ip(name.strip("[]"))
    if ip is not None and not is_public_address(ip):
        return f"points at a non-public address ({ip})"
    return None


def check_notification_url(url: str, *, require_https: bool, allow_private: bool) -> str:
    """Normalise a notification URL and apply the SSRF rules of SPEC section 4."""
    normalized = normalize_url(url)
    parts = _split(normalized)
    if require_https and parts.scheme != "https":
        raise URLRuleError("must be an https URL in production")
    if not allow_private:
        reason = private_host_reason(parts.host)
        if reason is not None:
            raise URLRuleError(reason)
    return normalized


def frame_ancestors(domains: Iterable[TrustedDomain]) -> str:
    """The ``frame-ancestors`` source list for pages only these domains may frame."""
    sources = [source for domain in domains for source in domain.csp_sources()]
    return " ".join(dict.fromkeys(sources)) or "'none'"
