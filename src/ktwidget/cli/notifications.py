"""``ktwidget notification list|show|resend|test``: the delivery log of merchant notifications."""

from __future__ import annotations

import asyncio

import click

from ktwidget.cli.main import _gateway, friendly
from ktwidget.cli.output import emit, json_option
from ktwidget.services import notifications
from ktwidget.storage.deliveries import STATES

LIST_COLUMNS = [
    "delivery_id",
    "webhook_id",
    "merchant_id",
    "transaction_hash",
    "event",
    "state",
    "attempts",
    "last_status_code",
    "next_attempt_at",
    "created_at",
]


@click.group()
def notification() -> None:
    """Merchant notifications: deliveries, their attempts, resends and a test send."""


@notification.command("list")
@click.option("--merchant", "merchant_id", type=int, default=None)
@click.option("--state", type=click.Choice(STATES), default=None)
@click.option("--failed", is_flag=True, help="Only failed deliveries (same as --state failed).")
@click.option("--transaction", "transaction_hash", default=None, help="Of one transaction.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@click.pass_context
@friendly
def notification_list(
    ctx: click.Context,
    merchant_id: int | None,
    state: str | None,
    failed: bool,
    transaction_hash: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List deliveries, newest first."""
    if failed:
        if state not in (None, "failed"):
            raise click.UsageError("--failed and --state disagree")
        state = "failed"
    rows = notifications.list_deliveries(
        _gateway(ctx),
        notifications.ListFilter(
            merchant_id=merchant_id, state=state, transaction_hash=transaction_hash, limit=limit
        ),
    )
    emit(rows, as_json, LIST_COLUMNS)


@notification.command("show")
@click.argument("ref")
@json_option
@click.pass_context
@friendly
def notification_show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show a delivery with its body and every attempt.

    REF is a delivery id, a webhook-id (msg_…) or a transaction_hash.
    """
    emit(notifications.show_delivery(_gateway(ctx), ref), as_json)


@notification.command("resend")
@click.argument("ref", required=False)
@click.option("--all-failed", is_flag=True, help="Resend every failed delivery.")
@click.option("--merchant", "merchant_id", type=int, default=None, help="With --all-failed.")
@json_option
@click.pass_context
@friendly
def notification_resend(
    ctx: click.Context, ref: str | None, all_failed: bool, merchant_id: int | None, as_json: bool
) -> None:
    """Send a delivery again, from the start of the retry schedule, with the same webhook-id.

    REF is a delivery id, a webhook-id (msg_…) or a transaction_hash.
    """
    gw = _gateway(ctx)
    if all_failed == (ref is not None):
        raise click.UsageError("give either REF or --all-failed")
    if ref is not None:
        emit(notifications.resend(gw, ref), as_json)
        return
    resent = notifications.resend_failed(gw, merchant_id)
    emit({"resent": len(resent), "delivery_ids": resent}, as_json)


@notification.command("test")
@click.option("--merchant", "merchant_id", type=int, required=True)
@click.option("--url", default=None, help="Another URL than the merchant's callback-post-url.")
@json_option
@click.pass_context
@friendly
def notification_test(ctx: click.Context, merchant_id: int, url: str | None, as_json: bool) -> None:
    """POST a signed sample notification to the merchant's URL and print the reply.

    Nothing is stored. Exits with 1 when the receiver did not accept it.
    """
    gw = _gateway(ctx)
    result = asyncio.run(notifications.send_test(gw, merchant_id, url))
    emit(result, as_json)
    if not result["accepted"]:
        ctx.exit(1)
