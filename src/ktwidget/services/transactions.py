"""The widget's use cases: create a transaction from a sealed payload; read what the widget may show."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from ktwidget.adapters.crypto import SealError
from ktwidget.domain import codec, ids
from ktwidget.domain.model import Merchant, StatusEntry, Transaction
from ktwidget.domain.money import CURRENCY
from ktwidget.domain.params import (
    ParamsInvalid,
    ServiceRule,
    TransactionParams,
    ValidationRules,
    validate_params,
)
from ktwidget.domain.status import Status
from ktwidget.domain.urls import allowed
from ktwidget.services.cache import AppAuth
from ktwidget.services.context import Gateway, log
from ktwidget.services.errors import (
    AcquirerUnavailable,
    InvalidParameters,
    MalformedRequest,
    MerchantDisabled,
    NotFound,
    OrderConflict,
    PayloadNotOpened,
    UnknownApp,
    UntrustedOrigin,
)
from ktwidget.storage import catalog as catalog_repo
from ktwidget.storage import jobs as jobs_repo
from ktwidget.storage import merchants as merchants_repo
from ktwidget.storage import transactions as repo

SANDBOX_ACQUIRER = "sandbox"
EXPIRE_JOB = "expire"


@dataclass(frozen=True)
class CreateRequest:
    """The widget's envelope: ``{"app_id", "test_mode", "payload"}`` and where it came from."""

    app_id: str
    test_mode: bool
    payload: str
    origin: str | None


@dataclass(frozen=True)
class CreateResult:
    transaction: Transaction
    created: bool  # False: an idempotent repeat of a pending transaction
    payment_url: str


