"""Rows written on the driver (the hot paths) compare with times exactly as SQLAlchemy's rows do."""

from __future__ import annotations

from ktwidget.services import merchants
from ktwidget.services.context import Gateway
from ktwidget.storage import transactions as tx_repo
from tests.integration.notify_support import new_transaction


def test_a_time_on_a_whole_second_is_found_by_a_filter_from_that_second(gateway: Gateway) -> None:
    # The FakeClock stands on 09:00:00.000000; sqlite3's own adapter would store "09:00:00",
    # which sorts before SQLAlchemy's "09:00:00.000000".
    now = gateway.clock.now()
    assert now.microsecond == 0
    shop = merchants.create_merchant(
        gateway, name="Shop", domains=["localhost"], callbacks={}
    ).merchant_id
    tx_id = new_transaction(gateway, shop)
    with gateway.db.read() as conn:
        found = tx_repo.list_transactions(conn, tx_repo.TransactionFilter(since=now))
        before = tx_repo.list_transactions(conn, tx_repo.TransactionFilter(until=now))
    assert [t.id for t in found] == [tx_id]
    assert before == []
