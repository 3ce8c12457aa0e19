"""GPU-time metering: an upper bound on a GPU's work, peak FLOP/s × utilisation × time.

Where counting each kernel is not possible (a job we do not run under our PyTorch
integration), a GPU's work is bounded from the outside: NVML reports, per GPU, the
percentage of the last sample period in which any kernel ran; the bound over an interval
is the GPU's dense peak FLOP/s × that percentage × the interval. It is a *bound*, not an
estimate: a busy GPU rarely runs at peak, so real FLOPs are lower. To keep it a bound,
each interval is charged at the larger of the utilisations read at its two ends, and a
GPU is charged at its fastest precision unless the caller names one (the meter cannot see
which precision kernels use; a named one is a bound only if the job can use nothing
faster, and TF32 tensor work outruns the table's 32-bit rates). Sample at least as often
as NVML's own period (1/6 s to 1 s by product) for a faithful integral.

Peak rates come from the one sourced table, ``regulation/data/accelerators.json`` (dense
datasheet figures; sparse ones halved; each row cites its source). NVML's names are
matched to it by the longest prefix of words after the vendor: ``NVIDIA H100 80GB HBM3``
is ``H100``, ``NVIDIA A100-SXM4-80GB`` is ``A100``. Variants (PCIe, NVL) take the listed
SXM part's rate, so the bound errs high, never low. A GPU that is not in the table is
refused unless its peak is given: nothing is metered as free.

NVML is read through `NvmlLike`, the few calls of ``pynvml`` (package ``nvidia-ml-py``,
imported only by `open_nvml`), so tests run here with a fake.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import TracebackType
from typing import Any, Protocol, cast

from pausebutton.errors import Error, FormatError
from pausebutton.regulation.accelerators import AcceleratorRecord, record_by_name

NS_PER_S = 1_000_000_000
TERA = 10**12
_VENDOR_WORDS = {"NVIDIA", "GEFORCE", "TESLA"}


class NvmlUnavailableError(Error):
    """NVML cannot be used here: ``nvidia-ml-py`` is missing or no NVIDIA driver answers."""


class UnknownGpuError(FormatError):
    """A GPU has no known peak FLOP/s, so its work cannot be bounded."""


class UtilizationLike(Protocol):
    """NVML's ``nvmlUtilization_t``: percentages over the last sample period."""

    @property
    def gpu(self) -> int:
        """Percent of the period in which one or more kernels ran."""


