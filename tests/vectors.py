"""Load the published conformance vectors from ../shared/vectors, skipping where absent."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SHARED_VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors" / "tlog.json"


@cache
def _load() -> dict[str, Any] | None:
    if not SHARED_VECTORS.is_file():
        return None
    data: dict[str, Any] = json.loads(SHARED_VECTORS.read_text())
    return data


def shared_vectors(section: str) -> Any:
    """Return one section of ../shared/vectors/tlog.json, or skip the test if absent."""
    data = _load()
    if data is None:
        pytest.skip(f"published vectors not found at {SHARED_VECTORS} (a clone without ../shared)")
    return data[section]
