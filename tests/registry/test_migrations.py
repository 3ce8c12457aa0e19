"""Migration 0002 creates exactly the registry tables the models describe, and drops them."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from pausebutton.store import make_engine, migrate
from pausebutton.store.db import _alembic_config
from pausebutton.store.models import metadata


def test_migrations_match_the_models_and_downgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0001")
        assert not any(t.startswith("registry_") for t in inspect(engine).get_table_names())
        migrate(engine)
        assert "registry_chips" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
