"""Classify an accelerator under ECCN 3A090 (US BIS advanced computing rule).

TPP ('total processing performance') is 2 x MacTOPS x bit length of the operation, the
largest over the precisions the chip supports, dense (no sparsity); a datasheet's TOPS
counts one MAC as two operations, so TPP = datasheet TOPS x bit length. PD ('performance
density') is TPP per mm² of applicable die area: the logic dies made on a non-planar
(FinFET or later) process. Technical Notes to 3A090, 88 FR 73458 (25 October 2023),
https://www.federalregister.gov/documents/2023/10/25/2023-23055
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pausebutton.errors import FormatError
from pausebutton.regulation._internal import number
from pausebutton.regulation.parameters import DEFAULT_EXPORT_CONTROL, ExportControlParameters

Eccn = Literal["3A090.a", "3A090.b", "not controlled", "undetermined"]
"""The answer of `classify`."""

ComputerEccn = Literal["4A090.a", "4A090.b", "not controlled", "undetermined"]
"""The answer of `computer_eccn`."""

BIT_LENGTHS: frozenset[int] = frozenset({4, 8, 16, 32, 64})
"""The operand bit lengths a `ChipSpec` may give TOPS for."""

MAX_NAME_LENGTH = 128

STRICTNESS: Mapping[str, int] = MappingProxyType({"not controlled": 0, "3A090.b": 1, "3A090.a": 2})
"""Determined classifications from least to most strict."""


def _positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormatError(f"{what} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise FormatError(f"{what} must be a positive finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ChipSpec:
    """What classification needs to know of an accelerator, as its datasheet states it."""

    name: str
    dense_tops_by_bits: Mapping[int, float]
    die_area_mm2: float | None = None
    datacenter: bool = True
    _sorted: tuple[tuple[int, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= MAX_NAME_LENGTH:
            raise FormatError(f"chip name must be a string of 1 to {MAX_NAME_LENGTH} characters")
        if not self.name.isprintable() or self.name != self.name.strip():
            raise FormatError(f"chip name {self.name!r} has control or surrounding blanks")
        if not isinstance(self.dense_tops_by_bits, Mapping) or not self.dense_tops_by_bits:
            raise FormatError(f"{self.name}: dense_tops_by_bits must be a non-empty mapping")
        pairs: list[tuple[int, float]] = []
        for bits, tops in self.dense_tops_by_bits.items():
            if isinstance(bits, bool) or not isinstance(bits, int) or bits not in BIT_LENGTHS:
                allowed = ", ".join(map(str, sorted(BIT_LENGTHS)))
                raise FormatError(f"{self.name}: bit length {bits!r} is not one of {allowed}")
            pairs.append((bits, _positive(tops, f"{self.name}: TOPS at {bits} bits")))
        pairs.sort()
        if self.die_area_mm2 is not None:
            area = _positive(self.die_area_mm2, f"{self.name}: die_area_mm2")
            object.__setattr__(self, "die_area_mm2", area)
        if not isinstance(self.datacenter, bool):
            raise FormatError(f"{self.name}: datacenter must be true or false")
        object.__setattr__(self, "dense_tops_by_bits", MappingProxyType(dict(pairs)))
        object.__setattr__(self, "_sorted", tuple(pairs))

    def __hash__(self) -> int:
        return hash((self.name, self._sorted, self.die_area_mm2, self.datacenter))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form: bit lengths become decimal strings."""
        return {
            "name": self.name,
            "dense_tops_by_bits": {str(bits): tops for bits, tops in self._sorted},
            "die_area_mm2": self.die_area_mm2,
            "datacenter": self.datacenter,
        }

    @classmethod
    def from_dict(cls, data: object) -> ChipSpec:
        """Read the JSON form written by `to_dict` (die area and datacenter optional)."""
        if not isinstance(data, Mapping):
            raise FormatError("a chip specification must be a JSON object")
        unknown = set(data) - {"name", "dense_tops_by_bits", "die_area_mm2", "datacenter"}
        if unknown:
            raise FormatError(f"chip specification: unknown field(s) {sorted(unknown)}")
        if "name" not in data or "dense_tops_by_bits" not in data:
            raise FormatError("chip specification needs name and dense_tops_by_bits")
        tops = data["dense_tops_by_bits"]
        if not isinstance(tops, Mapping):
            raise FormatError("dense_tops_by_bits must be a JSON object")
        by_bits: dict[int, float] = {}
        for key, value in tops.items():
            if not (isinstance(key, str) and key.isascii() and key.isdigit() and key[0] != "0"):
                raise FormatError(f"dense_tops_by_bits: key {key!r} is not a bit length")
            by_bits[int(key)] = value
        return cls(
            name=data["name"],
            dense_tops_by_bits=by_bits,
            die_area_mm2=data.get("die_area_mm2"),
            datacenter=data.get("datacenter", True),
        )


