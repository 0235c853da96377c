"""`ktwidget notification list|show|resend|test` and the deliveries in `ktwidget transaction show`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from ktwidget.adapters.clock import FakeClock
from ktwidget.adapters.crypto import MasterKey
from ktwidget.cli.main import main
from ktwidget.domain.retry import RetrySchedule
from ktwidget.services.context import Gateway
from ktwidget.storage import transactions as tx_repo
from ktwidget.worker.deliveries import DeliveryDispatcher
from tests.integration.notify_support import ANSWERS, OK, Answer, Receiver, final_transaction

SECRET = Fernet.generate_key().decode()


@pytest.fixture
def gw(gateway: Gateway) -> Gateway:
    """The test's view of the gateway the CLI opens: same database, same master key, and a clock
    that starts at the real time the CLI's own clock shows."""
    return replace(
        gateway,
        master_key=MasterKey([SECRET]),
        clock=FakeClock(datetime.now(UTC)),
        settings=replace(
            gateway.settings,
            notify_allow_private=True,
            notify_retry_schedule=RetrySchedule((2, 5)),
        ),
    )


@pytest.fixture
def cli(gw: Gateway, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KTWIDGET_DATABASE_URL", database_url)
    monkeypatch.setenv("KTWIDGET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KTWIDGET_SECRET_KEY", SECRET)
    monkeypatch.setenv("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "1")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Result:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, (result.output, result.exception)
        return result

    return run


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def make_shop(cli: Any, url: str) -> dict[str, Any]:
    created: dict[str, Any] = as_json(
        cli(
            "merchant",
            "create",
            "--name",
            "Shop",
            "--domain",
            "localhost",
            "--callback-post-url",
            url,
            "--json",
        )
    )
    return created


def dispatch(gw: Gateway, *steps: float) -> None:
    async def go() -> None:
        async with DeliveryDispatcher(gw) as dispatcher:
            await dispatcher.run_until_idle()
            for step in steps:
                gw.clock.advance(step)  # type: ignore[attr-defined]
                await dispatcher.run_until_idle()

    asyncio.run(go())


def test_list_show_resend_and_transaction_show(cli: Any, gw: Gateway) -> None:
    state = {"answer": ANSWERS["500"]}

    def behaviour(_path: str, _count: int) -> Answer:
        return state["answer"]

    with Receiver(behaviour) as receiver:
        shop = make_shop(cli, receiver.url())
        tx_id = final_transaction(gw, shop["merchant_id"], order_id="order-7")
        final_transaction(gw, shop["merchant_id"], callback_post_url=receiver.url("/other"))
        dispatch(gw, 2, 5)

        failed = as_json(cli("notification", "list", "--failed", "--json"))
        assert len(failed) == 2
        assert {d["state"] for d in failed} == {"failed"}
        assert {d["attempts"] for d in failed} == {3}
        table = cli("notification", "list", "--merchant", str(shop["merchant_id"])).stdout
        assert "WEBHOOK_ID" in table
        assert "failed" in table

        with gw.db.read() as conn:
            tx = tx_repo.get(conn, tx_id)
        assert tx is not None
        shown = as_json(cli("notification", "show", tx.transaction_hash, "--json"))
        assert shown["transaction_hash"] == tx.transaction_hash
        assert json.loads(shown["body"])["order_id"] == "order-7"
        assert [a["status_code"] for a in shown["attempt_log"]] == [500, 500, 500]
        assert "HTTP 500" in shown["attempt_log"][0]["error"]
        text = cli("notification", "show", shown["webhook_id"]).stdout
        assert "attempt_log:" in text
        assert "error=HTTP 500" in text

        state["answer"] = OK
        resent = as_json(cli("notification", "resend", shown["webhook_id"], "--json"))
        assert resent["state"] == "pending"
        assert resent["webhook_id"] == shown["webhook_id"]
        others = as_json(cli("notification", "resend", "--all-failed", "--json"))
        assert others["resent"] == 1
        dispatch(gw)

        detail = as_json(cli("transaction", "show", tx.transaction_hash, "--json"))
        (delivery,) = detail["deliveries"]
        assert delivery["state"] == "delivered"
        assert delivery["webhook_id"] == shown["webhook_id"]
        assert [a["accepted"] for a in delivery["attempt_log"]] == [False, False, False, True]
        assert cli("transaction", "show", tx.transaction_hash).stdout.count("deliveries") == 1
    assert {r.headers["webhook-id"] for r in receiver.received if r.path == "/hook"} == {
        shown["webhook_id"]
    }


def test_resend_usage_and_unknown(cli: Any) -> None:
    assert "either REF or --all-failed" in cli("notification", "resend", code=2).output
    assert "no delivery" in cli("notification", "resend", "msg_nope", code=1).output
    assert "no delivery" in cli("notification", "show", "42", code=1).output


def test_test_sends_a_signed_sample_and_prints_the_reply(cli: Any) -> None:
    with Receiver() as receiver:
        shop = make_shop(cli, receiver.url())
        out = as_json(cli("notification", "test", "--merchant", str(shop["merchant_id"]), "--json"))
        assert out["accepted"] is True
        assert out["status_code"] == 200
        assert out["reply"] == '{"status":"ok"}'
        (got,) = receiver.received
    Webhook(shop["webhook_secret"]).verify(got.body, got.headers)
    body = json.loads(got.body)
    assert body["merchant_id"] == shop["merchant_id"]
    assert body["order_id"] == "ktwidget-test"
    assert body["status"]["status"] == "completed"
    assert out["webhook_id"] == got.headers["webhook-id"]


def test_test_reports_a_receiver_that_refuses(cli: Any) -> None:
    with Receiver(ANSWERS["html"]) as receiver:
        shop = make_shop(cli, receiver.url())
        result = cli("notification", "test", "--merchant", str(shop["merchant_id"]), code=1)
    assert "text/html" in result.stdout
    assert "accepted" in result.stdout


def test_test_with_another_url_and_without_any(cli: Any) -> None:
    with Receiver() as receiver:
        shop = make_shop(cli, "http://127.0.0.1:9/unused")
        out = as_json(
            cli(
                "notification",
                "test",
                "--merchant",
                str(shop["merchant_id"]),
                "--url",
                receiver.url("/other"),
                "--json",
            )
        )
        assert out["accepted"] is True
        assert receiver.received[0].path == "/other"
    silent = as_json(
        cli("merchant", "create", "--name", "Quiet", "--domain", "localhost", "--json")
    )
    result = cli("notification", "test", "--merchant", str(silent["merchant_id"]), code=1)
    assert "no notification URL" in result.output
