"""Chips at manufacture: serial, model, specification, device keys and components.

A chip's *device keys* are generated inside it: an Ed25519 key that signs its usage
receipts and an X25519 key that locked models are wrapped to. The maker endorses them by
signing a device endorsement, an envelope payload of type
``pausebutton.device-endorsement/v1``::

    {"manufacturer": <maker key id>, "model": ..., "serial": ...,
     "signing_key": <base64>, "x25519_key": <base64>}

so a device can prove offline, without the log, that its keys are the ones its maker
registered. The endorsement signature is carried in ``chip.manufactured``.
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pausebutton.crypto.canonical import canonical_bytes
from pausebutton.crypto.envelope import signing_message
from pausebutton.crypto.keys import SigningKey, VerifyKey
from pausebutton.errors import FormatError, SignatureError

ENDORSEMENT_TYPE = "pausebutton.device-endorsement/v1"
SERIAL = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$"
PUBLIC_KEY = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
SIGNATURE = r"^[A-Za-z0-9+/]{85}[AQgw]==$"
BITS = r"^(4|8|16|32|64)$"
MAX_COMPONENTS = 64

Serial = Annotated[str, Field(pattern=SERIAL, description="printable serial, at most 128")]
ComponentKind = Literal["logic_die", "hbm_stack"]


def _strict() -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", strict=True)


class SpecPayload(BaseModel):
    """A chip's specification as the maker declares it (input to export classification)."""

    model_config = _strict()

    name: str = Field(min_length=1, max_length=128)
    dense_tops_by_bits: dict[Annotated[str, Field(pattern=BITS)], float] = Field(
        min_length=1,
        description='operand bit length ("4" .. "64") -> dense peak TOPS at that length',
    )
    die_area_mm2: float | None = Field(default=None, gt=0, le=1e6, allow_inf_nan=False)
    datacenter: bool = True

    @field_validator("dense_tops_by_bits")
    @classmethod
    def _positive(cls, tops: dict[str, float]) -> dict[str, float]:
        for bits, value in tops.items():
            if not 0 < value < 1e12:
                raise ValueError(f"TOPS at {bits} bits must be positive and finite")
        return tops

    def tops_by_bits(self) -> dict[int, float]:
        """The TOPS table with integer bit lengths, as regulation's ChipSpec takes it."""
        return {int(bits): float(tops) for bits, tops in self.dense_tops_by_bits.items()}


class Component(BaseModel):
    """A die or HBM stack inside a chip, with its own serial."""

    model_config = _strict()

    kind: ComponentKind
    serial: Serial


class DeviceKeys(BaseModel):
    """A chip's device keys and its maker's endorsement of them."""

    model_config = _strict()

    signing_key: str = Field(pattern=PUBLIC_KEY, description="Ed25519 public key, base64")
    x25519_key: str = Field(pattern=PUBLIC_KEY, description="X25519 public key, base64")
    endorsement: str = Field(pattern=SIGNATURE, description="the maker's signature, base64")

    def signing_key_id(self) -> str:
        """The key id of the device's signing key."""
        return VerifyKey.from_base64(self.signing_key).key_id


class ChipManufactured(BaseModel):
    """Payload of ``chip.manufactured``: a new chip, registered by its maker."""

    model_config = _strict()

    serial: Serial
    model: str = Field(min_length=1, max_length=128)
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}$", description="where it was made")
    spec: SpecPayload
    device: DeviceKeys
    components: list[Component] = Field(min_length=1, max_length=MAX_COMPONENTS)

    @model_validator(mode="after")
    def _components(self) -> ChipManufactured:
        serials = [c.serial for c in self.components]
        if len(set(serials)) != len(serials):
            raise ValueError("component serials must be distinct")
        if not any(c.kind == "logic_die" for c in self.components):
            raise ValueError("a chip has at least one logic_die")
        if self.device.signing_key == self.device.x25519_key:
            raise ValueError("the signing key and the X25519 key must differ")
        return self

    def spec_json(self) -> str:
        """The specification as RFC 8785 canonical JSON text (how the registry stores it)."""
        return canonical_spec(self.spec)


_SPECS: dict[str, str] = {}


def canonical_spec(spec: SpecPayload) -> str:
    """RFC 8785 text of a specification (memoised: a fleet shares a few models' specs)."""
    key = spec.model_dump_json()
    found = _SPECS.get(key)
    if found is None:
        if len(_SPECS) >= 4096:
            _SPECS.clear()
        found = _SPECS[key] = canonical_bytes(spec).decode()
    return found


def endorsement_message(
    manufacturer: str, model: str, serial: str, signing_key: str, x25519_key: str
) -> bytes:
    """The bytes a device endorsement signature covers."""
    body = {
        "manufacturer": manufacturer,
        "model": model,
        "serial": serial,
        "signing_key": signing_key,
        "x25519_key": x25519_key,
    }
    return signing_message(ENDORSEMENT_TYPE, body)


def endorse(maker: SigningKey, model: str, serial: str, signing_key: str, x25519_key: str) -> str:
    """Return the maker's endorsement signature (base64) of a chip's device keys."""
    message = endorsement_message(maker.key_id, model, serial, signing_key, x25519_key)
    return base64.b64encode(maker.sign(message)).decode()


def verify_endorsement(maker: VerifyKey, payload: ChipManufactured) -> None:
    """Raise SignatureError unless the maker endorsed the payload's device keys."""
    message = endorsement_message(
        maker.key_id,
        payload.model,
        payload.serial,
        payload.device.signing_key,
        payload.device.x25519_key,
    )
    try:
        signature = base64.b64decode(payload.device.endorsement, validate=True)
    except ValueError:
        raise FormatError("device endorsement is not base64") from None
    try:
        maker.verify(signature, message)
    except SignatureError:
        raise SignatureError(
            f"chip {payload.serial}: the device keys' endorsement is not the maker's "
            f"({maker.key_id[:16]}…) signature"
        ) from None
