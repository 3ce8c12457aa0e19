"""The pause state: a pure function of the verified directives and the time.

`pause_state` folds a set of directives into what is in force at a moment; the order in
which they arrived never matters (they are deduplicated by their canonical bytes and
sorted by effective time and id). `effect_for` says what that state means for one device:
run, throttle to a rate, or halt, with the directives that caused it and why.

Semantics:

- a pause is in force from its ``effective_at`` until its ``expires`` (if any), unless a
  resume naming it, issued no earlier than it, has taken effect;
- a resume lifts only a pause that exists; one naming no known pause, or issued before
  the pause it names, lifts nothing and is reported as an anomaly;
- an id used by two different directives is reported as an anomaly, and both count;
- the most restrictive effect wins: halt, then the lowest throttle rate, then run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pausebutton.errors import ReplayError, ValidationError
from pausebutton.governance.directives import (
    DeviceContext,
    Directive,
    PauseDirective,
    ResumeDirective,
)


@dataclass(frozen=True)
class Lift:
    """A pause lifted by a resume that has taken effect."""

    pause_id: str
    resume_id: str
    effective_at: int


@dataclass(frozen=True)
class PauseState:
    """Which pauses are in force at `at`, which are scheduled, lifted or lapsed, and anomalies."""

    at: int
    in_force: tuple[PauseDirective, ...]
    scheduled: tuple[PauseDirective, ...]
    lifted: tuple[Lift, ...]
    lapsed: tuple[PauseDirective, ...]
    anomalies: tuple[str, ...]

    def describe(self) -> tuple[str, ...]:
        """Say in words what is in force and why, one line each (for ``status``)."""
        lines = [f"in force: {describe_pause(p)}" for p in self.in_force]
        lines += [f"scheduled from {p.effective_at}: {describe_pause(p)}" for p in self.scheduled]
        lines += [
            f"lifted: pause {x.pause_id} by resume {x.resume_id} at {x.effective_at}"
            for x in self.lifted
        ]
        lines += [f"lapsed at {p.expires}: pause {p.id}" for p in self.lapsed]
        lines += [f"anomaly: {a}" for a in self.anomalies]
        return tuple(lines) or ("no pause in force",)


@dataclass(frozen=True)
class Effect:
    """What a device must do: run, throttle to `rate` of peak, or halt; and because of what."""

    kind: Literal["run", "throttle", "halt"]
    rate: float | None = None
    directive_ids: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def fraction(self) -> float:
        """The fraction of peak throughput allowed: 1 to run, the rate to throttle, 0 to halt."""
        if self.kind == "halt":
            return 0.0
        return 1.0 if self.rate is None else self.rate


def describe_pause(pause: PauseDirective) -> str:
    """Say in words what one pause does, to whom, since when, and why."""
    effect = "halt" if pause.rate is None else f"throttle to {pause.rate:g} of peak"
    until = "" if pause.expires is None else f" until {pause.expires}"
    return (
        f"pause {pause.id}: {effect} for {pause.scope.describe()}, from "
        f"{pause.effective_at}{until}: {pause.reason}"
    )


def _key(directive: Directive) -> tuple[int, str, str]:
    return (directive.effective_at, directive.id, directive.model_dump_json())


def pause_state(directives: Iterable[Directive], now: int) -> PauseState:
    """Fold verified directives into the pause state at `now`, whatever their order."""
    unique = sorted({d.model_dump_json(): d for d in directives}.values(), key=_key)
    anomalies: list[str] = []
    by_id: dict[str, list[Directive]] = defaultdict(list)
    for directive in unique:
        by_id[directive.id].append(directive)
    for directive_id, same in sorted(by_id.items()):
        if len(same) > 1:
            anomalies.append(f"id {directive_id} is used by {len(same)} different directives")
    pauses = [d for d in unique if isinstance(d, PauseDirective)]
    resumes = [d for d in unique if isinstance(d, ResumeDirective)]
    pauses_by_id: dict[str, list[PauseDirective]] = defaultdict(list)
    for pause in pauses:
        pauses_by_id[pause.id].append(pause)
    for resume in resumes:
        targets = pauses_by_id.get(resume.lifts, [])
        if not targets:
            anomalies.append(f"resume {resume.id} names no known pause {resume.lifts}; ignored")
        for pause in targets:
            if resume.issued < pause.issued:
                anomalies.append(
                    f"resume {resume.id} was issued before pause {pause.id}; it does not lift it"
                )
    in_force: list[PauseDirective] = []
    scheduled: list[PauseDirective] = []
    lifted: list[Lift] = []
    lapsed: list[PauseDirective] = []
    for pause in pauses:
        lifts = [
            r
            for r in resumes
            if r.lifts == pause.id and r.issued >= pause.issued and r.effective_at <= now
        ]
        if lifts:
            first = lifts[0]
            lifted.append(Lift(pause.id, first.id, first.effective_at))
        elif pause.expires is not None and now >= pause.expires:
            lapsed.append(pause)
        elif pause.effective_at <= now:
            in_force.append(pause)
        else:
            scheduled.append(pause)
    return PauseState(
        at=now,
        in_force=tuple(in_force),
        scheduled=tuple(scheduled),
        lifted=tuple(sorted(lifted, key=lambda x: (x.effective_at, x.pause_id, x.resume_id))),
        lapsed=tuple(lapsed),
        anomalies=tuple(sorted(anomalies)),
    )


def effect_for(state: PauseState, device: DeviceContext) -> Effect:
    """Return the most restrictive effect the pauses in force have on `device`."""
    matching = [p for p in state.in_force if p.scope.matches(device)]
    halts = [p for p in matching if p.effect == "halt"]
    if halts:
        return Effect(
            "halt",
            None,
            tuple(p.id for p in halts),
            tuple(describe_pause(p) for p in halts),
        )
    rates = [p.rate for p in matching if p.rate is not None]
    if not rates:
        return Effect("run")
    lowest = min(rates)
    causes = [p for p in matching if p.rate == lowest]
    return Effect(
        "throttle",
        lowest,
        tuple(p.id for p in causes),
        tuple(describe_pause(p) for p in causes),
    )


def check_new_directive(directive: Directive, published: Iterable[Directive]) -> None:
    """Refuse a directive that does not fit the published set (before publishing it).

    ReplayError: it is already published. ValidationError: its id is taken by another
    directive; or it is a resume that names no published pause, names one issued after
    it, or names one another resume already lifts.
    """
    known = list(published)
    for other in known:
        if other.id != directive.id:
            continue
        if other == directive:
            raise ReplayError(f"directive {directive.id} is already published")
        raise ValidationError(f"id {directive.id} is already used by another directive")
    if not isinstance(directive, ResumeDirective):
        return
    targets = [d for d in known if isinstance(d, PauseDirective) and d.id == directive.lifts]
    if not targets:
        raise ValidationError(f"resume {directive.id} names no known pause {directive.lifts!r}")
    if any(directive.issued < pause.issued for pause in targets):
        raise ValidationError(
            f"resume {directive.id} is issued before the pause {directive.lifts} it names"
        )
    for other in known:
        if isinstance(other, ResumeDirective) and other.lifts == directive.lifts:
            raise ValidationError(f"pause {directive.lifts} is already lifted by {other.id}")
