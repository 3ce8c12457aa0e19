"""Location checks: a landmark times a signed round trip to a device, and the verifier decides.

The protocol, three signed envelopes that travel together as `LocationEvidence`:

1. **Challenge** (``pausebutton.location-challenge/v1``, signed by the landmark): a fresh
   32-byte random nonce, the device it is for, and the landmark's clock.
2. **Response** (``pausebutton.location-response/v1``, signed by the device key): the
   nonce, the device id and the landmark id. Only the chip holding the key can make it.
3. **Measurement** (``pausebutton.location-measurement/v1``, signed by the landmark): the
   nonce, the SHA-256 of the response envelope, the round-trip time in microseconds from
   sending the challenge to receiving the response, and the landmark's clock.

`verify_evidence` checks all three; `check_location` turns the verified round trips into
discs (see `geolocate`) and decides whether the device is inside a jurisdiction.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from pausebutton.crypto import Envelope, SigningKey, VerifyKey, verify_threshold
from pausebutton.errors import FormatError, ReplayError, SignatureError, ValidationError
from pausebutton.verify._common import (
    Hex32,
    Identifier,
    SignedMessage,
    UnixTime,
    build,
    parse_message,
)
from pausebutton.verify.geo import FIBRE_KM_PER_MS, Disc, rtt_radius_km
from pausebutton.verify.geolocate import LocationVerdict, decide
from pausebutton.verify.landmarks import Landmark
from pausebutton.verify.outlines import Outline

CHALLENGE_TYPE = "pausebutton.location-challenge/v1"
RESPONSE_TYPE = "pausebutton.location-response/v1"
MEASUREMENT_TYPE = "pausebutton.location-measurement/v1"
MAX_RTT_US = 10_000_000
"""A round trip of more than 10 s says nothing about where a device is."""

RoundTrip = Annotated[int, Field(ge=1, le=MAX_RTT_US, description="microseconds")]


@dataclass(frozen=True)
class LocationParameters:
    """The numbers a location check depends on (defaults proposed for the policy)."""

    speed_km_per_ms: float = FIBRE_KM_PER_MS
    """Fastest one-way signal speed assumed; 299.792458 (c) also covers radio links."""
    max_age_s: int = 86_400
    """A measurement older than this is stale."""
    max_challenge_s: int = 60
    """The measurement must be signed within this many seconds of the challenge."""
    max_clock_skew_s: int = 300
    """How far in the future a landmark's clock may read before a measurement is refused."""


DEFAULT_LOCATION_PARAMETERS = LocationParameters()


class LocationChallenge(SignedMessage):
    """A landmark's fresh nonce for one device."""

    PAYLOAD_TYPE: ClassVar[str] = CHALLENGE_TYPE

    landmark: Identifier
    device: Identifier
    nonce: Hex32 = Field(description="32 random bytes, never used before by this landmark")
    issued: UnixTime = Field(description="the landmark's clock when it sent the challenge")


class LocationResponse(SignedMessage):
    """The device's answer: it signs the nonce, its own id and the landmark's id."""

    PAYLOAD_TYPE: ClassVar[str] = RESPONSE_TYPE

    nonce: Hex32
    device: Identifier
    landmark: Identifier


class LocationMeasurement(SignedMessage):
    """The landmark's signed record of how long the device took to answer."""

    PAYLOAD_TYPE: ClassVar[str] = MEASUREMENT_TYPE

    landmark: Identifier
    device: Identifier
    nonce: Hex32
    response_sha256: Hex32 = Field(description="SHA-256 of the response envelope (RFC 8785)")
    rtt_us: RoundTrip
    measured: UnixTime = Field(description="the landmark's clock when the response arrived")


class LocationEvidence(BaseModel):
    """The three envelopes of one round trip, as stored and exchanged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    challenge: Envelope
    response: Envelope
    measurement: Envelope


@dataclass(frozen=True)
class VerifiedMeasurement:
    """A round trip whose evidence checked out."""

    landmark: Landmark
    device: str
    nonce: str
    rtt_us: int
    measured: int

    def disc(self, speed_km_per_ms: float = FIBRE_KM_PER_MS) -> Disc:
        """Where the device can be: within v × RTT / 2 of the landmark (plus its uncertainty)."""
        radius = rtt_radius_km(self.rtt_us, speed_km_per_ms) + self.landmark.uncertainty_km
        return Disc(self.landmark.lat, self.landmark.lon, radius, label=self.landmark.id)


class NonceLedger:
    """The nonces already accepted, per landmark: each counts once."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}

    def __contains__(self, item: object) -> bool:
        return item in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def record(self, landmark: str, nonce: str, measured: int) -> None:
        """Accept a nonce, or raise ReplayError if the landmark's nonce was used before."""
        if (landmark, nonce) in self._seen:
            raise ReplayError(f"nonce {nonce[:16]}… of landmark {landmark} was used before")
        self._seen[(landmark, nonce)] = measured

    def prune(self, before: int) -> None:
        """Forget nonces measured before `before` (older evidence is refused as stale)."""
        self._seen = {k: t for k, t in self._seen.items() if t >= before}


def new_nonce() -> str:
    """32 bytes from the operating system's random source, as hex."""
    return secrets.token_hex(32)


