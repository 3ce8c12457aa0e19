"""Random supply-chain histories: mostly valid events, many invalid ones, all through the intake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from pausebutton.crypto import Envelope, SigningKey
from pausebutton.errors import Error
from pausebutton.registry.records import ChipRecord
from pausebutton.store.models import registry_chips
from tests.registry.world import UNCONTROLLED, World

Op = tuple[int, int, int, int]
"""(operation, chip choice, actor choice, variant): small integers a generator draws."""

CAST = (
    ("acme", ["manufacturer"], "TW"),
    ("fab2", ["manufacturer"], "US"),
    ("dist", ["distributor"], "TW"),
    ("dc", ["datacentre"], "TW"),
    ("cloud", ["cloud", "datacentre"], "US"),
    ("lab", ["lab"], "TW"),
    ("inspector", ["inspector"], "TW"),
    ("bis", ["export_authority"], "US"),
    ("abroad", ["distributor"], "CN"),
    ("pending", ["lab"], "TW", "pending"),
)


@dataclass
class Scenario:
    """Applies random operations to a world and counts what was accepted and refused."""

    world: World
    check_each: bool = False
    keys: list[SigningKey] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)
    accepted: int = 0
    refused: int = 0

    def setup(self) -> None:
        """Register the cast and two facilities and a licence."""
        for entry in CAST:
            name, roles, jurisdiction = entry[0], entry[1], entry[2]
            status = entry[3] if len(entry) > 3 else "verified"
            self.keys.append(
                self.world.actor(str(name), list(roles), str(jurisdiction), str(status))
            )
        w, dc, cloud = self.world, self.keys[3], self.keys[4]
        w.submit(
            w.event(
                "facility.registered",
                dc,
                facility="dc-tw",
                name="TW",
                jurisdiction="TW",
                latitude=25.0,
                longitude=121.5,
            ),
            w.event(
                "facility.registered",
                cloud,
                facility="dc-us",
                name="US",
                jurisdiction="US",
                latitude=39.0,
                longitude=-77.5,
            ),
            w.event(
                "export.licensed",
                self.keys[7],
                licence="L1",
                exporter=self.keys[0].key_id,
                consignee=self.keys[8].key_id,
                destination="CN",
                eccn="3A090.a",
                quantity=3,
                expires=w.now + 10**6,
            ),
        )

    def key(self, choice: int) -> SigningKey:
        """An actor by choice."""
        return self.keys[choice % len(self.keys)]

    def chip(self, choice: int, states: str = "", variant: int = 0) -> ChipRecord | None:
        """A registered chip by choice, usually one in `states` (None while there are none)."""
        with self.world.log.engine.connect() as conn:
            rows = conn.execute(
                select(registry_chips.c.serial, registry_chips.c.state).order_by("serial")
            ).all()
        fitting = [r.serial for r in rows if r.state in states.split()] if variant != 3 else []
        candidates = fitting or [r.serial for r in rows]
        if not candidates:
            return None
        found = self.world.get(ChipRecord, candidates[choice % len(candidates)])
        return found if isinstance(found, ChipRecord) else None

    def run(self, ops: list[Op]) -> None:
        """Apply each operation; refusals must leave the log and the registry unchanged."""
        for op in ops:
            self.apply(op)

    def apply(self, op: Op) -> None:
        """Build the operation's events and submit them as one batch."""
        kind, c, a, v = op
        self.world.now += v
        try:
            events = OPERATIONS[kind % len(OPERATIONS)](self, c, a, v)
        except Error:
            return  # the event could not even be built (e.g. a payload the model refuses)
        if not events:
            return
        before = (self.world.log.size, self.world.digest()) if self.check_each else None
        try:
            self.world.submit(*events)
        except Error:
            self.refused += 1
            if before is not None:
                assert (self.world.log.size, self.world.digest()) == before
            return
        self.accepted += 1

    def signer(self, chip: ChipRecord, a: int, v: int) -> SigningKey:
        """Usually the holder; on variant 1 whoever `a` picks."""
        if v == 1:
            return self.key(a)
        return next((k for k in self.keys if k.key_id == chip.holder), self.key(a))


