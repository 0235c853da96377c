"""Storage: the schema, migrations and the SQL that reads and writes it (SQLite and PostgreSQL)."""
