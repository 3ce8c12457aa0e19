"""Shared helpers for FLOP formulas: the raw-formula marker and shape arithmetic."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import torch

Formula = Callable[..., int]
"""A FLOP formula: called with an operator's own arguments (tensors, not shapes) and
the keyword ``out_val`` (its output); returns the FLOPs of that call."""

_F = TypeVar("_F", bound=Callable[..., int])


def raw(formula: _F) -> _F:
    """Mark a formula as taking raw arguments, so FlopCounterMode does not map them to shapes."""
    formula._get_raw = True  # type: ignore[attr-defined]  # the flag FlopCounterMode reads
    return formula


def as_raw(formula: Formula) -> Formula:
    """Wrap a caller's formula as a raw formula without mutating it."""

    def wrapped(*args: Any, **kwargs: Any) -> int:
        return int(formula(*args, **kwargs))

    return raw(wrapped)


def prod(values: Iterable[int]) -> int:
    """The product of integers (1 for none)."""
    return math.prod(int(v) for v in values)


def numel(tensor: object) -> int:
    """Number of elements of a tensor (dense, nested, meta or fake); 0 for anything else."""
    return int(tensor.numel()) if isinstance(tensor, torch.Tensor) else 0


def shape(tensor: torch.Tensor) -> tuple[int, ...]:
    """A dense tensor's shape as plain integers."""
    return tuple(int(s) for s in tensor.shape)


def first(out_val: object) -> torch.Tensor:
    """The first tensor of an operator's output (the output itself when it is one tensor)."""
    if isinstance(out_val, torch.Tensor):
        return out_val
    if isinstance(out_val, Sequence) and out_val and isinstance(out_val[0], torch.Tensor):
        return out_val[0]
    raise TypeError(f"expected a tensor output, got {type(out_val).__name__}")


def mask_count(mask: object, indices: Sequence[int]) -> int:
    """How many of ``mask[i]`` are true (all of them when the mask is absent)."""
    if not isinstance(mask, Sequence) or not mask:
        return len(indices)
    return sum(1 for i in indices if i < len(mask) and bool(mask[i]))


def lengths(offsets: object, count_max: int) -> list[int] | None:
    """Sequence lengths from cumulative offsets, or None when there are none (dense layout).

    Offsets on fake or meta tensors cannot be read: every sequence is then taken to have
    the maximum length ``count_max``, an upper bound.
    """
    if not isinstance(offsets, torch.Tensor) or offsets.numel() == 0:
        return None
    from torch._subclasses.fake_tensor import FakeTensor

    if isinstance(offsets, FakeTensor) or offsets.device.type == "meta":
        return [int(count_max)] * (int(offsets.shape[0]) - 1)
    return [int(x) for x in offsets.diff().tolist()]
