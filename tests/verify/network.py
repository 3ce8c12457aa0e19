"""A simulated network for location checks: real landmarks, a real device key, real messages.

Round trips are what light in fibre allows plus a chosen delay, so every simulated device
really is where the discs say it can be. Keys come from fixed labels: runs are repeatable.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pausebutton.crypto import SigningKey
from pausebutton.verify import (
    Landmark,
    LocationEvidence,
    answer_challenge,
    distance_km,
    issue_challenge,
    landmark_directory,
    landmark_sites,
    record_measurement,
)

NOW = 1_750_000_000
"""A fixed 'now' (2025-06-15T15:06:40Z)."""
PROCESSING_US = 100
"""What a device adds to each round trip by reading, signing and answering."""


def key(label: str) -> SigningKey:
    """Return the test key derived from `label` (the same key every run)."""
    return SigningKey.from_seed(hashlib.sha256(b"pausebutton-test-key/" + label.encode()).digest())


def fibre_rtt_us(km: float) -> int:
    """The shortest round trip over `km` of fibre at 200 km/ms, in whole microseconds."""
    return max(1, math.ceil(2 * km / 200 * 1000))


@dataclass
class Network:
    """Landmarks at the shipped sites, each with its own test key."""

    landmark_keys: dict[str, SigningKey] = field(default_factory=dict)
    landmarks: Mapping[str, Landmark] = field(default_factory=dict)
    counter: int = 0

    @classmethod
    def of(cls, extra: Iterable[tuple[str, float, float]] = ()) -> Network:
        """All shipped landmark sites, and any extra (id, lat, lon) landmarks."""
        net = cls()
        found = []
        for site in landmark_sites().values():
            net.landmark_keys[site.id] = key(f"landmark/{site.id}")
            found.append(Landmark.at(site, net.landmark_keys[site.id].public))
        for ident, lat, lon in extra:
            net.landmark_keys[ident] = key(f"landmark/{ident}")
            found.append(Landmark(ident, lat, lon, net.landmark_keys[ident].public))
        net.landmarks = landmark_directory(found)
        return net

    def nonce(self) -> str:
        """A fresh, repeatable nonce."""
        self.counter += 1
        return hashlib.sha256(f"nonce/{self.counter}".encode()).hexdigest()

    def rtt_us(self, landmark: str, lat: float, lon: float, delay_us: int = PROCESSING_US) -> int:
        """The round trip from `landmark` to a device at (lat, lon), plus `delay_us`."""
        site = self.landmarks[landmark]
        return fibre_rtt_us(distance_km(site.lat, site.lon, lat, lon)) + delay_us

    def measure(
        self,
        landmark: str,
        device: str,
        device_key: SigningKey,
        rtt_us: int,
        issued: int = NOW - 10,
        after_s: int = 1,
    ) -> LocationEvidence:
        """Run the real protocol once: challenge, signed answer, signed measurement."""
        lkey = self.landmark_keys[landmark]
        challenge = issue_challenge(landmark, lkey, device, issued, self.nonce())
        response = answer_challenge(challenge, device, device_key, lkey.public)
        return record_measurement(challenge, response, lkey, rtt_us, issued + after_s)
