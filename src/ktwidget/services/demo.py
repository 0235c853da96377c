"""The demo: a merchant for this machine and the sandbox services, created once and reused."""

from __future__ import annotations

from dataclasses import dataclass

from ktwidget.domain.model import Service
from ktwidget.services import catalog, merchants
from ktwidget.services.context import Gateway

DEMO_MERCHANT = "Demo shop"
# localhost and 127.0.0.1 serve the demo pages; widget.nplus.tech is the seed example's
# callback_back_url, trusted so the seed's example works verbatim.
DEMO_DOMAINS = ("localhost", "127.0.0.1", "widget.nplus.tech")

SANDBOX_SERVICES = (
    Service(
        id=1,
        name="Алсеко: коммунальные услуги",
        category="utilities",
        pattern=r"^\d{7}$",
        hint="7-digit personal account number",
        min_amount=100_00,
        max_amount=500_000_00,
        provider="sandbox",
        active=True,
    ),
    Service(
        id=2,
        name="Мобильная связь: пополнение",
        category="mobile",
        pattern=r"^7\d{9}$",
        hint="10-digit phone number starting with 7",
        min_amount=100_00,
        max_amount=50_000_00,
        provider="sandbox",
        active=True,
    ),
    Service(
        id=3,
        name="Onay: проездной",
        category="transport",
        pattern=r"^\d{16}$",
        hint="16-digit transport card number",
        min_amount=50_00,
        max_amount=20_000_00,
        provider="sandbox",
        active=True,
    ),
)


@dataclass(frozen=True)
class DemoSetup:
    merchant_id: int
    app_id: str
    app_key: str
    webhook_secret: str
    created: bool


def ensure_demo(gw: Gateway, callback_post_url: str | None = None) -> DemoSetup:
    known = {s.id for s in catalog.list_services(gw)}
    for service in SANDBOX_SERVICES:
        if service.id not in known:
            catalog.add_service(gw, service)
    existing = [m for m in merchants.list_merchants(gw) if m.name == DEMO_MERCHANT]
    if existing:
        m = existing[0]
        if m.callback_post_url != callback_post_url:
            merchants.update_merchant(gw, m.id, callbacks={"callback_post_url": callback_post_url})
        return DemoSetup(
            m.id,
            m.app_id,
            merchants.current_app_key(gw, m.id),
            merchants.webhook_secrets(gw, m.id)[0],
            created=False,
        )
    creds = merchants.create_merchant(
        gw,
        name=DEMO_MERCHANT,
        domains=DEMO_DOMAINS,
        callbacks={"callback_post_url": callback_post_url},
    )
    return DemoSetup(creds.merchant_id, creds.app_id, creds.app_key, creds.webhook_secret, True)
