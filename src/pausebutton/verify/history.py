"""The verifier's view of a history: typed facts read from log entries, each with its leaf index.

`read_history` makes one pass over (leaf index, entry) pairs. Registry events are
replayed with the registry's own rules (`registry.rules.step`, as `verify.replay` does)
so custody is exactly what the log implies; licence, governance and receipt events are
parsed by their own modules. Facts the log does not hold (location checks, the KYC
openings an authorised verifier was given) come in beside the entries. Nothing here
judges: entries that cannot be read or that the rules refuse are kept as `problems`, and
the detectors (`verify.detectors`) and the accountancy (`verify.accountancy`) decide.
"""

from __future__ import annotations

import bisect
import importlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from pausebutton.crypto.envelope import Envelope
from pausebutton.device.receipts import UsageReceipt, parse_receipt, receipt_id
from pausebutton.errors import Error
from pausebutton.governance.directives import Directive, parse_directive
from pausebutton.governance.events import PAYLOAD_FOR_EVENT, envelope_of
from pausebutton.governance.policy import Policy, parse_policy
from pausebutton.licensing.events import DEVICE_ISSUED, LICENCE_TYPES, RUN_ISSUED
from pausebutton.licensing.licences import (
    DeviceLicence,
    RunLicence,
    licence_id,
    parse_device_licence,
    parse_run_licence,
)
from pausebutton.registry.actors import ActorKycRecorded, KycOpening, check_opening
from pausebutton.registry.events import parse_event
from pausebutton.registry.records import (
    ActorRecord,
    ChipRecord,
    EmptyView,
    HistoryRecord,
    Overlay,
    Record,
)
from pausebutton.registry.records import FacilityRecord as Facility
from pausebutton.registry.rules import step
from pausebutton.registry.state import decode
from pausebutton.regulation.export import ChipSpec, classify
from pausebutton.verify.geolocate import LocationVerdict, Verdict

RECEIPT_EVENT = "device.receipt"
GONE = frozenset({"lost", "stolen", "destroyed"})
"""Chip states in which a chip is out of its owner's hands (and owes no evidence)."""

__all__ = ["Facility", "History", "read_history"]


@dataclass(frozen=True, slots=True)
class Chip:
    """A registered chip: its device key, where it was made, and the most it can compute."""

    serial: str
    device_key: str
    public_key: str
    made_in: str
    chip_class: str
    peak_ops: float
    """Operations per second at its best declared precision (dense TOPS x 10^12)."""
    index: int
    time: int


@dataclass(frozen=True, slots=True)
class Custody:
    """One line of a chip's chain of custody: the event and where the chip stood after it."""

    index: int
    time: int
    serial: str
    type: str
    state: str
    holder: str
    jurisdiction: str
    facility: str | None
    lessee: str | None


@dataclass(frozen=True, slots=True)
class Owner:
    """An actor key, its KYC entity, and its beneficial owners (`known`: from an opening)."""

    key_id: str
    name: str
    entity: str | None
    beneficial_owners: tuple[str, ...]
    known: bool


@dataclass(frozen=True, slots=True)
class Run:
    """A run licence in the log."""

    index: int
    time: int
    id: str
    licence: RunLicence


@dataclass(frozen=True, slots=True)
class Grant:
    """A device licence in the log, and the receipt it was issued on."""

    index: int
    time: int
    id: str
    licence: DeviceLicence
    receipt_id: str


@dataclass(frozen=True, slots=True)
class Receipt:
    """A usage receipt, where the log first holds it, and the envelope that proves it."""

    index: int
    id: str
    receipt: UsageReceipt
    envelope: Envelope

    @property
    def ops(self) -> int:
        """FLOP and integer operations counted so far."""
        return self.receipt.counters.ops


@dataclass(frozen=True, slots=True)
class Logged:
    """A pause or resume directive and when the log published it."""

    index: int
    time: int
    directive: Directive


@dataclass(frozen=True, slots=True)
class Inspection:
    """An inspector's recorded finding about a chip."""

    index: int
    time: int
    serial: str
    outcome: str


class Sighting(NamedTuple):
    """Evidence that a chip was in hand at a time; `here` is False when it was elsewhere."""

    time: int
    leaf: int | None
    what: str
    here: bool = True


@dataclass(frozen=True, slots=True)
class LocationCheck:
    """A location verdict about a chip at a time (from `verify.location.check_location`)."""

    serial: str
    time: int
    verdict: LocationVerdict
    reference: str
    """Where the evidence is kept (the landmarks' signed measurements)."""
    index: int | None = None


