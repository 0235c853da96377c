"""Operator use cases for the ktpay service catalog."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.exc import IntegrityError

from ktwidget.domain.model import Service
from ktwidget.services.context import Gateway, log
from ktwidget.services.errors import OperatorError
from ktwidget.storage import catalog as repo

KNOWN_PROVIDERS = ("sandbox",)


def _check(service: Service) -> None:
    if service.id <= 0:
        raise OperatorError("--id must be a positive integer")
    if not service.name.strip():
        raise OperatorError("--name must not be empty")
    try:
        re.compile(service.pattern)
    except re.error as exc:
        raise OperatorError(f"--pattern is not a valid regular expression: {exc}") from exc
    if not 0 < service.min_amount <= service.max_amount:
        raise OperatorError("amounts must satisfy 0 < --min-amount <= --max-amount")
    if service.provider not in KNOWN_PROVIDERS:
        raise OperatorError(
            f"unknown provider {service.provider!r}; known: {', '.join(KNOWN_PROVIDERS)}"
        )


def add_service(gw: Gateway, service: Service) -> Service:
    _check(service)
    try:
        with gw.db.write() as conn:
            repo.insert_service(conn, service, gw.clock.now())
        gw.services.forget(service.id)
    except IntegrityError as exc:
        raise OperatorError(f"service {service.id} already exists; use 'service update'") from exc
    log.info("service_added", extra={"service_id": service.id})
    return service


def get_service(gw: Gateway, service_id: int) -> Service:
    with gw.db.read() as conn:
        service = repo.get(conn, service_id)
    if service is None:
        raise OperatorError(f"no service {service_id}")
    return service


def list_services(gw: Gateway) -> list[Service]:
    with gw.db.read() as conn:
        return repo.list_all(conn)


def update_service(gw: Gateway, service_id: int, **changes: Any) -> Service:
    current = get_service(gw, service_id)
    values = {k: v for k, v in changes.items() if v is not None}
    updated = Service(**{**current.__dict__, **values})
    _check(updated)
    if values:
        with gw.db.write() as conn:
            repo.update_service(conn, service_id, values, gw.clock.now())
        gw.services.forget(service_id)
    return updated
