"""What each registry event checks beyond its rule's row, and the records it produces.

Every function takes a `Step` (the registry view, the event's type, actor, time and leaf
index, and for chip events the chip and its next state) and the parsed payload; it raises
ValidationError (or SignatureError for a bad endorsement) or returns new records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from pausebutton.crypto.keys import VerifyKey
from pausebutton.errors import ValidationError
from pausebutton.registry import actors as a
from pausebutton.registry import custody as c
from pausebutton.registry.chips import ChipManufactured, verify_endorsement
from pausebutton.registry.compliance import chip_tpp
from pausebutton.registry.events import ActorRegistered
from pausebutton.registry.records import (
    HELD,
    INSTALLED,
    LEASED,
    ActorRecord,
    ChipRecord,
    ComponentRecord,
    FacilityRecord,
    HistoryRecord,
    LicenceRecord,
    Record,
    RegistryView,
)

EXPORTED = "chip.exported"
REEXPORTED = "chip.reexported"
Relation = Literal["holder", "holder or lessee", "holder, lessee or operator", "any"]


def short(key_id: str | None) -> str:
    """A key id as errors show it."""
    return f"{key_id[:16]}…" if key_id else "nobody"


@dataclass(frozen=True)
class Step:
    """One event being applied: where, by whom, when, and (for chip events) to which chip."""

    view: RegistryView
    type: str
    actor: str
    time: int
    index: int
    chip: ChipRecord | None = None
    to: str | None = None
    verify: bool = True
    """Whether to check signatures inside payloads (the device endorsement)."""

    def with_chip(self, chip: ChipRecord, to: str | None) -> Step:
        """This step, about `chip`, leading to state `to` (None: unchanged)."""
        return replace(self, chip=chip, to=to)

    def refuse(self, reason: str) -> ValidationError:
        """A ValidationError naming the event type."""
        return ValidationError(f"{self.type}: {reason}")

    def move(self, **changes: object) -> list[Record]:
        """The chip after this event, and its line in the chain of custody."""
        chip = self.chip
        assert chip is not None
        state = self.to or chip.state
        if state not in (INSTALLED, LEASED):
            changes.setdefault("facility", None)
        if state != LEASED:
            changes.update(lessee=None, lease_until=None)
        after = replace(chip, state=state, updated_at=self.index, **changes)  # type: ignore[arg-type]
        history = HistoryRecord(
            idx=self.index,
            serial=after.serial,
            type=self.type,
            actor=self.actor,
            state=after.state,
            holder=after.holder,
            jurisdiction=after.jurisdiction,
            facility=after.facility,
        )
        return [after, history]


def party(s: Step, key_id: str, what: str, roles: frozenset[str]) -> ActorRecord:
    """The registered actor `key_id`, holding one of `roles` and a verified KYC record."""
    actor = s.view.get(ActorRecord, key_id)
    if not isinstance(actor, ActorRecord):
        raise s.refuse(f"{what} {short(key_id)} is not a registered actor")
    if not roles & set(actor.roles):
        raise s.refuse(
            f"{what} {short(key_id)} ({actor.name}) has roles {', '.join(actor.roles) or 'none'}; "
            f"needs one of {', '.join(sorted(roles))}"
        )
    if actor.kyc_status != "verified":
        raise s.refuse(
            f"{what} {short(key_id)} ({actor.name}) has no verified KYC record "
            f"(status: {actor.kyc_status or 'none recorded'})"
        )
    return actor


def check_relation(s: Step, chip: ChipRecord, by: Relation) -> None:
    """Refuse an actor who does not stand in relation `by` to `chip`."""
    allowed = {chip.holder}
    if by in ("holder or lessee", "holder, lessee or operator") and chip.lessee:
        allowed.add(chip.lessee)
    if by == "holder, lessee or operator" and chip.facility:
        facility = s.view.get(FacilityRecord, chip.facility)
        if isinstance(facility, FacilityRecord):
            allowed.add(facility.operator)
    if by != "any" and s.actor not in allowed:
        raise s.refuse(
            f"actor {short(s.actor)} is not the {by} of chip {chip.serial} "
            f"(held by {short(chip.holder)})"
        )


def _other(s: Step, key_id: str, what: str) -> None:
    if key_id == s.actor:
        raise s.refuse(f"the {what} must be another actor than the submitter")


def actor_registered(s: Step, p: ActorRegistered) -> list[Record]:
    """A new actor key, with its name and roles."""
    key_id = p.verify_key().key_id
    found = s.view.get(ActorRecord, key_id)
    if isinstance(found, ActorRecord):
        raise s.refuse(f"key {short(key_id)} is already registered (entry {found.registered_at})")
    return [ActorRecord(key_id, p.public_key, p.name, tuple(sorted(p.roles)), s.index)]


def kyc_recorded(s: Step, p: a.ActorKycRecorded) -> list[Record]:
    """An actor's KYC fields and commitment replace any earlier ones."""
    actor = s.view.get(ActorRecord, p.actor)
    if not isinstance(actor, ActorRecord):
        raise s.refuse(f"actor {short(p.actor)} is not registered")
    return [
        replace(
            actor,
            entity=p.entity,
            legal_name=p.legal_name,
            jurisdiction=p.jurisdiction,
            kyc_status=p.status,
            kyc_commitment=p.commitment,
            kyc_at=s.index,
        )
    ]


