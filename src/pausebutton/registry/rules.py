"""Who may submit which registry event, in which state of the chip: the one table of rules.

`RULES` names, for each registry event type, its payload, the roles that may submit it,
who it needs to co-sign, the chip states it may start from, the actor's relation to the
chip, and the state it leads to. `step` applies one event to a `RegistryView`: it refuses
(ValidationError, naming the rule) or returns the records the event creates or changes.
It is pure, so the live intake and a replay of the log run exactly the same rules.

Importing this module registers the event types with `registry.events.EVENT_TYPES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from pausebutton.errors import ValidationError
from pausebutton.registry import actors as a
from pausebutton.registry import custody as c
from pausebutton.registry import transitions as t
from pausebutton.registry.chips import ChipManufactured
from pausebutton.registry.events import (
    ACTOR_REGISTERED,
    EVENT_TYPES,
    ActorRegistered,
    EventBody,
    EventType,
    SignedEvent,
)
from pausebutton.registry.pipeline import PolicyContext
from pausebutton.registry.records import (
    DESTROYED,
    HELD,
    INSTALLED,
    LEASED,
    LOST,
    STOLEN,
    ChipRecord,
    Record,
    RegistryView,
)

ALIVE = frozenset({HELD, INSTALLED, LEASED, LOST, STOLEN})
IN_HAND = frozenset({HELD, INSTALLED, LEASED})


@dataclass(frozen=True)
class Rule:
    """One registry event type and the rule it is submitted under."""

    name: str
    model: type[BaseModel]
    roles: frozenset[str]
    effect: Callable[[t.Step, Any], list[Record]]
    states: frozenset[str] | None = None
    """Chip states the event may start from; None for events that are not about a chip."""
    by: t.Relation = "holder"
    to: str | None = None
    """The chip's state afterwards; None: unchanged."""
    cosigner: str | None = None
    """The payload field naming the party who must co-sign (besides the submitter)."""

    def cosigners(self, payload: Any) -> Sequence[str]:
        """The key ids that must co-sign an event with `payload`."""
        return [getattr(payload, self.cosigner)] if self.cosigner else []


_RULES: tuple[Rule, ...] = (
    Rule(ACTOR_REGISTERED.name, ActorRegistered, frozenset({a.REGISTRAR}), t.actor_registered),
    Rule("actor.kyc_recorded", a.ActorKycRecorded, frozenset({a.REGISTRAR}), t.kyc_recorded),
    Rule("facility.registered", c.FacilityRegistered, a.OPERATORS, t.facility_registered),
    Rule("export.licensed", c.ExportLicensed, frozenset({a.EXPORT_AUTHORITY}), t.licensed),
    Rule(
        "chip.manufactured", ChipManufactured, frozenset({a.MANUFACTURER}), t.manufactured, to=HELD
    ),
    Rule(
        "chip.transferred",
        c.ChipTransferred,
        a.CUSTODIANS,
        t.transferred,
        frozenset({HELD}),
        cosigner="buyer",
    ),
    *(
        Rule(
            name,
            c.ChipExported,
            a.CUSTODIANS,
            t.exported,
            frozenset({HELD}),
            cosigner="consignee",
        )
        for name in (t.EXPORTED, t.REEXPORTED)
    ),
    Rule(
        "chip.installed",
        c.ChipInstalled,
        a.CUSTODIANS,
        t.installed,
        frozenset({HELD}),
        to=INSTALLED,
        cosigner="operator",
    ),
    Rule("chip.uninstalled", c.ChipEvent, a.CUSTODIANS, t.moved, frozenset({INSTALLED}), to=HELD),
    Rule(
        "chip.leased",
        c.ChipLeased,
        a.CUSTODIANS,
        t.leased,
        frozenset({INSTALLED}),
        to=LEASED,
        cosigner="lessee",
    ),
    Rule(
        "chip.lease_ended",
        c.ChipEvent,
        a.CUSTODIANS,
        t.lease_ended,
        frozenset({LEASED}),
        by="holder or lessee",
        to=INSTALLED,
    ),
    *(
        Rule(
            name,
            c.ChipReported,
            a.CUSTODIANS,
            t.moved,
            IN_HAND,
            by="holder, lessee or operator",
            to=state,
        )
        for name, state in (("chip.reported_lost", LOST), ("chip.reported_stolen", STOLEN))
    ),
    Rule(
        "chip.recovered",
        c.ChipRecovered,
        a.CUSTODIANS,
        t.recovered,
        frozenset({LOST, STOLEN}),
        to=HELD,
        cosigner="inspector",
    ),
    Rule("chip.inspected", c.ChipInspected, frozenset({a.INSPECTOR}), t.inspected, ALIVE, by="any"),
    Rule(
        "chip.destroyed",
        c.ChipDestroyed,
        a.CUSTODIANS,
        t.destroyed,
        frozenset({HELD, INSTALLED}),
        to=DESTROYED,
        cosigner="witness",
    ),
)
RULES: dict[str, Rule] = {rule.name: rule for rule in _RULES}
"""Every registry event type's rule, by name."""

