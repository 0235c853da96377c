"""Is the database at the schema this code expects? SQLite migrates itself; PostgreSQL is told to."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ktwidget.storage import migrations
from ktwidget.storage.db import Database


class SchemaError(RuntimeError):
    pass


def _versions(db: Database) -> tuple[str | None, str | None]:
    script = ScriptDirectory.from_config(migrations.alembic_config(db.engine))
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, script.get_current_head()


def upgrade(db: Database) -> None:
    migrations.upgrade(db.engine)


def ensure_current(db: Database) -> None:
    current, head = _versions(db)
    if current == head:
        return
    if db.is_sqlite:
        # The embedded database belongs to this process alone: bring it up to date.
        upgrade(db)
        return
    raise SchemaError(
        f"the database schema is at {current or 'nothing'}, this version needs {head}: "
        "run 'ktwidget db upgrade' once"
    )
