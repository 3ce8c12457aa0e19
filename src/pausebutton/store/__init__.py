"""Storage: the SQLAlchemy schema, Alembic migrations, and engines for SQLite and PostgreSQL."""

from pausebutton.store.db import (
    check_schema,
    make_engine,
    migrate,
    open_database,
    write_transaction,
)

__all__ = ["check_schema", "make_engine", "migrate", "open_database", "write_transaction"]
