"""The registry's rows: tables by record type, row conversion, reads, writes, and the head.

`DatabaseView` reads committed rows through one connection (each key once, with
statements compiled once); `write_records` writes an overlay's new and changed records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update

from pausebutton.registry.records import (
    ActorRecord,
    ChipRecord,
    ComponentRecord,
    FacilityRecord,
    HistoryRecord,
    LicenceRecord,
    Overlay,
    Record,
    field_names,
)
from pausebutton.store.models import (
    registry_actors,
    registry_chips,
    registry_components,
    registry_facilities,
    registry_head,
    registry_history,
    registry_licences,
)

TABLES: Mapping[type[Record], Table] = {
    ActorRecord: registry_actors,
    FacilityRecord: registry_facilities,
    LicenceRecord: registry_licences,
    ChipRecord: registry_chips,
    ComponentRecord: registry_components,
    HistoryRecord: registry_history,
}
"""Each record type's table, in an order that satisfies the foreign keys when inserting."""


def to_values(record: Record) -> tuple[Any, ...]:
    """The table row of a record as a tuple, in `field_names` order."""
    names = field_names(type(record))
    values = tuple(getattr(record, name) for name in names)
    if isinstance(record, ActorRecord):
        at = names.index("roles")
        roles = json.dumps(list(record.roles), separators=(",", ":"))
        values = (*values[:at], roles, *values[at + 1 :])
    return values


def to_row(record: Record) -> dict[str, Any]:
    """The table row of a record (an actor's roles become a JSON list)."""
    row = {name: getattr(record, name) for name in field_names(type(record))}
    if isinstance(record, ActorRecord):
        row["roles"] = json.dumps(list(record.roles), separators=(",", ":"))
    return row


def from_row(record_type: type[Record], row: Mapping[Any, Any]) -> Record:
    """The record of a table row."""
    values = dict(row)
    if record_type is ActorRecord:
        values["roles"] = tuple(json.loads(values["roles"]))
    return record_type(**values)


class DatabaseView:
    """The committed registry, read through one connection; each key is read once."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cache: dict[tuple[type[Record], str | int], Record | None] = {}
        self._device: dict[tuple[str, str], str | None] = {}

    def get(self, record_type: type[Record], key: str | int) -> Record | None:
        """Return the stored record, or None."""
        cache_key = (record_type, key)
        if cache_key not in self._cache:
            row = self._conn.execute(_BY_KEY[record_type], {"key": key}).mappings().first()
            self._cache[cache_key] = None if row is None else from_row(record_type, row)
        return self._cache[cache_key]

    def get_many(
        self, record_type: type[Record], keys: Iterable[str | int]
    ) -> dict[str | int, Record | None]:
        """Return the stored records with these keys, reading the uncached ones at once."""
        keys = list(keys)
        unread = [k for k in keys if (record_type, k) not in self._cache]
        if unread:
            rows = self._conn.execute(_BY_KEYS[record_type], {"keys": unread}).mappings()
            for k in unread:
                self._cache[(record_type, k)] = None
            for row in rows:
                self._cache[(record_type, row[record_type.KEY])] = from_row(record_type, row)
        return {k: self._cache[(record_type, k)] for k in keys}

    def chip_by_device_key(self, column: str, value: str) -> str | None:
        """Return the serial of the stored chip with this device key, or None."""
        if (column, value) not in self._device:
            query = _BY_DEVICE_KEY[column]
            self._device[(column, value)] = self._conn.execute(query, {"value": value}).scalar()
        return self._device[(column, value)]

    def read_device_keys(self, column: str, values: Sequence[str]) -> None:
        """Read which of these device keys (`column`: device_key, x25519_key) are taken."""
        unread = [v for v in values if (column, v) not in self._device]
        if not unread:
            return
        for value in unread:
            self._device[(column, value)] = None
        for row in self._conn.execute(_BY_DEVICE_KEYS[column], {"values": unread}):
            self._device[(column, row[1])] = row[0]

    def production(self, entity: str, start: int, end: int) -> tuple[int, int]:
        """Stored chips made by `entity` in [start, end): count and TPP sum."""
        c = registry_chips.c
        query = select(func.count(), func.coalesce(func.sum(c.tpp), 0)).where(
            c.maker_entity == entity, c.manufactured_time >= start, c.manufactured_time < end
        )
        row = self._conn.execute(query).one()
        return int(row[0]), int(row[1])


# Built once: SQLAlchemy then reuses the compiled statements for every lookup.
_BY_KEY = {
    record_type: select(table).where(table.c[record_type.KEY] == bindparam("key"))
    for record_type, table in TABLES.items()
}
_BY_KEYS = {
    record_type: select(table).where(
        table.c[record_type.KEY].in_(bindparam("keys", expanding=True))
    )
    for record_type, table in TABLES.items()
}
_BY_DEVICE_KEYS = {
    column: select(registry_chips.c.serial, registry_chips.c[column]).where(
        registry_chips.c[column].in_(bindparam("values", expanding=True))
    )
    for column in ("device_key", "x25519_key")
}
_BY_DEVICE_KEY = {
    column: select(registry_chips.c.serial).where(registry_chips.c[column] == bindparam("value"))
    for column in ("device_key", "x25519_key")
}


def write_records(conn: Connection, overlay: Overlay) -> int:
    """Insert the overlay's new records and update its changed ones; return rows written."""
    written = 0
    for record_type, table in TABLES.items():
        rows = [to_values(r) for r in overlay.inserts(record_type)]
        if rows:
            _insert(conn, table, field_names(record_type), rows)
        changed = [to_row(r) for r in overlay.updates(record_type)]
        if changed:
            key = record_type.KEY
            others = [n for n in field_names(record_type) if n != key]
            statement = (
                update(table)
                .where(table.c[key] == bindparam("_key"))
                .values({n: bindparam(n) for n in others})
            )
            conn.execute(statement, [{**r, "_key": r[key]} for r in changed])
        written += len(rows) + len(changed)
    return written


def _insert(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    # Rows go straight to the driver's executemany, as the log's entries do: replay writes
    # millions of them, and SQLAlchemy's per-row parameter processing would dominate.
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(mark for _ in columns)})"
    )
    conn.exec_driver_sql(statement, rows)


def read_head(conn: Connection) -> int | None:
    """How many log entries the projection in this database has applied (None: no head)."""
    return conn.execute(select(registry_head.c.size).where(registry_head.c.id == 1)).scalar()


def write_head(conn: Connection, size: int) -> None:
    """Record that the projection has applied `size` log entries."""
    if read_head(conn) is None:
        conn.execute(insert(registry_head).values(id=1, size=size))
    else:
        conn.execute(update(registry_head).where(registry_head.c.id == 1).values(size=size))
