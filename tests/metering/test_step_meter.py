"""StepMeter: count once per step shape on fake or meta tensors, then read the cache."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from pausebutton.metering.torch import MeteringError, StepMeter, count_flops, step_signature
from tests.metering.models import MLP, Block, TinyGPT, regression_step, train_step

torch.manual_seed(0)

ModelAndBatch = tuple[Callable[[], nn.Module], tuple[int, ...]]
REGRESSION_CASES: dict[str, ModelAndBatch] = {
    "mlp": (lambda: MLP(12, 24, 6), (4, 5, 12)),
    "block": (lambda: Block(16, 2), (2, 8, 16)),
}


@pytest.mark.parametrize("case", REGRESSION_CASES)
def test_counting_on_meta_tensors_equals_counting_a_real_run(case: str) -> None:
    make, shape = REGRESSION_CASES[case]
    real, x = make(), torch.randn(*shape)
    with torch.device("meta"):
        meta = make()
    meta_x = torch.empty(*shape, device="meta")
    on_meta = StepMeter().cost("meta", lambda: regression_step(meta, meta_x))
    assert on_meta == count_flops(lambda: regression_step(real, x)) > 0


@pytest.mark.parametrize("case", REGRESSION_CASES)
def test_counting_on_fake_tensors_equals_counting_a_real_run(case: str) -> None:
    make, shape = REGRESSION_CASES[case]
    model, x = make(), torch.randn(*shape)
    on_fake = StepMeter().step_cost(regression_step, model, x)
    assert on_fake == count_flops(lambda: regression_step(model, x)) > 0


def test_fake_counting_of_a_language_model_equals_the_real_step() -> None:
    model = TinyGPT(vocab=64, seq=16, d=32, heads=4, layers=2)
    x, y = torch.randint(0, 64, (2, 16)), torch.randint(0, 64, (2, 16))
    on_fake = StepMeter().step_cost(train_step, model, x, y)
    assert on_fake == count_flops(lambda: train_step(model, x, y))


def test_fake_counting_leaves_the_real_model_untouched() -> None:
    model, x = Block(16, 2), torch.randn(2, 8, 16)
    before = [p.detach().clone() for p in model.parameters()]
    StepMeter().step_cost(regression_step, model, x)
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_step_of_a_seen_shape_is_read_from_the_cache() -> None:
    meter, layer, calls = StepMeter(), nn.Linear(4, 4), []

    def count() -> None:
        calls.append(1)
        layer(torch.randn(2, 4))

    assert meter.cost("k", count) == meter.cost("k", count) == 2 * 2 * 4 * 4
    assert (len(calls), meter.misses, meter.hits) == (1, 1, 1)


def test_a_governed_loop_is_charged_each_steps_real_work_before_it_runs() -> None:
    meter, model = StepMeter(), MLP(8, 16, 4)
    for batch in (4, 4, 6, 4, 6):
        x = torch.randn(batch, 8)
        charged = meter.step_cost(lambda m, b: regression_step(m, b), model, x)
        assert charged == count_flops(lambda: regression_step(model, x))  # noqa: B023
    assert (meter.misses, meter.hits, len(meter)) == (2, 3, 2)


@pytest.mark.parametrize(
    "change",
    [
        lambda m, x: (m, x.double()),
        lambda m, x: (m, x.requires_grad_()),
        lambda m, x: (m.eval(), x),
        lambda m, x: (m, x[:, :2]),
        lambda m, x: (nn.Linear(4, 3), x),
    ],
    ids=["dtype", "requires_grad", "training_flag", "shape", "parameters"],
)
def test_the_step_key_changes_with_what_changes_the_work(change: Callable[..., object]) -> None:
    model, x = nn.Linear(4, 2), torch.randn(3, 4)
    before = step_signature(regression_step, model, x)
    assert step_signature(regression_step, *change(model, x)) != before


def test_the_step_key_records_grad_mode() -> None:
    x = torch.randn(2)
    with torch.no_grad():
        without = step_signature(x)
    assert step_signature(x) != without


def test_an_argument_without_a_key_is_refused() -> None:
    with pytest.raises(MeteringError, match="no step key"):
        step_signature(object())


def test_the_least_recently_used_key_is_evicted() -> None:
    meter = StepMeter(max_entries=2)
    for key in ("a", "b", "a", "c"):
        meter.cost(key, lambda: None)
    assert (len(meter), meter.misses) == (2, 3)
    meter.cost("a", lambda: None)
    meter.cost("b", lambda: None)
    assert meter.misses == 4


def test_a_refused_count_is_not_cached() -> None:
    meter = StepMeter()

    def refused() -> None:
        torch.linalg.matrix_exp(torch.eye(2))

    for _ in range(2):
        with pytest.raises(MeteringError):
            meter.cost("k", refused)
    assert len(meter) == 0


def test_counting_a_billion_flop_layer_on_meta_costs_no_memory_or_arithmetic() -> None:
    with torch.device("meta"):
        layer = nn.Linear(16384, 16384)  # 1 GiB of float32 weights, never allocated
        x = torch.empty(64, 16384)
    assert StepMeter().cost("big", lambda: layer(x)) == 2 * 64 * 16384 * 16384


def test_the_step_key_covers_what_a_step_function_closes_over() -> None:
    def make(width: int) -> Callable[[nn.Module, torch.Tensor], None]:
        return lambda m, x: regression_step(m, x[:, :width])

    model, x = nn.Linear(4, 2), torch.randn(3, 4)
    assert step_signature(make(4), model, x) == step_signature(make(4), model, x)
    assert step_signature(make(4), model, x) != step_signature(make(2), model, x)


def test_the_step_key_covers_submodule_classes_without_parameters() -> None:
    relu, gelu = (
        nn.Sequential(nn.Linear(4, 4), nn.ReLU()),
        nn.Sequential(nn.Linear(4, 4), nn.GELU()),
    )
    gelu.load_state_dict(relu.state_dict())
    assert step_signature(relu) != step_signature(gelu)
