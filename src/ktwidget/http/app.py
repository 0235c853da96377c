"""The ASGI application: routes, error handlers and middleware, built around one `Gateway`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ktwidget.http import pages, problems, widget_api
from ktwidget.http.middleware import SecurityHeaders, WidgetCORS
from ktwidget.http.ratelimit import RateLimiter
from ktwidget.http.static_files import STATIC_DIR, PublicStatic
from ktwidget.sandbox import routes as sandbox_routes
from ktwidget.services.context import Gateway
from ktwidget.services.errors import GatewayError


def create_app(gateway: Gateway, *, with_worker: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One HTTP client for the sandbox bank's server-to-server results: a client per call
        # built an SSL context each time, half the gateway's CPU per payment.
        async with httpx.AsyncClient(timeout=5) as client:
            app.state.http = client
            if not with_worker:
                yield
                return
            from ktwidget.worker.process import run_worker

            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(gateway, stop))
            try:
                yield
            finally:
                stop.set()
                await task

    app = FastAPI(
        lifespan=lifespan,
        title="ktwidget gateway",
        version="1",
        description="Widget API of the ktwidget payment gateway. Errors are RFC 9457 problem documents.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.gateway = gateway
    app.state.rate_limits = (
        RateLimiter(gateway.settings.rate_limit_per_app),
        RateLimiter(gateway.settings.rate_limit_per_client),
    )
    app.add_exception_handler(GatewayError, problems.handle_gateway_error)
    app.add_exception_handler(HTTPException, problems.handle_http_exception)
    app.add_exception_handler(Exception, problems.handle_unexpected)
    app.include_router(widget_api.router)
    app.include_router(pages.router)
    app.include_router(sandbox_routes.router)
    app.mount("/static", PublicStatic(directory=STATIC_DIR), name="static")

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness and database reachability",
        responses={503: {"description": "The database cannot be reached"}},
    )
    async def healthz(request: Request) -> JSONResponse:
        def ping() -> None:
            with gateway.db.read() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except Exception:  # any failure means "not healthy"
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/problems/{slug}", include_in_schema=False, response_class=HTMLResponse)
    async def problem_type(slug: str) -> HTMLResponse:
        text = problems.PROBLEM_TYPES.get(slug)
        if text is None:
            raise HTTPException(404)
        return HTMLResponse(
            f"<!doctype html><meta charset=utf-8><title>{slug}</title><h1>{slug}</h1><p>{text}</p>"
        )

    def openapi() -> dict[str, Any]:
        # FastAPI documents a 422 for every operation with parameters; ours never answer it
        # unless they say so themselves (the create endpoint lists its own).
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    answers = operation.get("responses", {})
                    if "422" in answers and problems.MEDIA_TYPE not in answers["422"].get(
                        "content", {}
                    ):
                        answers.pop("422")
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    app.add_middleware(WidgetCORS, gateway=gateway)
    app.add_middleware(SecurityHeaders, hsts=gateway.settings.public_url.startswith("https://"))
    return app