@dataclass
class History:
    """Everything the detectors read, indexed by chip, device key, licence and time."""

    chips: dict[str, Chip] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    custody: dict[str, list[Custody]] = field(default_factory=lambda: defaultdict(list))
    facilities: dict[str, Facility] = field(default_factory=dict)
    owners: dict[str, Owner] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    receipts: dict[str, Receipt] = field(default_factory=dict)
    directives: list[Logged] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    inspections: list[Inspection] = field(default_factory=list)
    locations: list[LocationCheck] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    """The time of each entry, by leaf index (0 for entries that are not events)."""
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    """(licence id, leaf index) of each licence event that repeats an earlier one."""
    _cache: dict[str, tuple[int, object]] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        """How many entries were read."""
        return len(self.times)

    @property
    def as_of(self) -> int:
        """The newest time in the history (entries, receipts and location checks)."""
        receipts = (r.receipt.time for r in self.receipts.values())
        checks = (c.time for c in self.locations)
        return max([*self.times, *receipts, *checks, 0])

    @property
    def policy(self) -> Policy | None:
        """The newest policy the log published."""
        return max(self.policies, key=lambda p: p.version, default=None)

    def chains(self) -> dict[str, list[Receipt]]:
        """Each device key's receipts in sequence order (ties by time, then id)."""
        cached = self._cache.get("chains")
        if cached is not None and cached[0] == len(self.receipts):
            return cast(dict[str, list[Receipt]], cached[1])
        out: dict[str, list[Receipt]] = defaultdict(list)
        for r in self.receipts.values():
            out[r.receipt.device_key].append(r)
        for chain in out.values():
            chain.sort(key=lambda r: (r.receipt.sequence, r.receipt.time, r.id))
        self._cache["chains"] = (len(self.receipts), out)
        return out

    def custody_at(self, serial: str, time: int) -> Custody | None:
        """Where the chip stood at `time` (the last custody event at or before it)."""
        lines = self.custody.get(serial, [])
        at = bisect.bisect_right([c.time for c in lines], time)
        return lines[at - 1] if at else None

    def chip_of(self, device_key: str) -> Chip | None:
        """The chip registered with this device key, if any."""
        serial = self.by_key.get(device_key)
        return None if serial is None else self.chips.get(serial)

    def presence(self) -> dict[str, list[Sighting]]:
        """Each chip's evidence of being in hand, oldest first."""
        size = len(self.receipts) + len(self.inspections) + len(self.locations)
        cached = self._cache.get("presence")
        if cached is not None and cached[0] == size:
            return cast(dict[str, list[Sighting]], cached[1])
        found: dict[str, list[Sighting]] = defaultdict(list)
        for r in self.receipts.values():
            serial = self.by_key.get(r.receipt.device_key)
            if serial is not None:
                found[serial].append(Sighting(r.receipt.time, r.index, f"receipt {r.id[:16]}"))
        for i in self.inspections:
            if i.outcome != "absent":
                found[i.serial].append(Sighting(i.time, i.index, f"inspection: {i.outcome}"))
        for c in self.locations:
            failed = c.verdict.verdict == Verdict.FAIL
            what = f"location check ({c.verdict.verdict.value}) {c.reference}"
            found[c.serial].append(Sighting(c.time, c.index, what, not failed))
        for sightings in found.values():
            sightings.sort(key=lambda e: (e.time, -1 if e.leaf is None else e.leaf))
        self._cache["presence"] = (size, found)
        return found

    def exported_to(self, serial: str, before: int) -> set[str]:
        """Jurisdictions the chip was made in or lawfully moved to up to `before`."""
        chip = self.chips.get(serial)
        places = {chip.made_in} if chip is not None else set()
        for line in self.custody.get(serial, []):
            if line.time <= before and line.type in ("chip.exported", "chip.reexported"):
                places.add(line.jurisdiction)
            if line.time <= before and line.type == "chip.recovered":
                places.add(line.jurisdiction)
        return places


def read_history(
    entries: Iterable[tuple[int, bytes]],
    *,
    locations: Iterable[LocationCheck] = (),
    openings: Mapping[str, KycOpening] | None = None,
) -> History:
    """Read (leaf index, entry) pairs, in order, into a `History`; never raises on bad data."""
    history = History()
    overlay = Overlay(EmptyView())
    for index, data in entries:
        while len(history.times) < index:
            history.times.append(0)
        history.times.append(0)
        try:
            _read(history, overlay, index, data)
        except Error as exc:
            history.problems.append((index, str(exc)))
    _owners(history, overlay, openings or {})
    history.locations.extend(sorted(locations, key=lambda c: (c.time, c.serial)))
    return history


def _read(history: History, overlay: Overlay, index: int, data: bytes) -> None:
    decoded = decode(index, data)
    if decoded is not None:
        body, payload = decoded
        history.times[index] = body.time
        records = step(overlay, body, payload, index, verify=False)
        for record in records:
            overlay.put(record)
        _registry_facts(history, records, body.time, getattr(payload, "outcome", None))
        return
    event = parse_event(data)
    kind, time = event.body.type, event.body.time
    history.times[index] = time
    if kind in PAYLOAD_FOR_EVENT:
        envelope = envelope_of(event)
        if kind in ("governance.pause", "governance.resume"):
            history.directives.append(Logged(index, time, parse_directive(envelope)))
        elif kind == "governance.policy":
            history.policies.append(parse_policy(envelope))
    elif kind in LICENCE_TYPES:
        _licence(history, index, time, LICENCE_TYPES[kind].parse_payload(event), kind)
    elif kind == RECEIPT_EVENT:
        for envelope in _receipt_envelopes(index, data, event.body.payload):
            add_receipt(history, index, envelope)


