"""docs/device.md stays true to the code: its examples, formats, and what it names."""

from __future__ import annotations

import pytest

from pausebutton.crypto import parse_envelope
from pausebutton.device.receipts import parse_receipt
from pausebutton.device.state import DeviceState
from pausebutton.licensing import DeviceLicence, RunLicence, parse_device_licence, parse_run_licence
from pausebutton.licensing.requests import parse_request
from tests.device.examples import DOCS, blocks, examples


@pytest.fixture(scope="module")
def page() -> str:
    return DOCS.read_text()


def test_examples_in_the_page_are_what_the_code_makes(page: str) -> None:
    found = blocks(page)
    made = examples()
    assert set(made) <= set(found)  # other sections of the page may add their own
    for name, text in made.items():
        assert found[name] == text, f"{name}: run python -m tests.device.examples"


def test_json_examples_parse_as_their_documents(page: str) -> None:
    found = blocks(page)
    assert parse_run_licence(parse_envelope(found["run-licence"])).tier == "notify"
    assert parse_device_licence(parse_envelope(found["device-licence"])).sequence == 1
    assert parse_request(parse_envelope(found["request"])).serial == "gpu-0042"
    assert parse_receipt(parse_envelope(found["receipt"])).sequence == 2


def test_page_names_every_field(page: str) -> None:
    names = [*RunLicence.model_fields, *DeviceLicence.model_fields, *DeviceState.model_fields]
    missing = [name for name in names if f"`{name}`" not in page and f'"{name}"' not in page]
    assert missing == []
    for heading in ("## Licences", "## The governor", "## Receipts", "## Locked models"):
        assert heading in page
    assert "## What the emulation guarantees" in page
