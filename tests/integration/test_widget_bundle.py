"""The browser widget's code, run by node, against the gateway's Python: a payload sealed by the
widget opens in the gateway, and the widget's parameter checks agree with the gateway's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from ktwidget.domain import codec
from ktwidget.domain.params import ParamsInvalid, ValidationRules, validate_params
from ktwidget.services.merchants import Credentials

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("widget_node.mjs")
NODE = shutil.which("node")
TRANSACTIONS = "/api/v1/widget/transactions"

pytestmark = pytest.mark.skipif(
    NODE is None or not (ROOT / "node_modules" / "@noble" / "ciphers").is_dir(),
    reason="needs `node` on PATH and the widget's npm packages (run `npm ci`)",
)


def node(request: dict[str, Any]) -> Any:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_payload_sealed_by_the_widget_opens_in_the_gateway(
    api: httpx.Client, shop: Credentials
) -> None:
    params = {
        "order_id": "widget-1",
        "amount": 10.5,
        "type": "ecom",
        "description": "Заказ из виджета — Қазақша",
    }
    sealed = node({"op": "seal", "app_key": shop.app_key, "json": json.dumps(params)})
    body = {"app_id": shop.app_id, "test_mode": True, "payload": sealed["payload"]}
    created = api.post(TRANSACTIONS, json=body)
    assert created.status_code == 201, created.text
    shown = api.get(f"{TRANSACTIONS}/{created.json()['transaction_hash']}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["order_id"] == "widget-1"
    assert shown.json()["amount"] == 10.5
    assert shown.json()["description"] == params["description"]


# JSON texts as a merchant page could hand them to createTransaction. Each is checked by the
# widget (in node), and what the widget would seal is checked by the gateway's validator.
BASE = '"order_id": "1", "type": "ecom"'
SEED = (
    '"order_id": "1", "amount": 1000, "type": "service", '
    '"service": {"service_id": 1, "contract_value": "1111111"}'
)
CASES = [
    "{" + SEED + ', "callback_back_url": "widget.nplus.tech", "description": "Transaction"}',
    "{}",
    "[]",
    "null",
    '"text"',
    '{"ammount": 1, "zz": 2, ' + BASE + ', "amount": 1}',
    '{"order_id": "", "amount": 1, "type": "ecom"}',
    '{"order_id": 5, "amount": 1, "type": "ecom"}',
    '{"order_id": "' + "x" * 129 + '", "amount": 1, "type": "ecom"}',
    '{"order_id": "' + "\\ud83d\\ude00" * 128 + '", "amount": 1, "type": "ecom"}',
    '{"order_id": "a\\u0007b", "amount": 1, "type": "ecom"}',
    '{"order_id": "a\\u0085b", "amount": 1, "type": "ecom"}',
    '{"order_id": null, "amount": null, "type": null}',
    *(
        "{" + BASE + ', "amount": ' + amount + "}"
        for amount in (
            "1",
            "10.5",
            "10.50",
            "0.01",
            "1.005",
            "0.30000000000000004",
            "0",
            "-1",
            "1e2",
            "1E-7",
            "1e21",
            "92233720368547758.07",
            "true",
            '"1000"',
            "[1]",
            "{}",
        )
    ),
    '{"order_id": "1", "amount": 1, "type": "shop"}',
    '{"order_id": "1", "amount": 1, "type": 1}',
    '{"order_id": "1", "amount": 1, "type": "ecom", "service": {"service_id": 1}}',
    '{"order_id": "1", "amount": 1, "type": "shop", "service": 5}',
    '{"order_id": "1", "amount": 1, "type": "service"}',
    '{"order_id": "1", "amount": 1, "type": "service", "service": [1]}',
    '{"order_id": "1", "amount": 1, "type": "service", "service": {"x": 1}}',
    *(
        '{"order_id": "1", "amount": 1, "type": "service", "service": '
        '{"service_id": ' + service_id + ', "contract_value": ' + contract + "}}"
        for service_id, contract in (
            ("1", '"7771234567"'),
            ("1.0", '"7"'),
            ("1.5", '"7"'),
            ("0", '"7"'),
            ("-3", '"7"'),
            ('"1"', '"7"'),
            ("true", '"7"'),
            ("1e19", '"7"'),
            ("1", "7771234567"),
            ("1", '""'),
            ("1", '"a\\tb"'),
            ("1", '"' + "7" * 129 + '"'),
        )
    ),
    *(
        "{" + BASE + ', "amount": 1, "callback_success_url": ' + json.dumps(url) + "}"
        for url in (
            "widget.nplus.tech",
            "widget.nplus.tech?x=1",
            "https://shop.example/ok?x=1#top",
            "http://localhost:8080/ok",
            "shop.example:8443/ok",
            "http://[::1]:8000/",
            "  https://shop.example/  ",
            "",
            "   ",
            "https://shop.example/a b",
            "https://shop.example/\u00a0x",
            "https://shop.example/\u2028",
            "/relative",
            "javascript://alert(1)",
            "mailto:a@shop.example",
            "ftp://shop.example/",
            "https:///path",
            "https://user:pw@shop.example/",
            "https://@shop.example/",
            "https://evil.example\\.shop.example/",
            "https://shop.example:99999/",
            "https://shop.example:8o/",
            "https://shop.example:/",
            "https://[::1/",
            "https://::1]/",
            "https://shop.example/" + "a" * 2048,
            "https://shop.example/" + "a" * 2020,
        )
    ),
    "{" + BASE + ', "amount": 1, "callback_back_url": 5}',
    "{" + BASE + ', "amount": 1, "callback_post_url": "http://hooks.shop.example/k"}',
    "{" + BASE + ', "amount": 1, "callback_post_url": "https://hooks.shop.example/k"}',
    "{" + BASE + ', "amount": 1, "callback_post_url": "http://127.0.0.1:9/"}',
    "{" + BASE + ', "amount": 1, "callback_post_url": "hooks.shop.example"}',
    "{" + BASE + ', "amount": 1, "description": 5}',
    "{" + BASE + ', "amount": 1, "description": "' + "d" * 1000 + '"}',
    "{" + BASE + ', "amount": 1, "description": "' + "d" * 1001 + '"}',
]


def python_errors(sealed_json: str, test_mode: bool) -> list[dict[str, str]]:
    rules = ValidationRules(production=not test_mode, allow_private_notify=True)
    try:
        validate_params(codec.loads(sealed_json), rules)
    except ParamsInvalid as exc:
        return [{"field": e.field, "message": e.message} for e in exc.errors]
    return []


@pytest.mark.parametrize("test_mode", [True, False])
def test_the_widget_checks_parameters_as_the_gateway_does(test_mode: bool) -> None:
    answer = node({"op": "validate", "test_mode": test_mode, "cases": CASES})
    mismatches = []
    for case, result in zip(CASES, answer["results"], strict=True):
        expected = python_errors(result["json"], test_mode)
        if result["errors"] != expected:
            mismatches.append({"case": case[:120], "widget": result["errors"], "gateway": expected})
    assert mismatches == []
