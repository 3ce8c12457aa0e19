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
    """Parse strict JSON of at most `limit` bytes, raising FormatError on anything else.

    Duplicate object keys and NaN/Infinity are refused, so two parsers can never read
    the same bytes as different documents.
    """
    try:
        raw = data.encode() if isinstance(data, str) else data
    except UnicodeEncodeError as exc:
        raise FormatError(f"input is not valid Unicode: {exc}") from None
    if len(raw) > limit:
        raise FormatError(f"input is {len(raw)} bytes, over the limit of {limit}")
    try:
        return json.loads(raw, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"input is not valid JSON: {exc}") from None
    except RecursionError:
        raise FormatError("input is nested too deeply") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FormatError(f"duplicate key {key!r} in JSON object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise FormatError(f"{name} is not allowed in JSON")
