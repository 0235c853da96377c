"""The hot path's way past SQLAlchemy's execution layer: prebuilt INSERTs run on the driver.

Every payment's write runs these inside SQLite's single-writer lock, where SQLAlchemy's per-
statement overhead cost more CPU than the commit's fsync. Table and column names come from the
schema; values are always parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table

PLACEHOLDERS = {"sqlite": "?", "postgresql": "%s"}


def naive_utc(moment: datetime) -> datetime:
    """How `schema.UTCDateTime` stores a time: the same instant, naive, in UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def insert_sql(table: Table, columns: Sequence[str], tail: str = "") -> dict[str, str]:
    """``INSERT INTO table (columns) VALUES (…)`` for each dialect's parameter style."""
    return {
        dialect: f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(mark for _ in columns)}){tail}"
        for dialect, mark in PLACEHOLDERS.items()
    }


def execute(conn: Connection, sql: dict[str, str], *rows: Sequence[Any]) -> Any:
    """Run ``sql`` once per row on the connection's driver cursor, in its transaction; the
    first row the last statement returned, if any. Aware datetimes are stored as naive UTC."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        statement = sql[conn.dialect.name]
        for row in rows:
            cursor.execute(
                statement, tuple(naive_utc(v) if isinstance(v, datetime) else v for v in row)
            )
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()
