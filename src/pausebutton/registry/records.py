"""The registry's records (one class per projection table), how rules read them, and overlays.

Records are plain frozen values; `registry.rules` computes new ones from old ones, and
`registry.state` reads and writes them as rows. Field names are column names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import ClassVar, Protocol

HELD = "held"
INSTALLED = "installed"
LEASED = "leased"
LOST = "lost"
STOLEN = "stolen"
DESTROYED = "destroyed"
CHIP_STATES = (HELD, INSTALLED, LEASED, LOST, STOLEN, DESTROYED)


@dataclass(frozen=True, slots=True)
class ActorRecord:
    """An actor key: from ``actor.registered``, with its KYC fields once recorded."""

    TABLE: ClassVar[str] = "registry_actors"
    KEY: ClassVar[str] = "key_id"

    key_id: str
    public_key: str
    name: str
    roles: tuple[str, ...]
    registered_at: int
    entity: str | None = None
    legal_name: str | None = None
    jurisdiction: str | None = None
    kyc_status: str | None = None
    kyc_commitment: str | None = None
    kyc_at: int | None = None


@dataclass(frozen=True, slots=True)
class ChipRecord:
    """A chip: what it is (fixed at manufacture) and where it is now."""

    TABLE: ClassVar[str] = "registry_chips"
    KEY: ClassVar[str] = "serial"

    serial: str
    model: str
    manufacturer: str
    maker_entity: str
    made_in: str
    spec: str
    tpp: int
    """TPP rounded up to a whole number, as production caps count it."""
    device_key: str
    device_public_key: str
    x25519_key: str
    endorsement: str
    manufactured_at: int
    manufactured_time: int
    state: str
    holder: str
    jurisdiction: str
    updated_at: int
    facility: str | None = None
    lessee: str | None = None
    lease_until: int | None = None
    inspected_at: int | None = None
    inspection: str | None = None


@dataclass(frozen=True, slots=True)
class ComponentRecord:
    """A die or HBM stack, and the chip it went into."""

    TABLE: ClassVar[str] = "registry_components"
    KEY: ClassVar[str] = "serial"

    serial: str
    kind: str
    chip: str


@dataclass(frozen=True, slots=True)
class FacilityRecord:
    """A facility (data centre), its operator and location."""

    TABLE: ClassVar[str] = "registry_facilities"
    KEY: ClassVar[str] = "facility"

    facility: str
    operator: str
    name: str
    jurisdiction: str
    latitude: float
    longitude: float
    registered_at: int


@dataclass(frozen=True, slots=True)
class LicenceRecord:
    """An export licence and how much of its quantity has been used."""

    TABLE: ClassVar[str] = "registry_licences"
    KEY: ClassVar[str] = "licence"

    licence: str
    authority: str
    exporter: str
    consignee: str
    destination: str
    eccn: str
    quantity: int
    used: int
    expires: int
    issued_at: int


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One chip event, with the chip's custody after it (the chain of custody)."""

    TABLE: ClassVar[str] = "registry_history"
    KEY: ClassVar[str] = "idx"

    idx: int
    serial: str
    type: str
    actor: str
    state: str
    holder: str
    jurisdiction: str
    facility: str | None = None


Record = ActorRecord | ChipRecord | ComponentRecord | FacilityRecord | LicenceRecord | HistoryRecord
RECORD_TYPES: tuple[type[Record], ...] = (
    ActorRecord,
    ChipRecord,
    ComponentRecord,
    FacilityRecord,
    LicenceRecord,
    HistoryRecord,
)


_FIELDS: dict[type[Record], tuple[str, ...]] = {}


def field_names(record_type: type[Record]) -> tuple[str, ...]:
    """The record's field names, in declaration order (the table's column names)."""
    names = _FIELDS.get(record_type)
    if names is None:
        names = _FIELDS[record_type] = tuple(f.name for f in fields(record_type))
    return names


def key_of(record: Record) -> str | int:
    """The record's primary key value."""
    value: str | int = getattr(record, record.KEY)
    return value


