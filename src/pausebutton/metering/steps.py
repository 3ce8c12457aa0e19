"""Cheap per-step costs: count a step once per shape on fake tensors, then read a cache.

A governed training loop asks ``StepMeter.step_cost(step, model, *batch)`` before each
step. The first step of each shape is counted by running ``step`` on fake copies of its
arguments (``FakeTensorMode``: shapes, dtypes and devices, no storage and no arithmetic);
every later step of that shape is a dictionary lookup.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import functools
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeCopyMode, FakeTensorMode

from pausebutton.metering._counter import MeteringError, count_flops
from pausebutton.metering._formula import Formula

_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def _tensor_key(t: torch.Tensor) -> tuple[Hashable, ...]:
    """Shape, dtype, device type and whether it needs a gradient."""
    if t.is_nested:
        sizes = getattr(t, "_nested_tensor_size", None)
        if sizes is None:
            raise MeteringError("no step key for a jagged nested tensor: pass an explicit key")
        dims: Hashable = tuple(tuple(int(x) for x in row) for row in sizes().tolist())
    else:
        dims = t.shape  # a torch.Size: a tuple of ints
    return (dims, t.dtype, t.device.type, t.requires_grad)


def _module_key(m: nn.Module) -> tuple[Hashable, ...]:
    """Per submodule: name, class, training flag, and its parameters' and buffers' keys."""
    return (
        tuple(
            (
                name,
                type(sub).__qualname__,
                sub.training,
                tuple((n, _tensor_key(t)) for n, t in sub.named_parameters(recurse=False)),
                tuple((n, _tensor_key(t)) for n, t in sub.named_buffers(recurse=False)),
            )
            for name, sub in m.named_modules()
        ),
    )


def _key(obj: object) -> Hashable:
    """The cache-key part for one argument (see ``step_signature``)."""
    if isinstance(obj, torch.Tensor):
        return ("tensor", *_tensor_key(obj))
    if isinstance(obj, nn.Module):
        return ("module", *_module_key(obj))
    if isinstance(obj, _SCALARS):
        return (type(obj).__name__, obj)
    if isinstance(obj, torch.dtype | torch.device | enum.Enum):
        return (type(obj).__name__, str(obj))
    if isinstance(obj, list | tuple):
        return (type(obj).__name__, tuple(_key(x) for x in obj))
    if isinstance(obj, Mapping):
        return ("mapping", tuple((_key(k), _key(v)) for k, v in obj.items()))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = tuple(_key(getattr(obj, f.name)) for f in dataclasses.fields(obj))
        return (type(obj).__qualname__, fields)
    if isinstance(obj, functools.partial):
        return ("partial", _key(obj.func), _key(obj.args), _key(obj.keywords))
    if isinstance(obj, types.MethodType):
        owner = obj.__self__
        return (
            "method",
            _key(obj.__func__),
            _key(owner) if isinstance(owner, nn.Module) else (type(owner).__qualname__),
        )
    if isinstance(obj, types.FunctionType):
        cells = tuple(_key(c.cell_contents) for c in obj.__closure__ or ())
        defaults = (_key(obj.__defaults__), _key(obj.__kwdefaults__))
        return ("function", obj.__module__, obj.__qualname__, obj.__code__, defaults, cells)
    if isinstance(obj, types.BuiltinFunctionType):
        return ("builtin", obj.__module__, obj.__qualname__)
    raise MeteringError(
        f"no step key for a {type(obj).__qualname__}: pass an explicit key to StepMeter.cost"
    )


def step_signature(*parts: object) -> Hashable:
    """The documented cache key of a step: grad mode, then one key part per argument.

    Tensors by (shape, dtype, device type, requires_grad); modules by, for every
    submodule, its name, class and training flag and the name and tensor key of each of
    its parameters and buffers; scalars, dtypes, devices and enums by value; lists,
    tuples, mappings and dataclasses element by element; functions by module, qualified
    name, code object, defaults and the keys of the variables they close over. Anything
    else raises ``MeteringError``.
    """
    return (("grad_enabled", torch.is_grad_enabled()), *(_key(p) for p in parts))


def on_fake(step: Callable[..., object], *args: object) -> Callable[[], None]:
    """A zero-argument callable that runs ``step(*args)`` on fake copies of the arguments.

    The arguments are deep-copied under ``FakeCopyMode``: every tensor, including module
    parameters and buffers, becomes a fake tensor with the same metadata and no storage;
    so the real model's values and gradients are never touched, and ties between tensors
    are kept. ``step`` must reach the model and data only through its arguments.
    """

    def run() -> None:
        mode = FakeTensorMode(allow_non_fake_inputs=True)
        try:
            with FakeCopyMode(mode):
                fake_args = copy.deepcopy(args)
        except Exception as exc:  # any object that cannot be copied: say so, fail closed
            raise MeteringError(f"cannot make fake copies of the step's arguments: {exc}") from exc
        with mode:
            step(*fake_args)

    return run


class StepMeter:
    """FLOP costs of training steps, counted once per step key and cached."""

    def __init__(
        self, *, formulas: Mapping[Any, Formula] | None = None, max_entries: int = 1024
    ) -> None:
        """Use our formula table plus ``formulas``; keep at most ``max_entries`` keys (LRU)."""
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._formulas = dict(formulas or {})
        self._max = max_entries
        self._cache: OrderedDict[Hashable, int] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def cost(self, step_key: Hashable, fn_for_counting: Callable[[], object]) -> int:
        """The FLOPs of the step with key ``step_key``, counting ``fn_for_counting`` if new."""
        cached = self._cache.get(step_key)
        if cached is not None:
            self.hits += 1
            self._cache.move_to_end(step_key)
            return cached
        flops = count_flops(fn_for_counting, formulas=self._formulas)
        self.misses += 1
        self._cache[step_key] = flops
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return flops

    def step_cost(self, step: Callable[..., object], *args: object) -> int:
        """The FLOPs of ``step(*args)``: keyed by ``step_signature``, counted on fake tensors."""
        return self.cost(step_signature(step, *args), on_fake(step, *args))

    def __len__(self) -> int:
        """Number of step keys cached."""
        return len(self._cache)

    def clear(self) -> None:
        """Forget every cached cost."""
        self._cache.clear()
