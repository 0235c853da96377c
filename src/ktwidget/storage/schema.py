"""The one schema for SQLite and PostgreSQL. Migrations in `migrations/` must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from ktwidget.storage.driver import naive_utc

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both databases."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        return naive_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


merchants = Table(
    "merchants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("app_id", String(32), nullable=False, unique=True),
    Column("domains", Text, nullable=False),  # JSON list of trusted domains
    Column("callback_back_url", Text),
    Column("callback_success_url", Text),
    Column("callback_failed_url", Text),
    Column("callback_post_url", Text),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime),
)

# X25519 key pairs of a merchant's app. The current one has retired_at NULL; a rotated one keeps
# opening payloads until expires_at.
app_keys = Table(
    "app_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("merchant_id", Integer, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("public_key", String(44), nullable=False, unique=True),
    Column("private_key", LargeBinary, nullable=False),  # encrypted with the master key
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("merchant_id", Integer, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("secret", LargeBinary, nullable=False),  # encrypted with the master key
    Column("created_at", UTCDateTime, nullable=False),
    Column("retired_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("category", String(50), nullable=False),
    Column("pattern", Text, nullable=False),
    Column("hint", Text, nullable=False),
    Column("min_amount", BigInteger, nullable=False),
    Column("max_amount", BigInteger, nullable=False),
    Column("provider", String(50), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transaction_hash", String(40), nullable=False, unique=True),
    Column("merchant_id", Integer, ForeignKey("merchants.id"), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("amount", BigInteger, nullable=False),  # minor units
    Column("currency", String(3), nullable=False),
    Column("type", String(10), nullable=False),
    Column("service_id", Integer, ForeignKey("services.id")),
    Column("contract_value", String(128)),
    Column("description", Text),
    Column("callback_back_url", Text),
    Column("callback_success_url", Text),
    Column("callback_failed_url", Text),
    Column("callback_post_url", Text),
    Column("test_mode", Boolean, nullable=False),
    Column("fingerprint", String(64), nullable=False),  # sha256 of the validated parameters
    Column("status", String(16), nullable=False),
    Column("acquirer", String(50), nullable=False),
    Column("acquirer_ref", String(100)),
    Column("card_mask", String(19)),  # first 6 and last 4 only
    Column("widget_origin", Text),  # the merchant page that opened the widget, for postMessage
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime),
    Column("expires_at", UTCDateTime, nullable=False),
    UniqueConstraint("merchant_id", "order_id"),
    Index(None, "status", "created_at"),
    Index(None, "created_at"),
)

transaction_statuses = Table(
    "transaction_statuses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("transaction_id", Integer, ForeignKey("transactions.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("error_type", String(20)),
    Column("error_message", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime),
)

# The outbox: work a status change starts, written in the same database transaction. A worker
# claims a due job by taking a lease; a job whose lease ran out is claimed again.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(30), nullable=False),
    Column("transaction_id", Integer, ForeignKey("transactions.id")),
    Column("dedupe_key", String(100), nullable=False, unique=True),
    Column("payload", Text, nullable=False, default="{}"),
    Column("state", String(10), nullable=False),  # pending | done
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime),
    Index(None, "state", "due_at", "id"),
)

# Merchant notifications (SPEC section 7). A delivery is written with the final status change it
# reports; its body is stored once, so every attempt sends and signs the same bytes. Workers claim
# due deliveries with leases, like jobs; each attempt is recorded.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", String(64), nullable=False, unique=True),  # the same across retries
    Column("merchant_id", Integer, ForeignKey("merchants.id"), nullable=False, index=True),
    Column("transaction_id", Integer, ForeignKey("transactions.id"), nullable=False, unique=True),
    Column("event", String(16), nullable=False),  # the final status reported
    Column("url", Text, nullable=False),
    Column("endpoint", String(300), nullable=False),  # scheme://host:port, for per-endpoint limits
    Column("body", LargeBinary, nullable=False),
    Column("state", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, default=0),  # in this round (resend starts one)
    Column("due_at", UTCDateTime),  # set while pending
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("resends", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Index(None, "state", "due_at", "id"),
    Index(None, "created_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("number", Integer, nullable=False),  # 1, 2, ... over the delivery's whole life
    Column("worker", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("latency_ms", Integer),
    Column("address", String(64)),  # the IP address actually connected to
    Column("status_code", Integer),
    Column("accepted", Boolean, nullable=False),
    Column("reply_excerpt", Text),
    Column("error", Text),
)


# --- The sandbox: a simulated bank and service provider. A real bank keeps these on its side. ---

sandbox_orders = Table(
    "sandbox_orders",
    metadata,
    Column("ref", String(40), primary_key=True),  # the gateway's transaction_hash
    Column("hold_id", String(40), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("return_url", Text, nullable=False),
    Column("notify_url", Text, nullable=False),
    Column("frame_ancestors", Text, nullable=False),
    Column(
        "state", String(12), nullable=False
    ),  # open|challenge|held|declined|captured|voided|closed
    Column("refused_submissions", Integer, nullable=False, default=0),
    Column("challenge_failures", Integer, nullable=False, default=0),
    Column("card_mask", String(19)),  # first 6 and last 4 only
    Column("capture_fails", Boolean, nullable=False, default=False),
    Column("outcome", String(20)),
    Column("message", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime),
)

sandbox_credits = Table(
    "sandbox_credits",
    metadata,
    Column("ref", String(40), primary_key=True),  # the gateway's transaction_hash
    Column("service_id", Integer, nullable=False),
    Column("contract_value", String(128), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("calls", Integer, nullable=False, default=0),
    Column("state", String(12), nullable=False),  # processing|credited|refused
    Column("ready_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