class NvmlLike(Protocol):
    """The NVML calls the meter makes (``pynvml`` has them all)."""

    def nvmlInit(self) -> None:  # noqa: N802 (NVML's names)
        """Start NVML."""

    def nvmlShutdown(self) -> None:  # noqa: N802 (NVML's names)
        """Stop NVML."""

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802 (NVML's names)
        """Number of GPUs."""

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:  # noqa: N802 (NVML's names)
        """A handle to GPU `index`."""

    def nvmlDeviceGetName(self, handle: Any) -> str | bytes:  # noqa: N802 (NVML's names)
        """The GPU's product name."""

    def nvmlDeviceGetUUID(self, handle: Any) -> str | bytes:  # noqa: N802 (NVML's names)
        """The GPU's UUID."""

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> UtilizationLike:  # noqa: N802 (NVML's names)
        """The GPU's current utilisation."""


def open_nvml() -> NvmlLike:
    """Import ``pynvml`` (package ``nvidia-ml-py``), or raise NvmlUnavailableError."""
    try:
        return cast(NvmlLike, importlib.import_module("pynvml"))
    except ImportError:
        raise NvmlUnavailableError("pynvml is not installed (pip install nvidia-ml-py)") from None


def match_accelerator(nvml_name: str) -> AcceleratorRecord:
    """The row of the accelerator table that NVML's product name `nvml_name` denotes."""
    words = nvml_name.replace("-", " ").replace("_", " ").split()
    while words and words[0].upper() in _VENDOR_WORDS:
        words = words[1:]
    for n in range(len(words), 0, -1):
        try:
            return record_by_name(" ".join(words[:n]))
        except FormatError:
            continue
    raise UnknownGpuError(f"no peak FLOP/s is known for GPU {nvml_name!r}; pass its peak")


def peak_flops(nvml_name: str, bits: int | None = None) -> int:
    """Dense peak FLOP/s of a GPU at operand length `bits` (None: its fastest precision)."""
    tops = match_accelerator(nvml_name).spec.dense_tops_by_bits
    if bits is None:
        rate = max(tops.values())
    elif bits in tops:
        rate = tops[bits]
    else:
        known = ", ".join(str(b) for b in sorted(tops))
        raise UnknownGpuError(f"{nvml_name!r} has no listed rate at {bits} bits ({known})")
    return int(Fraction(str(rate)) * TERA)


def flops_bound(peak: int, utilisation_percent: int, elapsed_ns: int) -> int:
    """The FLOPs bound of `elapsed_ns` at `utilisation_percent` of `peak` FLOP/s, rounded up."""
    if not 0 <= utilisation_percent <= 100:
        raise FormatError(f"utilisation must be 0..100 percent, got {utilisation_percent}")
    if peak < 0 or elapsed_ns < 0:
        raise FormatError("peak and elapsed time must not be negative")
    return -(-peak * utilisation_percent * elapsed_ns // (100 * NS_PER_S))


@dataclass(frozen=True)
class Gpu:
    """One metered GPU: its NVML index, name, UUID and the peak it is charged at."""

    index: int
    name: str
    uuid: str
    peak_flops: int


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class GpuTimeMeter:
    """Integrates peak FLOP/s × utilisation × time for every GPU NVML sees; owns NVML's start."""

    def __init__(
        self,
        nvml: NvmlLike,
        *,
        bits: int | None = None,
        peaks: Mapping[str, int] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        try:
            nvml.nvmlInit()
        except Exception as exc:
            raise NvmlUnavailableError(f"NVML did not start: {exc}") from None
        self._nvml = nvml
        self._clock = clock
        self._handles = [
            nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())
        ]
        gpus = []
        for index, handle in enumerate(self._handles):
            name = _text(nvml.nvmlDeviceGetName(handle))
            peak = (peaks or {}).get(name)
            gpus.append(
                Gpu(
                    index=index,
                    name=name,
                    uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                    peak_flops=peak_flops(name, bits) if peak is None else peak,
                )
            )
        self.gpus = tuple(gpus)
        self.flops = [0] * len(self.gpus)
        """Bound so far per GPU, in FLOP."""
        self._last_time = clock()
        self._last_util = self._utilisations()

    @classmethod
    def from_nvml(cls, **options: Any) -> GpuTimeMeter:
        """A meter over the real NVML (`open_nvml`), with the same options."""
        return cls(open_nvml(), **options)

    def _utilisations(self) -> list[int]:
        found = []
        for gpu, handle in zip(self.gpus, self._handles, strict=True):
            util = self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu
            if isinstance(util, bool) or not isinstance(util, int) or not 0 <= util <= 100:
                raise FormatError(f"GPU {gpu.index} reports utilisation {util!r}, not 0..100")
            found.append(util)
        return found

    def sample(self) -> int:
        """Read every GPU, charge the interval since the last sample; return FLOPs added."""
        now = self._clock()
        util = self._utilisations()
        elapsed = now - self._last_time
        if elapsed < 0:
            raise FormatError("the meter's clock went backwards")
        added = 0
        for i, gpu in enumerate(self.gpus):
            charge = flops_bound(gpu.peak_flops, max(util[i], self._last_util[i]), elapsed)
            self.flops[i] += charge
            added += charge
        self._last_time, self._last_util = now, util
        return added

    @property
    def total(self) -> int:
        """Bound so far over all GPUs, in FLOP."""
        return sum(self.flops)

    def close(self) -> None:
        """Shut NVML down."""
        self._nvml.nvmlShutdown()

    def __enter__(self) -> GpuTimeMeter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
