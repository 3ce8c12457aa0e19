"""The database schema (SQLAlchemy Core tables); Alembic migrations create and evolve it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "ix": "ix_%(table_name)s_%(column_0_name)s",
    }
)

# SQLite makes an INTEGER PRIMARY KEY the rowid itself, the fastest layout it has.
Index64 = BigInteger().with_variant(Integer(), "sqlite")

log_head = Table(
    "log_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("origin", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    comment="One row: the log's origin line and its committed size.",
)

log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", Index64, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    comment="Every entry in order; idx is the leaf index.",
)

log_tiles = Table(
    "log_tiles",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),
    Column("inner", LargeBinary, nullable=True),
    comment="C2SP hash tiles (256 hashes of height 8*level); full tiles keep inner hashes.",
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    comment="Signed checkpoints (C2SP signed notes), one per published size.",
)

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("size", BigInteger, ForeignKey("checkpoints.size"), primary_key=True),
    Column("witness", String(255), primary_key=True),
    Column("key_id", String(8), primary_key=True),
    Column("line", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    comment="Witness cosignature lines (C2SP tlog-cosignature) for a checkpoint.",
)

events = Table(
    "events",
    metadata,
    Column("idx", Index64, ForeignKey("log_entries.idx"), primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("time", BigInteger, nullable=False),
    UniqueConstraint("actor", "nonce"),
    comment="Index of the signed events in the log; (actor, nonce) is unique, so no replay.",
)

actor_keys = Table(
    "actor_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("public_key", String(44), nullable=False),
    Column("name", String(128), nullable=False),
    Column("roles", Text, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("registered_at", Index64, ForeignKey("log_entries.idx"), nullable=False),
    comment="Actors' keys, projected from actor.registered events; roles is a JSON list.",
)

# -- The chip registry: a projection of the log (registry/state.py), replayable from it. ----

registry_head = Table(
    "registry_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    comment="One row: how many log entries the registry projection has applied.",
)

registry_actors = Table(
    "registry_actors",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("public_key", String(44), nullable=False),
    Column("name", String(128), nullable=False),
    Column("roles", Text, nullable=False),
    Column("registered_at", BigInteger, nullable=False),
    Column("entity", String(128), nullable=True),
    Column("legal_name", String(256), nullable=True),
    Column("jurisdiction", String(2), nullable=True),
    Column("kyc_status", String(16), nullable=True),
    Column("kyc_commitment", String(64), nullable=True),
    Column("kyc_at", BigInteger, nullable=True),
    comment="Actors (actor.registered) and their public KYC fields (actor.kyc_recorded).",
)

registry_facilities = Table(
    "registry_facilities",
    metadata,
    Column("facility", String(128), primary_key=True),
    Column("operator", String(64), ForeignKey("registry_actors.key_id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("latitude", Double, nullable=False),
    Column("longitude", Double, nullable=False),
    Column("registered_at", BigInteger, nullable=False),
    comment="Facilities (data centres) from facility.registered.",
)

registry_licences = Table(
    "registry_licences",
    metadata,
    Column("licence", String(128), primary_key=True),
    Column("authority", String(64), nullable=False),
    Column("exporter", String(64), nullable=False),
    Column("consignee", String(64), nullable=False),
    Column("destination", String(2), nullable=False),
    Column("eccn", String(32), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("used", BigInteger, nullable=False),
    Column("expires", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    comment="Export licences (export.licensed) and how many chips have shipped under each.",
)

registry_chips = Table(
    "registry_chips",
    metadata,
    Column("serial", String(128), primary_key=True),
    Column("model", String(128), nullable=False),
    Column("manufacturer", String(64), nullable=False),
    Column("maker_entity", String(128), nullable=False),
    Column("made_in", String(2), nullable=False),
    Column("spec", Text, nullable=False),
    Column("tpp", BigInteger, nullable=False),
    Column("device_key", String(64), nullable=False, unique=True),
    Column("device_public_key", String(44), nullable=False),
    Column("x25519_key", String(44), nullable=False, unique=True),
    Column("endorsement", String(88), nullable=False),
    Column("manufactured_at", BigInteger, nullable=False),
    Column("manufactured_time", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("holder", String(64), ForeignKey("registry_actors.key_id"), nullable=False, index=True),
    Column("jurisdiction", String(2), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("facility", String(128), ForeignKey("registry_facilities.facility"), nullable=True),
    Column("lessee", String(64), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("inspected_at", BigInteger, nullable=True),
    Column("inspection", String(16), nullable=True),
    Index("ix_registry_chips_maker_entity", "maker_entity", "manufactured_time"),
    comment="Chips: fixed at manufacture (chip.manufactured), and where each is now.",
)

registry_components = Table(
    "registry_components",
    metadata,
    Column("serial", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("chip", String(128), ForeignKey("registry_chips.serial"), nullable=False, index=True),
    comment="Dies and HBM stacks by serial, and the chip each went into (never reused).",
)

registry_history = Table(
    "registry_history",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("serial", String(128), ForeignKey("registry_chips.serial"), nullable=False, index=True),
    Column("type", String(64), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("holder", String(64), nullable=False),
    Column("jurisdiction", String(2), nullable=False),
    Column("facility", String(128), nullable=True),
    comment="Each chip event (by leaf index) and the chip's custody after it.",
)

kyc_openings = Table(
    "kyc_openings",
    metadata,
    Column("commitment", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False, index=True),
    Column("opening", Text, nullable=False),
    Column("created", BigInteger, nullable=False),
    comment="The registrar's private KYC openings (record and salt); never in the log, "
    "not part of the projection.",
)
