"""The location-check protocol: honest round trips verify; each attack is refused by name."""

from __future__ import annotations

import pytest

from pausebutton.crypto import Envelope, sign_envelope
from pausebutton.errors import FormatError, ReplayError, SignatureError, ValidationError
from pausebutton.verify import (
    LocationEvidence,
    LocationParameters,
    NonceLedger,
    Verdict,
    answer_challenge,
    check_location,
    issue_challenge,
    jurisdiction_outline,
    record_measurement,
    verify_evidence,
)
from pausebutton.verify.location import LocationMeasurement, response_digest
from tests.verify.network import NOW, Network, key

DEVICE = "gpu-0042"
DEVICE_KEY = key("device/gpu-0042")
FRANKFURT_DC = (50.05, 8.57)


@pytest.fixture
def net() -> Network:
    return Network.of()


def verify(net: Network, evidence: LocationEvidence, ledger: NonceLedger | None = None, **kw):
    args = {"device": DEVICE, "device_key": DEVICE_KEY.public, "now": NOW}
    args.update(kw)
    return verify_evidence(
        evidence,
        landmarks=net.landmarks,
        ledger=NonceLedger() if ledger is None else ledger,
        **args,
    )


def honest(net: Network, landmark: str = "frankfurt") -> LocationEvidence:
    return net.measure(landmark, DEVICE, DEVICE_KEY, net.rtt_us(landmark, *FRANKFURT_DC))


def resign(envelope: Envelope, key_label: str, **changes: object) -> Envelope:
    return sign_envelope(envelope.payload_type, {**envelope.payload, **changes}, [key(key_label)])


def test_honest_round_trips_verify_and_place_the_device_in_germany(net: Network) -> None:
    ledger = NonceLedger()
    verified = [
        verify(net, honest(net, name), ledger) for name in ("frankfurt", "amsterdam", "paris")
    ]
    assert [m.landmark.id for m in verified] == ["frankfurt", "amsterdam", "paris"]
    assert verified[0].rtt_us == net.rtt_us("frankfurt", *FRANKFURT_DC)
    assert len(ledger) == 3
    result = check_location(verified, jurisdiction_outline("DE"))
    assert result.verdict is Verdict.PASS


def test_evidence_round_trips_through_json(net: Network) -> None:
    evidence = honest(net)
    again = LocationEvidence.model_validate_json(evidence.model_dump_json())
    assert verify(net, again).nonce == verify(net, evidence).nonce


def test_replayed_nonce_is_refused(net: Network) -> None:
    ledger = NonceLedger()
    evidence = honest(net)
    verify(net, evidence, ledger)
    with pytest.raises(ReplayError, match="used before"):
        verify(net, evidence, ledger)


def test_replayed_response_to_a_new_challenge_is_refused(net: Network) -> None:
    old = honest(net)
    lkey = net.landmark_keys["frankfurt"]
    fresh = issue_challenge("frankfurt", lkey, DEVICE, NOW - 5, net.nonce())
    spliced = record_measurement(fresh, old.response, lkey, 150, NOW - 4)
    with pytest.raises(ReplayError, match="wrong nonce"):
        verify(net, spliced)


def test_unsigned_challenge_is_refused(net: Network) -> None:
    evidence = honest(net)
    unsigned = evidence.challenge.model_copy(update={"signatures": ()})
    with pytest.raises(SignatureError):
        verify(net, evidence.model_copy(update={"challenge": unsigned}))


def test_challenge_from_unknown_landmark_is_refused(net: Network) -> None:
    evidence = honest(net)
    forged = resign(evidence.challenge, "rogue", landmark="rogue-site")
    with pytest.raises(SignatureError, match="not known"):
        verify(net, evidence.model_copy(update={"challenge": forged}))


def test_measurement_by_unknown_landmark_is_refused(net: Network) -> None:
    evidence = honest(net)
    forged = resign(evidence.measurement, "rogue", rtt_us=40)
    with pytest.raises(SignatureError):
        verify(net, evidence.model_copy(update={"measurement": forged}))


def test_measurement_signed_by_another_known_landmark_is_refused(net: Network) -> None:
    evidence = honest(net)
    forged = resign(evidence.measurement, "landmark/paris")
    with pytest.raises(SignatureError):
        verify(net, evidence.model_copy(update={"measurement": forged}))
    renamed = resign(evidence.measurement, "landmark/paris", landmark="paris")
    with pytest.raises(SignatureError, match="measurement by paris"):
        verify(net, evidence.model_copy(update={"measurement": renamed}))


def test_response_signed_by_other_device_key_is_refused(net: Network) -> None:
    thief = key("device/gpu-9999")
    evidence = net.measure("frankfurt", DEVICE, thief, 200)
    with pytest.raises(SignatureError):
        verify(net, evidence)


def test_evidence_of_another_device_is_refused(net: Network) -> None:
    other = key("device/gpu-0043")
    evidence = net.measure("frankfurt", "gpu-0043", other, 200)
    with pytest.raises(ValidationError, match="for device gpu-0043"):
        verify(net, evidence, device_key=other.public)


