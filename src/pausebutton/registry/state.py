"""The registry projection: tables that are a deterministic function of the log, kept live.

`RegistryProjector` plugs into `EventLog` (its `projector`): for each batch it locks the
log head, brings the projection up to the log (applying any entries it has not seen, so
events appended by other paths are never missed), lets each event be validated against
the registry as it stands after the events before it in the batch, and writes the
changed rows in the same transaction that appends the batch. `registry.replay` runs the
same `rules.step` over the log into a fresh database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, select

from pausebutton.errors import Error, FormatError, StoreError
from pausebutton.registry.events import EVENT_PAYLOAD_TYPE, EventBody, SignedEvent
from pausebutton.registry.prefetch import read_ahead
from pausebutton.registry.records import Overlay, Record, RegistryView
from pausebutton.registry.rules import RULES, step
from pausebutton.registry.storage import DatabaseView, read_head, write_head, write_records
from pausebutton.store.models import log_entries, log_head

CATCH_UP_CHUNK = 10_000


def decode(index: int, entry: bytes) -> tuple[EventBody, Any] | None:
    """Read a log entry's registry event (body and payload), or None for any other entry."""
    try:
        value = json.loads(entry)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("payload_type") != EVENT_PAYLOAD_TYPE:
        return None
    body_value = value.get("payload")
    kind = body_value.get("type") if isinstance(body_value, dict) else None
    rule = RULES.get(kind) if isinstance(kind, str) else None
    if rule is None:
        return None
    try:
        body = EventBody.model_validate(body_value)
        return body, rule.model.model_validate(body.payload)
    except PydanticValidationError as exc:
        raise FormatError(
            f"entry {index}: malformed {kind} event: {exc.errors()[0]['msg']}"
        ) from None


def entry_records(
    view: RegistryView, index: int, entry: bytes, *, verify: bool = True
) -> list[Record]:
    """The records log entry `index` produces (none for entries that are not registry events)."""
    decoded = decode(index, entry)
    if decoded is None:
        return []
    try:
        return step(view, decoded[0], decoded[1], index, verify=verify)
    except Error as exc:
        raise type(exc)(f"entry {index}: {exc}") from None


class RegistryBatch:
    """One intake batch: the registry events are validated against and staged on."""

    def __init__(self, conn: Connection, start: int) -> None:
        self._conn = conn
        self.database = DatabaseView(conn)
        self.overlay = Overlay(self.database)
        self._next = start
        self._live_start = start
        self._stashed: tuple[bytes, list[Record]] | None = None

    @property
    def state(self) -> RegistryBatch:
        """What events are validated against: this batch (a `rules.RuleState`)."""
        return self

    @property
    def view(self) -> Overlay:
        """The registry as it stands after the events applied so far."""
        return self.overlay

    @property
    def next_index(self) -> int:
        """The leaf index the next event will get."""
        return self._next

    def stash(self, event: SignedEvent, records: list[Record]) -> None:
        """Keep what a validated event will change, until it is applied."""
        self._stashed = (event.canonical, records)

    def apply(self, event: SignedEvent) -> None:
        """Stage an accepted event's records (every accepted event, to keep the count)."""
        stashed, self._stashed = self._stashed, None
        if stashed is not None and stashed[0] == event.canonical:
            records = stashed[1]
        elif event.body.type in RULES:
            payload = RULES[event.body.type].model.model_validate(event.body.payload)
            records = step(self.overlay, event.body, payload, self._next)
        else:
            records = []
        self._stage(records)

    def apply_entry(self, entry: bytes) -> None:
        """Stage a log entry that is already appended (catching up with the log)."""
        self._stage(entry_records(self.overlay, self._next, entry))

    def _stage(self, records: list[Record]) -> None:
        for record in records:
            self.overlay.put(record)
        self._next += 1

    def caught_up(self) -> None:
        """Mark the end of catching up: the batch's own events start here."""
        self._live_start = self._next

    def finish(self, first_index: int) -> None:
        """Write the staged rows and the new head, inside the append transaction."""
        if first_index != self._live_start:
            raise StoreError(
                f"the log appended the batch at {first_index}, the registry expected "
                f"{self._live_start}"
            )
        write_records(self._conn, self.overlay)
        write_head(self._conn, self._next)


class RegistryProjector:
    """The intake's hook that keeps the registry tables equal to the log's projection."""

    def begin(self, conn: Connection, items: Sequence[object] = ()) -> RegistryBatch:
        """Lock the log head, catch the projection up with the log, and open a batch."""
        size = conn.execute(
            select(log_head.c.size).where(log_head.c.id == 1).with_for_update()
        ).scalar()
        if size is None:
            raise StoreError("the log has no head row: open it through TransparencyLog")
        head = read_head(conn) or 0
        if head > size:
            raise StoreError(f"the registry projection is at {head}, past the log's size {size}")
        batch = RegistryBatch(conn, head)
        for entry in _entries(conn, head, size):
            batch.apply_entry(entry)
        batch.caught_up()
        read_ahead(batch.database, items)
        return batch


def _entries(conn: Connection, start: int, stop: int) -> Iterator[bytes]:
    for low in range(start, stop, CATCH_UP_CHUNK):
        rows = conn.execute(
            select(log_entries.c.data)
            .where(log_entries.c.idx >= low, log_entries.c.idx < min(stop, low + CATCH_UP_CHUNK))
            .order_by(log_entries.c.idx)
        )
        for row in rows:
            yield bytes(row.data)
