"""The numbers of export control and production caps that are policy, with their defaults.

Every default is the published value, cited in the field's description and in
`docs/regulation.md`. The governance policy document embeds these models, so they are
self-contained: frozen, strict, and refusing unknown fields.

Sources of the export-control defaults:

- ECCN 3A090 and its Technical Notes, 15 CFR part 774 supplement no. 1, as revised by the
  BIS interim final rule "Implementation of Additional Export Controls: Certain Advanced
  Computing Items; Supercomputer and Semiconductor End Use; Updates and Corrections",
  88 FR 73458 (25 October 2023, effective 17 November 2023),
  https://www.federalregister.gov/documents/2023/10/25/2023-23055
- The licence requirement for 3A090 and 4A090 items, 15 CFR 742.6(a)(6)(iii), same rule;
  its scope for entities headquartered in Country Group D:5 or Macau was moved from
  15 CFR 744.23(a)(3) by "Framework for Artificial Intelligence Diffusion", 90 FR 4544
  (15 January 2025), and confirmed as still enforced by BIS, "Guidance Regarding
  Enforcement of License Requirements for Advanced Computing Items for Entities
  Headquartered in Country Group D:5 and Macau" (31 May 2026),
  https://www.bis.gov/media/documents/bis-guidance-may-31-2026.pdf
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from pausebutton.errors import ValidationError

MAX_SAFE_INT = 2**53 - 1
"""The largest integer every JSON reader holds exactly (RFC 8785 refuses larger ones)."""

MANUFACTURER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""A manufacturer id: the actor identifier the registry uses."""

GROUP_PATTERN = r"^[A-Z0-9][A-Z0-9:-]{0,31}$"
"""A country group's name in `regulation/data/jurisdictions.json`, e.g. ``D:5``."""

COUNTRY_PATTERN = r"^[A-Z]{2}$"
"""An ISO 3166-1 alpha-2 country code."""

RULE_2023 = "88 FR 73458 (25 Oct 2023)"
GUIDANCE_2026 = "BIS guidance of 31 May 2026 on D:5- and Macau-headquartered entities"