def test_lowered_round_trip_breaks_the_landmark_signature(net: Network) -> None:
    evidence = honest(net)
    payload = {**evidence.measurement.payload, "rtt_us": 1}
    tampered = evidence.measurement.model_copy(update={"payload": payload})
    with pytest.raises(SignatureError):
        verify(net, evidence.model_copy(update={"measurement": tampered}))


def test_measurement_of_another_response_is_refused(net: Network) -> None:
    evidence = honest(net)
    forged = resign(evidence.measurement, "landmark/frankfurt", response_sha256="0" * 64)
    with pytest.raises(ValidationError, match="another response"):
        verify(net, evidence.model_copy(update={"measurement": forged}))


def test_stale_measurement_is_refused(net: Network) -> None:
    evidence = honest(net)
    params = LocationParameters(max_age_s=3600)
    verify(net, evidence, now=NOW + 3000, params=params)
    with pytest.raises(ReplayError, match="stale"):
        verify(net, evidence, now=NOW + 4000, params=params)


def test_future_dated_measurement_is_refused(net: Network) -> None:
    evidence = net.measure("frankfurt", DEVICE, DEVICE_KEY, 200, issued=NOW + 3600)
    with pytest.raises(ValidationError, match="in the future"):
        verify(net, evidence)


def test_measurement_long_after_the_challenge_is_refused(net: Network) -> None:
    evidence = net.measure("frankfurt", DEVICE, DEVICE_KEY, 200, after_s=120)
    with pytest.raises(ValidationError, match="after the challenge"):
        verify(net, evidence)


def test_round_trip_longer_than_the_time_elapsed_is_refused(net: Network) -> None:
    evidence = net.measure("frankfurt", DEVICE, DEVICE_KEY, 3_000_000, after_s=1)
    with pytest.raises(ValidationError, match="cannot fit"):
        verify(net, evidence)


def test_zero_round_trip_is_malformed(net: Network) -> None:
    evidence = honest(net)
    forged = resign(evidence.measurement, "landmark/frankfurt", rtt_us=0)
    with pytest.raises(FormatError, match="rtt_us"):
        verify(net, evidence.model_copy(update={"measurement": forged}))


def test_envelope_of_the_wrong_type_is_refused(net: Network) -> None:
    evidence = honest(net)
    with pytest.raises(FormatError, match=r"expected a pausebutton\.location-challenge/v1"):
        verify(net, evidence.model_copy(update={"challenge": evidence.response}))


def test_device_refuses_a_challenge_for_another_device(net: Network) -> None:
    challenge = issue_challenge("paris", net.landmark_keys["paris"], "gpu-0001", NOW, "ab" * 32)
    with pytest.raises(ValidationError):
        answer_challenge(challenge, DEVICE, DEVICE_KEY)


def test_device_refuses_a_challenge_not_signed_by_the_landmark(net: Network) -> None:
    challenge = issue_challenge("paris", key("rogue"), DEVICE, NOW, "ab" * 32)
    with pytest.raises(SignatureError):
        answer_challenge(challenge, DEVICE, DEVICE_KEY, net.landmark_keys["paris"].public)


def test_ledger_forgets_only_what_is_stale(net: Network) -> None:
    ledger = NonceLedger()
    ledger.record("paris", "aa" * 32, 100)
    ledger.record("paris", "bb" * 32, 200)
    ledger.prune(before=150)
    assert ("paris", "aa" * 32) not in ledger
    assert ("paris", "bb" * 32) in ledger


def test_check_location_refuses_measurements_of_several_devices(net: Network) -> None:
    one = verify(net, honest(net))
    other_key = key("device/gpu-0043")
    two = verify(
        net,
        net.measure("paris", "gpu-0043", other_key, 300),
        device="gpu-0043",
        device_key=other_key.public,
    )
    with pytest.raises(FormatError, match="several devices"):
        check_location([one, two], jurisdiction_outline("DE"))


def test_response_digest_covers_the_signature(net: Network) -> None:
    evidence = honest(net)
    stripped = evidence.response.model_copy(update={"signatures": ()})
    assert response_digest(stripped) != response_digest(evidence.response)
    assert evidence.measurement.payload_type == LocationMeasurement.PAYLOAD_TYPE


def test_landmark_cannot_sign_an_impossible_round_trip(net: Network) -> None:
    lkey = net.landmark_keys["frankfurt"]
    challenge = issue_challenge("frankfurt", lkey, DEVICE, NOW, net.nonce())
    response = answer_challenge(challenge, DEVICE, DEVICE_KEY)
    with pytest.raises(FormatError, match="rtt_us"):
        record_measurement(challenge, response, lkey, 0, NOW)


def test_measurement_of_another_device_is_refused(net: Network) -> None:
    evidence = honest(net)
    forged = resign(evidence.measurement, "landmark/frankfurt", device="gpu-0043")
    with pytest.raises(ValidationError, match="of device gpu-0043"):
        verify(net, evidence.model_copy(update={"measurement": forged}))
