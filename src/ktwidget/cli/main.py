"""The operator CLI ``ktwidget`` (SPEC section 9): thin commands that parse, call a use case, print."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import click

from ktwidget import logs
from ktwidget.adapters.crypto import MasterKeyError
from ktwidget.cli import views
from ktwidget.cli.output import emit, json_option
from ktwidget.config import ConfigError, Settings
from ktwidget.domain import money
from ktwidget.domain.model import Service
from ktwidget.domain.status import Status
from ktwidget.services import catalog, merchants
from ktwidget.services import transactions as tx_use_cases
from ktwidget.services.context import Gateway
from ktwidget.services.errors import GatewayError, OperatorError
from ktwidget.services.notifications import deliveries_for_transaction
from ktwidget.storage import schema_state
from ktwidget.storage.db import Database
from ktwidget.storage.transactions import TransactionFilter

F = TypeVar("F", bound=Callable[..., Any])


def _gateway(ctx: click.Context) -> Gateway:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "gateway" not in obj:
        settings = Settings.from_env()
        # Operator commands print their result; their logs only say what went wrong.
        command = ctx.find_root().invoked_subcommand
        serving = command in ("serve", "worker") or (
            command == "demo" and "KTWIDGET_LOG_LEVEL" in os.environ
        )  # the demo keeps its terminal for the addresses it prints, unless asked for logs
        logs.configure(settings.log_level if serving else "WARNING")
        gateway = Gateway.from_settings(settings)
        schema_state.ensure_current(gateway.db)
        obj["gateway"] = gateway
        ctx.call_on_close(gateway.db.dispose)
    gw: Gateway = obj["gateway"]
    return gw


def friendly(func: F) -> F:
    """Turn expected failures into one line on stderr and exit code 1 (2 for usage)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (OperatorError, ConfigError, MasterKeyError, schema_state.SchemaError) as exc:
            raise click.ClickException(str(exc)) from exc
        except money.AmountError as exc:
            raise click.ClickException(f"amount {exc}") from exc
        except GatewayError as exc:
            raise click.ClickException(exc.detail) from exc

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="ktwidget")
def main() -> None:
    """ktwidget: a self-hosted payment-widget gateway. Configure with KTWIDGET_* variables."""


# --- merchants ------------------------------------------------------------------------------

CALLBACK_OPTIONS = (
    ("--callback-back-url", "callback_back_url", "Link back to the store on the receipt."),
    ("--callback-success-url", "callback_success_url", "Where 'Продолжить' goes after success."),
    ("--callback-failed-url", "callback_failed_url", "Where 'Продолжить' goes after a failure."),
    ("--callback-post-url", "callback_post_url", "Where notifications are POSTed."),
)


def callback_options(func: F) -> F:
    for flag, name, text in reversed(CALLBACK_OPTIONS):
        func = click.option(flag, name, default=None, help=text)(func)
    return func


def _callbacks(kwargs: dict[str, Any]) -> dict[str, str | None]:
    return {
        name: kwargs.pop(name) for _, name, _ in CALLBACK_OPTIONS if kwargs.get(name) is not None
    }


@main.group()
def merchant() -> None:
    """Merchants, their app keys and webhook secrets."""


@merchant.command("create")
@click.option("--name", required=True, help="Shown to customers on receipts.")
@click.option("--domain", "domains", multiple=True, required=True, help="Trusted domain (repeat).")
@callback_options
@json_option
@click.pass_context
@friendly
def merchant_create(
    ctx: click.Context, /, name: str, domains: tuple[str, ...], as_json: bool, **kwargs: Any
) -> None:
    """Create a merchant; prints merchant_id, app_id, app_key and the webhook secret."""
    creds = merchants.create_merchant(
        _gateway(ctx), name=name, domains=domains, callbacks=_callbacks(kwargs)
    )
    emit(
        {
            "merchant_id": creds.merchant_id,
            "app_id": creds.app_id,
            "app_key": creds.app_key,
            "webhook_secret": creds.webhook_secret,
        },
        as_json,
    )


@merchant.command("list")
@json_option
@click.pass_context
@friendly
def merchant_list(ctx: click.Context, as_json: bool) -> None:
    """List merchants."""
    gw = _gateway(ctx)
    rows = [views.merchant(m, gw.settings.timezone) for m in merchants.list_merchants(gw)]
    emit(rows, as_json, ["merchant_id", "name", "app_id", "domains", "active"])


