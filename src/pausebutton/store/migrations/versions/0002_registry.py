"""The chip registry: the projection of registry events, and the registrar's KYC openings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

KeyId = sa.String(64)
Serial = sa.String(128)


def _fk(column: str, table: str, target: str) -> sa.ForeignKey:
    name = f"fk_{table}_{column}_{target.split('.')[0]}"
    return sa.ForeignKey(target, name=name)


def upgrade() -> None:
    """Create the registry's tables."""
    op.create_table(
        "registry_head",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        comment="One row: how many log entries the registry projection has applied.",
    )
    op.create_table(
        "registry_actors",
        sa.Column("key_id", KeyId, primary_key=True),
        sa.Column("public_key", sa.String(44), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("registered_at", sa.BigInteger, nullable=False),
        sa.Column("entity", sa.String(128), nullable=True),
        sa.Column("legal_name", sa.String(256), nullable=True),
        sa.Column("jurisdiction", sa.String(2), nullable=True),
        sa.Column("kyc_status", sa.String(16), nullable=True),
        sa.Column("kyc_commitment", sa.String(64), nullable=True),
        sa.Column("kyc_at", sa.BigInteger, nullable=True),
        comment="Actors (actor.registered) and their public KYC fields (actor.kyc_recorded).",
    )
    op.create_table(
        "registry_facilities",
        sa.Column("facility", Serial, primary_key=True),
        sa.Column(
            "operator",
            KeyId,
            _fk("operator", "registry_facilities", "registry_actors.key_id"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("latitude", sa.Double, nullable=False),
        sa.Column("longitude", sa.Double, nullable=False),
        sa.Column("registered_at", sa.BigInteger, nullable=False),
        comment="Facilities (data centres) from facility.registered.",
    )
    op.create_table(
        "registry_licences",
        sa.Column("licence", Serial, primary_key=True),
        sa.Column("authority", KeyId, nullable=False),
        sa.Column("exporter", KeyId, nullable=False),
        sa.Column("consignee", KeyId, nullable=False),
        sa.Column("destination", sa.String(2), nullable=False),
        sa.Column("eccn", sa.String(32), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("used", sa.BigInteger, nullable=False),
        sa.Column("expires", sa.BigInteger, nullable=False),
        sa.Column("issued_at", sa.BigInteger, nullable=False),
        comment="Export licences (export.licensed) and how many chips have shipped under each.",
    )
    op.create_table(
        "registry_chips",
        sa.Column("serial", Serial, primary_key=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("manufacturer", KeyId, nullable=False),
        sa.Column("maker_entity", sa.String(128), nullable=False),
        sa.Column("made_in", sa.String(2), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("tpp", sa.BigInteger, nullable=False),
        sa.Column("device_key", KeyId, nullable=False),
        sa.Column("device_public_key", sa.String(44), nullable=False),
        sa.Column("x25519_key", sa.String(44), nullable=False),
        sa.Column("endorsement", sa.String(88), nullable=False),
        sa.Column("manufactured_at", sa.BigInteger, nullable=False),
        sa.Column("manufactured_time", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column(
            "holder",
            KeyId,
            _fk("holder", "registry_chips", "registry_actors.key_id"),
            nullable=False,
        ),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column(
            "facility",
            Serial,
            _fk("facility", "registry_chips", "registry_facilities.facility"),
            nullable=True,
        ),
        sa.Column("lessee", KeyId, nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("inspected_at", sa.BigInteger, nullable=True),
        sa.Column("inspection", sa.String(16), nullable=True),
        sa.UniqueConstraint("device_key", name="uq_registry_chips_device_key"),
        sa.UniqueConstraint("x25519_key", name="uq_registry_chips_x25519_key"),
        comment="Chips: fixed at manufacture (chip.manufactured), and where each is now.",
    )
    op.create_index("ix_registry_chips_holder", "registry_chips", ["holder"])
    op.create_index(
        "ix_registry_chips_maker_entity", "registry_chips", ["maker_entity", "manufactured_time"]
    )
    op.create_table(
        "registry_components",
        sa.Column("serial", Serial, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "chip",
            Serial,
            _fk("chip", "registry_components", "registry_chips.serial"),
            nullable=False,
        ),
        comment="Dies and HBM stacks by serial, and the chip each went into (never reused).",
    )
    op.create_index("ix_registry_components_chip", "registry_components", ["chip"])
    op.create_table(
        "registry_history",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column(
            "serial",
            Serial,
            _fk("serial", "registry_history", "registry_chips.serial"),
            nullable=False,
        ),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("actor", KeyId, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("holder", KeyId, nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("facility", Serial, nullable=True),
        comment="Each chip event (by leaf index) and the chip's custody after it.",
    )
    op.create_index("ix_registry_history_serial", "registry_history", ["serial"])
    op.create_table(
        "kyc_openings",
        sa.Column("commitment", sa.String(64), primary_key=True),
        sa.Column("key_id", KeyId, nullable=False),
        sa.Column("opening", sa.Text, nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        comment="The registrar's private KYC openings (record and salt); never in the log, "
        "not part of the projection.",
    )
    op.create_index("ix_kyc_openings_key_id", "kyc_openings", ["key_id"])


def downgrade() -> None:
    """Drop the registry's tables."""
    op.drop_index("ix_kyc_openings_key_id", table_name="kyc_openings")
    op.drop_index("ix_registry_history_serial", table_name="registry_history")
    op.drop_index("ix_registry_components_chip", table_name="registry_components")
    op.drop_index("ix_registry_chips_maker_entity", table_name="registry_chips")
    op.drop_index("ix_registry_chips_holder", table_name="registry_chips")
    for table in (
        "kyc_openings",
        "registry_history",
        "registry_components",
        "registry_chips",
        "registry_licences",
        "registry_facilities",
        "registry_actors",
        "registry_head",
    ):
        op.drop_table(table)
