"""Security headers on every response, and CORS for the widget API from trusted origins only."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ktwidget.domain.urls import allowed
from ktwidget.services.context import Gateway
from ktwidget.storage import merchants as merchants_repo

API_PREFIX = "/api/"
CORS_PREFIX = "/api/v1/widget/"


def _origin_trusted(gw: Gateway, origin: str) -> bool:
    """Whether any active merchant trusts ``origin``; the per-merchant check is in the use case."""
    with gw.db.read() as conn:
        return allowed(origin, merchants_repo.all_active_domains(conn))


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                if path.startswith(API_PREFIX) or path.endswith(".json"):
                    headers.setdefault(
                        "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
                    )
                    headers.setdefault("Cache-Control", "no-store")
                headers.setdefault("X-Frame-Options", "DENY") if path.startswith(
                    API_PREFIX
                ) else None
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, wrapped)


class WidgetCORS:
    """Answers preflights and adds ``Access-Control-Allow-Origin`` for trusted origins only."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CORS_PREFIX):
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        trusted = await run_in_threadpool(_origin_trusted, self.gateway, origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in request_headers:
            await self._preflight(send, origin if trusted else None)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.add_vary_header("Origin")
                if trusted:
                    headers["Access-Control-Allow-Origin"] = origin
            await send(message)

        await self.app(scope, receive, wrapped)

    async def _preflight(self, send: Send, origin: str | None) -> None:
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        if origin is not None:
            headers += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"GET, POST"),
                (b"access-control-allow-headers", b"Content-Type"),
                (b"access-control-max-age", b"600"),
            ]
        await send(
            {"type": "http.response.start", "status": 204 if origin else 403, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b""})
