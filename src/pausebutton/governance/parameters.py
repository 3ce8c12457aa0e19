"""Parameter groups of the policy: export-control thresholds and production caps.

These are the numbers only; the classification of chips by them lives in `regulation/`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from pausebutton.errors import ValidationError
from pausebutton.governance._common import MAX_SAFE_INT, StrictModel

ECCN_SOURCE = (
    "ECCN 3A090, 15 CFR part 774 supplement 1, as revised by the BIS interim final rule "
    "'Implementation of Additional Export Controls: Certain Advanced Computing Items' "
    "(88 FR 73458, 25 October 2023)"
)
"""Where the export-control defaults come from."""


def _tpp(default: int, paragraph: str) -> Any:
    return Field(
        default=default,
        gt=0,
        le=MAX_SAFE_INT,
        description=f"total processing performance threshold of 3A090.{paragraph}",
    )


def _pd(default: float, paragraph: str) -> Any:
    return Field(
        default=default,
        gt=0,
        allow_inf_nan=False,
        description=f"performance density (TPP per mm² of die) threshold of 3A090.{paragraph}",
    )


class ExportControl(StrictModel):
    """Thresholds of ECCN 3A090 (defaults: the published BIS values of October 2023).

    TPP is 2 x MacTOPS x bit length of the operation, summed over the chip's processing
    units; PD is TPP divided by the die area in mm². A chip is 3A090.a if TPP >= `tpp_a1`,
    or TPP >= `tpp_a2` and PD >= `pd_a2`; it is 3A090.b if not .a and either TPP >= `tpp_b1`
    and PD >= `pd_b1`, or TPP >= `tpp_b2` and PD >= `pd_b2`.
    """

    tpp_a1: int = _tpp(4800, "a.1 (TPP of 4800 or more)")
    tpp_a2: int = _tpp(1600, "a.2 (TPP of 1600 or more, with PD of 5.92 or more)")
    pd_a2: float = _pd(5.92, "a.2")
    tpp_b1: int = _tpp(2400, "b.1 (TPP of 2400 up to 4800, with PD of 1.6 up to 5.92)")
    pd_b1: float = _pd(1.6, "b.1")
    tpp_b2: int = _tpp(1600, "b.2 (TPP of 1600 or more, with PD of 3.2 up to 5.92)")
    pd_b2: float = _pd(3.2, "b.2")

    @model_validator(mode="after")
    def _ordered(self) -> ExportControl:
        checks = [
            (self.tpp_a2 <= self.tpp_a1, "tpp_a2 must not exceed tpp_a1"),
            (self.tpp_b1 <= self.tpp_a1, "tpp_b1 must not exceed tpp_a1"),
            (self.tpp_b2 <= self.tpp_b1, "tpp_b2 must not exceed tpp_b1"),
            (self.pd_b1 < self.pd_a2, "pd_b1 must be below pd_a2"),
            (self.pd_b2 < self.pd_a2, "pd_b2 must be below pd_a2"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValidationError(f"export_control: {message}")
        return self


class ProductionCap(StrictModel):
    """How many chips, and how much TPP in total, one manufacturer may make per period."""

    chips: int = Field(ge=0, le=MAX_SAFE_INT, description="chips made per period, at most")
    tpp: int = Field(
        ge=0, le=MAX_SAFE_INT, description="sum of the chips' TPP made per period, at most"
    )
    period_s: int = Field(
        default=365 * 86400,
        ge=1,
        le=MAX_SAFE_INT,
        description="length of the period in seconds; default a 365-day year, the period "
        "annual production allocations are agreed for",
    )
