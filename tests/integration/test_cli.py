"""The operator CLI of SPEC section 9, run in-process against the test database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from ktwidget.cli.main import main
from ktwidget.storage.db import Database

SECRET = Fernet.generate_key().decode()


@pytest.fixture
def cli(db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KTWIDGET_DATABASE_URL", database_url)
    monkeypatch.setenv("KTWIDGET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KTWIDGET_SECRET_KEY", SECRET)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(main, list(args))
        if ok:
            assert result.exit_code == 0, (result.output, result.stderr, result.exception)
        return result

    return run


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_merchant_create_prints_credentials_as_json(cli: Any) -> None:
    created = as_json(
        cli("merchant", "create", "--name", "Shop", "--domain", "localhost", "--json")
    )
    assert set(created) == {"merchant_id", "app_id", "app_key", "webhook_secret"}
    assert len(created["app_id"]) == 32
    assert len(created["app_key"]) == 44
    assert created["webhook_secret"].startswith("whsec_")


def test_merchant_create_refuses_bad_input_with_a_clear_message(cli: Any) -> None:
    bad_domain = cli("merchant", "create", "--name", "X", "--domain", "http://x/", ok=False)
    assert bad_domain.exit_code == 1
    assert "not a domain" in bad_domain.stderr
    foreign = cli(
        "merchant", "create", "--name", "X", "--domain", "shop.example",
        "--callback-success-url", "https://evil.example/ok", ok=False,
    )  # fmt: skip
    assert "trusted domains" in foreign.stderr
    missing = cli("merchant", "create", "--name", "X", ok=False)
    assert missing.exit_code == 2


def test_merchant_list_show_update_disable(cli: Any) -> None:
    created = as_json(
        cli("merchant", "create", "--name", "Shop", "--domain", "shop.example", "--json")
    )
    mid = str(created["merchant_id"])
    listed = as_json(cli("merchant", "list", "--json"))
    assert [m["merchant_id"] for m in listed] == [created["merchant_id"]]
    shown = as_json(cli("merchant", "show", mid, "--json"))
    assert shown["app_key"] == created["app_key"]
    assert shown["domains"] == ["shop.example"]
    updated = as_json(
        cli(
            "merchant", "update", mid, "--name", "Shop 2", "--domain", "shop.example",
            "--domain", "*.shop.example", "--callback-success-url", "https://pay.shop.example/ok",
            "--json",
        )
    )  # fmt: skip
    assert updated["name"] == "Shop 2"
    assert updated["domains"] == ["shop.example", "*.shop.example"]
    assert updated["callback_success_url"] == "https://pay.shop.example/ok"
    disabled = as_json(cli("merchant", "disable", mid, "--json"))
    assert disabled["active"] is False
    assert "Shop 2" in cli("merchant", "list").stdout
    missing = cli("merchant", "show", "999", ok=False)
    assert "no merchant 999" in missing.stderr


def test_rotate_key_issues_a_new_app_key(cli: Any) -> None:
    created = as_json(
        cli("merchant", "create", "--name", "Shop", "--domain", "localhost", "--json")
    )
    mid = str(created["merchant_id"])
    rotated = as_json(cli("merchant", "rotate-key", mid, "--grace", "60", "--json"))
    assert rotated["app_id"] == created["app_id"]
    assert rotated["app_key"] != created["app_key"]
    assert as_json(cli("merchant", "show", mid, "--json"))["app_key"] == rotated["app_key"]
    secret = as_json(cli("merchant", "rotate-webhook-secret", mid, "--json"))
    assert secret["webhook_secret"] != created["webhook_secret"]


def test_service_add_list_update(cli: Any) -> None:
    added = as_json(
        cli(
            "service", "add", "--id", "1", "--name", "Mobile", "--category", "mobile",
            "--pattern", r"^7\d{9}$", "--hint", "10-digit phone number",
            "--min-amount", "100", "--max-amount", "50000", "--provider", "sandbox", "--json",
        )
    )  # fmt: skip
    assert added["min_amount"] == 100
    assert added["max_amount"] == 50000
    again = cli(
        "service", "add", "--id", "1", "--name", "M", "--category", "mobile", "--pattern", "x",
        "--hint", "h", "--min-amount", "1", "--max-amount", "2", ok=False,
    )  # fmt: skip
    assert "already exists" in again.stderr
    updated = as_json(
        cli("service", "update", "1", "--max-amount", "60000.50", "--inactive", "--json")
    )
    assert updated["max_amount"] == 60000.5
    assert updated["active"] is False
    assert [s["service_id"] for s in as_json(cli("service", "list", "--json"))] == [1]
    bad = cli("service", "update", "1", "--pattern", "(", ok=False)
    assert "regular expression" in bad.stderr
    bad_amount = cli("service", "update", "1", "--min-amount", "1.005", ok=False)
    assert bad_amount.exit_code == 2


def test_transaction_list_and_show_with_history(cli: Any, api: Any, shop: Any) -> None:
    from tests.support import seal

    params = {"order_id": "A-1", "amount": 10.5, "type": "ecom", "description": "Книга"}
    body = {"app_id": shop.app_id, "test_mode": True, "payload": seal(shop.app_key, params)}
    tx_hash = api.post("/api/v1/widget/transactions", json=body).json()["transaction_hash"]
    listed = as_json(cli("transaction", "list", "--json"))
    assert [(t["transaction_hash"], t["status"], t["amount"]) for t in listed] == [
        (tx_hash, "pending", 10.5)
    ]
    assert as_json(cli("transaction", "list", "--status", "completed", "--json")) == []
    assert len(as_json(cli("transaction", "list", "--order-id", "A-1", "--test", "--json"))) == 1
    assert as_json(cli("transaction", "list", "--live", "--json")) == []
    shown = as_json(cli("transaction", "show", tx_hash, "--json"))
    assert shown["description"] == "Книга"
    assert [h["status"] for h in shown["history"]] == ["pending"]
    assert "pending" in cli("transaction", "show", tx_hash).stdout
    assert "no transaction" in cli("transaction", "show", "f" * 40, ok=False).stderr


def test_db_upgrade_is_idempotent(cli: Any) -> None:
    assert "current schema" in cli("db", "upgrade").stdout
    assert "current schema" in cli("db", "upgrade").stdout