def facility_registered(s: Step, p: c.FacilityRegistered) -> list[Record]:
    """A new facility, operated by the submitter."""
    found = s.view.get(FacilityRecord, p.facility)
    if isinstance(found, FacilityRecord):
        raise s.refuse(f"facility {p.facility} is already registered (entry {found.registered_at})")
    return [
        FacilityRecord(
            p.facility, s.actor, p.name, p.jurisdiction, p.latitude, p.longitude, s.index
        )
    ]


def licensed(s: Step, p: c.ExportLicensed) -> list[Record]:
    """A new export licence, with nothing used yet."""
    found = s.view.get(LicenceRecord, p.licence)
    if isinstance(found, LicenceRecord):
        raise s.refuse(f"licence {p.licence} is already issued (entry {found.issued_at})")
    party(s, p.exporter, "exporter", a.CUSTODIANS)
    party(s, p.consignee, "consignee", a.CUSTODIANS)
    if p.expires <= s.time:
        raise s.refuse(f"licence {p.licence} expires at {p.expires}, not after {s.time}")
    return [
        LicenceRecord(
            p.licence,
            s.actor,
            p.exporter,
            p.consignee,
            p.destination,
            p.eccn,
            p.quantity,
            0,
            p.expires,
            s.index,
        )
    ]


def manufactured(s: Step, p: ChipManufactured) -> list[Record]:
    """A new chip, its components, and the first line of its chain of custody."""
    found = s.view.get(ChipRecord, p.serial)
    if isinstance(found, ChipRecord):
        raise s.refuse(f"chip {p.serial} is already registered (entry {found.manufactured_at})")
    device_key = p.device.signing_key_id()
    for column, value, what in (
        ("device_key", device_key, "device signing key"),
        ("x25519_key", p.device.x25519_key, "device X25519 key"),
    ):
        other = s.view.chip_by_device_key(column, value)
        if other is not None:
            raise s.refuse(f"{what} of chip {p.serial} is already chip {other}'s")
    used_parts = s.view.get_many(ComponentRecord, [x.serial for x in p.components])
    for component in p.components:
        used = used_parts[component.serial]
        if isinstance(used, ComponentRecord):
            raise s.refuse(
                f"component {component.serial} ({used.kind}) is already in chip {used.chip}"
            )
    maker = s.view.get(ActorRecord, s.actor)
    assert isinstance(maker, ActorRecord)
    assert maker.entity is not None
    if s.verify:
        verify_endorsement(VerifyKey.from_base64(maker.public_key), p)
    chip = ChipRecord(
        serial=p.serial,
        model=p.model,
        manufacturer=s.actor,
        maker_entity=maker.entity,
        made_in=p.jurisdiction,
        spec=p.spec_json(),
        tpp=chip_tpp(p.spec),
        device_key=device_key,
        device_public_key=p.device.signing_key,
        x25519_key=p.device.x25519_key,
        endorsement=p.device.endorsement,
        manufactured_at=s.index,
        manufactured_time=s.time,
        state=HELD,
        holder=s.actor,
        jurisdiction=p.jurisdiction,
        updated_at=s.index,
    )
    parts: list[Record] = [ComponentRecord(x.serial, x.kind, p.serial) for x in p.components]
    return [*s.with_chip(chip, HELD).move(), *parts]


def transferred(s: Step, p: c.ChipTransferred) -> list[Record]:
    """The buyer becomes the holder."""
    _other(s, p.buyer, "buyer")
    party(s, p.buyer, "buyer", a.CUSTODIANS)
    return s.move(holder=p.buyer)


