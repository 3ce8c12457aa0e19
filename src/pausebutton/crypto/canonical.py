"""Canonical JSON bytes (RFC 8785, JCS): the only bytes pausebutton ever signs as JSON."""

from __future__ import annotations

import json
from typing import Any

import rfc8785
from pydantic import BaseModel

from pausebutton.errors import FormatError


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical serialisation of a JSON value or a pydantic model."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise FormatError(f"value cannot be canonicalised as JSON: {exc}") from None


def parse_json(data: bytes | str, *, limit: int) -> Any:
    """Parse JSON text of at most `limit` bytes, raising FormatError on anything else."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > limit:
        raise FormatError(f"input is {size} bytes, over the limit of {limit}")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"input is not valid JSON: {exc}") from None