def response_digest(response: Envelope) -> str:
    """The SHA-256 (hex) of a response envelope's canonical bytes."""
    return hashlib.sha256(response.to_bytes()).hexdigest()


def issue_challenge(
    landmark_id: str, key: SigningKey, device: str, issued: int, nonce: str | None = None
) -> Envelope:
    """Landmark: make a signed challenge for `device` with a fresh nonce."""
    challenge = build(
        LocationChallenge,
        landmark=landmark_id,
        device=device,
        nonce=nonce or new_nonce(),
        issued=issued,
    )
    return challenge.sign(key)


def answer_challenge(
    challenge: Envelope, device: str, key: SigningKey, landmark_key: VerifyKey | None = None
) -> Envelope:
    """Device: sign the answer to a challenge meant for it (checked against `landmark_key`)."""
    if landmark_key is not None:
        verify_threshold(challenge, [landmark_key], 1)
    message = parse_message(LocationChallenge, challenge)
    if message.device != device:
        raise ValidationError(f"challenge is for device {message.device}, not {device}")
    answer = build(LocationResponse, nonce=message.nonce, device=device, landmark=message.landmark)
    return answer.sign(key)


def record_measurement(
    challenge: Envelope, response: Envelope, key: SigningKey, rtt_us: int, measured: int
) -> LocationEvidence:
    """Landmark: sign the round-trip time of `response` and bundle the evidence."""
    sent = parse_message(LocationChallenge, challenge)
    measurement = build(
        LocationMeasurement,
        landmark=sent.landmark,
        device=sent.device,
        nonce=sent.nonce,
        response_sha256=response_digest(response),
        rtt_us=rtt_us,
        measured=measured,
    )
    return LocationEvidence(
        challenge=challenge, response=response, measurement=measurement.sign(key)
    )


def verify_evidence(
    evidence: LocationEvidence,
    *,
    landmarks: Mapping[str, Landmark],
    device: str,
    device_key: VerifyKey,
    now: int,
    ledger: NonceLedger,
    params: LocationParameters = DEFAULT_LOCATION_PARAMETERS,
) -> VerifiedMeasurement:
    """Check one round trip's evidence and record its nonce; raise a typed error if it fails.

    SignatureError: a message not signed by the landmark it names (or by no known
    landmark), or a response not signed by `device_key`. ReplayError: a nonce that does not
    match, was used before, or a stale measurement. ValidationError, FormatError: the rest.
    """
    sent = parse_message(LocationChallenge, evidence.challenge)
    landmark = landmarks.get(sent.landmark)
    if landmark is None:
        raise SignatureError(f"challenge names landmark {sent.landmark}, which is not known")
    verify_threshold(evidence.challenge, [landmark.key], 1)
    if sent.device != device:
        raise ValidationError(f"challenge is for device {sent.device}, not {device}")
    answer = parse_message(LocationResponse, evidence.response)
    verify_threshold(evidence.response, [device_key], 1)
    if answer.nonce != sent.nonce:
        raise ReplayError("the response answers another challenge (wrong nonce)")
    if (answer.device, answer.landmark) != (device, landmark.id):
        raise ValidationError("the response names another device or landmark")
    timed = parse_message(LocationMeasurement, evidence.measurement)
    if timed.landmark != landmark.id:
        raise SignatureError(f"measurement by {timed.landmark} of {landmark.id}'s challenge")
    verify_threshold(evidence.measurement, [landmark.key], 1)
    if timed.nonce != sent.nonce:
        raise ReplayError("the measurement is of another challenge (wrong nonce)")
    if timed.device != device:
        raise ValidationError(f"the measurement is of device {timed.device}, not {device}")
    if timed.response_sha256 != response_digest(evidence.response):
        raise ValidationError("the measurement timed another response")
    _check_times(sent, timed, now, params)
    ledger.record(landmark.id, sent.nonce, timed.measured)
    return VerifiedMeasurement(landmark, device, sent.nonce, timed.rtt_us, timed.measured)


def _check_times(
    sent: LocationChallenge, timed: LocationMeasurement, now: int, params: LocationParameters
) -> None:
    elapsed = timed.measured - sent.issued
    if not 0 <= elapsed <= params.max_challenge_s:
        raise ValidationError(
            f"measured {elapsed} s after the challenge; allowed 0 to {params.max_challenge_s} s"
        )
    if timed.rtt_us > (elapsed + 1) * 1_000_000:
        raise ValidationError(f"a round trip of {timed.rtt_us} µs cannot fit in {elapsed} s")
    if timed.measured > now + params.max_clock_skew_s:
        raise ValidationError(f"measurement is dated {timed.measured}, in the future (now {now})")
    if now - timed.measured > params.max_age_s:
        raise ReplayError(
            f"measurement of {timed.measured} is stale: older than {params.max_age_s} s at {now}"
        )


def check_location(
    measurements: Sequence[VerifiedMeasurement],
    outline: Outline,
    params: LocationParameters = DEFAULT_LOCATION_PARAMETERS,
    margin_km: float | None = None,
) -> LocationVerdict:
    """Decide from verified round trips of one device whether it is inside `outline`."""
    devices = {m.device for m in measurements}
    if len(devices) > 1:
        raise FormatError(f"measurements of several devices: {sorted(devices)}")
    discs = [m.disc(params.speed_km_per_ms) for m in measurements]
    return decide(discs, outline, margin_km=margin_km)
