"""Where registry events meet regulation: TPP of a declared spec, and the policy checks.

The rules of `registry.rules` hold whatever the policy; the checks here depend on it
(export classification thresholds, which destinations need a licence, production caps,
known jurisdictions) and are handed to the intake as its `Policy`. Replay does not run
them: they decided what was accepted, and what was accepted is the log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pausebutton.errors import ValidationError
from pausebutton.governance.jurisdictions import DEFAULT_JURISDICTIONS
from pausebutton.governance.policy import Policy as GovernancePolicy
from pausebutton.registry.chips import ChipManufactured, SpecPayload, canonical_spec
from pausebutton.registry.events import SignedEvent
from pausebutton.registry.pipeline import Policy, PolicyCheck, PolicyContext
from pausebutton.registry.records import ActorRecord, ChipRecord, LicenceRecord, RegistryView
from pausebutton.regulation.caps import ProductionTally, check_production, period_bounds
from pausebutton.regulation.export import ChipSpec, Classification, classify, tpp
from pausebutton.regulation.jurisdictions import licence_required, load_jurisdictions
from pausebutton.regulation.parameters import (
    DEFAULT_EXPORT_CONTROL,
    ExportControlParameters,
    ProductionCap,
)


def to_chip_spec(spec: SpecPayload) -> ChipSpec:
    """The regulation module's `ChipSpec` of a declared specification."""
    return ChipSpec(
        name=spec.name,
        dense_tops_by_bits=spec.tops_by_bits(),
        die_area_mm2=spec.die_area_mm2,
        datacenter=spec.datacenter,
    )


@lru_cache(maxsize=4096)
def _tpp_of(canonical: str) -> int:
    return math.ceil(tpp(ChipSpec.from_dict(json.loads(canonical))))


def chip_tpp(spec: SpecPayload) -> int:
    """TPP of a declared specification rounded up to a whole number (as caps count it)."""
    return _tpp_of(canonical_spec(spec))


def classify_chip(chip: ChipRecord, params: ExportControlParameters) -> Classification:
    """Classify a registered chip from the specification its maker declared."""
    return classify(ChipSpec.from_dict(json.loads(chip.spec)), params)


def _view(event: SignedEvent, context: PolicyContext) -> RegistryView:
    view = getattr(context.state, "view", None)
    if view is None:
        raise ValidationError(f"{event.body.type}: policy checks need the registry projection")
    return view  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RegistryRegulation:
    """The policy's numbers the registry's checks use, with the published defaults."""

    export: ExportControlParameters = DEFAULT_EXPORT_CONTROL
    caps: Mapping[str, ProductionCap] = field(default_factory=dict)
    jurisdictions: Collection[str] = DEFAULT_JURISDICTIONS

    def checks(self) -> Policy:
        """The policy checks, by event type, to hand to `EventLog(policy=...)`."""
        known = self._known
        return {
            "actor.kyc_recorded": [known("jurisdiction", "jurisdiction of the KYC record")],
            "facility.registered": [known("jurisdiction", "facility jurisdiction")],
            "export.licensed": [known("destination", "destination")],
            "chip.manufactured": [known("jurisdiction", "place of manufacture"), self._cap],
            "chip.exported": [known("destination", "destination"), self._licence],
            "chip.reexported": [known("destination", "destination"), self._licence],
            "chip.recovered": [known("jurisdiction", "place of recovery")],
        }

    def _known(self, name: str, what: str) -> PolicyCheck:
        known = frozenset(self.jurisdictions)

        def check(event: SignedEvent, context: PolicyContext) -> None:
            code = getattr(context.payload, name)
            if code not in known:
                raise ValidationError(
                    f"{event.body.type}: {what} {code} is not a jurisdiction the policy knows"
                )

        return check

    def _cap(self, event: SignedEvent, context: PolicyContext) -> None:
        payload = context.payload
        assert isinstance(payload, ChipManufactured)
        view = _view(event, context)
        maker = view.get(ActorRecord, event.body.actor)
        entity = maker.entity if isinstance(maker, ActorRecord) else None
        cap = self.caps.get(entity) if entity is not None else None
        if cap is None or entity is None:
            return
        time = event.body.time
        start, end = period_bounds(time, cap.period_s)
        chips, total = view.production(entity, start, end)
        tally = ProductionTally(entity, cap.period_s, start, chips, total)
        try:
            check_production(cap, tally, time, tpp(to_chip_spec(payload.spec)))
        except ValidationError as exc:
            raise ValidationError(f"{event.body.type}: production cap: {exc}") from None

    def _licence(self, event: SignedEvent, context: PolicyContext) -> None:
        payload: Any = context.payload
        view = _view(event, context)
        chip = view.get(ChipRecord, payload.serial)
        assert isinstance(chip, ChipRecord)
        found = classify_chip(chip, self.export)
        consignee = view.get(ActorRecord, payload.consignee)
        base = consignee.jurisdiction if isinstance(consignee, ActorRecord) else None
        if base not in load_jurisdictions().countries:
            base = None
        decision = licence_required(found.eccn, payload.destination, self.export, headquarters=base)
        if not decision.required:
            return
        what = f"{event.body.type}: chip {chip.serial} ({found.eccn})"
        if payload.licence is None:
            raise ValidationError(
                f"{what} needs an export licence to {payload.destination}: {decision.reason}"
            )
        licence = view.get(LicenceRecord, payload.licence)
        assert isinstance(licence, LicenceRecord)
        needed = "3A090.a" if found.eccn == "undetermined" else found.eccn
        if found.eccn != "not controlled" and licence.eccn != needed:
            raise ValidationError(
                f"{what}: licence {licence.licence} covers {licence.eccn}, not {needed}"
            )


def regulation_from_policy(policy: GovernancePolicy) -> RegistryRegulation:
    """Read the registry's regulation from a governance `Policy` document."""
    return RegistryRegulation(
        export=policy.export_control,
        caps=dict(policy.production_caps),
        jurisdictions=policy.jurisdictions,
    )
