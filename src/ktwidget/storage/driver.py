"""The hot paths' way past SQLAlchemy's execution layer: prebuilt statements run on the driver.

Every payment's write runs these inside SQLite's single-writer lock, where SQLAlchemy's per-
statement overhead cost more CPU than the commit's fsync; the notification dispatcher claims and
records deliveries by the thousand a second. Table and column names come from the schema; values
are always parameters. Statements are written with ``?`` marks (see `for_dialect`).
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


def for_dialect(sql: str) -> dict[str, str]:
    """A statement written with ``?`` marks, for each dialect's parameter style (it must hold no
    other ``?`` and no ``%``)."""
    return {dialect: sql.replace("?", mark) for dialect, mark in PLACEHOLDERS.items()}


def marks(count: int) -> str:
    """``?, ?, …`` for an ``IN (…)`` list of ``count`` values."""
    return ", ".join("?" * count)


def bind_values(conn: Connection, row: Sequence[Any]) -> tuple[Any, ...]:
    """A row's values as SQLAlchemy would bind them: times as naive UTC, and on SQLite as the
    text SQLAlchemy's DATETIME writes (microseconds always present, so text order is time order;
    sqlite3's own adapter drops a zero fraction)."""
    if conn.dialect.name == "sqlite":
        return tuple(
            naive_utc(v).isoformat(" ", "microseconds") if isinstance(v, datetime) else v
            for v in row
        )
    return tuple(naive_utc(v) if isinstance(v, datetime) else v for v in row)


def fetch(conn: Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one statement written with ``?`` marks; every row it returns."""
    statement = (
        sql if conn.dialect.name == "sqlite" else sql.replace("?", PLACEHOLDERS["postgresql"])
    )
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(statement, bind_values(conn, params))
        return list(cursor.fetchall()) if cursor.description else []
    finally:
        cursor.close()


def execute_many(conn: Connection, sql: dict[str, str], rows: Sequence[Sequence[Any]]) -> int:
    """Run ``sql`` for every row in one driver call; the rows it changed in all."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql[conn.dialect.name], [bind_values(conn, r) for r in rows])
        return int(cursor.rowcount)
    finally:
        cursor.close()


def execute(conn: Connection, sql: dict[str, str], *rows: Sequence[Any]) -> Any:
    """Run ``sql`` once per row on the connection's driver cursor, in its transaction; the
    first row the last statement returned, if any. Aware datetimes are stored as naive UTC."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        statement = sql[conn.dialect.name]
        for row in rows:
            cursor.execute(statement, bind_values(conn, row))
        return cursor.fetchone() if cursor.description else None
    finally:
        cursor.close()
