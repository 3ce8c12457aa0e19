"""Pause and resume directives: signatures k-of-n, roles, scope, and offline collection."""

from __future__ import annotations

from pathlib import Path

import pytest

from pausebutton import FormatError, ReplayError, SignatureError, ValidationError
from pausebutton.crypto import EnvelopeSignature, parse_envelope
from pausebutton.governance import (
    PauseDirective,
    Policy,
    ResumeDirective,
    Scope,
    combine,
    draft_pause,
    draft_resume,
    load_envelope,
    parse_directive,
    save_envelope,
    sign,
    verify_directive,
)
from tests.governance.ceremony import NOW, Ceremony, ceremony, collect


@pytest.fixture(scope="module")
def c() -> Ceremony:
    return ceremony()


@pytest.fixture(scope="module")
def policy(c: Ceremony) -> Policy:
    return c.policy()


def test_pause_signed_by_threshold_is_accepted(c: Ceremony, policy: Policy) -> None:
    directive = verify_directive(c.pause(), c.root, policy, NOW)
    assert isinstance(directive, PauseDirective)
    assert directive.effect == "halt"
    assert directive.scope.is_global


def test_resume_signed_by_threshold_is_accepted(c: Ceremony, policy: Policy) -> None:
    directive = verify_directive(c.resume(), c.root, policy, NOW)
    assert isinstance(directive, ResumeDirective)
    assert directive.lifts == "pause-1"


def test_directive_with_too_few_signatures_is_refused(c: Ceremony, policy: Policy) -> None:
    with pytest.raises(SignatureError, match=r"pause pause-1: .*2 valid signature"):
        verify_directive(c.pause(signers=2), c.root, policy, NOW)


def test_unsigned_directive_is_refused(c: Ceremony, policy: Policy) -> None:
    with pytest.raises(SignatureError, match="0 valid signature"):
        verify_directive(c.pause(signers=0), c.root, policy, NOW)


def test_resume_with_too_few_signatures_is_refused(c: Ceremony, policy: Policy) -> None:
    with pytest.raises(SignatureError, match=r"resume resume-1: .*2 valid signature"):
        verify_directive(c.resume(signers=2), c.root, policy, NOW)


def test_same_key_signing_twice_counts_once_and_is_refused(c: Ceremony, policy: Policy) -> None:
    two = c.pause(signers=2)
    # Copies signed twice by one governor combine into one signature: still 2 of 3.
    again = sign(
        draft_pause("pause-1", issued=NOW - 60, effective_at=NOW - 60, reason="test pause"),
        c.role_keys("pause")[0],
    )
    combined = combine([two, again])
    assert len(combined.signatures) == 2
    with pytest.raises(SignatureError, match="2 valid signature"):
        verify_directive(combined, c.root, policy, NOW)
    # An envelope that lists one key's signature twice is refused outright.
    doubled = two.model_copy(update={"signatures": (*two.signatures, two.signatures[0])})
    with pytest.raises(SignatureError, match="signed more than once"):
        verify_directive(doubled, c.root, policy, NOW)


def test_signature_by_licensing_key_does_not_count_for_pause(c: Ceremony, policy: Policy) -> None:
    envelope = sign(c.pause(signers=2), c.role_keys("licensing")[0])
    assert len(envelope.signatures) == 3
    with pytest.raises(SignatureError, match=r"2 valid signature.*1 by keys not allowed"):
        verify_directive(envelope, c.root, policy, NOW)


def test_signature_by_root_keys_does_not_count_for_pause(c: Ceremony, policy: Policy) -> None:
    unsigned = c.pause(signers=0)
    envelope = collect(unsigned, c.role_keys("root"))
    with pytest.raises(SignatureError, match="0 valid signature"):
        verify_directive(envelope, c.root, policy, NOW)


def test_tampered_pause_is_refused(c: Ceremony, policy: Policy) -> None:
    envelope = c.pause()
    payload = dict(envelope.payload, reason="something else")
    forged = envelope.model_copy(update={"payload": payload})
    with pytest.raises(SignatureError, match="does not verify"):
        verify_directive(forged, c.root, policy, NOW)


def test_pause_signature_does_not_verify_a_resume(c: Ceremony, policy: Policy) -> None:
    # Domain separation: the same signatures over another payload type count for nothing.
    pause = c.pause()
    resume = draft_resume("pause-1", lifts="pause-0", issued=NOW, effective_at=NOW, reason="r")
    forged = resume.model_copy(update={"signatures": pause.signatures})
    with pytest.raises(SignatureError, match="does not verify"):
        verify_directive(forged, c.root, policy, NOW)


def test_unknown_jurisdiction_in_scope_is_refused(c: Ceremony) -> None:
    policy = c.policy(jurisdictions=("CN", "EU", "US"))
    envelope = c.pause(scope=Scope(jurisdictions=("US", "XK", "ZZ")))
    with pytest.raises(ValidationError, match="does not know: XK, ZZ"):
        verify_directive(envelope, c.root, policy, NOW)


