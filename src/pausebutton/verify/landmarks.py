"""Landmarks: servers at known places, with known keys, that measure round trips to devices.

The shipped table (``pausebutton/verify/data/landmarks.json``) lists landmark *sites*:
cities with a major Internet exchange, their coordinates and how far a server there may be
from those coordinates. A `Landmark` is a site bound to the Ed25519 key it signs with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from pausebutton.crypto import VerifyKey
from pausebutton.errors import FormatError
from pausebutton.verify._common import load_data

LANDMARKS_FORMAT = "pausebutton.landmarks/v1"
DATA_FILE = "landmarks.json"


@dataclass(frozen=True)
class LandmarkSite:
    """A place where a landmark can stand: coordinates in degrees and their uncertainty."""

    id: str
    city: str
    country: str
    lat: float
    lon: float
    uncertainty_km: float
    exchange: str = ""


@dataclass(frozen=True)
class Landmark:
    """A landmark: where it is, how sure we are of that, and the key it signs with."""

    id: str
    lat: float
    lon: float
    key: VerifyKey
    uncertainty_km: float = 0.0

    def __post_init__(self) -> None:
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise FormatError(f"landmark {self.id}: ({self.lat}, {self.lon}) is not a position")
        if not self.uncertainty_km >= 0:
            raise FormatError(f"landmark {self.id}: uncertainty must be at least 0 km")

    @classmethod
    def at(cls, site: LandmarkSite, key: VerifyKey) -> Landmark:
        """Bind a site to the key its landmark signs with."""
        return cls(site.id, site.lat, site.lon, key, site.uncertainty_km)


def landmark_directory(landmarks: Iterable[Landmark]) -> Mapping[str, Landmark]:
    """Index landmarks by id, refusing a repeated id or a key shared by two landmarks."""
    by_id: dict[str, Landmark] = {}
    keys: set[str] = set()
    for landmark in landmarks:
        if landmark.id in by_id:
            raise FormatError(f"landmark {landmark.id} is listed twice")
        if landmark.key.key_id in keys:
            raise FormatError(f"landmark {landmark.id} shares its key with another landmark")
        by_id[landmark.id] = landmark
        keys.add(landmark.key.key_id)
    return MappingProxyType(by_id)


def _site(entry: Any) -> LandmarkSite:
    try:
        site = LandmarkSite(
            id=str(entry["id"]),
            city=str(entry["city"]),
            country=str(entry["country"]),
            lat=float(entry["lat"]),
            lon=float(entry["lon"]),
            uncertainty_km=float(entry["uncertainty_km"]),
            exchange=str(entry.get("exchange", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{DATA_FILE}: malformed landmark {entry!r}: {exc}") from None
    if not (-90 <= site.lat <= 90 and -180 <= site.lon <= 180) or site.uncertainty_km < 0:
        raise FormatError(f"{DATA_FILE}: landmark {site.id} has an impossible position")
    return site


@cache
def _sites() -> Mapping[str, LandmarkSite]:
    data = load_data(DATA_FILE)
    if not isinstance(data, dict) or data.get("format") != LANDMARKS_FORMAT:
        raise FormatError(f"{DATA_FILE}: not a {LANDMARKS_FORMAT} document")
    sites: dict[str, LandmarkSite] = {}
    for entry in data.get("landmarks", ()):
        site = _site(entry)
        if site.id in sites:
            raise FormatError(f"{DATA_FILE}: landmark {site.id} is listed twice")
        sites[site.id] = site
    return MappingProxyType(sites)


def landmark_sites() -> Mapping[str, LandmarkSite]:
    """The shipped landmark sites, by id."""
    return _sites()
