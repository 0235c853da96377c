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
import base64
import ipaddress
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol
from urllib.parse import SplitResult, quote, unquote, urlsplit

import h11
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
    """The seam between the dispatcher and the network (a fake in tests, `HttpSender` in production)."""

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


class ProtocolError(Exception):
    """The server broke HTTP/1.1; the message is meant for the delivery log."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection to a checked, pinned address; a reply at a time.

    h11 does the HTTP/1.1 framing (status line, headers, Content-Length, chunked and
    close-delimited bodies, interim replies, keep-alive rules); this class moves the bytes.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_REPLY_BYTES)
        self.closed = False
        self.address: str | None = None
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.address = _format_peer(transport.get_extra_info("peername"))

    def data_received(self, data: bytes) -> None:
        if not self.closed:
            self.http.receive_data(data)
        self._wake()

    def eof_received(self) -> bool:
        self._end()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()

    def _end(self) -> None:
        if not self.closed:
            self.closed = True
            self.http.receive_data(b"")
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _more(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    @property
    def alive(self) -> bool:
        """Open, idle between requests, and with nothing unasked-for from the server."""
        return (
            not self.closed
            and self.transport is not None
            and not self.transport.is_closing()
            and self.http.our_state is h11.IDLE
            and not self.http.trailing_data[0]
        )

    def next_cycle(self) -> bool:
        """After a whole reply: ready the connection for another request, if HTTP allows it
        (HTTP/1.1, no ``Connection: close``)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        if self.http.our_state is not h11.DONE or self.http.their_state is not h11.DONE:
            return False
        self.http.start_next_cycle()
        return True

    def send(self, request: h11.Request, body: bytes) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ProtocolError("WriteError: the connection is closed")
        try:
            data = self.http.send(request) or b""
            data += self.http.send(h11.Data(data=body)) or b""
            data += self.http.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError as exc:
            raise ProtocolError(f"LocalProtocolError: {exc}") from exc
        self.transport.write(data)

    async def read_reply(self) -> tuple[int, dict[str, str], bytes, bool]:
        """Status, headers and up to MAX_REPLY_BYTES of the body of the next final reply;
        and whether the whole reply was read."""
        status: int | None = None
        fields: dict[str, str] = {}
        data = bytearray()
        while True:
            try:
                event = self.http.next_event()
            except h11.RemoteProtocolError as exc:
                raise ProtocolError(f"RemoteProtocolError: {exc}") from exc
            if event is h11.NEED_DATA:
                if self.closed:
                    raise ProtocolError("RemoteProtocolError: the server closed mid-reply")
                await self._more()
            elif isinstance(event, h11.InformationalResponse):
                continue
            elif isinstance(event, h11.Response):
                status = event.status_code
                for name, value in event.headers:
                    key = name.decode("latin-1").lower()
                    text = value.decode("latin-1")
                    fields[key] = f"{fields[key]}, {text}" if key in fields else text
            elif isinstance(event, h11.Data):
                data += event.data[: MAX_REPLY_BYTES - len(data)]
                if len(data) >= MAX_REPLY_BYTES:
                    assert status is not None
                    return status, fields, bytes(data), False
            elif isinstance(event, h11.EndOfMessage):
                assert status is not None
                return status, fields, bytes(data), True
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                if status is None:
                    raise ProtocolError(
                        "RemoteProtocolError: Server disconnected without sending a response."
                    )
                return status, fields, bytes(data), False


