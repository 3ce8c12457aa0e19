"""Helpers the regulation modules share: number formatting and shipped data files."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pausebutton.errors import FormatError


def number(value: float) -> str:
    """Write a number for a reason in words: at most 6 significant digits, no ``.0``."""
    return format(value, ".6g")


def load_data(name: str) -> Any:
    """Read the JSON file `name` shipped in ``pausebutton/regulation/data/``."""
    path = resources.files("pausebutton.regulation") / "data" / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(f"regulation data file {name}: {exc}") from None
