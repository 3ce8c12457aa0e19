"""Payloads of the events that follow a chip after manufacture, and of facilities and licences.

Each model is the exact wire form of one event type's payload (strict: no unknown fields,
no coercion). Who may submit which, and in which state, is `registry.rules`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pausebutton.registry.chips import Serial

KeyId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="an actor's key id")]
Jurisdiction = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")]
Eccn = Annotated[str, Field(pattern=r"^[0-9][A-E][0-9]{3}(\.[a-z0-9]{1,4}){0,3}$")]
Time = Annotated[int, Field(ge=0, le=2**53 - 1, description="Unix seconds, UTC")]
Details = Annotated[str, Field(max_length=1024)]


def _strict() -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", strict=True)


class ChipEvent(BaseModel):
    """A payload about one chip, named by its serial."""

    model_config = _strict()

    serial: Serial


class ChipTransferred(ChipEvent):
    """``chip.transferred``: the holder (seller) hands the chip to `buyer`; both sign."""

    buyer: KeyId


class ChipExported(ChipEvent):
    """``chip.exported`` / ``chip.reexported``: the chip leaves its jurisdiction for another."""

    destination: Jurisdiction
    consignee: KeyId = Field(description="who receives it there; signs unless the exporter")
    licence: Identifier | None = Field(
        default=None, description="the export licence it ships under, where one is needed"
    )


class ChipInstalled(ChipEvent):
    """``chip.installed``: the holder installs the chip at a facility; its operator signs."""

    facility: Identifier
    operator: KeyId


class ChipLeased(ChipEvent):
    """``chip.leased``: the holder leases an installed chip to `lessee` until `until`."""

    lessee: KeyId
    until: Time


class ChipReported(ChipEvent):
    """``chip.reported_lost`` / ``chip.reported_stolen``: the chip is no longer in hand."""

    details: Details = ""


class ChipRecovered(ChipEvent):
    """``chip.recovered``: a lost or stolen chip is back, where found; an inspector signs."""

    jurisdiction: Jurisdiction
    inspector: KeyId


class ChipInspected(ChipEvent):
    """``chip.inspected``: an inspector's finding about the chip."""

    outcome: Literal["present", "absent", "tampered"]
    report: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the report, hex"
    )


class ChipDestroyed(ChipEvent):
    """``chip.destroyed``: the holder destroys the chip, witnessed by an inspector who signs."""

    witness: KeyId
    method: Annotated[str, Field(min_length=1, max_length=128)]


class FacilityRegistered(BaseModel):
    """``facility.registered``: a data centre, its location and jurisdiction."""

    model_config = _strict()

    facility: Identifier
    name: Annotated[str, Field(min_length=1, max_length=128)]
    jurisdiction: Jurisdiction
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False)


class ExportLicensed(BaseModel):
    """``export.licensed``: an export authority licenses `quantity` chips of an ECCN."""

    model_config = _strict()

    licence: Identifier
    exporter: KeyId
    consignee: KeyId
    destination: Jurisdiction
    eccn: Eccn
    quantity: int = Field(ge=1, le=10**9)
    expires: Time
