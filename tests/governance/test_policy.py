"""The policy document: consistency of its numbers, rollback, expiry, and action thresholds."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from pausebutton import FormatError, ReplayError, SignatureError, ValidationError
from pausebutton.crypto import Envelope
from pausebutton.governance import (
    ActionThreshold,
    Policy,
    draft,
    parse_policy,
    required_action,
    verify_policy,
)
from pausebutton.governance.policy import BOOKKEEPING
from pausebutton.regulation.parameters import ExportControlParameters
from tests.governance.ceremony import DAY, NOW, Ceremony, ceremony, collect


@pytest.fixture(scope="module")
def c() -> Ceremony:
    return ceremony()


@pytest.fixture(scope="module")
def tiered() -> Ceremony:
    """A regime whose policy role is 2-of-5, a security fix 3-of-5 and a new rule 4-of-5."""
    made = ceremony(label="tiered/")
    policy_keys = [k.public for k in made.role_keys("policy")]
    table = dict(made.root.action_thresholds)
    table["security_fix"] = ActionThreshold(role="policy", threshold=3)
    table["new_rule"] = ActionThreshold(role="policy", threshold=4)
    made.root = made.make_root(overrides={"policy": (policy_keys, 2)}, action_thresholds=table)
    return made


def _wire(policy: Policy, **changes: Any) -> Envelope:
    payload = dict(policy.model_dump(mode="json"), **changes)
    return Envelope(payload_type=Policy.PAYLOAD_TYPE, payload=payload)


def test_first_policy_signed_by_threshold_is_accepted(c: Ceremony) -> None:
    policy = c.policy()
    assert verify_policy(c.signed_policy(policy), c.root, NOW, None) == policy


def test_policy_with_too_few_signatures_is_refused(c: Ceremony) -> None:
    with pytest.raises(SignatureError, match="2 valid signature"):
        verify_policy(c.signed_policy(c.policy(), signers=2), c.root, NOW, None)


def test_signature_by_pause_key_does_not_count_for_policy(c: Ceremony) -> None:
    policy = c.policy()
    envelope = collect(draft(policy), [*c.role_keys("policy")[:2], c.role_keys("pause")[2]])
    with pytest.raises(SignatureError, match=r"2 valid signature.*1 by keys not allowed"):
        verify_policy(envelope, c.root, NOW, None)


def test_expired_policy_is_refused(c: Ceremony) -> None:
    envelope = c.signed_policy(c.policy(expires=NOW))
    with pytest.raises(ReplayError, match="policy version 1 expired"):
        verify_policy(envelope, c.root, NOW, None)


def test_policy_under_an_expired_root_is_refused(c: Ceremony) -> None:
    envelope = c.signed_policy(c.policy(expires=c.root.expires + DAY))
    with pytest.raises(ReplayError, match="trusted root version 1 expired"):
        verify_policy(envelope, c.root, c.root.expires, None)


def test_rolled_back_policy_is_refused(c: Ceremony) -> None:
    current = c.policy(version=5)
    with pytest.raises(ReplayError, match="rollback"):
        verify_policy(c.signed_policy(c.policy(version=4)), c.root, NOW, current)


def test_replayed_current_policy_is_refused(c: Ceremony) -> None:
    current = c.policy(version=5)
    with pytest.raises(ReplayError, match="not newer"):
        verify_policy(c.signed_policy(current), c.root, NOW, current)


def test_policy_may_skip_versions(c: Ceremony) -> None:
    new = c.policy(version=9)
    assert verify_policy(c.signed_policy(new), c.root, NOW, c.policy(version=5)) == new


def test_licence_threshold_below_notify_threshold_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"licence_flop \(1e\+24\) must be above notify"):
        Policy(version=1, expires=NOW, licence_flop=10**24)


def test_licence_threshold_below_notify_threshold_on_the_wire_is_refused(c: Ceremony) -> None:
    envelope = _wire(c.policy(), licence_flop=str(10**24))
    with pytest.raises(ValidationError, match="must be above notify_flop"):
        parse_policy(envelope)


def test_ceiling_below_licence_threshold_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"ceiling_flop .* must be at least licence_flop"):
        Policy(version=1, expires=NOW, ceiling_flop=10**25 + 1)


def test_device_licence_above_ceiling_is_refused() -> None:
    with pytest.raises(ValidationError, match="max_device_licence_flop"):
        Policy(version=1, expires=NOW, max_device_licence_flop=10**29)


@pytest.mark.parametrize("value", ["0", "-1", "1e25", "01", "1.5", 10**25, 1e25, "", "١٢"])
def test_malformed_flop_count_on_the_wire_is_refused(c: Ceremony, value: object) -> None:
    # A JSON integer past 2^53 is refused before the field is read: no canonical form.
    with pytest.raises(FormatError, match=r"notify_flop|exceeds safe integer domain"):
        parse_policy(_wire(c.policy(), notify_flop=value))


def test_flop_counts_travel_as_decimal_strings(c: Ceremony) -> None:
    payload = c.policy().model_dump(mode="json")
    assert payload["notify_flop"] == "10000000000000000000000000"
    assert parse_policy(_wire(c.policy())).notify_flop == 10**25


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5])
def test_throttle_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(PydanticValidationError, match="baseline_throttle_fraction"):
        Policy(version=1, expires=NOW, baseline_throttle_fraction=fraction)


def test_throttle_fraction_outside_zero_to_one_on_the_wire_is_refused(c: Ceremony) -> None:
    with pytest.raises(FormatError, match="baseline_throttle_fraction"):
        parse_policy(_wire(c.policy(), baseline_throttle_fraction=0))


def test_inconsistent_export_thresholds_are_refused() -> None:
    with pytest.raises(ValidationError, match="pd_b2 must be below pd_a2"):
        ExportControlParameters(pd_b2=6.0)


@pytest.mark.parametrize("field", ["freshness_s", "licence_validity_s", "witness_threshold"])
def test_zero_period_or_count_is_refused(c: Ceremony, field: str) -> None:
    with pytest.raises(FormatError, match=field):
        parse_policy(_wire(c.policy(), **{field: 0}))


def test_policy_omitting_a_field_is_refused(c: Ceremony) -> None:
    payload = c.policy().model_dump(mode="json")
    del payload["freshness_s"]
    envelope = Envelope(payload_type=Policy.PAYLOAD_TYPE, payload=payload)
    with pytest.raises(FormatError, match="freshness_s: missing"):
        parse_policy(envelope)


def test_unsorted_jurisdictions_on_the_wire_are_refused(c: Ceremony) -> None:
    with pytest.raises(FormatError, match="jurisdictions: not in canonical form"):
        parse_policy(_wire(c.policy(), jurisdictions=["US", "EU"]))


def test_unknown_field_is_refused(c: Ceremony) -> None:
    with pytest.raises(FormatError, match="extra_power"):
        parse_policy(_wire(c.policy(), extra_power=True))


def test_witness_threshold_beyond_witness_keys_is_refused(c: Ceremony) -> None:
    envelope = c.signed_policy(c.policy(witness_threshold=4))
    with pytest.raises(ValidationError, match="exceeds the root's 3 witness key"):
        verify_policy(envelope, c.root, NOW, None)


def test_renewal_needs_only_the_policy_threshold(tiered: Ceremony) -> None:
    current = tiered.policy()
    renewed = tiered.policy(version=2, expires=NOW + 180 * DAY)
    assert required_action(current, renewed) is None
    assert verify_policy(tiered.signed_policy(renewed, 2), tiered.root, NOW, current) == renewed


def test_security_fix_needs_its_action_threshold(tiered: Ceremony) -> None:
    current = tiered.policy()
    fix = tiered.policy(version=2, min_firmware_version=7, freshness_s=3600)
    assert required_action(current, fix) == "security_fix"
    with pytest.raises(SignatureError, match="action security_fix"):
        verify_policy(tiered.signed_policy(fix, 2), tiered.root, NOW, current)
    assert verify_policy(tiered.signed_policy(fix, 3), tiered.root, NOW, current) == fix


def test_new_rule_needs_its_action_threshold(tiered: Ceremony) -> None:
    current = tiered.policy()
    rule = tiered.policy(version=2, notify_flop=10**24)
    assert required_action(current, rule) == "new_rule"
    with pytest.raises(SignatureError, match="action new_rule"):
        verify_policy(tiered.signed_policy(rule, 3), tiered.root, NOW, current)
    assert verify_policy(tiered.signed_policy(rule, 4), tiered.root, NOW, current) == rule


def test_loosening_disguised_as_security_fix_needs_the_new_rule_threshold(
    tiered: Ceremony,
) -> None:
    current = tiered.policy(min_firmware_version=5)
    loosened = tiered.policy(version=2, min_firmware_version=4)
    assert required_action(current, loosened) == "new_rule"
    with pytest.raises(SignatureError, match="action new_rule"):
        verify_policy(tiered.signed_policy(loosened, 3), tiered.root, NOW, current)


def test_first_policy_is_a_new_rule(tiered: Ceremony) -> None:
    assert required_action(None, tiered.policy()) == "new_rule"
    with pytest.raises(SignatureError, match="action new_rule"):
        verify_policy(tiered.signed_policy(tiered.policy(), 3), tiered.root, NOW, None)


def test_every_policy_number_has_a_documented_default() -> None:
    for name, info in Policy.model_fields.items():
        if name in BOOKKEEPING:
            continue
        assert not info.is_required(), name
        assert info.description, name
        assert len(info.description) > 30, name
    for name, info in ExportControlParameters.model_fields.items():
        assert not info.is_required(), name
        assert info.description, name
