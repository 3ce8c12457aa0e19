"""Alembic environment: runs migrations on the connection pausebutton hands it."""

from __future__ import annotations

from alembic import context

from pausebutton.store.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through pausebutton.store.db.migrate(engine)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
