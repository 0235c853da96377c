"""Helpers for the widget API tests: sealing parameters, reading problem documents, counting rows."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import httpx
import simplejson
from sqlalchemy import func, select

from ktwidget.services.context import Gateway
from ktwidget.services.merchants import Credentials
from ktwidget.storage.db import Database
from ktwidget.storage.schema import jobs, transaction_statuses, transactions
from tests.conftest import LiveServer
from tests.support import seal

TRANSACTIONS = "/api/v1/widget/transactions"
PROBLEM_JSON = "application/problem+json"
NOTHING = {"transactions": 0, "transaction_statuses": 0, "jobs": 0}

# A contract value the mobile service of conftest accepts (^7\d{9}$).
PHONE = "7011234567"


def ecom(**changes: Any) -> dict[str, Any]:
    """A valid `ecom` parameter set, as the seed's example sends it."""
    return {"order_id": "order-1", "amount": 1000, "type": "ecom", **changes}


def service(**changes: Any) -> dict[str, Any]:
    """A valid `service` parameter set for the mobile top-up service (id 1)."""
    return {
        "order_id": "order-1",
        "amount": 500,
        "type": "service",
        "service": {"service_id": 1, "contract_value": PHONE},
        **changes,
    }


def without(params: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != name}


def sealed(app_key: str, params: Any) -> str:
    """Seal parameters as the widget does; ``bytes`` are sealed as they are (raw JSON tricks).

    ASCII-only JSON, so strings the gateway must refuse (lone surrogates) travel as ``\\ud800``.
    """
    plaintext = params if isinstance(params, bytes) else simplejson.dumps(params, use_decimal=True)
    return seal(app_key, plaintext.encode() if isinstance(plaintext, str) else plaintext)


def body(
    shop: Credentials, params: Any, *, test_mode: bool = True, app_key: str | None = None
) -> dict[str, Any]:
    return {
        "app_id": shop.app_id,
        "test_mode": test_mode,
        "payload": sealed(app_key or shop.app_key, params),
    }


def create(
    client: httpx.Client,
    shop: Credentials,
    params: Any,
    *,
    test_mode: bool = True,
    app_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """``POST /api/v1/widget/transactions`` with ``params`` sealed for the shop's app key."""
    return client.post(
        TRANSACTIONS,
        json=body(shop, params, test_mode=test_mode, app_key=app_key),
        headers=headers,
    )


def counts(db: Database) -> dict[str, int]:
    """Rows in the tables a transaction writes to."""
    with db.read() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (transactions, transaction_statuses, jobs)
        }


def assert_problem(
    client: httpx.Client,
    response: httpx.Response,
    status: int,
    *,
    slug: str | None = None,
    fields: Iterable[str] = (),
) -> dict[str, Any]:
    """An RFC 9457 problem document with ``status``; for 422 naming every field of ``fields``.

    Also checks that the problem type resolves to its documentation page.
    """
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys(), problem
    assert problem["status"] == status
    for member in ("type", "title", "detail"):
        assert isinstance(problem[member], str), problem
        assert problem[member], problem
    assert problem["type"].startswith("/problems/"), problem
    if slug is not None:
        assert problem["type"] == f"/problems/{slug}", problem
    if status == 422:
        errors = problem["errors"]
        assert errors, problem
        for error in errors:
            assert set(error) == {"field", "message"}, error
            assert isinstance(error["message"], str), error
            assert error["message"], error
        named = {e["field"] for e in errors}
        missing = set(fields) - named
        assert not missing, f"{missing} not named in {errors}"
    documentation = client.get(problem["type"])
    assert documentation.status_code == 200, problem["type"]
    assert documentation.headers["content-type"].startswith("text/html")
    return problem


def problem_fields(response: httpx.Response) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


def truncated_box(payload: str, drop: int) -> str:
    """A sealed payload with its last ``drop`` bytes cut off, still valid base64."""
    return base64.b64encode(base64.b64decode(payload)[:-drop]).decode()


class Servers:
    """Live servers whose gateway differs from the `gateway` fixture's by a few settings."""

    def __init__(self, gateway: Gateway, stack: ExitStack) -> None:
        self.gateway = gateway
        self.stack = stack

    def __call__(self, **settings: Any) -> httpx.Client:
        gw = replace(self.gateway, settings=replace(self.gateway.settings, **settings))
        server = self.stack.enter_context(LiveServer(gw))
        return self.stack.enter_context(httpx.Client(base_url=server.url, timeout=10))


def servers(gateway: Gateway) -> Iterator[Servers]:
    """Generator body of a ``serve`` fixture: ``serve(rate_limit_per_client=2)`` -> a client."""
    with ExitStack() as stack:
        yield Servers(gateway, stack)