def exported(s: Step, p: c.ChipExported) -> list[Record]:
    """The chip moves to the destination, held by the consignee; a licence is drawn on."""
    chip = s.chip
    assert chip is not None
    here = chip.jurisdiction
    if s.type == EXPORTED and here != chip.made_in:
        raise s.refuse(
            f"chip {chip.serial} is in {here}, not {chip.made_in} where it was made: "
            f"shipping it on is a {REEXPORTED}"
        )
    if s.type == REEXPORTED and here == chip.made_in:
        raise s.refuse(f"chip {chip.serial} is where it was made ({here}): submit {EXPORTED}")
    if p.destination == here:
        raise s.refuse(f"chip {chip.serial} is in {here} already")
    party(s, p.consignee, "consignee", a.CUSTODIANS)
    drawn: list[Record] = []
    if p.licence is not None:
        drawn.append(_draw(s, p))
    return [*s.move(jurisdiction=p.destination, holder=p.consignee), *drawn]


def _draw(s: Step, p: c.ChipExported) -> LicenceRecord:
    licence = s.view.get(LicenceRecord, p.licence or "")
    if not isinstance(licence, LicenceRecord):
        raise s.refuse(f"no export licence {p.licence} was issued")
    for what, licensed_value, value in (
        ("exporter", licence.exporter, s.actor),
        ("consignee", licence.consignee, p.consignee),
        ("destination", licence.destination, p.destination),
    ):
        if licensed_value != value:
            raise s.refuse(
                f"licence {licence.licence} is for {what} {licensed_value[:16]}, not {value[:16]}"
            )
    if s.time >= licence.expires:
        raise s.refuse(f"licence {licence.licence} expired at {licence.expires}")
    if licence.used >= licence.quantity:
        raise s.refuse(f"licence {licence.licence} is used up ({licence.quantity} chips)")
    return replace(licence, used=licence.used + 1)


def installed(s: Step, p: c.ChipInstalled) -> list[Record]:
    """The chip is installed at a facility in its own jurisdiction."""
    chip = s.chip
    assert chip is not None
    facility = s.view.get(FacilityRecord, p.facility)
    if not isinstance(facility, FacilityRecord):
        raise s.refuse(f"no facility {p.facility} is registered")
    if facility.operator != p.operator:
        raise s.refuse(f"facility {p.facility} is operated by {short(facility.operator)}")
    party(s, p.operator, "operator", a.OPERATORS)
    if facility.jurisdiction != chip.jurisdiction:
        raise s.refuse(
            f"facility {p.facility} is in {facility.jurisdiction}, chip {chip.serial} in "
            f"{chip.jurisdiction}: it must be exported there first"
        )
    return s.move(facility=p.facility)


def moved(s: Step, p: c.ChipEvent) -> list[Record]:
    """Only the state changes (uninstalled, reported lost or stolen)."""
    return s.move()


def leased(s: Step, p: c.ChipLeased) -> list[Record]:
    """The lessee may use the chip until `until`."""
    _other(s, p.lessee, "lessee")
    party(s, p.lessee, "lessee", a.LESSEES)
    if p.until <= s.time:
        raise s.refuse(f"the lease ends at {p.until}, not after {s.time}")
    return s.move(lessee=p.lessee, lease_until=p.until)


def lease_ended(s: Step, p: c.ChipEvent) -> list[Record]:
    """The lessee may end a lease at any time, the holder once it has expired."""
    chip = s.chip
    assert chip is not None
    assert chip.lease_until is not None
    if s.actor != chip.lessee and s.time < chip.lease_until:
        raise s.refuse(
            f"the holder may end the lease of chip {chip.serial} only once it expires at "
            f"{chip.lease_until}; the lessee may end it at any time"
        )
    return s.move()


def recovered(s: Step, p: c.ChipRecovered) -> list[Record]:
    """A lost or stolen chip is back in hand, where it was found."""
    _other(s, p.inspector, "inspector")
    party(s, p.inspector, "inspector", frozenset({a.INSPECTOR}))
    return s.move(jurisdiction=p.jurisdiction)


def inspected(s: Step, p: c.ChipInspected) -> list[Record]:
    """An inspector's finding is recorded; the state is unchanged."""
    return s.move(inspected_at=s.index, inspection=p.outcome)


def destroyed(s: Step, p: c.ChipDestroyed) -> list[Record]:
    """The chip is destroyed; its components stay recorded, so they cannot be reused."""
    _other(s, p.witness, "witness")
    party(s, p.witness, "witness", frozenset({a.INSPECTOR}))
    return s.move()
