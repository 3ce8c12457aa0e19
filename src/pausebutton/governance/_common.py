"""Building blocks the governance documents share: strict models, FLOP counts, parsing."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto.canonical import canonical_bytes
from pausebutton.crypto.envelope import Envelope
from pausebutton.errors import FormatError, ReplayError

MAX_SAFE_INT = 2**53 - 1
"""The largest integer every JSON reader holds exactly (RFC 8785 refuses larger ones)."""

MAX_FLOP_DIGITS = 40
"""A FLOP count has at most 40 decimal digits (10^40 is far past any physical budget)."""

KEY_ID_PATTERN = r"^[0-9a-f]{64}$"
PUBLIC_KEY_PATTERN = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
"""Exactly the canonical standard base64 of 32 bytes."""
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

UnixTime = Annotated[int, Field(ge=0, le=MAX_SAFE_INT, description="Unix seconds, UTC")]
Count = Annotated[int, Field(ge=1, le=MAX_SAFE_INT)]
KeyId = Annotated[str, Field(pattern=KEY_ID_PATTERN)]


def _flop_from_wire(value: object) -> object:
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > MAX_FLOP_DIGITS:
            raise ValueError(f"a FLOP count is at most {MAX_FLOP_DIGITS} decimal digits")
        if value != str(int(value)):
            raise ValueError("a FLOP count has no leading zeros")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("a FLOP count is an integer, written in JSON as a decimal string")
    return value


FlopCount = Annotated[
    int,
    BeforeValidator(_flop_from_wire),
    Field(ge=0, lt=10**MAX_FLOP_DIGITS),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^(0|[1-9][0-9]{0,39})$"}),
]
"""A number of floating-point operations: an int in Python, a decimal string in JSON.

JSON numbers past 2^53 lose precision in most readers and RFC 8785 refuses them, so FLOP
counts travel as strings of decimal digits without leading zeros, e.g. ``"100000"``.
"""


class StrictModel(BaseModel):
    """A frozen model that refuses unknown fields and type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class SignedDocument(StrictModel):
    """A governance document: the payload of an envelope of type `PAYLOAD_TYPE`."""

    PAYLOAD_TYPE: ClassVar[str]

    def to_envelope(self) -> Envelope:
        """Return an unsigned envelope carrying this document."""
        return Envelope(payload_type=self.PAYLOAD_TYPE, payload=self.model_dump(mode="json"))


D = TypeVar("D", bound=SignedDocument)


def parse_document(model: type[D], envelope: Envelope) -> D:
    """Read `envelope`'s payload as a `model`, refusing it unless written in full, canonically.

    A signed document must state every field: a default filled in by the reader would let
    a later change of default silently change what the signers agreed to.
    """
    if envelope.payload_type != model.PAYLOAD_TYPE:
        raise FormatError(
            f"expected a {model.PAYLOAD_TYPE} envelope, got {envelope.payload_type!r}"
        )
    what = model.PAYLOAD_TYPE
    try:
        document = model.model_validate_json(canonical_bytes(envelope.payload))
    except FormatError as exc:
        raise FormatError(f"malformed {what}: {exc}") from None
    except PydanticValidationError as exc:
        raise FormatError(f"malformed {what}: {describe_error(exc)}") from None
    written = document.model_dump(mode="json")
    for name in written:
        if name not in envelope.payload:
            raise FormatError(f"malformed {what}: {name}: missing (a signed document states it)")
    for name, value in written.items():
        if canonical_bytes(value) != canonical_bytes(envelope.payload[name]):
            raise FormatError(f"malformed {what}: {name}: not in canonical form")
    return document


def describe_error(exc: PydanticValidationError) -> str:
    """Render a pydantic error's first problem as ``field.path: message``."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(root)"
    return f"{where}: {err['msg']}"


def check_fresh(what: str, expires: int, now: int) -> None:
    """Raise ReplayError if a document that expires at `expires` is expired at `now`."""
    if now >= expires:
        raise ReplayError(f"{what} expired at {expires} (now {now})")


def list_to_tuple(value: object) -> object:
    """Accept a list where a model field holds a tuple (strict mode takes only tuples)."""
    return tuple(value) if isinstance(value, list) else value


def sorted_unique(values: tuple[Any, ...], what: str) -> tuple[Any, ...]:
    """Return `values` sorted, refusing duplicates (one set has one written form)."""
    if len(set(values)) != len(values):
        raise ValueError(f"{what} must be distinct")
    return tuple(sorted(values))