def _best(spec: ChipSpec) -> tuple[float, int, float]:
    """The largest TPP, with the bit length and TOPS giving it (the shortest on a tie)."""
    value, shorter, tops = max(
        (tops * bits, -bits, tops) for bits, tops in spec.dense_tops_by_bits.items()
    )
    return value, -shorter, tops


def tpp(spec: ChipSpec) -> float:
    """Total processing performance: the largest dense TOPS x bit length (2 x MacTOPS x bits)."""
    return _best(spec)[0]


def performance_density(spec: ChipSpec) -> float | None:
    """TPP per mm² of applicable die area, or None when the die area is unknown."""
    if spec.die_area_mm2 is None:
        return None
    return tpp(spec) / spec.die_area_mm2


@dataclass(frozen=True)
class Classification:
    """The 3A090 classification of one chip, with the numbers and the reasons in words."""

    eccn: Eccn
    tpp: float
    performance_density: float | None
    reasons: tuple[str, ...]
    paragraphs: tuple[str, ...] = ()
    """The paragraphs of 3A090 the chip meets, e.g. ``("3A090.a.1",)``."""
    possible: tuple[Eccn, ...] = ()
    """The classifications consistent with what is known (one unless undetermined)."""

    @property
    def controlled(self) -> bool:
        """Whether the chip is (or, undetermined, may be) an item of 3A090."""
        return self.eccn != "not controlled"


def _paragraphs(tpp_: float, pd: float, p: ExportControlParameters) -> tuple[str, ...]:
    met = []
    if tpp_ >= p.tpp_a1:
        met.append("3A090.a.1")
    if tpp_ >= p.tpp_a2 and pd >= p.pd_a2:
        met.append("3A090.a.2")
    if met:
        return tuple(met)
    if p.tpp_b1 <= tpp_ < p.tpp_a1 and p.pd_b1 <= pd < p.pd_a2:
        met.append("3A090.b.1")
    if tpp_ >= p.tpp_b2 and p.pd_b2 <= pd < p.pd_a2:
        met.append("3A090.b.2")
    return tuple(met)


def _eccn(paragraphs: tuple[str, ...]) -> Eccn:
    if any(par.startswith("3A090.a") for par in paragraphs):
        return "3A090.a"
    return "3A090.b" if paragraphs else "not controlled"


def _explain(paragraph: str, tpp_: float, pd: float, p: ExportControlParameters) -> str:
    t, d = number(tpp_), number(pd)
    return {
        "3A090.a.1": f"3A090.a.1: TPP {t} >= {p.tpp_a1}",
        "3A090.a.2": f"3A090.a.2: TPP {t} >= {p.tpp_a2} and PD {d} >= {number(p.pd_a2)}",
        "3A090.b.1": f"3A090.b.1: {p.tpp_b1} <= TPP {t} < {p.tpp_a1} and "
        f"{number(p.pd_b1)} <= PD {d} < {number(p.pd_a2)}",
        "3A090.b.2": f"3A090.b.2: TPP {t} >= {p.tpp_b2} and "
        f"{number(p.pd_b2)} <= PD {d} < {number(p.pd_a2)}",
    }[paragraph]


def _below(tpp_: float, pd: float, p: ExportControlParameters) -> str:
    t, d = number(tpp_), number(pd)
    return (
        f"below every 3A090 threshold: not .a (TPP {t} < {p.tpp_a1}, and TPP < {p.tpp_a2} or "
        f"PD {d} < {number(p.pd_a2)}); not .b.1 (TPP outside [{p.tpp_b1}, {p.tpp_a1}) or PD "
        f"outside [{number(p.pd_b1)}, {number(p.pd_a2)})); not .b.2 (TPP < {p.tpp_b2} or PD "
        f"outside [{number(p.pd_b2)}, {number(p.pd_a2)}))"
    )


def _pd_breaks(p: ExportControlParameters) -> list[float]:
    return sorted({p.pd_a2, p.pd_b1, p.pd_b2})