def parse_envelope(body: bytes, origin: str | None) -> CreateRequest:
    try:
        data = codec.loads(body)
    except (codec.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedRequest("the body must be a JSON object")
    unknown = sorted(set(data) - {"app_id", "test_mode", "payload"})
    if unknown:
        raise MalformedRequest(f"unknown fields in the body: {', '.join(unknown)}")
    app_id, test_mode, payload = data.get("app_id"), data.get("test_mode"), data.get("payload")
    if not ids.is_app_id(app_id):
        raise MalformedRequest("app_id must be 32 lowercase hex characters")
    if not isinstance(test_mode, bool):
        raise MalformedRequest("test_mode must be true or false")
    if not isinstance(payload, str) or not payload:
        raise MalformedRequest("payload must be the base64 of a sealed box")
    assert isinstance(app_id, str)
    return CreateRequest(app_id=app_id, test_mode=test_mode, payload=payload, origin=origin)


def payment_url(gw: Gateway, transaction_hash: str) -> str:
    return f"{gw.settings.public_url}/pay/{transaction_hash}"


def _fingerprint(params: TransactionParams, test_mode: bool) -> str:
    canonical = codec.dumps({"test_mode": test_mode, "params": params.to_wire()})
    return hashlib.sha256(canonical).hexdigest()


def check_origin(merchant: Merchant, origin: str | None) -> None:
    # Browsers send Origin on cross-origin POSTs; servers (the SDK) send none and are let through.
    if origin is not None and not allowed(origin, merchant.domains):
        raise UntrustedOrigin(f"origin {origin} is not a trusted domain of this merchant")


def _open_payload(gw: Gateway, auth: AppAuth, payload: str) -> bytes:
    try:
        box = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequest("payload is not standard base64") from exc
    now = gw.clock.now()
    for key, encrypted in auth.keys:
        if key.expires_at is not None and key.expires_at <= now:
            continue  # rotated out and past its grace period
        try:
            return gw.opener(key.id, encrypted).open(box)
        except SealError:
            continue
    raise PayloadNotOpened(
        "the payload does not open with this app's key; check app_key and app_id"
    )


def _load_app(gw: Gateway, app_id: str) -> AppAuth | None:
    with gw.db.read() as conn:
        merchant = merchants_repo.get_by_app_id(conn, app_id)
        if merchant is None:
            return None
        keys = merchants_repo.usable_app_keys(conn, merchant.id, gw.clock.now())
    return AppAuth(merchant, tuple(keys))


def _service_rule(gw: Gateway, service_id: int) -> ServiceRule | None:
    def load() -> ServiceRule | None:
        with gw.db.read() as conn:
            service = catalog_repo.get(conn, service_id)
        return None if service is None else service.rule()

    return gw.services.get(service_id, load)


def _decode_params(plaintext: bytes) -> object:
    try:
        # NaN, Infinity and overlong numbers reach the validator, which names the field (422).
        return codec.loads_lenient_numbers(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, codec.JSONDecodeError) as exc:
        raise MalformedRequest("the sealed payload is not UTF-8 JSON") from exc


@dataclass(frozen=True)
class Prepared:
    """A request that passed every check and is ready to store."""

    merchant: Merchant
    params: TransactionParams
    test_mode: bool
    acquirer: str
    fingerprint: str


def reads_cached(gw: Gateway, request: CreateRequest) -> bool:
    """Whether `prepare_transaction` can run without touching the database."""
    return gw.apps.fresh(request.app_id)


def prepare_transaction(gw: Gateway, request: CreateRequest) -> Prepared:
    """Every check of SPEC section 3 and 4; reads the database only on a cache miss."""
    auth = gw.apps.get(request.app_id, lambda: _load_app(gw, request.app_id))
    if auth is None:
        raise UnknownApp(f"no app with app_id {request.app_id}")
    merchant = auth.merchant
    if not merchant.active:
        raise MerchantDisabled("this merchant is disabled; contact the gateway operator")
    check_origin(merchant, request.origin)
    raw = _decode_params(_open_payload(gw, auth, request.payload))
    rules = ValidationRules(
        max_amount=gw.settings.max_amount,
        services=lambda sid: _service_rule(gw, sid),
        trusted_domains=merchant.domains,
        production=not request.test_mode,
        allow_private_notify=gw.settings.notify_allow_private,
    )
    try:
        params = validate_params(raw, rules)
    except ParamsInvalid as exc:
        raise InvalidParameters("the transaction parameters are invalid", exc.errors) from exc
    acquirer = SANDBOX_ACQUIRER if request.test_mode else gw.settings.production_acquirer
    if acquirer is None:
        raise AcquirerUnavailable(
            "test_mode false needs a production acquirer, and the operator has configured none"
        )
    fingerprint = _fingerprint(params, request.test_mode)
    return Prepared(merchant, params, request.test_mode, acquirer, fingerprint)


async def store_transaction_async(gw: Gateway, prepared: Prepared) -> CreateResult:
    """One write: the transaction, its first status and its expiry job; or the existing one.

    Awaits the commit (SQLite's group commit) without holding a thread."""
    store = _Store(gw, prepared)
    return store.finish(await gw.db.write_batched_async(store.write))


class _Store:
    """The write of a new transaction, and what to answer once it is committed."""

    def __init__(self, gw: Gateway, prepared: Prepared) -> None:
        self.gw = gw
        self.prepared = prepared
        params = prepared.params
        self.now = now = gw.clock.now()
        self.expires_at = now + timedelta(seconds=gw.settings.payment_ttl)
        self.values: dict[str, Any] = {
            "transaction_hash": ids.new_transaction_hash(),
            "merchant_id": prepared.merchant.id,
            "order_id": params.order_id,
            "amount": params.amount,
            "currency": CURRENCY,
            "type": params.type.value,
            "service_id": None if params.service is None else params.service.service_id,
            "contract_value": None if params.service is None else params.service.contract_value,
            "description": params.description,
            "callback_back_url": params.callback_back_url,
            "callback_success_url": params.callback_success_url,
            "callback_failed_url": params.callback_failed_url,
            "callback_post_url": params.callback_post_url,
            "test_mode": prepared.test_mode,
            "fingerprint": prepared.fingerprint,
            "acquirer": prepared.acquirer,
            "expires_at": self.expires_at,
        }

    def write(self, conn: Connection) -> int | Transaction:
        tx_id = repo.insert_transaction(conn, self.values, self.now)
        if tx_id is None:
            # The order_id is taken (a repeat, or a race another request won): read what is there.
            existing = repo.get_by_order(conn, self.prepared.merchant.id, self.values["order_id"])
            assert existing is not None
            return existing
        transaction_hash = self.values["transaction_hash"]
        jobs_repo.enqueue(
            conn,
            kind=EXPIRE_JOB,
            transaction_id=tx_id,
            dedupe_key=f"{EXPIRE_JOB}:{transaction_hash}",
            due_at=self.expires_at,
            now=self.now,
        )
        return tx_id

    def finish(self, outcome: int | Transaction) -> CreateResult:
        if isinstance(outcome, Transaction):
            return _repeat(self.gw, outcome, self.prepared.fingerprint)
        transaction = Transaction(
            id=outcome,
            status=Status.PENDING,
            type=self.prepared.params.type,
            created_at=self.now,
            updated_at=None,
            acquirer_ref=None,
            card_mask=None,
            **{k: v for k, v in self.values.items() if k != "type"},
        )
        log.info(
            "transaction_created",
            extra={
                "transaction_hash": transaction.transaction_hash,
                "merchant_id": transaction.merchant_id,
                "test_mode": transaction.test_mode,
            },
        )
        return CreateResult(transaction, True, payment_url(self.gw, transaction.transaction_hash))


def _repeat(gw: Gateway, existing: Transaction, fingerprint: str) -> CreateResult:
    if existing.fingerprint != fingerprint:
        raise OrderConflict(
            f"order_id {existing.order_id!r} was already used with other parameters"
        )
    if existing.status is not Status.PENDING or existing.expires_at <= gw.clock.now():
        raise OrderConflict(
            f"order_id {existing.order_id!r} was already used and its payment is no longer open"
        )
    return CreateResult(existing, False, payment_url(gw, existing.transaction_hash))


@dataclass(frozen=True)
class TransactionView:
    transaction: Transaction
    merchant: Merchant
    history: list[StatusEntry]


def get_transaction(gw: Gateway, transaction_hash: str) -> TransactionView:
    if not ids.is_transaction_hash(transaction_hash):
        raise NotFound("no such transaction")
    with gw.db.read() as conn:
        transaction = repo.get_by_hash(conn, transaction_hash)
        if transaction is None:
            raise NotFound("no such transaction")
        merchant = merchants_repo.get(conn, transaction.merchant_id)
        history = repo.history(conn, transaction.id)
    assert merchant is not None
    return TransactionView(transaction, merchant, history)


def list_transactions(gw: Gateway, filters: repo.TransactionFilter) -> list[Transaction]:
    with gw.db.read() as conn:
        return repo.list_transactions(conn, filters)
