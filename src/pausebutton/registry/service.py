"""Reading and operating the registry as the CLI and the HTTP layer do: one call per question."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from pausebutton.errors import FormatError, StoreError
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.compliance import RegistryRegulation, classify_chip
from pausebutton.registry.pipeline import ActorKey
from pausebutton.registry.records import ActorRecord, ChipRecord, HistoryRecord, Record
from pausebutton.registry.replay import Comparison, compare, live_size, replay
from pausebutton.registry.state import RegistryProjector
from pausebutton.registry.storage import TABLES, DatabaseView, from_row
from pausebutton.registry.submission import EventLog
from pausebutton.regulation.export import Classification
from pausebutton.regulation.jurisdictions import LicenceDecision, licence_required


def open_intake(
    log: TransparencyLog, anchors: Sequence[ActorKey], regulation: RegistryRegulation
) -> EventLog:
    """The intake that validates registry events against the projection and `regulation`."""
    return EventLog(log, anchors=anchors, projector=RegistryProjector(), policy=regulation.checks())


def get(engine: Engine, record_type: type[Record], key: str) -> Record:
    """The record with primary key `key`, or FormatError naming what is missing."""
    with engine.connect() as conn:
        found = DatabaseView(conn).get(record_type, key)
    if found is None:
        what = record_type.TABLE.removeprefix("registry_").removesuffix("s")
        raise FormatError(f"no {what} {key!r} in the registry")
    return found


def find(engine: Engine, record_type: type[Record], **where: str | None) -> list[Record]:
    """The records whose columns equal the given values (None: any), in key order."""
    table = TABLES[record_type]
    query = select(table).order_by(table.c[record_type.KEY])
    for column, value in where.items():
        if value is not None:
            query = query.where(table.c[column] == value)
    with engine.connect() as conn:
        return [from_row(record_type, row) for row in conn.execute(query).mappings()]


def history(engine: Engine, serial: str) -> list[HistoryRecord]:
    """A chip's chain of custody, oldest first."""
    return [r for r in find(engine, HistoryRecord, serial=serial) if isinstance(r, HistoryRecord)]


def export_check(
    engine: Engine,
    serial: str,
    destination: str,
    consignee: str | None = None,
    regulation: RegistryRegulation | None = None,
) -> tuple[Classification, LicenceDecision]:
    """Classify a registered chip and decide whether its export to `destination` needs a licence."""
    regulation = regulation or RegistryRegulation()
    chip = get(engine, ChipRecord, serial)
    assert isinstance(chip, ChipRecord)
    found = classify_chip(chip, regulation.export)
    base = None
    if consignee is not None:
        actor = get(engine, ActorRecord, consignee)
        assert isinstance(actor, ActorRecord)
        base = actor.jurisdiction
    decision = licence_required(found.eccn, destination, regulation.export, headquarters=base)
    return found, decision


def replay_and_compare(log: TransparencyLog, url: str) -> tuple[int, Comparison]:
    """Replay the log up to the live registry's size into `url`; compare the two registries."""
    size = live_size(log.engine)
    if size > log.size:
        raise StoreError(f"the registry is at {size}, past the log's size {log.size}")
    engine = replay(log, url, size)
    try:
        return size, compare(log.engine, engine)
    finally:
        engine.dispose()
