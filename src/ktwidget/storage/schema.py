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
        return value.astimezone(UTC).replace(tzinfo=None)

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
    Column("state", String(10), nullable=False),  # pending | done | failed
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime),
    Index(None, "state", "due_at"),
)
