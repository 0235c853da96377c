"""The service catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from ktwidget.domain.model import Service
from ktwidget.storage.schema import services


def _service(row: Row[Any]) -> Service:
    return Service(
        id=row.id,
        name=row.name,
        category=row.category,
        pattern=row.pattern,
        hint=row.hint,
        min_amount=row.min_amount,
        max_amount=row.max_amount,
        provider=row.provider,
        active=row.active,
    )


def insert_service(conn: Connection, service: Service, now: datetime) -> None:
    conn.execute(
        insert(services).values(
            id=service.id,
            name=service.name,
            category=service.category,
            pattern=service.pattern,
            hint=service.hint,
            min_amount=service.min_amount,
            max_amount=service.max_amount,
            provider=service.provider,
            active=service.active,
            created_at=now,
        )
    )


def get(conn: Connection, service_id: int) -> Service | None:
    row = conn.execute(select(services).where(services.c.id == service_id)).first()
    return None if row is None else _service(row)


def list_all(conn: Connection, *, active: bool | None = None) -> list[Service]:
    query = select(services).order_by(services.c.id)
    if active is not None:
        query = query.where(services.c.active == active)
    return [_service(r) for r in conn.execute(query)]


def update_service(
    conn: Connection, service_id: int, values: dict[str, Any], now: datetime
) -> None:
    conn.execute(
        update(services).where(services.c.id == service_id).values(**values, updated_at=now)
    )
