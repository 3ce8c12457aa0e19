"""docs/verification.md stays true to the code: its examples are what the code makes."""

from __future__ import annotations

import pytest

from pausebutton.crypto import parse_envelope
from pausebutton.verify import LocationParameters, landmark_sites, shipped_outlines
from tests.verify.examples import DOCS, blocks, examples


@pytest.fixture(scope="module")
def page() -> str:
    return DOCS.read_text(encoding="utf-8")


def test_examples_in_the_page_are_what_the_code_makes(page: str) -> None:
    found, made = blocks(page), examples()
    assert sorted(found) == sorted(made)
    for name, text in made.items():
        assert found[name] == text, f"{name}: run python -m tests.verify.examples"


def test_json_examples_parse_as_envelopes(page: str) -> None:
    for name, text in blocks(page).items():
        if name not in {"verdicts", "sizes"}:
            assert parse_envelope(text).payload_type.endswith(f"{name}/v1")


def test_page_names_every_parameter_and_shipped_jurisdiction(page: str) -> None:
    for name in LocationParameters.__dataclass_fields__:
        assert f"`{name}`" in page
    for code in shipped_outlines():
        assert code in page
    assert f"lists {len(landmark_sites())}" in page
