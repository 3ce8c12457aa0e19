"""Fixtures for the publication tests: a published regime on a real log, repo and server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.governance.world import World, build_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A regime with its first root published, three witnesses, served over local HTTP."""
    made = build_world(tmp_path)
    yield made
    made.close()


@pytest.fixture
def one_witness_world(tmp_path: Path) -> Iterator[World]:
    """The same regime, but only one of the three witnesses cosigns (the policy needs 2)."""
    made = build_world(tmp_path, witnesses=1)
    yield made
    made.close()