def _ranges(tpp_: float, breaks: list[float], answers: list[Eccn]) -> str:
    """Say which classification each range of PD gives, merging neighbours that agree."""
    pieces: list[str] = []
    bounds = [*breaks, math.inf]
    start = 0.0
    for index, answer in enumerate(answers):
        if index + 1 < len(answers) and answers[index + 1] == answer:
            continue
        end = bounds[index]
        low = "" if start == 0.0 else f"{number(start)} <= "
        high = "" if end == math.inf else f" < {number(end)}"
        pieces.append(f"{low}PD{high}: {answer}")
        start = end
    return (
        f"die area unknown, and at TPP {number(tpp_)} the classification depends on "
        f"performance density: {'; '.join(pieces)}"
    )


def _without_pd(tpp_: float, p: ExportControlParameters) -> Classification:
    """Classify with the die area unknown: determined only if every PD gives one answer.

    The answer is constant between consecutive PD thresholds, so probing PD = 0 and each
    threshold covers every possible PD.
    """
    breaks = _pd_breaks(p)
    found = [_paragraphs(tpp_, pd, p) for pd in [0.0, *breaks]]
    answers = [_eccn(paragraphs) for paragraphs in found]
    possible = tuple(sorted(set(answers), key=STRICTNESS.__getitem__))
    if len(possible) > 1:
        reason = _ranges(tpp_, breaks, answers)
        return Classification("undetermined", tpp_, None, (reason,), (), possible)
    always = tuple(par for par in found[0] if all(par in other for other in found))
    reasons = [
        f"performance density unknown (no die area), but at TPP {number(tpp_)} it does "
        "not change the result"
    ]
    if always:
        reasons.append(f"3A090.a.1: TPP {number(tpp_)} >= {p.tpp_a1}")
    else:
        reasons.append(f"TPP {number(tpp_)} is below every 3A090 threshold, whatever the PD")
    return Classification(possible[0], tpp_, None, tuple(reasons), always, possible)


def classify_metrics(
    tpp_: float,
    pd: float | None,
    *,
    datacenter: bool = True,
    params: ExportControlParameters = DEFAULT_EXPORT_CONTROL,
) -> Classification:
    """Classify from TPP and PD (None when the die area is unknown)."""
    _positive(tpp_, "TPP")
    if pd is not None:
        _positive(pd, "performance density")
    if not datacenter and tpp_ < params.non_datacenter_tpp:
        reason = (
            f"Note 2 to 3A090: not designed or marketed for use in datacenters, and TPP "
            f"{number(tpp_)} < {params.non_datacenter_tpp}"
        )
        return Classification("not controlled", tpp_, pd, (reason,), (), ("not controlled",))
    prefix: tuple[str, ...] = ()
    if not datacenter:
        prefix = (
            f"not designed or marketed for use in datacenters, but TPP {number(tpp_)} >= "
            f"{params.non_datacenter_tpp}, so Note 2 to 3A090 does not exempt it",
        )
    if pd is None:
        found = _without_pd(tpp_, params)
        reasons = prefix + found.reasons
        return Classification(found.eccn, tpp_, None, reasons, found.paragraphs, found.possible)
    paragraphs = _paragraphs(tpp_, pd, params)
    if paragraphs:
        reasons = prefix + tuple(_explain(par, tpp_, pd, params) for par in paragraphs)
    else:
        reasons = (*prefix, _below(tpp_, pd, params))
    eccn = _eccn(paragraphs)
    return Classification(eccn, tpp_, pd, reasons, paragraphs, (eccn,))


def classify(
    spec: ChipSpec, params: ExportControlParameters = DEFAULT_EXPORT_CONTROL
) -> Classification:
    """Classify a chip under ECCN 3A090: .a, .b, not controlled, or undetermined."""
    value, bits, tops = _best(spec)
    pd = performance_density(spec)
    result = classify_metrics(value, pd, datacenter=spec.datacenter, params=params)
    how = f"TPP {number(value)} = {number(tops)} dense TOPS x {bits} bits, the largest over "
    how += f"the {len(spec.dense_tops_by_bits)} precision(s) given"
    if pd is not None and spec.die_area_mm2 is not None:
        how += f"; PD {number(pd)} = TPP / {number(spec.die_area_mm2)} mm² applicable die area"
    return Classification(
        result.eccn,
        result.tpp,
        result.performance_density,
        (f"{spec.name}: {how}", *result.reasons),
        result.paragraphs,
        result.possible,
    )


def computer_eccn(chips: Iterable[Classification]) -> ComputerEccn:
    """ECCN 4A090 of a computer or assembly from the classifications of the chips it holds."""
    eccns = {chip.eccn for chip in chips}
    if "3A090.a" in eccns:
        return "4A090.a"
    if "undetermined" in eccns:
        return "undetermined"
    return "4A090.b" if "3A090.b" in eccns else "not controlled"
