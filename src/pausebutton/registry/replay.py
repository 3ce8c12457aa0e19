"""Replay the log into a fresh registry, and compare two registries by their canonical dump.

Replay reads entries 0..n-1, applies every registry event with `rules.step` (the same
rules the intake ran, without the policy checks, which decided acceptance and are not
part of the log), and writes the records into a fresh database. It does not verify
signatures (envelopes, device endorsements): the intake did, and the verifier's audit of
the log checks every one; replay rebuilds state and refuses any entry the rules refuse.

The **canonical dump** of a registry is one line per row, each line the RFC 8785
canonical JSON of ``[table, row]`` followed by ``\\n``, where ``row`` maps column names to
values (SQL NULL as ``null``). Lines come table by table in `DUMP_TABLES` order, and within
a table by primary key (strings by code point, the C collation). The first line is
``["registry_head",{"size":n}]``. The registry's *digest* is the hex SHA-256 of the dump.
Two registries are equal exactly when their dumps are equal byte for byte.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import rfc8785
from sqlalchemy import Connection, Engine, collate, func, select

from pausebutton.errors import StoreError
from pausebutton.log.tlog import TransparencyLog
from pausebutton.registry.records import EmptyView, Overlay
from pausebutton.registry.state import entry_records
from pausebutton.registry.storage import read_head, write_head, write_records
from pausebutton.store.db import open_database, write_transaction
from pausebutton.store.models import (
    registry_actors,
    registry_chips,
    registry_components,
    registry_facilities,
    registry_history,
    registry_licences,
)

DUMP_TABLES = (
    registry_actors,
    registry_chips,
    registry_components,
    registry_facilities,
    registry_history,
    registry_licences,
)
"""The projection's tables, in dump order (after the head line)."""

REPLAY_CHUNK = 10_000
Progress = Callable[[int], None]


class EntryReader(Protocol):
    """Anything that hands out log entries by range: the stored log, or an export of it."""

    def entries(self, start: int, stop: int) -> Sequence[bytes]:
        """Return entries [start, stop) in order."""


def replay_entries(log: EntryReader, size: int, progress: Progress | None = None) -> Overlay:
    """Apply log entries [0, size) to an empty registry held in memory; return it."""
    overlay = Overlay(EmptyView())
    for low in range(0, size, REPLAY_CHUNK):
        high = min(size, low + REPLAY_CHUNK)
        for index, entry in enumerate(log.entries(low, high), start=low):
            for record in entry_records(overlay, index, entry, verify=False):
                overlay.put(record)
        if progress is not None:
            progress(high - low)
    return overlay


def replay(
    log: TransparencyLog, url: str, size: int | None = None, progress: Progress | None = None
) -> Engine:
    """Replay entries [0, size) (default: the whole log) into the fresh database at `url`."""
    size = log.size if size is None else size
    if not 0 <= size <= log.size:
        raise StoreError(f"cannot replay {size} entries of a log of {log.size}")
    return replay_into(log, url, size, progress)


def replay_into(
    reader: EntryReader, url: str, size: int, progress: Progress | None = None
) -> Engine:
    """Replay entries [0, size) of `reader` into the fresh database at `url`; return it."""
    engine = open_database(url)
    with engine.connect() as conn:
        if read_head(conn) is not None or conn.execute(select(registry_actors.c.key_id)).first():
            engine.dispose()
            raise StoreError(f"{url} already holds a registry; replay needs a fresh database")
    overlay = replay_entries(reader, size, progress)
    with write_transaction(engine) as conn:
        write_records(conn, overlay)
        write_head(conn, size)
    return engine


def _canonical(value: Any) -> bytes:
    # json.dumps writes exactly RFC 8785 for strings, integers below 2^53, booleans and
    # null with sorted ASCII keys; only floats need the RFC's number formatting.
    if any(isinstance(v, float) for v in value[1].values()):
        return bytes(rfc8785.dumps(value))
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def dump(conn: Connection) -> Iterator[bytes]:
    """Yield the canonical dump of the registry in this database, line by line."""
    yield _canonical(["registry_head", {"size": read_head(conn) or 0}]) + b"\n"
    streaming = conn.execution_options(stream_results=True, yield_per=REPLAY_CHUNK)
    for table in DUMP_TABLES:
        order = [
            collate(c, "C") if conn.dialect.name == "postgresql" and _is_text(c.type) else c
            for c in table.primary_key.columns
        ]
        for row in streaming.execute(select(table).order_by(*order)).mappings():
            yield _canonical([table.name, dict(row)]) + b"\n"


def _is_text(column_type: Any) -> bool:
    return getattr(column_type, "python_type", None) is str


def digest(conn: Connection) -> str:
    """The hex SHA-256 of the registry's canonical dump."""
    hasher = hashlib.sha256()
    for line in dump(conn):
        hasher.update(line)
    return hasher.hexdigest()


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing two registries' dumps."""

    live_digest: str
    replay_digest: str
    lines: int
    first_difference: tuple[int, bytes, bytes] | None
    """Line number (from 1) and the two lines where the dumps first differ."""

    @property
    def equal(self) -> bool:
        """Whether the dumps are byte for byte equal."""
        return self.first_difference is None and self.live_digest == self.replay_digest


def compare(live: Engine, replayed: Engine) -> Comparison:
    """Stream both registries' dumps side by side; report the digests and any difference."""
    live_hash, replay_hash = hashlib.sha256(), hashlib.sha256()
    first: tuple[int, bytes, bytes] | None = None
    lines = 0
    with live.connect() as a, replayed.connect() as b:
        for lines, (x, y) in enumerate(itertools.zip_longest(dump(a), dump(b), fillvalue=b""), 1):
            live_hash.update(x)
            replay_hash.update(y)
            if first is None and x != y:
                first = (lines, x, y)
    return Comparison(live_hash.hexdigest(), replay_hash.hexdigest(), lines, first)


def live_size(engine: Engine) -> int:
    """How many log entries the registry in this database has applied."""
    with engine.connect() as conn:
        return read_head(conn) or 0


def row_counts(engine: Engine) -> dict[str, int]:
    """The number of rows in each projection table."""
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in DUMP_TABLES
        }