def test_malformed_jurisdiction_in_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="pattern"):
        Scope(jurisdictions=("usa",))


def test_directive_under_an_expired_policy_is_refused(c: Ceremony) -> None:
    policy = c.policy(expires=NOW)
    with pytest.raises(ReplayError, match="trusted policy version 1 expired"):
        verify_directive(c.pause(), c.root, policy, NOW)


def test_directive_under_an_expired_root_is_refused(c: Ceremony, policy: Policy) -> None:
    with pytest.raises(ReplayError, match="trusted root version 1 expired"):
        verify_directive(c.pause(), c.root, policy, c.root.expires)


def test_policy_envelope_is_not_a_directive(c: Ceremony, policy: Policy) -> None:
    with pytest.raises(FormatError, match="expected a pause or resume"):
        verify_directive(c.signed_policy(policy), c.root, policy, NOW)


def test_throttle_without_a_rate_is_refused() -> None:
    with pytest.raises(ValidationError, match="a rate goes with throttle"):
        draft_pause("p", issued=NOW, effective_at=NOW, reason="r", effect="throttle")


def test_halt_with_a_rate_is_refused() -> None:
    with pytest.raises(ValidationError, match="a rate goes with throttle"):
        draft_pause("p", issued=NOW, effective_at=NOW, reason="r", rate=0.5)


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1])
def test_throttle_rate_outside_zero_to_one_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        draft_pause("p", issued=NOW, effective_at=NOW, reason="r", effect="throttle", rate=rate)


def test_pause_expiring_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError, match="expires must be after effective_at"):
        draft_pause("p", issued=NOW, effective_at=NOW, expires=NOW, reason="r")


def test_resume_naming_itself_is_refused() -> None:
    with pytest.raises(ValidationError, match="names itself"):
        draft_resume("r", lifts="r", issued=NOW, effective_at=NOW, reason="r")


def test_empty_scope_list_is_refused() -> None:
    with pytest.raises(ValueError, match="devices"):
        Scope(devices=())


def test_directive_omitting_a_field_is_refused(c: Ceremony) -> None:
    envelope = c.pause(signers=0)
    payload = dict(envelope.payload)
    del payload["expires"]
    with pytest.raises(FormatError, match="expires: Field required"):
        parse_directive(envelope.model_copy(update={"payload": payload}))
    payload = dict(envelope.payload, scope={"devices": None})
    with pytest.raises(FormatError, match="scope: not in canonical form"):
        parse_directive(envelope.model_copy(update={"payload": payload}))


def test_combine_refuses_copies_of_different_payloads(c: Ceremony) -> None:
    one = c.pause("pause-1", signers=1)
    other = c.pause("pause-2", signers=1)
    with pytest.raises(FormatError, match="different document"):
        combine([one, other])


def test_combine_refuses_two_signatures_by_one_key(c: Ceremony) -> None:
    good = c.pause(signers=1)
    bad_sig = EnvelopeSignature(keyid=good.signatures[0].keyid, sig="A" * 86 + "==")
    forged = good.model_copy(update={"signatures": (bad_sig,)})
    with pytest.raises(SignatureError, match="two different signatures"):
        combine([good, forged])


def test_combine_of_nothing_is_refused() -> None:
    with pytest.raises(FormatError, match="nothing to combine"):
        combine([])


def test_offline_signing_through_files(c: Ceremony, policy: Policy, tmp_path: Path) -> None:
    scope = Scope(jurisdictions=("US",), min_run_flop=10**26)
    draft = draft_pause("us-large-runs", issued=NOW, effective_at=NOW, scope=scope, reason="drill")
    save_envelope(draft, tmp_path / "draft.json")
    copies = []
    for index, governor_key in enumerate(c.role_keys("pause")[2:]):
        # Each governor loads the draft on their own machine and signs it.
        signed = sign(load_envelope(tmp_path / "draft.json"), governor_key)
        save_envelope(signed, tmp_path / f"signed-{index}.json")
        copies.append(tmp_path / f"signed-{index}.json")
    combined = combine([load_envelope(p) for p in copies])
    save_envelope(combined, tmp_path / "pause.json")
    loaded = parse_envelope((tmp_path / "pause.json").read_bytes())
    directive = verify_directive(loaded, c.root, policy, NOW)
    assert isinstance(directive, PauseDirective)
    assert directive.scope.min_run_flop == 10**26
    with pytest.raises(FormatError, match="refusing to overwrite"):
        save_envelope(combined, tmp_path / "pause.json")
    save_envelope(combined, tmp_path / "pause.json", overwrite=True)


def test_loading_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no envelope file"):
        load_envelope(tmp_path / "absent.json")