def _manufacture(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    serial = f"S{len(s.serials)}" if v != 3 else f"S{c % max(1, len(s.serials))}"
    parts = [("logic_die", f"{serial}-d"), ("hbm_stack", f"{serial}-h{c % 2}")]
    if v == 2 and s.serials:
        parts.append(("hbm_stack", f"{s.serials[c % len(s.serials)]}-h0"))  # reuse: refused
    maker = s.keys[a % 2] if v != 1 else s.key(a)
    spec = UNCONTROLLED if c % 3 == 0 else None
    event = s.world.made(maker, serial, components=parts, spec=spec)
    if serial not in s.serials:
        s.serials.append(serial)
    return [event]


def _transfer(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "held", v)
    if chip is None:
        return []
    buyer = s.key(a + 1)
    return [
        s.world.event(
            "chip.transferred", s.signer(chip, a, v), buyer, serial=chip.serial, buyer=buyer.key_id
        )
    ]


def _install(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "held", v)
    if chip is None:
        return []
    facility, operator = (("dc-tw", s.keys[3]), ("dc-us", s.keys[4]))[a % 2]
    return [
        s.world.event(
            "chip.installed",
            s.signer(chip, a, v),
            operator,
            serial=chip.serial,
            facility=facility,
            operator=operator.key_id,
        )
    ]


def _uninstall(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "installed", v)
    return (
        []
        if chip is None
        else [s.world.event("chip.uninstalled", s.signer(chip, a, v), serial=chip.serial)]
    )


def _lease(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "installed", v)
    if chip is None:
        return []
    lessee = s.keys[5] if a % 2 else s.keys[4]
    return [
        s.world.event(
            "chip.leased",
            s.signer(chip, a, v),
            lessee,
            serial=chip.serial,
            lessee=lessee.key_id,
            until=s.world.now + 2 + c,
        )
    ]


def _end_lease(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "leased", v)
    if chip is None:
        return []
    who = next((k for k in s.keys if k.key_id == chip.lessee), None) if v % 3 == 0 else None
    return [s.world.event("chip.lease_ended", who or s.signer(chip, a, v), serial=chip.serial)]


def _report(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "held installed leased", v) if c % 3 == 0 else None
    kind = "chip.reported_stolen" if a % 2 else "chip.reported_lost"
    return [] if chip is None else [s.world.event(kind, s.signer(chip, a, v), serial=chip.serial)]


def _recover(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "lost stolen", v)
    if chip is None:
        return []
    inspector = s.keys[6]
    return [
        s.world.event(
            "chip.recovered",
            s.signer(chip, a, v),
            inspector,
            serial=chip.serial,
            jurisdiction=("TW", "US")[a % 2],
            inspector=inspector.key_id,
        )
    ]


def _inspect(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "held installed leased lost stolen", v)
    who = s.keys[6] if v % 2 == 0 else s.key(a)
    outcome = ("present", "absent", "tampered")[a % 3]
    return (
        []
        if chip is None
        else [s.world.event("chip.inspected", who, serial=chip.serial, outcome=outcome)]
    )


def _destroy(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "held installed", v)
    if chip is None or c % 4:
        return []  # rarer than the rest, so chips live long enough to move around
    witness = s.keys[6] if v != 1 else s.key(a)
    return [
        s.world.event(
            "chip.destroyed",
            s.signer(chip, a, v),
            witness,
            serial=chip.serial,
            witness=witness.key_id,
            method="shredded",
        )
    ]


def _export(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    chip = s.chip(c, "held", v)
    if chip is None:
        return []
    consignee = s.keys[8] if a % 2 else s.keys[4]
    destination = "CN" if a % 2 else ("US" if chip.jurisdiction != "US" else "TW")
    kind = "chip.exported" if chip.jurisdiction == chip.made_in or v == 1 else "chip.reexported"
    fields = {"licence": "L1"} if v % 2 == 0 and destination == "CN" else {}
    return [
        s.world.event(
            kind,
            s.signer(chip, a, v),
            consignee,
            serial=chip.serial,
            destination=destination,
            consignee=consignee.key_id,
            **fields,
        )
    ]


def _batch(s: Scenario, c: int, a: int, v: int) -> list[Envelope]:
    """A chip made and sold in one batch: the sale sees the manufacture before it."""
    made = _manufacture(s, c, a, 0)
    maker, buyer = s.keys[a % 2], s.key(a + 2 + v)
    sale = s.world.event("chip.transferred", maker, buyer, serial=s.serials[-1], buyer=buyer.key_id)
    return [*made, sale]


OPERATIONS: tuple[Callable[[Scenario, int, int, int], list[Envelope]], ...] = (
    _manufacture,
    _manufacture,
    _transfer,
    _transfer,
    _install,
    _uninstall,
    _lease,
    _end_lease,
    _report,
    _recover,
    _inspect,
    _destroy,
    _export,
    _export,
    _batch,
)