@merchant.command("show")
@click.argument("merchant_id", type=int)
@json_option
@click.pass_context
@friendly
def merchant_show(ctx: click.Context, merchant_id: int, as_json: bool) -> None:
    """Show a merchant with its current app_key."""
    gw = _gateway(ctx)
    m = merchants.get_merchant(gw, merchant_id)
    emit(views.merchant(m, gw.settings.timezone, merchants.current_app_key(gw, m.id)), as_json)


@merchant.command("update")
@click.argument("merchant_id", type=int)
@click.option("--name", default=None)
@click.option("--domain", "domains", multiple=True, help="Replace the trusted domains (repeat).")
@callback_options
@click.option("--enable/--disable", "active", default=None, help="Enable or disable the merchant.")
@json_option
@click.pass_context
@friendly
def merchant_update(
    ctx: click.Context,
    /,
    merchant_id: int,
    name: str | None,
    domains: tuple[str, ...],
    active: bool | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Change a merchant's name, domains, callback URLs (give "" to clear one) or state."""
    gw = _gateway(ctx)
    m = merchants.update_merchant(
        gw,
        merchant_id,
        name=name,
        domains=domains or None,
        callbacks=_callbacks(kwargs),
        active=active,
    )
    emit(views.merchant(m, gw.settings.timezone), as_json)


@merchant.command("disable")
@click.argument("merchant_id", type=int)
@json_option
@click.pass_context
@friendly
def merchant_disable(ctx: click.Context, merchant_id: int, as_json: bool) -> None:
    """Disable a merchant: its widget requests are refused with 403."""
    gw = _gateway(ctx)
    m = merchants.update_merchant(gw, merchant_id, active=False)
    emit(views.merchant(m, gw.settings.timezone), as_json)


@merchant.command("rotate-key")
@click.argument("merchant_id", type=int)
@click.option(
    "--grace",
    type=click.IntRange(min=0),
    default=None,
    help="Seconds the old key keeps working (default KTWIDGET_KEY_GRACE_PERIOD, 7 days).",
)
@json_option
@click.pass_context
@friendly
def merchant_rotate_key(
    ctx: click.Context, merchant_id: int, grace: int | None, as_json: bool
) -> None:
    """Issue a new app_key; the old one keeps opening payloads for the grace period."""
    gw = _gateway(ctx)
    app_key = merchants.rotate_app_key(gw, merchant_id, grace_seconds=grace)
    m = merchants.get_merchant(gw, merchant_id)
    emit({"merchant_id": m.id, "app_id": m.app_id, "app_key": app_key}, as_json)


@merchant.command("rotate-webhook-secret")
@click.argument("merchant_id", type=int)
@click.option("--grace", type=click.IntRange(min=0), default=None, help="Seconds both are used.")
@json_option
@click.pass_context
@friendly
def merchant_rotate_secret(
    ctx: click.Context, merchant_id: int, grace: int | None, as_json: bool
) -> None:
    """Issue a new webhook secret; during the grace period notifications carry both signatures."""
    secret = merchants.rotate_webhook_secret(_gateway(ctx), merchant_id, grace_seconds=grace)
    emit({"merchant_id": merchant_id, "webhook_secret": secret}, as_json)


# --- services -------------------------------------------------------------------------------


class AmountType(click.ParamType[int]):
    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return money.parse_major(str(value))
        except money.AmountError as exc:
            self.fail(str(exc), param, ctx)


AMOUNT = AmountType()


@main.group()
def service() -> None:
    """The ktpay service catalog."""


@service.command("add")
@click.option("--id", "service_id", type=click.IntRange(min=1), required=True)
@click.option("--name", required=True)
@click.option("--category", required=True, help="mobile, utilities, transport, ...")
@click.option("--pattern", required=True, help="Regular expression the contract value must match.")
@click.option("--hint", required=True, help='What the contract value is, e.g. "10-digit phone".')
@click.option("--min-amount", type=AMOUNT, required=True, help="In KZT, e.g. 100 or 99.50.")
@click.option("--max-amount", type=AMOUNT, required=True, help="In KZT.")
@click.option("--provider", default="sandbox", show_default=True)
@click.option("--inactive", is_flag=True, help="Add it switched off.")
@json_option
@click.pass_context
@friendly
def service_add(ctx: click.Context, /, as_json: bool, **opts: Any) -> None:
    """Add a catalog service."""
    added = catalog.add_service(
        _gateway(ctx),
        Service(
            id=opts["service_id"],
            name=opts["name"],
            category=opts["category"],
            pattern=opts["pattern"],
            hint=opts["hint"],
            min_amount=opts["min_amount"],
            max_amount=opts["max_amount"],
            provider=opts["provider"],
            active=not opts["inactive"],
        ),
    )
    emit(views.service(added), as_json)


@service.command("list")
@json_option
@click.pass_context
@friendly
def service_list(ctx: click.Context, as_json: bool) -> None:
    """List catalog services."""
    rows = [views.service(s) for s in catalog.list_services(_gateway(ctx))]
    emit(
        rows,
        as_json,
        ["service_id", "name", "category", "hint", "min_amount", "max_amount", "active"],
    )


@service.command("update")
@click.argument("service_id", type=int)
@click.option("--name", default=None)
@click.option("--category", default=None)
@click.option("--pattern", default=None)
@click.option("--hint", default=None)
@click.option("--min-amount", type=AMOUNT, default=None)
@click.option("--max-amount", type=AMOUNT, default=None)
@click.option("--provider", default=None)
@click.option("--active/--inactive", default=None)
@json_option
@click.pass_context
@friendly
def service_update(ctx: click.Context, /, service_id: int, as_json: bool, **opts: Any) -> None:
    """Change a catalog service."""
    updated = catalog.update_service(_gateway(ctx), service_id, **opts)
    emit(views.service(updated), as_json)


# --- transactions ---------------------------------------------------------------------------


@main.group()
def transaction() -> None:
    """Transactions and their status history."""


@transaction.command("list")
@click.option("--merchant", "merchant_id", type=int, default=None)
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None)
@click.option("--test/--live", "test_mode", default=None, help="Only test or only live ones.")
@click.option("--order-id", default=None)
@click.option("--since", type=click.DateTime(), default=None, help="Created at or after (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Created before (UTC).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@click.pass_context
@friendly
def transaction_list(
    ctx: click.Context,
    merchant_id: int | None,
    status: str | None,
    test_mode: bool | None,
    order_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """List transactions, newest first."""
    gw = _gateway(ctx)
    found = tx_use_cases.list_transactions(
        gw,
        TransactionFilter(
            merchant_id=merchant_id,
            status=None if status is None else Status(status),
            test_mode=test_mode,
            order_id=order_id,
            since=None if since is None else since.replace(tzinfo=since.tzinfo or UTC),
            until=None if until is None else until.replace(tzinfo=until.tzinfo or UTC),
            limit=limit,
        ),
    )
    rows = [views.transaction_row(t, gw.settings.timezone) for t in found]
    emit(
        rows,
        as_json,
        [
            "transaction_hash",
            "merchant_id",
            "order_id",
            "amount",
            "type",
            "status",
            "test_mode",
            "created_at",
        ],
    )


@transaction.command("show")
@click.argument("transaction_hash")
@json_option
@click.pass_context
@friendly
def transaction_show(ctx: click.Context, transaction_hash: str, as_json: bool) -> None:
    """Show a transaction with its status history and notification deliveries."""
    gw = _gateway(ctx)
    try:
        view = tx_use_cases.get_transaction(gw, transaction_hash)
    except GatewayError as exc:
        raise OperatorError(f"no transaction {transaction_hash}") from exc
    data = views.transaction_detail(view.transaction, view.history, gw.settings.timezone)
    data["deliveries"] = deliveries_for_transaction(gw, view.transaction.id)
    emit(data, as_json)


# --- database and serving -------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Create or migrate the schema to the current version."""
    settings = Settings.from_env()
    logs.configure("WARNING")
    database = Database.from_url(settings.resolved_database_url)
    try:
        schema_state.upgrade(database)
    finally:
        database.dispose()
    click.echo("database is at the current schema version")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--no-worker", is_flag=True, help="Do not run the worker in this process.")
@click.pass_context
@friendly
def serve(ctx: click.Context, host: str, port: int, no_worker: bool) -> None:
    """Run the gateway's HTTP server (and the worker, unless --no-worker)."""
    from ktwidget.cli.serving import run_server

    run_server(_gateway(ctx), host, port, with_worker=not no_worker)


@main.command()
@click.pass_context
@friendly
def worker(ctx: click.Context) -> None:
    """Run the worker alone: expiry, crediting, clearing and notifications."""
    from ktwidget.worker.process import main as run

    run(_gateway(ctx))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_context
@friendly
def demo(ctx: click.Context, host: str, port: int) -> None:
    """A demo merchant, the sandbox services, the gateway and a demo shop on the next port."""
    from ktwidget.cli.serving import run_demo

    run_demo(_gateway(ctx), host, port)


from ktwidget.cli.notifications import notification  # noqa: E402 - it uses the helpers above

main.add_command(notification)