def _registry_facts(
    history: History, records: list[Record], time: int, outcome: str | None
) -> None:
    chip = next((r for r in records if isinstance(r, ChipRecord)), None)
    for record in records:
        if isinstance(record, HistoryRecord):
            history.custody[record.serial].append(
                Custody(
                    record.idx,
                    time,
                    record.serial,
                    record.type,
                    record.state,
                    record.holder,
                    record.jurisdiction,
                    record.facility,
                    None if chip is None else chip.lessee,
                )
            )
            if record.type == "chip.inspected" and outcome is not None:
                history.inspections.append(Inspection(record.idx, time, record.serial, outcome))
        elif isinstance(record, Facility):
            history.facilities[record.facility] = record
    if chip is not None and chip.serial not in history.chips:
        history.chips[chip.serial] = _chip(chip)
        history.by_key.setdefault(chip.device_key, chip.serial)


_CLASSES: dict[str, tuple[str, float]] = {}


def _chip(record: ChipRecord) -> Chip:
    found = _CLASSES.get(record.spec)
    if found is None:
        spec = ChipSpec.from_dict(_json(record.spec))
        peak = max(spec.dense_tops_by_bits.values()) * 1e12
        found = _CLASSES[record.spec] = (classify(spec).eccn, peak)
    return Chip(
        record.serial,
        record.device_key,
        record.device_public_key,
        record.made_in,
        found[0],
        found[1],
        record.manufactured_at,
        record.manufactured_time,
    )


def _json(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(text))


def _licence(history: History, index: int, time: int, payload: Any, kind: str) -> None:
    if kind == RUN_ISSUED:
        envelope = cast(Envelope, payload)
        run = parse_run_licence(envelope)
        ident = licence_id(envelope)
        if run.run_id in history.runs:
            history.duplicates.append((ident, index))
            return
        history.runs[run.run_id] = Run(index, time, ident, run)
        return
    assert kind == DEVICE_ISSUED
    licence_envelope, receipt_envelope = payload.licence, payload.receipt
    ident = licence_id(licence_envelope)
    added = add_receipt(history, index, receipt_envelope)
    if ident in history.grants:
        history.duplicates.append((ident, index))
        return
    licence = parse_device_licence(licence_envelope)
    history.grants[ident] = Grant(index, time, ident, licence, added.id)


def add_receipt(history: History, index: int, envelope: Envelope) -> Receipt:
    """Add a receipt found at leaf `index` (the first leaf that holds it is kept)."""
    ident = receipt_id(envelope)
    found = history.receipts.get(ident)
    if found is None:
        found = history.receipts[ident] = Receipt(index, ident, parse_receipt(envelope), envelope)
    return found


def _receipt_envelopes(index: int, data: bytes, payload: Mapping[str, Any]) -> Iterator[Envelope]:
    """The receipts a ``device.receipt`` event carries, read by its own module if present."""
    try:
        module = importlib.import_module("pausebutton.device.receipt_events")
    except ImportError:
        module = None
    reader = getattr(module, "receipts_from_log", None)
    if reader is not None:
        for item in reader([(index, data)]):
            found = _envelope_in(item)
            if found is not None:
                yield found
        return
    inner = payload.get("receipt", payload)
    yield Envelope.model_validate(inner)


def _envelope_in(item: object) -> Envelope | None:
    if isinstance(item, Envelope):
        return item
    for value in item if isinstance(item, tuple) else vars(item).values():
        if isinstance(value, Envelope):
            return value
    return None


def _owners(history: History, overlay: Overlay, openings: Mapping[str, KycOpening]) -> None:
    for actor in overlay.inserts(ActorRecord):
        assert isinstance(actor, ActorRecord)
        owners: tuple[str, ...] = (actor.entity or actor.key_id,)
        opening = openings.get(actor.key_id)
        known = False
        if opening is not None and actor.kyc_commitment is not None:
            public = ActorKycRecorded(
                actor=actor.key_id,
                entity=actor.entity or "",
                legal_name=actor.legal_name or "",
                jurisdiction=actor.jurisdiction or "",
                status=cast(Any, actor.kyc_status),
                commitment=actor.kyc_commitment,
            )
            try:
                check_opening(public, opening)
                owners, known = tuple(opening.record.beneficial_owners), True
            except Error as exc:
                history.problems.append((actor.kyc_at or 0, f"KYC opening: {exc}"))
        history.owners[actor.key_id] = Owner(actor.key_id, actor.name, actor.entity, owners, known)
