"""What a device accepts from the published governance state, and what it must then do. Pure.

The rules (the device side of issue 3, item 4):

- every document is verified against the trusted root (and policy) exactly as the core
  does (`verify_root_step`, `verify_policy`, `verify_directive`, `verify_revocations`);
- **tightening is obeyed at once**: a valid pause, a policy change that is a
  ``security_fix`` (only tightenings), a revocation list that only adds keys;
- **loosening needs a witnessed receipt**: a resume, any other policy change (the first
  policy included), a root update, a revocation list that drops a key are accepted only
  with an inclusion proof of their log entry against a checkpoint cosigned by at least
  `required_cosignatures` distinct witness keys of the trusted root;
- **fail closed**: no policy, an expired root or policy, or no successful refresh within
  ``policy.freshness_s``, and the effect is halt.

`fold` is a pure function of the documents, not of the order they arrive in: it sorts
them (roots, policies and revocation lists by version, then pauses, then resumes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from pausebutton.crypto.canonical import canonical_bytes
from pausebutton.crypto.envelope import Envelope
from pausebutton.errors import Error, ValidationError
from pausebutton.governance.directives import (
    PAUSE_PAYLOAD_TYPE,
    RESUME_PAYLOAD_TYPE,
    DeviceContext,
    Directive,
    PauseDirective,
    parse_directive,
    verify_directive,
)
from pausebutton.governance.policy import POLICY_PAYLOAD_TYPE, Policy, parse_policy, verify_policy
from pausebutton.governance.policy import required_action as policy_action
from pausebutton.governance.publication import (
    Publication,
    required_cosignatures,
    verify_receipt,
)
from pausebutton.governance.revocations import (
    REVOCATIONS_PAYLOAD_TYPE,
    Revocations,
    only_adds,
    parse_revocations,
    verify_revocations,
)
from pausebutton.governance.root import (
    ROOT_PAYLOAD_TYPE,
    Root,
    parse_root,
    verify_root_step,
    verify_root_update,
)
from pausebutton.governance.state import Effect, check_new_directive, effect_for, pause_state

Direction = Literal["tightening", "loosening"]
Document = Root | Policy | Revocations | Directive
_PARSERS: dict[str, Callable[[Envelope], Document]] = {
    ROOT_PAYLOAD_TYPE: parse_root,
    POLICY_PAYLOAD_TYPE: parse_policy,
    REVOCATIONS_PAYLOAD_TYPE: parse_revocations,
    PAUSE_PAYLOAD_TYPE: parse_directive,
    RESUME_PAYLOAD_TYPE: parse_directive,
}
_RANK = {
    ROOT_PAYLOAD_TYPE: 0,
    POLICY_PAYLOAD_TYPE: 1,
    REVOCATIONS_PAYLOAD_TYPE: 2,
    PAUSE_PAYLOAD_TYPE: 3,
    RESUME_PAYLOAD_TYPE: 4,
}


@dataclass(frozen=True)
class View:
    """The governance state one party trusts: the root chain, policy, revocations, directives."""

    roots: tuple[Root, ...]
    policy: Policy | None = None
    revocations: Revocations | None = None
    directives: tuple[Directive, ...] = ()

    @property
    def root(self) -> Root:
        """The newest trusted root."""
        return self.roots[-1]

    @classmethod
    def starting_from(cls, root: Root) -> View:
        """The view of a device provisioned with `root` and nothing else."""
        return cls(roots=(root,))


@dataclass(frozen=True)
class Admitted:
    """A document that passed: what it is, whether it tightens, and the view after it."""

    document: Document
    direction: Direction
    view: View


@dataclass(frozen=True)
class Refusal:
    """A published document that was not accepted, and the error that refused it."""

    what: str
    error: str
    reason: str


@dataclass(frozen=True)
class Outcome:
    """The view after a fold, the publications it accepted, and those it refused."""

    view: View
    accepted: tuple[Publication, ...]
    refused: tuple[Refusal, ...]


def describe_document(envelope: Envelope) -> str:
    """Name a governance envelope in words, e.g. ``pause p-1`` or ``policy v3``."""
    kind = envelope.payload_type.removeprefix("pausebutton.").split("/")[0]
    payload = envelope.payload
    label = payload.get("id") if "id" in payload else f"v{payload.get('version')}"
    return f"{kind} {label}"


def _policy_for_directive(view: View) -> Policy:
    if view.policy is None:
        raise ValidationError("no policy is in force, so no directive can be checked yet")
    return view.policy


def admit(view: View, envelope: Envelope, now: int, *, strict: bool = True) -> Admitted:
    """Verify one governance envelope against `view` at `now`; return it and the next view.

    Raises the core's typed errors. `strict` (the publisher, an auditor's replay) also
    refuses an expired root and a pause whose id is taken; a device (`strict=False`)
    walks through roots that have since expired and obeys every valid pause, whatever
    its id.
    """
    kind = envelope.payload_type
    if kind == ROOT_PAYLOAD_TYPE:
        if strict:
            root = verify_root_update(view.root, envelope, now)
        else:
            root = verify_root_step(view.root, envelope)
        return Admitted(root, "loosening", replace(view, roots=(*view.roots, root)))
    if kind == POLICY_PAYLOAD_TYPE:
        policy = verify_policy(envelope, view.root, now, view.policy)
        tightens = policy_action(view.policy, policy) == "security_fix"
        direction: Direction = "tightening" if tightens else "loosening"
        return Admitted(policy, direction, replace(view, policy=policy))
    if kind == REVOCATIONS_PAYLOAD_TYPE:
        revocations = verify_revocations(envelope, view.root, now, view.revocations)
        direction = "tightening" if only_adds(view.revocations, revocations) else "loosening"
        return Admitted(revocations, direction, replace(view, revocations=revocations))
    if kind in (PAUSE_PAYLOAD_TYPE, RESUME_PAYLOAD_TYPE):
        directive = verify_directive(envelope, view.root, _policy_for_directive(view), now)
        pause = isinstance(directive, PauseDirective)
        if strict or not pause:
            check_new_directive(directive, view.directives)
        next_view = replace(view, directives=(*view.directives, directive))
        return Admitted(directive, "tightening" if pause else "loosening", next_view)
    raise ValidationError(f"{kind!r} is not a governance document")


def accept(view: View, publication: Publication, now: int, origin: str) -> Admitted:
    """Admit a published document as a device: a loosening also needs its witnessed receipt."""
    admitted = admit(view, publication.envelope(), now, strict=False)
    if admitted.direction == "loosening":
        quorum = required_cosignatures(view.root, view.policy)
        verify_receipt(publication, view.root, quorum, origin)
    return admitted


def _known(view: View, document: Document) -> bool:
    if isinstance(document, Root):
        return document in view.roots
    if isinstance(document, Policy):
        return document == view.policy
    if isinstance(document, Revocations):
        return document == view.revocations
    return document in view.directives


def _order(envelope: Envelope) -> tuple[int, int, str, bytes]:
    payload = envelope.payload
    version = payload.get("version") if envelope.payload_type in _RANK else None
    number = version if isinstance(version, int) else 0
    effective = payload.get("effective_at")
    number = effective if isinstance(effective, int) else number
    body = canonical_bytes(envelope.model_copy(update={"signatures": ()}))
    return (_RANK.get(envelope.payload_type, 9), number, str(payload.get("id", "")), body)


def parse_document(envelope: Envelope) -> Document:
    """Read any governance document from its envelope, checking form but no signature."""
    parser = _PARSERS.get(envelope.payload_type)
    if parser is None:
        raise ValidationError(f"{envelope.payload_type!r} is not a governance document")
    return parser(envelope)


def fold(start: View, publications: Iterable[Publication], now: int, origin: str) -> Outcome:
    """Accept what can be accepted of `publications` on top of `start`, in canonical order.

    Documents `start` already holds are skipped. Copies of one document (say, one with an
    old receipt and one with a renewed one) are tried in turn; it is refused only if none
    passes.
    """
    groups: dict[bytes, list[Publication]] = {}
    envelopes: dict[bytes, Envelope] = {}
    refused: list[Refusal] = []
    for publication in publications:
        try:
            envelope = publication.envelope()
        except Error as exc:
            refused.append(Refusal("unreadable publication", type(exc).__name__, str(exc)))
            continue
        key = envelope.to_bytes()
        envelopes.setdefault(key, envelope)
        if publication not in groups.setdefault(key, []):
            groups[key].append(publication)
    view = start
    accepted: list[Publication] = []
    for key in sorted(groups, key=lambda k: _order(envelopes[k])):
        what = describe_document(envelopes[key])
        try:
            if _known(view, parse_document(envelopes[key])):
                continue
        except Error as exc:
            refused.append(Refusal(what, type(exc).__name__, str(exc)))
            continue
        errors: list[Error] = []
        for publication in groups[key]:
            try:
                view = accept(view, publication, now, origin).view
            except Error as exc:
                errors.append(exc)
                continue
            accepted.append(publication)
            break
        else:
            refused.append(Refusal(what, type(errors[-1]).__name__, str(errors[-1])))
    return Outcome(view, tuple(accepted), tuple(refused))


def replay(
    start: View, history: Iterable[tuple[Envelope, int]]
) -> tuple[View, tuple[Refusal, ...]]:
    """Re-admit documents in log order, each at the time it was logged (strict).

    The auditor's and the publisher's view: the log, not a device, decides what was
    published, so no receipt is asked for. Documents `start` holds are skipped.
    """
    view = start
    refused: list[Refusal] = []
    for envelope, at in history:
        try:
            if _known(view, parse_document(envelope)):
                continue
            view = admit(view, envelope, at).view
        except Error as exc:
            refused.append(Refusal(describe_document(envelope), type(exc).__name__, str(exc)))
    return view, tuple(refused)


def device_effect(view: View, device: DeviceContext, now: int, fresh_at: int | None) -> Effect:
    """What `device` must do at `now`, given its view and the time of its last good refresh."""
    policy = view.policy
    if policy is None:
        return _halt("no policy accepted yet: fail closed")
    if fresh_at is None or now - fresh_at > policy.freshness_s:
        since = "never refreshed" if fresh_at is None else f"last fresh at {fresh_at}"
        return _halt(f"stale governance view: {since}, limit {policy.freshness_s} s (fail closed)")
    if now >= view.root.expires:
        return _halt(f"root v{view.root.version} expired at {view.root.expires} (fail closed)")
    if now >= policy.expires:
        return _halt(f"policy v{policy.version} expired at {policy.expires} (fail closed)")
    return effect_for(pause_state(view.directives, now), device)


def _halt(reason: str) -> Effect:
    return Effect("halt", None, (), (reason,))


def describe_view(view: View, now: int) -> tuple[str, ...]:
    """Say what is in force at `now` and why, one line each (for ``governance status``)."""
    root = view.root
    lines = [f"root v{root.version}, expires {root.expires}"]
    policy = view.policy
    lines.append(
        "no policy: devices halt (fail closed)"
        if policy is None
        else f"policy v{policy.version}, expires {policy.expires}, freshness {policy.freshness_s} s"
    )
    if view.revocations is not None:
        lines.append(
            f"revocations v{view.revocations.version}: {len(view.revocations.keys)} key(s)"
        )
    return (*lines, *pause_state(view.directives, now).describe())