Group = Annotated[str, Field(pattern=GROUP_PATTERN)]
Country = Annotated[str, Field(pattern=COUNTRY_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def _tpp(default: int, text: str) -> Any:
    return Field(default=default, gt=0, le=MAX_SAFE_INT, description=text)


def _pd(default: float, text: str) -> Any:
    return Field(default=default, gt=0, allow_inf_nan=False, description=text)


def _groups(default: tuple[str, ...], text: str) -> Any:
    return Field(default=default, max_length=64, description=text)


def _distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise ValueError("entries must be distinct")
    return values


def _list_to_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


class ExportControlParameters(_Strict):
    """ECCN 3A090 thresholds and the destinations that need a licence for 3A090 items.

    TPP is 2 x MacTOPS x bit length (the largest over the chip's precisions, dense); PD is
    TPP per mm² of applicable die area. 3A090.a: TPP >= `tpp_a1`, or TPP >= `tpp_a2` and
    PD >= `pd_a2`. 3A090.b: `tpp_b1` <= TPP < `tpp_a1` and `pd_b1` <= PD < `pd_a2`, or
    TPP >= `tpp_b2` and `pd_b2` <= PD < `pd_a2`. Not-datacentre chips below
    `non_datacenter_tpp` are outside 3A090 altogether (Note 2 to 3A090).
    """

    tpp_a1: int = _tpp(
        4800, f"3A090.a.1: TPP of this or more is 3A090.a. Default 4800, {RULE_2023}"
    )
    tpp_a2: int = _tpp(
        1600, f"3A090.a.2: TPP of this or more, with PD >= pd_a2, is .a. Default 1600, {RULE_2023}"
    )
    pd_a2: float = _pd(
        5.92,
        f"3A090.a.2: the PD threshold of .a.2, and the PD upper bound (exclusive) of .b.1 and "
        f".b.2. Default 5.92, {RULE_2023}",
    )
    tpp_b1: int = _tpp(
        2400,
        f"3A090.b.1: TPP of this or more and less than tpp_a1, with pd_b1 <= PD < pd_a2, is "
        f"3A090.b. Default 2400, {RULE_2023}",
    )
    pd_b1: float = _pd(1.6, f"3A090.b.1: the PD lower bound of .b.1. Default 1.6, {RULE_2023}")
    tpp_b2: int = _tpp(
        1600,
        f"3A090.b.2: TPP of this or more, with pd_b2 <= PD < pd_a2, is 3A090.b. Default 1600, "
        f"{RULE_2023}",
    )
    pd_b2: float = _pd(3.2, f"3A090.b.2: the PD lower bound of .b.2. Default 3.2, {RULE_2023}")
    non_datacenter_tpp: int = _tpp(
        4800,
        "Note 2 to 3A090: an item not designed or marketed for use in datacenters and "
        f"without a TPP of this or more is outside 3A090. Default 4800, {RULE_2023}",
    )
    licence_groups: tuple[Group, ...] = _groups(
        ("D:1", "D:4", "D:5"),
        "3A090/4A090 items need a licence to a destination in any of these country groups "
        f"(15 CFR 742.6(a)(6)(iii)). Default D:1, D:4, D:5, {RULE_2023}",
    )
    licence_exempt_groups: tuple[Group, ...] = _groups(
        ("A:5", "A:6"),
        "a destination also in one of these groups needs no licence under licence_groups. "
        f"Default A:5, A:6, {RULE_2023}",
    )
    headquarters_groups: tuple[Group, ...] = _groups(
        ("D:5",),
        "3A090/4A090 items need a licence to an entity headquartered (or with its ultimate "
        "parent headquartered) in these groups, wherever the entity is. Default D:5, "
        f"{RULE_2023} (15 CFR 744.23(a)(3), later 742.6(a)(6)(iii)(A)), {GUIDANCE_2026}",
    )
    headquarters_countries: tuple[Country, ...] = Field(
        default=("MO",),
        max_length=64,
        description="as headquarters_groups, for single countries. Default MO (Macau, "
        f"which is not in D:5), {RULE_2023}, {GUIDANCE_2026}",
    )
    embargo_groups: tuple[Group, ...] = _groups(
        ("E:1", "E:2"),
        "destinations under comprehensive embargo: a licence is needed for nearly every item "
        "subject to the EAR, controlled or not (15 CFR part 746). Default E:1, E:2, "
        "15 CFR part 740 supplement no. 1",
    )

    _tuples = field_validator(
        "licence_groups",
        "licence_exempt_groups",
        "headquarters_groups",
        "headquarters_countries",
        "embargo_groups",
        mode="before",
    )(_list_to_tuple)
    _unique = field_validator(
        "licence_groups",
        "licence_exempt_groups",
        "headquarters_groups",
        "headquarters_countries",
        "embargo_groups",
    )(_distinct)

    @model_validator(mode="after")
    def _ordered(self) -> ExportControlParameters:
        checks = [
            (self.tpp_a2 <= self.tpp_a1, "tpp_a2 must not exceed tpp_a1"),
            (self.tpp_b1 < self.tpp_a1, "tpp_b1 must be below tpp_a1"),
            (self.tpp_a2 <= self.tpp_b2, "tpp_b2 must not be below tpp_a2"),
            (self.pd_b1 < self.pd_a2, "pd_b1 must be below pd_a2"),
            (self.pd_b2 < self.pd_a2, "pd_b2 must be below pd_a2"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValidationError(f"export control parameters: {message}")
        return self


DEFAULT_EXPORT_CONTROL = ExportControlParameters()
"""The published values (BIS, October 2023 as amended to 2026)."""


class ProductionCap(_Strict):
    """How many chips, and how much TPP in total, one manufacturer may make per period.

    No published caps exist; they are agreed per manufacturer, like the aggregate
    production quotas the DEA sets per year for controlled substances (21 U.S.C. 826,
    21 CFR part 1303). Periods are fixed windows aligned to the Unix epoch (see `caps`).
    """

    manufacturer: str = Field(
        pattern=MANUFACTURER_PATTERN, description="the manufacturer's actor id in the registry"
    )
    period_s: int = Field(
        default=365 * 86400,
        ge=1,
        le=MAX_SAFE_INT,
        description="length of a period in seconds. Default 365 days: quotas are annual, as "
        "the DEA's are (21 CFR 1303.11); here epoch-aligned windows, not calendar years",
    )
    max_chips: int = Field(
        ge=0, le=MAX_SAFE_INT, description="chips made per period, at most. No default"
    )
    max_tpp: int = Field(
        ge=0,
        le=MAX_SAFE_INT,
        description="sum of the chips' TPP made per period, at most, each chip's TPP rounded "
        "up to a whole number. No default",
    )


class ProductionCaps(RootModel[dict[str, ProductionCap]]):
    """Production caps by manufacturer id; a manufacturer without a cap is not capped."""

    model_config = ConfigDict(frozen=True, strict=True)

    @model_validator(mode="after")
    def _keys_match(self) -> ProductionCaps:
        if len(self.root) > 4096:
            raise ValueError("at most 4096 production caps")
        for key, cap in self.root.items():
            if key != cap.manufacturer:
                raise ValueError(f"cap under {key!r} is for manufacturer {cap.manufacturer!r}")
        return self

    def cap_for(self, manufacturer: str) -> ProductionCap | None:
        """Return the manufacturer's cap, or None where it has none."""
        return self.root.get(manufacturer)
