"""The gateway's public files under ``/static``: the browser widget and the pages' assets.

``ktwidget.js`` and ``ktwidget.mjs`` are built from ``widget/src`` by ``npm run build`` (the
Makefile's set-up runs it) and are not committed. Any page may load them, so they are served with
``Access-Control-Allow-Origin: *`` (an ES module import is a CORS request) and cached for a while.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
WIDGET_FILES = ("ktwidget.js", "ktwidget.mjs")
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"
JAVASCRIPT = "text/javascript; charset=utf-8"
BUILD_HINT = "run `make setup`, or `npm ci && npm run build` in the project folder"


def missing_widget_files(directory: Path = STATIC_DIR) -> list[str]:
    """The built widget files that are not there (empty when the widget has been built)."""
    return [name for name in WIDGET_FILES if not (directory / name).is_file()]


def widget_not_built_message(missing: list[str]) -> str:
    return f"the browser widget is not built ({', '.join(missing)} missing): {BUILD_HINT}"


class PublicStatic(StaticFiles):
    """`StaticFiles` with caching and CORS for public assets, and a plain answer when the widget
    has not been built."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        name = Path(path).name
        if path in WIDGET_FILES and not (Path(str(self.directory)) / path).is_file():
            return PlainTextResponse(widget_not_built_message([path]), status_code=503)
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = CACHE_CONTROL
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
            if response.status_code == 200 and name.endswith((".js", ".mjs")):
                response.headers["Content-Type"] = JAVASCRIPT
        return response
