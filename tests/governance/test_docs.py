"""docs/governance.md stays true to the code: its examples, roles, actions and defaults."""

from __future__ import annotations

import pytest

from pausebutton.crypto import parse_envelope
from pausebutton.governance import ACTIONS, ROLE_NAMES, Policy
from pausebutton.regulation.parameters import ExportControlParameters
from tests.governance.examples import DOCS, blocks, examples


@pytest.fixture(scope="module")
def page() -> str:
    return DOCS.read_text()


def test_examples_in_the_page_are_what_the_code_makes(page: str) -> None:
    found = blocks(page)
    made = examples()
    assert sorted(found) == sorted(made)
    for name, text in made.items():
        assert found[name] == text, f"{name}: run python -m tests.governance.examples"


def test_json_examples_parse_as_envelopes(page: str) -> None:
    for name, text in blocks(page).items():
        if name != "status":
            assert parse_envelope(text).payload_type.endswith(f".{name}/v1")


def test_page_names_every_role_action_and_policy_field(page: str) -> None:
    names = [*ROLE_NAMES, *ACTIONS, *Policy.model_fields, *ExportControlParameters.model_fields]
    missing = [name for name in names if f"`{name}`" not in page]
    assert missing == []
