"""Helpers for the notification tests: merchant receivers on loopback, and final transactions."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from ktwidget.domain import ids
from ktwidget.domain.status import Event
from ktwidget.services import payments
from ktwidget.services.context import Gateway
from ktwidget.storage import transactions as tx_repo
from ktwidget.storage.schema import deliveries, delivery_attempts


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    arrived: float  # time.time()
    finished: float


@dataclass(frozen=True)
class Answer:
    status: int = 200
    content_type: str | None = "application/json"
    body: bytes = b'{"status":"ok"}'
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # hold the request until the receiver closes
    delay: float = 0.0


OK = Answer()
ANSWERS: dict[str, Answer] = {
    "ok": OK,
    "500": Answer(500, "application/json", b'{"status":"ok"}'),
    "fail": Answer(200, "application/json", b'{"status":"fail"}'),
    "html": Answer(200, "text/html; charset=utf-8", b"<html><body>ok</body></html>"),
    "redirect": Answer(302, None, b"", headers={"Location": "/elsewhere"}),
    "hang": Answer(hang=True),
}

Behaviour = Callable[[str, int], Answer]  # (path, how many requests this path had before) -> answer


def constant(answer: Answer) -> Behaviour:
    return lambda _path, _count: answer


def ok_after(failures: int, bad: Answer = ANSWERS["500"]) -> Behaviour:
    """Answer badly ``failures`` times, then well."""
    return lambda _path, count: bad if count < failures else OK


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A sender killed mid-request leaves a reset connection: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Receiver:
    """A merchant's endpoint: a real HTTP/1.1 server on loopback that records what arrives."""

    def __init__(self, behaviour: Behaviour | Answer = OK) -> None:
        self.behaviour = constant(behaviour) if isinstance(behaviour, Answer) else behaviour
        self.received: list[Received] = []
        self.in_flight = 0
        self.broken = 0  # requests cut off before their body ended
        self.max_in_flight = 0
        self.max_in_flight_per_id: dict[str, int] = {}
        self._in_flight_ids: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a SIGKILLed worker): nothing a merchant
                    # could verify or act on.
                    with receiver._lock:
                        receiver.broken += 1
                    self.close_connection = True
                    return
                msg_id = self.headers.get("webhook-id", "")
                with receiver._lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                    count = receiver._counts.get(self.path, 0)
                    receiver._counts[self.path] = count + 1
                    now_in = receiver._in_flight_ids.get(msg_id, 0) + 1
                    receiver._in_flight_ids[msg_id] = now_in
                    receiver.max_in_flight_per_id[msg_id] = max(
                        now_in, receiver.max_in_flight_per_id.get(msg_id, 0)
                    )
                try:
                    answer = receiver.behaviour(self.path, count)
                    if answer.hang:
                        receiver._release.wait(60)
                        self.close_connection = True  # end it without an answer
                        return
                    if answer.delay:
                        time.sleep(answer.delay)
                    self.send_response(answer.status)
                    if answer.content_type:
                        self.send_header("Content-Type", answer.content_type)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1
                        receiver._in_flight_ids[msg_id] -= 1
                        receiver.received.append(
                            Received(
                                self.path,
                                {k.lower(): v for k, v in self.headers.items()},
                                body,
                                arrived,
                                time.time(),
                            )
                        )

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def release(self) -> None:
        """Let hanging requests end (without an answer)."""
        self._release.set()

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r.body) for r in self.received]

    def ids(self) -> list[str]:
        with self._lock:
            return [r.headers.get("webhook-id", "") for r in self.received]


@contextmanager
def receivers(*behaviours: Behaviour | Answer) -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    try:
        for b in behaviours:
            started.append(Receiver(b).__enter__())
        yield started
    finally:
        for r in started:
            r.__exit__(None, None, None)


def closed_port_url() -> str:
    """A loopback URL where nothing listens: the connection is refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def transaction_values(
    merchant_id: int,
    *,
    order_id: str | None = None,
    amount: int = 100_000,
    callback_post_url: str | None = None,
    description: str | None = "Order",
    expires_at: Any = None,
) -> dict[str, Any]:
    """Every column of a new transaction, as the widget API writes one."""
    return {
        "transaction_hash": ids.new_transaction_hash(),
        "merchant_id": merchant_id,
        "order_id": order_id or ids.new_transaction_hash()[:16],
        "amount": amount,
        "currency": "KZT",
        "type": "ecom",
        "service_id": None,
        "contract_value": None,
        "description": description,
        "callback_back_url": None,
        "callback_success_url": None,
        "callback_failed_url": None,
        "callback_post_url": callback_post_url,
        "test_mode": True,
        "fingerprint": "0" * 64,
        "acquirer": "sandbox",
        "expires_at": expires_at,
    }


def new_transaction(gw: Gateway, merchant_id: int, **kwargs: Any) -> int:
    """A `pending` transaction written the way the widget API writes one."""
    now = gw.clock.now()
    with gw.db.write() as conn:
        tx_id = tx_repo.insert_transaction(
            conn, transaction_values(merchant_id, expires_at=now, **kwargs), now
        )
    assert tx_id is not None
    return tx_id


def finish(gw: Gateway, tx_id: int, event: Event = Event.EXPIRED) -> None:
    """Move a pending transaction to a final status through the payment flow's status change,
    which writes the notification in the same database transaction."""
    with gw.db.write() as conn:
        tx = tx_repo.get(conn, tx_id)
        assert tx is not None
        assert payments.change(conn, gw, tx, event, gw.clock.now())


def final_transaction(gw: Gateway, merchant_id: int, **kwargs: Any) -> int:
    tx_id = new_transaction(gw, merchant_id, **kwargs)
    finish(gw, tx_id)
    return tx_id


def final_transactions(gw: Gateway, merchant_id: int, count: int) -> list[int]:
    """Many at once: created and denied in one database transaction (one commit, one fsync)."""
    now = gw.clock.now()
    made = []
    with gw.db.write() as conn:
        for _ in range(count):
            tx_id = tx_repo.insert_transaction(
                conn, transaction_values(merchant_id, expires_at=now), now
            )
            assert tx_id is not None
            tx = tx_repo.get(conn, tx_id)
            assert tx is not None
            assert payments.change(conn, gw, tx, Event.EXPIRED, now)
            made.append(tx_id)
    return made


def delivery_rows(gw: Gateway) -> list[Any]:
    with gw.db.read() as conn:
        return list(conn.execute(select(deliveries).order_by(deliveries.c.id)))


def attempt_rows(gw: Gateway, delivery_id: int) -> list[Any]:
    with gw.db.read() as conn:
        return list(
            conn.execute(
                select(delivery_attempts)
                .where(delivery_attempts.c.delivery_id == delivery_id)
                .order_by(delivery_attempts.c.number)
            )
        )
