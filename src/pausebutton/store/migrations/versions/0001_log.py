"""The log: head, entries, hash tiles, checkpoints, cosignatures, events, actor keys.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Index64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the log's tables."""
    op.create_table(
        "log_head",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        comment="One row: the log's origin line and its committed size.",
    )
    op.create_table(
        "log_entries",
        sa.Column("idx", Index64, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        comment="Every entry in order; idx is the leaf index.",
    )
    op.create_table(
        "log_tiles",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
        sa.Column("inner", sa.LargeBinary, nullable=True),
        comment="C2SP hash tiles (256 hashes of height 8*level); full tiles keep inner hashes.",
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        comment="Signed checkpoints (C2SP signed notes), one per published size.",
    )
    op.create_table(
        "cosignatures",
        sa.Column(
            "size",
            sa.BigInteger,
            sa.ForeignKey("checkpoints.size", name="fk_cosignatures_size_checkpoints"),
            primary_key=True,
        ),
        sa.Column("witness", sa.String(255), primary_key=True),
        sa.Column("key_id", sa.String(8), primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        comment="Witness cosignature lines (C2SP tlog-cosignature) for a checkpoint.",
    )
    op.create_table(
        "events",
        sa.Column(
            "idx",
            Index64,
            sa.ForeignKey("log_entries.idx", name="fk_events_idx_log_entries"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("actor", "nonce", name="uq_events_actor"),
        comment="Index of the signed events in the log; (actor, nonce) is unique, so no replay.",
    )
    op.create_index("ix_events_type", "events", ["type"])
    op.create_table(
        "actor_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("public_key", sa.String(44), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column(
            "registered_at",
            Index64,
            sa.ForeignKey("log_entries.idx", name="fk_actor_keys_registered_at_log_entries"),
            nullable=False,
        ),
        comment="Actors' keys, projected from actor.registered events; roles is a JSON list.",
    )


def downgrade() -> None:
    """Drop the log's tables."""
    op.drop_index("ix_events_type", table_name="events")
    for table in (
        "actor_keys",
        "events",
        "cosignatures",
        "checkpoints",
        "log_tiles",
        "log_entries",
        "log_head",
    ):
        op.drop_table(table)
