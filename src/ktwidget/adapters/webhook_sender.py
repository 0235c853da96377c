"""POSTing notifications to merchants, with the SSRF guard at connect time.

Every new connection resolves the host itself, refuses it when any address is private, loopback,
link-local, multicast, CGNAT, reserved or unspecified (unless the operator allows private targets),
and connects to the very address it checked, so a DNS answer that changes between a check and the
connection (DNS rebinding) cannot slip through. TLS still verifies the certificate for the host name.
No redirects are followed, no proxy from the environment is used, and each attempt has one overall
deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpcore
import httpx

from ktwidget.domain.urls import is_public_address
from ktwidget.domain.webhooks import endpoint_of

MAX_REPLY_BYTES = 64 * 1024
DEFAULT_TIMEOUT = 10.0

try:
    USER_AGENT = f"ktwidget-webhooks/{version('ktwidget')}"
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    USER_AGENT = "ktwidget-webhooks"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The SSRF guard refused the target; the message is meant for the delivery log."""


@dataclass(frozen=True)
class Reply:
    """What one attempt got back. ``status_code`` is None when no reply arrived (see ``error``)."""

    status_code: int | None
    content_type: str | None
    body: bytes
    latency_ms: int
    address: str | None
    error: str | None


class WebhookSender(Protocol):
    """The seam between the dispatcher and the network (a fake in tests, httpx in production)."""

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Reply: ...

    async def aclose(self) -> None: ...


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[IPAddress]: ...


class SystemResolver:
    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        found: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        return found


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address and the IPv4 addresses it carries (NAT64, 6to4, Teredo), which a gateway on
    the way would reach for us."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in net for net in _NAT64):
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.extend(address.teredo)
    return found


def refusal(host: str, addresses: Iterable[IPAddress]) -> str | None:
    """Why the guard refuses a host, judged by every address it resolves to; None if allowed."""
    bad = [a for a in addresses if not all(is_public_address(e) for e in _embedded(a))]
    if not bad:
        return None
    return (
        f"refused by the SSRF guard: {host} resolves to {bad[0]}, which is not a public address "
        "(private, loopback, link-local, multicast, CGNAT or reserved); "
        "KTWIDGET_NOTIFY_ALLOW_PRIVATE=1 allows it"
    )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and pins: the address checked is the address connected to."""

    def __init__(self, *, allow_private: bool, resolver: Resolver | None = None) -> None:
        self._allow_private = allow_private
        self._resolver = resolver or SystemResolver()
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._resolver.resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        if not self._allow_private:
            reason = refusal(host, addresses)
            if reason is not None:
                raise AddressRefused(reason)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("notifications are never sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on `GuardedBackend`."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its pool in __init__ without a way to pass a network backend; swap it for
        # the same pool on ours (the request mapping and error translation stay httpx's).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class HttpSender:
    """The production `WebhookSender`: httpx, no redirects, one deadline per attempt.

    One connection pool per endpoint (``scheme://host:port``): httpcore looks at every connection
    of a pool for each request, so small pools keep that cost flat however many merchants there
    are. Idle pools beyond ``max_endpoints`` are closed, least recently used first.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout: float = DEFAULT_TIMEOUT,
        resolver: Resolver | None = None,
        connections_per_endpoint: int = 16,
        max_endpoints: int = 256,
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self._limits = httpx.Limits(
            max_connections=connections_per_endpoint,
            max_keepalive_connections=connections_per_endpoint,
            keepalive_expiry=30,
        )
        self._backend = GuardedBackend(allow_private=allow_private, resolver=resolver)
        self._max_endpoints = max_endpoints
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._busy: dict[str, int] = {}

    def _client(self, endpoint: str) -> httpx.AsyncClient:
        client = self._clients.get(endpoint)
        if client is None:
            client = httpx.AsyncClient(
                transport=_GuardedTransport(self._backend, self._limits),
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=False,
                trust_env=False,
                headers={"user-agent": USER_AGENT},
            )
            self._clients[endpoint] = client
        else:
            self._clients.move_to_end(endpoint)
        return client

    async def _evict(self) -> None:
        idle = [e for e in self._clients if not self._busy.get(e)]
        for endpoint in idle[: max(0, len(self._clients) - self._max_endpoints)]:
            await self._clients.pop(endpoint).aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            await client.aclose()

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Reply:
        started = time.perf_counter()
        if urlsplit(url).scheme not in ("http", "https"):
            return Reply(None, None, b"", 0, None, f"not an http(s) URL: {url}")
        endpoint = endpoint_of(url)
        client = self._client(endpoint)
        self._busy[endpoint] = self._busy.get(endpoint, 0) + 1
        try:
            return await self._post(client, url, headers, body, started)
        finally:
            self._busy[endpoint] -= 1
            if not self._busy[endpoint]:
                del self._busy[endpoint]
            if len(self._clients) > self._max_endpoints:
                await self._evict()

    async def _post(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        started: float,
    ) -> Reply:
        address: str | None = None

        def done(
            status: int | None = None,
            content_type: str | None = None,
            data: bytes = b"",
            error: str | None = None,
        ) -> Reply:
            latency = round((time.perf_counter() - started) * 1000)
            return Reply(status, content_type, data, latency, address, error)

        try:
            async with asyncio.timeout(self.timeout):
                async with client.stream(
                    "POST", url, content=body, headers=dict(headers)
                ) as response:
                    address = _server_address(response)
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) >= MAX_REPLY_BYTES:
                            break
                    return done(
                        response.status_code,
                        response.headers.get("content-type"),
                        bytes(data[:MAX_REPLY_BYTES]),
                    )
        except AddressRefused as exc:
            return done(error=str(exc))
        except (TimeoutError, httpx.TimeoutException):
            return done(error=f"no complete reply within {self.timeout:g} s")
        except httpx.ConnectError as exc:
            return done(error=f"could not connect: {_reason(exc)}")
        except httpx.HTTPError as exc:
            return done(error=f"{type(exc).__name__}: {_reason(exc)}")
        except OSError as exc:
            return done(error=f"network error: {exc}")


def _reason(exc: BaseException) -> str:
    """The most telling cause in an exception chain, in words for the delivery log."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return f"cannot resolve the host ({seen.strerror or seen})"
        seen = seen.__cause__ or seen.__context__
    return str(exc) or type(exc).__name__


def _server_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    peer = stream.get_extra_info("server_addr")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return None