class _Pool:
    """Kept-alive connections to one endpoint (each checked and pinned when it was opened)."""

    def __init__(self) -> None:
        self.idle: list[_Connection] = []
        self.busy = 0

    def take(self, now: float, expiry: float) -> _Connection | None:
        while self.idle:
            conn = self.idle.pop()
            if conn.alive and now - conn.idle_since < expiry:
                return conn
            conn.close()
        return None

    def close(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()


class HttpSender:
    """The production `WebhookSender`: HTTP/1.1 on asyncio, no redirects, one deadline per attempt.

    Every new connection goes through the SSRF guard (resolve, check every address, connect to the
    address checked); a connection is kept alive per endpoint (``scheme://host:port``) and reused
    for later attempts to the same endpoint. No proxy from the environment is ever used. Idle
    endpoints beyond ``max_endpoints`` are closed, least recently used first.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout: float = DEFAULT_TIMEOUT,
        resolver: Resolver | None = None,
        connections_per_endpoint: int = 16,
        max_endpoints: int = 256,
        keepalive_expiry: float = 30.0,
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self._resolver = resolver or SystemResolver()
        self._per_endpoint = connections_per_endpoint
        self._keepalive_expiry = keepalive_expiry
        self._max_endpoints = max_endpoints
        self._pools: OrderedDict[str, _Pool] = OrderedDict()
        self._ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(trust_env=False)
        return self._ssl

    def _pool(self, endpoint: str) -> _Pool:
        pool = self._pools.get(endpoint)
        if pool is None:
            pool = self._pools[endpoint] = _Pool()
            if len(self._pools) > self._max_endpoints:
                self._evict()
        else:
            self._pools.move_to_end(endpoint)
        return pool

    def _evict(self) -> None:
        idle = [e for e, p in self._pools.items() if not p.busy]
        for endpoint in idle[: max(0, len(self._pools) - self._max_endpoints)]:
            self._pools.pop(endpoint).close()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            pool.close()

    async def _connect(self, scheme: str, host: str, port: int) -> _Connection:
        """Resolve, check and pin: the address checked is the address connected to."""
        try:
            addresses = await self._resolver.resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise _ConnectFailed(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise _ConnectFailed(f"{host} has no address")
        if not self.allow_private:
            reason = refusal(host, addresses)
            if reason is not None:
                raise AddressRefused(reason)
        loop = asyncio.get_running_loop()
        tls = self._ssl_context() if scheme == "https" else None
        last: BaseException | None = None
        for address in addresses:
            try:
                _transport, conn = await loop.create_connection(
                    _Connection,
                    str(address),
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
                return conn
            except (OSError, ssl.SSLError) as exc:
                last = exc
        assert last is not None
        raise _ConnectFailed(str(last) or type(last).__name__) from last

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Reply:
        started = time.perf_counter()
        try:
            parts = urlsplit(url)
            scheme = parts.scheme
            host = (parts.hostname or "").rstrip(".")
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            return Reply(None, None, b"", 0, None, f"UnsupportedProtocol: {exc}")
        if scheme not in ("http", "https"):
            return Reply(None, None, b"", 0, None, f"not an http(s) URL: {url}")
        if not host:
            return Reply(None, None, b"", 0, None, f"UnsupportedProtocol: no host in {url}")
        endpoint = endpoint_of(url)
        pool = self._pool(endpoint)
        pool.busy += 1
        conn: _Connection | None = None
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
                conn = pool.take(time.monotonic(), self._keepalive_expiry)
                if conn is None:
                    conn = await self._connect(scheme, host, port)
                address = conn.address
                conn.send(_request(parts, host, port, scheme, headers, body), body)
                status, fields, data, complete = await conn.read_reply()
                if complete and len(pool.idle) < self._per_endpoint and conn.next_cycle():
                    conn.idle_since = time.monotonic()
                    pool.idle.append(conn)
                    conn = None
                return done(status, fields.get("content-type"), data)
        except AddressRefused as exc:
            return done(error=str(exc))
        except TimeoutError:
            return done(error=f"no complete reply within {self.timeout:g} s")
        except _ConnectFailed as exc:
            return done(error=f"could not connect: {_reason(exc)}")
        except ProtocolError as exc:
            return done(error=str(exc))
        except ssl.SSLError as exc:
            return done(error=f"ConnectError: {exc}")
        except OSError as exc:
            return done(error=f"network error: {exc}")
        finally:
            if conn is not None:
                conn.close()
            pool.busy -= 1


class _ConnectFailed(Exception):
    """No connection could be made (the cause is chained)."""


_DEFAULT_PORT = {"http": 80, "https": 443}
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def _request(
    parts: SplitResult,
    host: str,
    port: int,
    scheme: str,
    headers: Mapping[str, str],
    body: bytes,
) -> h11.Request:
    path = parts.path or "/"
    if not path.isascii() or " " in path:
        path = quote(path, safe=_PATH_SAFE)
    if parts.query:
        query = parts.query
        if not query.isascii() or " " in query:
            query = quote(query, safe=_PATH_SAFE + "?")
        path = f"{path}?{query}"
    try:
        name = host.encode("ascii").decode("ascii")
    except UnicodeEncodeError:
        name = host.encode("idna").decode("ascii")
    if ":" in name:
        name = f"[{name}]"
    if port != _DEFAULT_PORT[scheme]:
        name = f"{name}:{port}"
    fields = [("host", name), ("accept", "*/*"), ("user-agent", USER_AGENT)]
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(credentials.encode("utf-8")).decode("ascii")
        fields.append(("authorization", f"Basic {token}"))
    fields += list(headers.items())
    fields.append(("content-length", str(len(body))))
    try:
        return h11.Request(method="POST", target=path, headers=fields)
    except h11.LocalProtocolError as exc:
        raise ProtocolError(f"LocalProtocolError: {exc}") from exc


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


def _format_peer(peer: object) -> str | None:
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return None
