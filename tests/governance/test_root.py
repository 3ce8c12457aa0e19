"""The root of trust: rollback, expiry, rotation, thresholds, and consistency."""

from __future__ import annotations

from typing import Any

import pytest

from pausebutton import FormatError, ReplayError, SignatureError, ValidationError
from pausebutton.crypto import Envelope
from pausebutton.governance import (
    ROLE_NAMES,
    ActionThreshold,
    Root,
    default_action_thresholds,
    draft,
    make_root,
    parse_root,
    verify_initial_root,
    verify_role,
    verify_root_chain,
    verify_root_update,
)
from tests.governance.ceremony import NOW, YEAR, Ceremony, ceremony, collect, key


@pytest.fixture(scope="module")
def c() -> Ceremony:
    return ceremony()


def _next(c: Ceremony, version: int = 2, **kwargs: Any) -> Root:
    return c.make_root(version=version, **kwargs)


def test_ceremony_root_is_self_signed_three_of_five(c: Ceremony) -> None:
    root = verify_initial_root(c.root_envelope, NOW)
    assert root == c.root
    assert root.roles["root"].threshold == 3
    assert len(root.roles["root"].keyids) == 5
    assert set(root.roles) == set(ROLE_NAMES)


def test_initial_root_with_too_few_signatures_is_refused(c: Ceremony) -> None:
    with pytest.raises(SignatureError, match="2 valid signature"):
        verify_initial_root(collect(draft(c.root), c.root_signers(2)), NOW)


def test_expired_initial_root_is_refused(c: Ceremony) -> None:
    with pytest.raises(ReplayError, match="expired"):
        verify_initial_root(c.root_envelope, c.root.expires)


def test_next_root_signed_by_threshold_is_accepted(c: Ceremony) -> None:
    new = verify_root_update(c.root, collect(draft(_next(c)), c.root_signers()), NOW)
    assert new.version == 2


def test_rolled_back_root_is_refused(c: Ceremony) -> None:
    v2 = verify_root_update(c.root, collect(draft(_next(c)), c.root_signers()), NOW)
    with pytest.raises(ReplayError, match="rollback"):
        verify_root_update(v2, c.root_envelope, NOW)


def test_replayed_current_root_is_refused(c: Ceremony) -> None:
    with pytest.raises(ReplayError, match="not newer"):
        verify_root_update(c.root, c.root_envelope, NOW)


def test_root_skipping_a_version_is_refused(c: Ceremony) -> None:
    envelope = collect(draft(_next(c, version=3)), c.root_signers())
    with pytest.raises(ValidationError, match="skips versions"):
        verify_root_update(c.root, envelope, NOW)


def test_root_with_too_few_signatures_is_refused(c: Ceremony) -> None:
    envelope = collect(draft(_next(c)), c.root_signers(2))
    with pytest.raises(SignatureError, match="2 valid signature"):
        verify_root_update(c.root, envelope, NOW)


def test_expired_new_root_is_refused(c: Ceremony) -> None:
    envelope = collect(draft(_next(c, expires=NOW)), c.root_signers())
    with pytest.raises(ReplayError, match="expired"):
        verify_root_update(c.root, envelope, NOW)


def test_root_signed_by_pause_keys_is_refused(c: Ceremony) -> None:
    envelope = collect(draft(_next(c)), c.role_keys("pause"))
    with pytest.raises(SignatureError, match="0 valid signature"):
        verify_root_update(c.root, envelope, NOW)


def test_tampered_root_is_refused(c: Ceremony) -> None:
    envelope = collect(draft(_next(c)), c.root_signers())
    payload = dict(envelope.payload, expires=envelope.payload["expires"] + YEAR)
    forged = envelope.model_copy(update={"payload": payload})
    with pytest.raises(SignatureError, match="does not verify"):
        verify_root_update(c.root, forged, NOW)


def test_root_rotation_needs_old_and_new_thresholds(c: Ceremony) -> None:
    fresh = [key(f"rotated-root-{i}") for i in range(5)]
    new = _next(c, overrides={"root": ([k.public for k in fresh], 3)})
    old_only = collect(draft(new), c.root_signers())
    with pytest.raises(SignatureError, match="by its own keys"):
        verify_root_update(c.root, old_only, NOW)
    new_only = collect(draft(new), fresh[:3])
    with pytest.raises(SignatureError, match="by the trusted root's keys"):
        verify_root_update(c.root, new_only, NOW)
    both = collect(draft(new), [*c.root_signers(), *fresh[:3]])
    assert verify_root_update(c.root, both, NOW) == new


def test_revoked_root_keys_cannot_sign_the_next_root(c: Ceremony) -> None:
    # v2 replaces governors 3 and 4's root keys; v3 signed with the revoked keys fails.
    fresh = [key("rotated-root-a"), key("rotated-root-b")]
    kept = c.role_keys("root")[:3]
    v2 = _next(c, overrides={"root": ([k.public for k in kept + fresh], 3)})
    v2_envelope = collect(draft(v2), kept)
    assert verify_root_update(c.root, v2_envelope, NOW) == v2
    v3 = c.make_root(version=3, overrides={"root": ([k.public for k in kept + fresh], 3)})
    revoked = c.role_keys("root")[3:]
    v3_envelope = collect(draft(v3), [*revoked, kept[0]])
    with pytest.raises(SignatureError):
        verify_root_chain(c.root, [v2_envelope, v3_envelope], NOW)


def test_changing_a_threshold_needs_the_change_update_rules_threshold(c: Ceremony) -> None:
    pause_keys = [k.public for k in c.role_keys("pause")]
    new = _next(c, overrides={"pause": (pause_keys, 2)})
    assert c.root.action("change_update_rules").threshold == 5
    with pytest.raises(SignatureError, match="change_update_rules"):
        verify_root_update(c.root, collect(draft(new), c.root_signers(4)), NOW)
    assert verify_root_update(c.root, collect(draft(new), c.root_signers(5)), NOW) == new


