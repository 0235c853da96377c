"""SPEC section 10: configuration through KTWIDGET_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ktwidget.config import ConfigError, Settings
from ktwidget.domain.retry import DEFAULT_SCHEDULE, RetrySchedule


def test_defaults_with_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.data_dir == Path(".ktwidget")
    assert settings.database_url == ""
    assert settings.secret_key is None
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.timezone == ZoneInfo("Asia/Almaty")
    assert settings.max_amount == 100_000_000
    assert settings.payment_ttl == 30 * 60  # SPEC section 5: 30 minutes by default
    assert settings.notify_retry_schedule.delays == DEFAULT_SCHEDULE
    assert settings.notify_allow_private is False
    assert settings.production_acquirer is None
    assert settings.trusted_proxies == ()
    assert settings.log_level == "INFO"


def test_the_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"KTWIDGET_DATA_DIR": str(tmp_path)})
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'ktwidget.sqlite3'}"
    url = "postgresql+psycopg://kt@db/kt"
    assert Settings.from_env({"KTWIDGET_DATABASE_URL": url}).resolved_database_url == url


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("KTWIDGET_DATA_DIR", "/var/lib/ktwidget", "data_dir", Path("/var/lib/ktwidget")),
        (
            "KTWIDGET_DATABASE_URL",
            " postgresql://kt@db/kt ",
            "database_url",
            "postgresql://kt@db/kt",
        ),
        ("KTWIDGET_SECRET_KEY", "c2VjcmV0", "secret_key", "c2VjcmV0"),
        ("KTWIDGET_SECRET_KEY", "", "secret_key", None),
        ("KTWIDGET_PUBLIC_URL", "https://pay.example.kz/", "public_url", "https://pay.example.kz"),
        ("KTWIDGET_PUBLIC_URL", "http://localhost:8000", "public_url", "http://localhost:8000"),
        ("KTWIDGET_TIMEZONE", "UTC", "timezone", ZoneInfo("UTC")),
        ("KTWIDGET_TIMEZONE", "Asia/Qostanay", "timezone", ZoneInfo("Asia/Qostanay")),
        ("KTWIDGET_MAX_AMOUNT", "500000", "max_amount", 50_000_000),
        ("KTWIDGET_MAX_AMOUNT", "99.99", "max_amount", 9999),
        ("KTWIDGET_MAX_AMOUNT", "  ", "max_amount", 100_000_000),
        ("KTWIDGET_PAYMENT_TTL", "900", "payment_ttl", 900),
        ("KTWIDGET_CLEARING_INTERVAL", "5", "clearing_interval", 5),
        ("KTWIDGET_CLEARING_INTERVAL", "", "clearing_interval", 60),
        (
            "KTWIDGET_NOTIFY_RETRY_SCHEDULE",
            "1, 2, 3",
            "notify_retry_schedule",
            RetrySchedule((1, 2, 3)),
        ),
        ("KTWIDGET_NOTIFY_RETRY_SCHEDULE", " ", "notify_retry_schedule", RetrySchedule()),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "1", "notify_allow_private", True),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "true", "notify_allow_private", True),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", " YES ", "notify_allow_private", True),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "on", "notify_allow_private", True),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "0", "notify_allow_private", False),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "False", "notify_allow_private", False),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "no", "notify_allow_private", False),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "off", "notify_allow_private", False),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "", "notify_allow_private", False),
        ("KTWIDGET_KEY_GRACE_PERIOD", "0", "key_grace_period", 0),
        ("KTWIDGET_KEY_GRACE_PERIOD", "3600", "key_grace_period", 3600),
        ("KTWIDGET_WEBHOOK_SECRET_GRACE_PERIOD", "60", "webhook_secret_grace_period", 60),
        ("KTWIDGET_RATE_LIMIT_PER_APP", "0", "rate_limit_per_app", 0),
        ("KTWIDGET_RATE_LIMIT_PER_CLIENT", "10", "rate_limit_per_client", 10),
        ("KTWIDGET_MAX_BODY_BYTES", "65536", "max_body_bytes", 65536),
        ("KTWIDGET_PRODUCTION_ACQUIRER", " halyk ", "production_acquirer", "halyk"),
        ("KTWIDGET_PRODUCTION_ACQUIRER", "", "production_acquirer", None),
        (
            "KTWIDGET_TRUSTED_PROXIES",
            "10.0.0.1, 10.0.0.2,",
            "trusted_proxies",
            ("10.0.0.1", "10.0.0.2"),
        ),
        ("KTWIDGET_SANDBOX_CREDIT_DELAY", "0", "sandbox_credit_delay", 0),
        ("KTWIDGET_LOG_LEVEL", "debug", "log_level", "DEBUG"),
    ],
)
def test_each_variable(name: str, value: str, attribute: str, expected: Any) -> None:
    assert getattr(Settings.from_env({name: value}), attribute) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KTWIDGET_TIMEZONE", "Mars/Olympus_Mons"),
        ("KTWIDGET_TIMEZONE", "../../etc/passwd"),
        ("KTWIDGET_TIMEZONE", ""),
        ("KTWIDGET_PUBLIC_URL", "pay.example.kz"),
        ("KTWIDGET_PUBLIC_URL", "ftp://pay.example.kz"),
        ("KTWIDGET_PUBLIC_URL", ""),
        ("KTWIDGET_MAX_AMOUNT", "0"),
        ("KTWIDGET_MAX_AMOUNT", "-1"),
        ("KTWIDGET_MAX_AMOUNT", "1.001"),
        ("KTWIDGET_MAX_AMOUNT", "lots"),
        ("KTWIDGET_MAX_AMOUNT", "NaN"),
        ("KTWIDGET_PAYMENT_TTL", "0"),
        ("KTWIDGET_PAYMENT_TTL", "half an hour"),
        ("KTWIDGET_PAYMENT_TTL", "1.5"),
        ("KTWIDGET_CLEARING_INTERVAL", "0"),
        ("KTWIDGET_CLEARING_INTERVAL", "-5"),
        ("KTWIDGET_NOTIFY_RETRY_SCHEDULE", "15,sixty"),
        ("KTWIDGET_NOTIFY_RETRY_SCHEDULE", "15,-60"),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "maybe"),
        ("KTWIDGET_NOTIFY_ALLOW_PRIVATE", "2"),
        ("KTWIDGET_KEY_GRACE_PERIOD", "-1"),
        ("KTWIDGET_WEBHOOK_SECRET_GRACE_PERIOD", "a day"),
        ("KTWIDGET_RATE_LIMIT_PER_APP", "-1"),
        ("KTWIDGET_RATE_LIMIT_PER_CLIENT", "many"),
        ("KTWIDGET_MAX_BODY_BYTES", "100"),
        ("KTWIDGET_SANDBOX_CREDIT_DELAY", "-1"),
    ],
)
def test_bad_values_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KTWIDGET_CLEARING_INTERVAL", "7")
    monkeypatch.setenv("KTWIDGET_TIMEZONE", "UTC")
    settings = Settings.from_env()
    assert settings.clearing_interval == 7
    assert settings.timezone == ZoneInfo("UTC")


def test_config_errors_are_value_errors() -> None:
    assert issubclass(ConfigError, ValueError)
