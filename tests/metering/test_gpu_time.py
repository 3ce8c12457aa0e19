"""The GPU-time meter, against a fake NVML that answers the same calls as ``pynvml``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pytest

from pausebutton.errors import FormatError
from pausebutton.metering.gpu_time import (
    GpuTimeMeter,
    NvmlUnavailableError,
    UnknownGpuError,
    flops_bound,
    match_accelerator,
    open_nvml,
    peak_flops,
)

S = 1_000_000_000
H100_FP8 = 1979 * 10**12
H100_BF16 = 989_500 * 10**9


@dataclass
class Utilization:
    """``nvmlUtilization_t``."""

    gpu: int
    memory: int = 0


@dataclass
class FakeGpu:
    """One GPU: what NVML says its name is, and the utilisations it reports in turn."""

    name: str | bytes
    utilisations: list[int]
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"


@dataclass
class FakeNvml:
    """A stand-in for the ``pynvml`` module, speaking its calls."""

    gpus: list[FakeGpu]
    fail_init: bool = False
    calls: list[str] = field(default_factory=list)

    def nvmlInit(self) -> None:
        self.calls.append("init")
        if self.fail_init:
            raise RuntimeError("NVML_ERROR_DRIVER_NOT_LOADED")

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def nvmlDeviceGetName(self, handle: FakeGpu) -> str | bytes:
        return handle.name

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> str:
        return handle.uuid

    def nvmlDeviceGetUtilizationRates(self, handle: FakeGpu) -> Utilization:
        return Utilization(handle.utilisations.pop(0))


class Clock:
    """A monotonic clock in nanoseconds that the test moves."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


@pytest.mark.parametrize(
    ("nvml_name", "table_name"),
    [
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB"),
        ("NVIDIA H100 PCIe", "NVIDIA H100 SXM5 80GB"),
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 SXM4 80GB"),
        ("NVIDIA A100 80GB PCIe", "NVIDIA A100 SXM4 80GB"),
        ("NVIDIA H200", "NVIDIA H200 SXM 141GB"),
        ("NVIDIA L4", "NVIDIA L4"),
        ("NVIDIA L40S", "NVIDIA L40S"),
        ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"),
        ("NVIDIA GeForce RTX 4090 D", "NVIDIA GeForce RTX 4090 D"),
        ("NVIDIA B200", "NVIDIA B200 (HGX)"),
    ],
)
def test_nvml_names_find_their_row_of_the_accelerator_table(
    nvml_name: str, table_name: str
) -> None:
    assert match_accelerator(nvml_name).spec.name == table_name


def test_peak_is_the_fastest_precision_unless_one_is_named() -> None:
    assert peak_flops("NVIDIA H100 80GB HBM3") == H100_FP8
    assert peak_flops("NVIDIA H100 80GB HBM3", bits=16) == H100_BF16
    assert peak_flops("NVIDIA A100-SXM4-80GB", bits=32) == 19_500 * 10**9
    with pytest.raises(UnknownGpuError, match="no listed rate at 4 bits"):
        peak_flops("NVIDIA H100 80GB HBM3", bits=4)


def test_an_unknown_gpu_is_refused_not_metered_as_free() -> None:
    with pytest.raises(UnknownGpuError, match="Tesla K80"):
        peak_flops("Tesla K80")
    with pytest.raises(UnknownGpuError):
        GpuTimeMeter(FakeNvml([FakeGpu("Tesla K80", [0])]))


def test_an_unknown_gpu_is_metered_at_a_given_peak() -> None:
    clock = Clock()
    nvml = FakeNvml([FakeGpu(b"Tesla K80", [100, 100])])
    meter = GpuTimeMeter(nvml, peaks={"Tesla K80": 4 * 10**12}, clock=clock)
    clock.now = 2 * S
    assert meter.sample() == 8 * 10**12
    assert meter.gpus[0].name == "Tesla K80"


def test_the_bound_is_peak_times_utilisation_times_time() -> None:
    clock = Clock()
    nvml = FakeNvml(
        [
            FakeGpu("NVIDIA H100 80GB HBM3", [50, 50, 50]),
            FakeGpu("NVIDIA A100-SXM4-80GB", [25, 25, 25]),
        ]
    )
    with GpuTimeMeter(nvml, bits=16, clock=clock) as meter:
        clock.now = 10 * S
        first = meter.sample()
        clock.now = 30 * S
        meter.sample()
    h100 = H100_BF16 * 50 * 30 // 100
    a100 = 312 * 10**12 * 25 * 30 // 100
    assert meter.flops == [h100, a100]
    assert meter.total == h100 + a100
    assert first == (h100 + a100) // 3
    assert nvml.calls == ["init", "shutdown"]


def test_an_interval_is_charged_at_the_busier_of_its_ends() -> None:
    clock = Clock()
    meter = GpuTimeMeter(FakeNvml([FakeGpu("H100", [0, 100, 0])]), bits=16, clock=clock)
    clock.now = S
    assert meter.sample() == H100_BF16
    clock.now = 2 * S
    assert meter.sample() == H100_BF16
    assert meter.total == 2 * H100_BF16


def test_an_idle_gpu_costs_nothing() -> None:
    clock = Clock()
    meter = GpuTimeMeter(FakeNvml([FakeGpu("H200", [0, 0])]), clock=clock)
    clock.now = 3600 * S
    assert meter.sample() == 0


def test_the_bound_rounds_up_exactly() -> None:
    assert flops_bound(3, 1, 1) == 1
    assert flops_bound(10**15, 37, 123_456_789) == -(-(10**15) * 37 * 123_456_789 // (100 * S))
    assert flops_bound(0, 100, S) == 0


@pytest.mark.parametrize(("util", "elapsed"), [(-1, 1), (101, 1), (50, -1)])
def test_impossible_inputs_are_refused(util: int, elapsed: int) -> None:
    with pytest.raises(FormatError):
        flops_bound(10, util, elapsed)


def test_a_utilisation_outside_0_to_100_is_refused() -> None:
    with pytest.raises(FormatError, match="utilisation 140"):
        GpuTimeMeter(FakeNvml([FakeGpu("H100", [140])]))


def test_a_clock_that_goes_backwards_is_refused() -> None:
    clock = Clock()
    clock.now = 5 * S
    meter = GpuTimeMeter(FakeNvml([FakeGpu("H100", [0, 0])]), clock=clock)
    clock.now = 4 * S
    with pytest.raises(FormatError, match="backwards"):
        meter.sample()


def test_nvml_that_will_not_start_is_reported() -> None:
    with pytest.raises(NvmlUnavailableError, match="DRIVER_NOT_LOADED"):
        GpuTimeMeter(FakeNvml([], fail_init=True))


def test_missing_pynvml_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(NvmlUnavailableError, match="nvidia-ml-py"):
        open_nvml()