def test_root_chain_walks_through_expired_intermediate_roots(c: Ceremony) -> None:
    v2 = collect(draft(_next(c, expires=NOW - YEAR)), c.root_signers())
    v3 = collect(draft(c.make_root(version=3)), c.root_signers())
    assert verify_root_chain(c.root, [v2, v3], NOW).version == 3


def test_root_chain_ending_in_expired_root_is_refused(c: Ceremony) -> None:
    v2 = collect(draft(_next(c, expires=NOW - 1)), c.root_signers())
    with pytest.raises(ReplayError, match="expired"):
        verify_root_chain(c.root, [v2], NOW)


def test_policy_envelope_is_not_a_root(c: Ceremony) -> None:
    envelope = c.signed_policy(c.policy())
    with pytest.raises(FormatError, match=r"expected a pausebutton\.root/v1"):
        verify_root_update(c.root, envelope, NOW)


def _payload(c: Ceremony) -> dict[str, Any]:
    return c.root.model_dump(mode="json")


def _parse(payload: dict[str, Any]) -> Root:
    return parse_root(Envelope(payload_type="pausebutton.root/v1", payload=payload))


def test_role_key_missing_from_keys_is_refused(c: Ceremony) -> None:
    payload = _payload(c)
    del payload["keys"][payload["roles"]["log"]["keyids"][0]]
    with pytest.raises(ValidationError, match=r"roles\.log: key .* is not in keys"):
        _parse(payload)


def test_threshold_above_key_count_is_refused(c: Ceremony) -> None:
    payload = _payload(c)
    payload["roles"]["pause"]["threshold"] = 6
    with pytest.raises(ValidationError, match="threshold 6 exceeds the role's 5 key"):
        _parse(payload)


def test_zero_threshold_is_refused(c: Ceremony) -> None:
    payload = _payload(c)
    payload["roles"]["pause"]["threshold"] = 0
    with pytest.raises(FormatError, match=r"roles\.pause\.threshold"):
        _parse(payload)


def test_key_id_not_matching_key_is_refused(c: Ceremony) -> None:
    payload = _payload(c)
    ids = list(payload["keys"])
    payload["keys"][ids[0]], payload["keys"][ids[1]] = (
        payload["keys"][ids[1]],
        payload["keys"][ids[0]],
    )
    with pytest.raises(ValidationError, match="the key's id is not this id"):
        _parse(payload)


def test_root_missing_a_role_is_refused(c: Ceremony) -> None:
    payload = _payload(c)
    witness_keys = payload["roles"].pop("witness")["keyids"]
    for keyid in witness_keys:
        del payload["keys"][keyid]
    with pytest.raises(ValidationError, match=r"missing \['witness'\]"):
        _parse(payload)


def test_unknown_role_is_refused(c: Ceremony) -> None:
    payload = _payload(c)
    payload["roles"]["emperor"] = payload["roles"]["log"]
    with pytest.raises(ValidationError, match=r"unknown \['emperor'\]"):
        _parse(payload)


def test_key_belonging_to_no_role_is_refused(c: Ceremony) -> None:
    payload = _payload(c)
    stray = key("stray").public
    payload["keys"][stray.key_id] = stray.to_base64()
    with pytest.raises(ValidationError, match="belongs to no role"):
        _parse(payload)


def test_action_threshold_above_role_key_count_is_refused(c: Ceremony) -> None:
    table = dict(c.root.action_thresholds)
    table["new_rule"] = ActionThreshold(role="policy", threshold=6)
    with pytest.raises(ValidationError, match=r"new_rule: threshold 6 is outside 3\.\.5"):
        c.make_root(action_thresholds=table)


def test_action_threshold_below_role_threshold_is_refused(c: Ceremony) -> None:
    table = dict(c.root.action_thresholds)
    table["security_fix"] = ActionThreshold(role="policy", threshold=2)
    with pytest.raises(ValidationError, match=r"outside 3\.\.5"):
        c.make_root(action_thresholds=table)


def test_action_bound_to_the_wrong_role_is_refused(c: Ceremony) -> None:
    table = dict(c.root.action_thresholds)
    table["change_update_rules"] = ActionThreshold(role="pause", threshold=3)
    with pytest.raises(ValidationError, match="role must be 'root'"):
        c.make_root(action_thresholds=table)


def test_missing_action_is_refused(c: Ceremony) -> None:
    table = dict(c.root.action_thresholds)
    del table["new_rule"]
    with pytest.raises(ValidationError, match="missing new_rule"):
        c.make_root(action_thresholds=table)


def test_root_omitting_a_field_is_refused(c: Ceremony) -> None:
    payload = _payload(c)
    del payload["action_thresholds"]
    with pytest.raises(FormatError, match="action_thresholds"):
        _parse(payload)


def test_make_root_refuses_a_missing_role(c: Ceremony) -> None:
    with pytest.raises(ValidationError, match="missing"):
        make_root({"root": ([k.public for k in c.root_signers()], 2)}, expires=NOW + YEAR)


def test_default_action_thresholds_are_the_issue_numbers_for_seven_keys() -> None:
    seven = ceremony(governors=7, threshold=2, label="seven/")
    table = default_action_thresholds(seven.root.roles)
    assert {name: entry.threshold for name, entry in table.items()} == {
        "security_fix": 2,
        "new_rule": 4,
        "change_update_rules": 6,
    }


def test_unknown_role_authorises_nothing(c: Ceremony) -> None:
    with pytest.raises(ValidationError, match="no role 'emperor'"):
        verify_role(c.root_envelope, c.root, "emperor")
