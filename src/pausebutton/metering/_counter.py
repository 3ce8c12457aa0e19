"""Counting the FLOPs of real PyTorch work under FlopCounterMode with our formula table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch.utils.flop_counter import FlopCounterMode
from torch.utils.module_tracker import ModuleTracker

from pausebutton.errors import Error
from pausebutton.metering._formula import Formula, as_raw
from pausebutton.metering._table import FORMULAS, FREE_NAMESPACES, REFUSED


class MeteringError(Error):
    """Work could not be metered: an operator with no formula, or no cheap way to count it."""


@dataclass(frozen=True)
class FlopReport:
    """What one counted call did: total FLOPs, FLOPs by operator, operators charged zero."""

    total: int
    by_op: Mapping[str, int] = field(default_factory=dict)
    uncounted: Mapping[str, int] = field(default_factory=dict)


def op_name(target: object) -> str:
    """An operator's name as ``namespace.name`` (``aten.mm``), or its repr for other kernels."""
    qualified = getattr(target, "_qualified_op_name", None)
    if isinstance(qualified, str):
        return qualified.replace("::", ".", 1)
    return repr(target)


class _GlobalOnly(ModuleTracker):
    """A module tracker that tracks nothing: every FLOP goes to "Global".

    We need only the total, and ModuleTracker's hooks fail under ``inference_mode`` on
    inputs that require a gradient; without them counting is also cheaper.
    """

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *args: object) -> None:
        return None


class _MeteringMode(FlopCounterMode):
    """FlopCounterMode with our formulas, refusing work it cannot meter."""

    def __init__(self, formulas: Mapping[Any, Formula]) -> None:
        super().__init__(display=False, custom_mapping=dict(formulas))
        self.mod_tracker = _GlobalOnly()
        self.uncounted: dict[str, int] = {}

    # FlopCounterMode calls this for every operator it does not decompose.
    def _count_flops(self, func_packet: Any, out: Any, args: Any, kwargs: Any) -> Any:
        name = op_name(func_packet)
        if func_packet in self.flop_registry:
            try:
                # upstream's _count_flops is unannotated
                return super()._count_flops(func_packet, out, args, kwargs)  # type: ignore[no-untyped-call]
            except Exception as exc:  # a formula that cannot read these arguments: fail closed
                raise MeteringError(f"the FLOP formula for {name} failed: {exc!r}") from exc
        if name in REFUSED or name.split(".", 1)[0] not in FREE_NAMESPACES:
            raise MeteringError(
                f"{name} has no FLOP formula and is not linear-time: pass one in `formulas`"
            )
        self.uncounted[name] = self.uncounted.get(name, 0) + 1
        return out


def _table(formulas: Mapping[Any, Formula] | None) -> dict[Any, Formula]:
    """Our formulas plus the caller's (theirs win), all taking raw arguments."""
    table: dict[Any, Formula] = dict(FORMULAS)
    for packet, formula in (formulas or {}).items():
        table[packet] = as_raw(formula)
    return table


def measure(
    fn: Callable[[], object], *, formulas: Mapping[Any, Formula] | None = None
) -> FlopReport:
    """Run ``fn`` once and report the FLOPs it performed, by operator."""
    mode = _MeteringMode(_table(formulas))
    with mode:
        fn()
    by_op = {
        op_name(packet): int(flops)
        for packet, flops in mode.get_flop_counts().get("Global", {}).items()
        if flops
    }
    return FlopReport(total=sum(by_op.values()), by_op=by_op, uncounted=dict(mode.uncounted))


def count_flops(fn: Callable[[], object], *, formulas: Mapping[Any, Formula] | None = None) -> int:
    """Run the zero-argument callable ``fn`` once and return the FLOPs it performed."""
    return measure(fn, formulas=formulas).total
