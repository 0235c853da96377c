"""The gateway serves the browser widget at /static/ktwidget.js and /static/ktwidget.mjs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import httpx
import pytest

from ktwidget.cli import serving
from ktwidget.http import static_files
from ktwidget.http.static_files import STATIC_DIR, PublicStatic

built = pytest.mark.skipif(
    bool(static_files.missing_widget_files()),
    reason="the widget is not built (run `make setup` or `npm run build`)",
)


@built
@pytest.mark.parametrize("name", ["ktwidget.js", "ktwidget.mjs"])
def test_the_widget_is_served_to_any_page(api: httpx.Client, name: str) -> None:
    response = api.get(f"/static/{name}", headers={"Origin": "https://any-shop.example"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    cache = response.headers["cache-control"]
    assert cache.startswith("public, max-age=")
    assert int(cache.split("=")[1].split(",")[0]) >= 3600
    assert response.content == (STATIC_DIR / name).read_bytes()
    assert b"ApiClient" in response.content
    # revalidation works: the file is not sent again while unchanged
    again = api.get(f"/static/{name}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


@built
def test_the_classic_script_defines_the_global_and_the_module_exports_it(api: httpx.Client) -> None:
    assert b"window.ApiClient=" in api.get("/static/ktwidget.js").content
    module = api.get("/static/ktwidget.mjs").content
    assert b"export{" in module
    assert b" as ApiClient" in module


def test_a_missing_file_is_a_plain_404(api: httpx.Client) -> None:
    assert api.get("/static/nothing-here.js").status_code == 404


def test_an_unbuilt_widget_says_how_to_build_it(tmp_path: Path) -> None:
    scope = {"type": "http", "method": "GET", "path": "/static/ktwidget.js", "headers": []}
    response = asyncio.run(PublicStatic(directory=tmp_path).get_response("ktwidget.js", scope))
    assert response.status_code == 503
    assert b"not built" in response.body
    assert b"npm run build" in response.body
    assert static_files.missing_widget_files(tmp_path) == ["ktwidget.js", "ktwidget.mjs"]


def test_serve_refuses_to_start_without_the_widget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "missing_widget_files", lambda: ["ktwidget.mjs"])
    with pytest.raises(click.ClickException, match=r"ktwidget\.mjs missing.*make setup"):
        serving.require_widget()
