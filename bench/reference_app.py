"""The reference for `create_transaction.py`: the create endpoint's essential work, no framework.

A bare ASGI callable served by the same uvicorn (same loop and HTTP parser choice) as the gateway.
Per ``POST /api/v1/widget/transactions`` it

- reads the body and parses the JSON envelope ``{"app_id", "test_mode", "payload"}`` on the loop;
- then, in a worker thread (``anyio.to_thread.run_sync``, what Starlette's ``run_in_threadpool``
  uses, with the same default limit of 40 threads): base64-decodes the payload, opens the sealed box
  with PyNaCl, parses the JSON parameters, and inserts one row into SQLite with the gateway's
  durability (WAL, ``synchronous=FULL``, ``busy_timeout``, ``BEGIN IMMEDIATE``, a commit per
  request) on a per-thread ``sqlite3`` connection;
- answers ``201`` with ``{"transaction_hash", "status", "payment_url", "created_at"}``.

Run by the benchmark as ``python bench/reference_app.py --port P --db FILE --app-id ID`` with the
raw X25519 private key (standard base64) in ``BENCH_REFERENCE_PRIVATE_KEY``. ``GET /healthz``
answers ``200`` once it is serving.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import uvicorn
from nacl.public import PrivateKey, SealedBox

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PRIVATE_KEY_ENV = "BENCH_REFERENCE_PRIVATE_KEY"
CREATE_PATH = "/api/v1/widget/transactions"
MAX_BODY = 16 * 1024  # the gateway's default KTWIDGET_MAX_BODY_BYTES

SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_hash TEXT NOT NULL UNIQUE,
    app_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    type TEXT NOT NULL,
    description TEXT,
    test_mode INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (app_id, order_id)
)
"""
INSERT = (
    "INSERT INTO transactions (transaction_hash, app_id, order_id, amount, type, description,"
    " test_mode, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)"
)


class BadRequest(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def connect(path: str) -> sqlite3.Connection:
    """A connection set up as the gateway sets up its SQLite connections."""
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class Reference:
    def __init__(self, db_path: str, app_id: str, private_key: bytes, public_url: str) -> None:
        self.db_path = db_path
        self.app_id = app_id
        self.box = SealedBox(PrivateKey(private_key))
        self.public_url = public_url
        self._local = threading.local()
        conn = connect(db_path)
        conn.execute(SCHEMA)
        conn.close()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.db_path)
        return conn

    def create(self, test_mode: bool, payload: str) -> dict[str, str]:
        """The blocking part, run in a worker thread."""
        try:
            box = base64.b64decode(payload, validate=True)
            params = json.loads(bytes(self.box.decrypt(box)).decode("utf-8"))
        except Exception as exc:  # any failure to open or parse is the client's fault
            raise BadRequest(400, f"payload: {exc}") from exc
        if not isinstance(params, dict):
            raise BadRequest(422, "parameters must be a JSON object")
        order_id, amount, kind = params.get("order_id"), params.get("amount"), params.get("type")
        if not isinstance(order_id, str) or not isinstance(amount, int | float):
            raise BadRequest(422, "order_id and amount are required")
        if kind not in ("ecom", "service"):
            raise BadRequest(422, "type must be ecom or service")
        transaction_hash = secrets.token_hex(20)
        created_at = datetime.now(UTC).isoformat()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                INSERT,
                (
                    transaction_hash,
                    self.app_id,
                    order_id,
                    str(amount),
                    kind,
                    params.get("description"),
                    int(test_mode),
                    created_at,
                ),
            )
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK")
            raise BadRequest(409, "order_id already used") from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return {
            "transaction_hash": transaction_hash,
            "status": "pending",
            "payment_url": f"{self.public_url}/pay/{transaction_hash}",
            "created_at": created_at,
        }

    def parse_envelope(self, body: bytes) -> tuple[bool, str]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BadRequest(400, f"the body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or set(data) - {"app_id", "test_mode", "payload"}:
            raise BadRequest(400, "the body must be {app_id, test_mode, payload}")
        app_id, test_mode, payload = data.get("app_id"), data.get("test_mode"), data.get("payload")
        if app_id != self.app_id:
            raise BadRequest(404, "unknown app_id")
        if not isinstance(test_mode, bool) or not isinstance(payload, str) or not payload:
            raise BadRequest(400, "test_mode must be a boolean and payload a string")
        return test_mode, payload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/healthz":
            await _respond(send, 200, {"status": "ok"})
            return
        if method != "POST" or path != CREATE_PATH:
            await _respond(send, 404, {"detail": "not found"})
            return
        try:
            body = await _read_body(receive)
            test_mode, payload = self.parse_envelope(body)
            content = await anyio.to_thread.run_sync(self.create, test_mode, payload)
        except BadRequest as exc:
            await _respond(send, exc.status, {"detail": exc.detail})
            return
        await _respond(send, 201, content)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest(400, "client went away")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, "body too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, content: object) -> None:
    body = json.dumps(content, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file to create and insert into")
    parser.add_argument("--app-id", required=True, help="The one app_id accepted")
    args = parser.parse_args()
    private_key = base64.b64decode(os.environ[PRIVATE_KEY_ENV])
    app = Reference(args.db, args.app_id, private_key, f"http://{args.host}:{args.port}")
    # As ktwidget.cli.serving.run_server: uvicorn's default loop and HTTP parser, no log config.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, server_header=False)


if __name__ == "__main__":
    main()
