"""Configuration: every ``KTWIDGET_*`` variable, parsed in one place (documented in docs/operator.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ktwidget.domain import money
from ktwidget.domain.retry import RetrySchedule


class ConfigError(ValueError):
    """A ``KTWIDGET_*`` variable holds something we cannot use; the message names it."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r}: use 1/0, true/false, yes/no or on/off")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    value = env.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r}: expected a whole number") from exc
    if number < minimum:
        raise ConfigError(f"{name}={value!r}: must be at least {minimum}")
    return number


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".ktwidget")
    database_url: str = ""
    secret_key: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Almaty"))
    max_amount: int = 100_000_000  # minor units: 1,000,000.00 KZT
    payment_ttl: int = 1800
    clearing_interval: int = 60
    notify_retry_schedule: RetrySchedule = field(default_factory=RetrySchedule)
    notify_allow_private: bool = False
    key_grace_period: int = 7 * 24 * 3600
    webhook_secret_grace_period: int = 24 * 3600
    rate_limit_per_app: int = 120  # requests a minute
    rate_limit_per_client: int = 30  # requests a minute per client address and app
    max_body_bytes: int = 16 * 1024
    production_acquirer: str | None = None
    sandbox_credit_delay: int = 3
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'ktwidget.sqlite3').resolve()}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        zone_name = env.get("KTWIDGET_TIMEZONE", "Asia/Almaty")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"KTWIDGET_TIMEZONE={zone_name!r}: not a known time zone") from exc
        try:
            schedule = (
                RetrySchedule.parse(env.get("KTWIDGET_NOTIFY_RETRY_SCHEDULE", ""))
                if env.get("KTWIDGET_NOTIFY_RETRY_SCHEDULE", "").strip()
                else RetrySchedule()
            )
        except ValueError as exc:
            raise ConfigError(f"KTWIDGET_NOTIFY_RETRY_SCHEDULE: {exc}") from exc
        max_amount = cls.max_amount
        if env.get("KTWIDGET_MAX_AMOUNT", "").strip():
            try:
                max_amount = money.parse_major(env["KTWIDGET_MAX_AMOUNT"])
            except money.AmountError as exc:
                raise ConfigError(f"KTWIDGET_MAX_AMOUNT: {exc}") from exc
        public_url = env.get("KTWIDGET_PUBLIC_URL", cls.public_url).rstrip("/")
        if not public_url.startswith(("http://", "https://")):
            raise ConfigError(f"KTWIDGET_PUBLIC_URL={public_url!r}: must be an http(s) URL")
        acquirer = env.get("KTWIDGET_PRODUCTION_ACQUIRER", "").strip() or None
        proxies = tuple(
            p.strip() for p in env.get("KTWIDGET_TRUSTED_PROXIES", "").split(",") if p.strip()
        )
        return cls(
            data_dir=Path(env.get("KTWIDGET_DATA_DIR", ".ktwidget")),
            database_url=env.get("KTWIDGET_DATABASE_URL", "").strip(),
            secret_key=env.get("KTWIDGET_SECRET_KEY") or None,
            public_url=public_url,
            timezone=zone,
            max_amount=max_amount,
            payment_ttl=_int(env, "KTWIDGET_PAYMENT_TTL", cls.payment_ttl, 1),
            clearing_interval=_int(env, "KTWIDGET_CLEARING_INTERVAL", cls.clearing_interval, 1),
            notify_retry_schedule=schedule,
            notify_allow_private=_flag(env, "KTWIDGET_NOTIFY_ALLOW_PRIVATE", False),
            key_grace_period=_int(env, "KTWIDGET_KEY_GRACE_PERIOD", cls.key_grace_period),
            webhook_secret_grace_period=_int(
                env, "KTWIDGET_WEBHOOK_SECRET_GRACE_PERIOD", cls.webhook_secret_grace_period
            ),
            rate_limit_per_app=_int(env, "KTWIDGET_RATE_LIMIT_PER_APP", cls.rate_limit_per_app),
            rate_limit_per_client=_int(
                env, "KTWIDGET_RATE_LIMIT_PER_CLIENT", cls.rate_limit_per_client
            ),
            max_body_bytes=_int(env, "KTWIDGET_MAX_BODY_BYTES", cls.max_body_bytes, 256),
            production_acquirer=acquirer,
            sandbox_credit_delay=_int(
                env, "KTWIDGET_SANDBOX_CREDIT_DELAY", cls.sandbox_credit_delay
            ),
            trusted_proxies=proxies,
            log_level=env.get("KTWIDGET_LOG_LEVEL", "INFO").upper(),
        )