class RegistryView(Protocol):
    """What rules may read: the current records, by key."""

    def get(self, record_type: type[Record], key: str | int) -> Record | None:
        """Return the record of `record_type` with primary key `key`, or None."""

    def get_many(
        self, record_type: type[Record], keys: Iterable[str | int]
    ) -> dict[str | int, Record | None]:
        """Return the records of `record_type` with these keys (None where there is none)."""

    def chip_by_device_key(self, column: str, value: str) -> str | None:
        """Return the serial of the chip whose `column` (device_key, x25519_key) is `value`."""

    def production(self, entity: str, start: int, end: int) -> tuple[int, int]:
        """Chips made by `entity` with manufactured_time in [start, end): count and TPP sum."""


class EmptyView:
    """A registry with nothing in it (the start of a replay)."""

    def get(self, record_type: type[Record], key: str | int) -> Record | None:
        """Nothing is registered."""
        return None

    def get_many(
        self, record_type: type[Record], keys: Iterable[str | int]
    ) -> dict[str | int, Record | None]:
        """Nothing is registered."""
        return dict.fromkeys(keys)

    def chip_by_device_key(self, column: str, value: str) -> str | None:
        """No device key is registered."""
        return None

    def production(self, entity: str, start: int, end: int) -> tuple[int, int]:
        """Nothing was made."""
        return 0, 0


class Overlay:
    """Records staged over a base view, so each event sees the effects of those before it."""

    def __init__(self, base: RegistryView) -> None:
        self.base = base
        self.staged: dict[type[Record], dict[str | int, Record]] = {t: {} for t in RECORD_TYPES}
        self.new: dict[type[Record], set[str | int]] = {t: set() for t in RECORD_TYPES}
        self._device_keys: dict[tuple[str, str], str] = {}
        self._made: dict[str, list[tuple[int, int]]] = {}

    def get(self, record_type: type[Record], key: str | int) -> Record | None:
        """Return the staged record if any, else the base's."""
        found = self.staged[record_type].get(key)
        return found if found is not None else self.base.get(record_type, key)

    def get_many(
        self, record_type: type[Record], keys: Iterable[str | int]
    ) -> dict[str | int, Record | None]:
        """Return the staged records, and the base's for the other keys."""
        staged = self.staged[record_type]
        keys = list(keys)
        found: dict[str | int, Record | None] = self.base.get_many(
            record_type, [k for k in keys if k not in staged]
        )
        return {k: staged[k] if k in staged else found[k] for k in keys}

    def chip_by_device_key(self, column: str, value: str) -> str | None:
        """Return the serial of a staged or stored chip with this device key."""
        return self._device_keys.get((column, value)) or self.base.chip_by_device_key(column, value)

    def production(self, entity: str, start: int, end: int) -> tuple[int, int]:
        """The base's production plus the chips staged here."""
        chips, tpp = self.base.production(entity, start, end)
        for time, chip_tpp in self._made.get(entity, ()):
            if start <= time < end:
                chips, tpp = chips + 1, tpp + chip_tpp
        return chips, tpp

    def put(self, record: Record) -> None:
        """Stage a new or changed record."""
        record_type = type(record)
        key = key_of(record)
        staged = self.staged[record_type]
        if key not in staged and self.base.get(record_type, key) is None:
            self.new[record_type].add(key)
            if isinstance(record, ChipRecord):
                self._device_keys[("device_key", record.device_key)] = record.serial
                self._device_keys[("x25519_key", record.x25519_key)] = record.serial
                made = self._made.setdefault(record.maker_entity, [])
                made.append((record.manufactured_time, record.tpp))
        staged[key] = record

    def inserts(self, record_type: type[Record]) -> Iterator[Record]:
        """The staged records that are new, in key order."""
        staged = self.staged[record_type]
        for key in sorted(self.new[record_type]):
            yield staged[key]

    def updates(self, record_type: type[Record]) -> Iterator[Record]:
        """The staged records that change stored ones, in key order."""
        new = self.new[record_type]
        staged = self.staged[record_type]
        for key in sorted(k for k in staged if k not in new):
            yield staged[key]
