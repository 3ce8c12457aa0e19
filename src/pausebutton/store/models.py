"""The database schema (SQLAlchemy Core tables); Alembic migrations create and evolve it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
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
