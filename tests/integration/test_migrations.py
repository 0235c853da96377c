"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ktwidget.storage.db import Database
from ktwidget.storage.schema import metadata


def test_the_migrated_database_matches_the_declared_schema(session_db: Database) -> None:
    with session_db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
