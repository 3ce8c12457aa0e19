"""Building blocks the verifier's signed messages share: strict models and parsing."""

from __future__ import annotations

import json
from importlib import resources
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from pausebutton.crypto import Envelope, SigningKey, canonical_bytes, sign_envelope
from pausebutton.errors import FormatError

MAX_SAFE_INT = 2**53 - 1
"""The largest integer every JSON reader holds exactly."""

HEX32_PATTERN = r"^[0-9a-f]{64}$"
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

UnixTime = Annotated[int, Field(ge=0, le=MAX_SAFE_INT, description="Unix seconds, UTC")]
Hex32 = Annotated[str, Field(pattern=HEX32_PATTERN, description="32 bytes, lowercase hex")]
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]


class StrictModel(BaseModel):
    """A frozen model that refuses unknown fields and type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class SignedMessage(StrictModel):
    """A message that travels as the payload of an envelope of type `PAYLOAD_TYPE`."""

    PAYLOAD_TYPE: ClassVar[str]

    def sign(self, key: SigningKey) -> Envelope:
        """Return an envelope carrying this message, signed by `key`."""
        return sign_envelope(self.PAYLOAD_TYPE, self.model_dump(mode="json"), [key])


M = TypeVar("M", bound=SignedMessage)


def parse_message(model: type[M], envelope: Envelope) -> M:
    """Read `envelope`'s payload as a `model`, refusing a wrong type or a non-canonical form."""
    what = model.PAYLOAD_TYPE
    if envelope.payload_type != what:
        raise FormatError(f"expected a {what} envelope, got {envelope.payload_type!r}")
    try:
        message = model.model_validate_json(canonical_bytes(envelope.payload))
    except PydanticValidationError as exc:
        raise FormatError(f"malformed {what}: {_describe(exc)}") from None
    if canonical_bytes(message) != canonical_bytes(envelope.payload):
        # A default filled in, or a value re-spelled, would change what the signer meant.
        raise FormatError(f"malformed {what}: not every field written in canonical form")
    return message


def build(model: type[M], **fields: Any) -> M:
    """Make a `model` from `fields`, raising FormatError (not pydantic's error) if invalid."""
    try:
        return model(**fields)
    except PydanticValidationError as exc:
        raise FormatError(f"invalid {model.PAYLOAD_TYPE}: {_describe(exc)}") from None


def _describe(exc: PydanticValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(root)"
    return f"{where}: {err['msg']}"


def load_data(name: str) -> Any:
    """Read the JSON file `name` shipped in ``pausebutton/verify/data/``."""
    path = resources.files("pausebutton.verify") / "data" / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(f"verify data file {name}: {exc}") from None