REGISTRAR_TYPES = frozenset({ACTOR_REGISTERED.name, "actor.kyc_recorded"})


def step(
    view: RegistryView, body: EventBody, payload: BaseModel, index: int, *, verify: bool = True
) -> list[Record]:
    """Apply one event at leaf `index` to `view`: its new records, or ValidationError.

    With `verify` false, signatures inside payloads (device endorsements) are not checked:
    replay relies on the intake (and the verifier's audit of every signature) for those.
    """
    rule = RULES[body.type]
    s = t.Step(
        view=view, type=body.type, actor=body.actor, time=body.time, index=index, verify=verify
    )
    if body.type not in REGISTRAR_TYPES:
        t.party(s, body.actor, "actor", rule.roles)
    if rule.states is None:
        return rule.effect(s, payload)
    serial: str = getattr(payload, "serial")  # noqa: B009 (every chip payload has one)
    chip = view.get(ChipRecord, serial)
    if not isinstance(chip, ChipRecord):
        raise ValidationError(f"{body.type}: no chip with serial {serial!r} is registered")
    if chip.state == DESTROYED:
        raise ValidationError(
            f"{body.type}: chip {serial} was destroyed (entry {chip.updated_at}); "
            "no event may follow"
        )
    if chip.state not in rule.states:
        allowed = ", ".join(sorted(rule.states))
        raise ValidationError(
            f"{body.type}: chip {serial} is {chip.state}; the event needs it {allowed}"
        )
    t.check_relation(s, chip, rule.by)
    return rule.effect(s.with_chip(chip, rule.to), payload)


@runtime_checkable
class RuleState(Protocol):
    """The registry state an event is validated against, as the intake hands it over."""

    @property
    def view(self) -> RegistryView:
        """The registry as it stands before this event."""

    @property
    def next_index(self) -> int:
        """The leaf index the event being validated will get."""

    def stash(self, event: SignedEvent, records: list[Record]) -> None:
        """Keep the records an event produces, for when it is accepted."""


def check_rules(event: SignedEvent, context: PolicyContext) -> None:
    """The policy check every registry event type carries: `step` against the registry."""
    state = context.state
    if not isinstance(state, RuleState):
        raise ValidationError(
            f"{event.body.type}: registry events are validated against the registry "
            "projection; submit them through an EventLog with a RegistryProjector"
        )
    state.stash(event, step(state.view, event.body, context.payload, state.next_index))


def _register() -> None:
    for rule in _RULES:
        if rule.name == ACTOR_REGISTERED.name:
            continue
        EVENT_TYPES.register(
            EventType(
                name=rule.name,
                payload_model=rule.model,
                roles=rule.roles,
                cosigners=rule.cosigners if rule.cosigner else None,
                checks=(check_rules,),
            )
        )


_register()


def rules_table() -> list[tuple[str, str, str, str, str, str]]:
    """The rules as rows: event, roles, submitted by, co-signed by, from states, to state."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    for rule in _RULES:
        states = "—" if rule.states is None else ", ".join(sorted(rule.states))
        to = rule.to or ("—" if rule.states is None else "unchanged")
        by = "any of the roles" if rule.states is None or rule.by == "any" else rule.by
        roles = ", ".join(sorted(rule.roles))
        rows.append((rule.name, roles, by, rule.cosigner or "—", states, to))
    return rows
