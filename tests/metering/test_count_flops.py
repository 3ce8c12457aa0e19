"""count_flops on real CPU work: hand-derived counts, attention included, nothing free."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as nnf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pausebutton.metering.torch import MeteringError, count_flops, measure
from tests.metering.models import MLP, Block, block_step_flops, mlp_step_flops, regression_step

torch.manual_seed(0)


def _qkv(b: int, h: int, s: int, d: int, kv_heads: int | None = None) -> list[torch.Tensor]:
    shapes = [(b, h, s, d), (b, kv_heads or h, s, d), (b, kv_heads or h, s, d)]
    return [torch.randn(*shape, requires_grad=True) for shape in shapes]


def test_linear_forward_is_2_b_in_out() -> None:
    layer, x = nn.Linear(8, 5), torch.randn(3, 8)
    assert count_flops(lambda: layer(x)) == 2 * 3 * 8 * 5


def test_linear_backward_is_4_b_in_out_when_the_input_needs_a_gradient() -> None:
    layer, x = nn.Linear(8, 5), torch.randn(3, 8, requires_grad=True)
    assert count_flops(lambda: layer(x).sum().backward()) == (2 + 4) * 3 * 8 * 5


def test_mlp_forward_and_backward_match_the_hand_count() -> None:
    mlp, x = MLP(12, 24, 6), torch.randn(4, 5, 12)
    assert count_flops(lambda: regression_step(mlp, x)) == mlp_step_flops(20, 12, 24, 6)


def test_flop_counter_mode_alone_meters_cpu_attention_as_free() -> None:
    q, k, v = _qkv(2, 2, 8, 4)
    mode = FlopCounterMode(display=False)
    with mode:
        nnf.scaled_dot_product_attention(q, k, v).sum().backward()
    assert mode.get_total_flops() == 0  # the gap this package closes


def test_sdpa_on_cpu_is_counted_and_not_zero() -> None:
    q, k, v = _qkv(2, 2, 8, 4)
    report = measure(lambda: nnf.scaled_dot_product_attention(q, k, v))
    assert report.by_op == {"aten._scaled_dot_product_flash_attention_for_cpu": 2 * 4 * 8 * 8 * 8}


def _explicit(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1) @ v


@pytest.mark.parametrize("backward", [False, True])
def test_sdpa_counts_the_same_as_explicit_attention(backward: bool) -> None:
    q, k, v = _qkv(2, 3, 16, 8)

    def run(attention: object) -> int:
        def fn() -> None:
            out = attention(q, k, v)
            if backward:
                out.sum().backward()

        return count_flops(fn)

    assert run(nnf.scaled_dot_product_attention) == run(_explicit) > 0


@pytest.mark.parametrize(
    "kwargs",
    [{"is_causal": True}, {"attn_mask": torch.randn(8, 8)}, {"dropout_p": 0.1}],
    ids=["causal", "mask", "dropout-math-path"],
)
def test_every_sdpa_cpu_path_charges_the_full_matmuls(kwargs: dict[str, object]) -> None:
    q, k, v = _qkv(2, 2, 8, 4)
    flops = count_flops(
        lambda: nnf.scaled_dot_product_attention(q, k, v, **kwargs).sum().backward()
    )
    assert flops == 3 * (2 * 4 * 8 * 8 * 8)


def test_grouped_query_attention_charges_every_query_head() -> None:
    q, k, v = _qkv(2, 4, 8, 4, kv_heads=2)
    fn = lambda: nnf.scaled_dot_product_attention(q, k, v, enable_gqa=True)  # noqa: E731
    assert count_flops(fn) == 2 * (2 * 4) * 8 * 8 * (4 + 4)


def test_transformer_block_matches_the_hand_count() -> None:
    block, x = Block(16, 2), torch.randn(2, 8, 16)
    assert count_flops(lambda: regression_step(block, x)) == block_step_flops(2, 8, 16)


def test_block_with_sdpa_equals_block_with_written_out_attention() -> None:
    fused, explicit = Block(16, 4), Block(16, 4, explicit=True)
    x = torch.randn(2, 8, 16)
    assert count_flops(lambda: regression_step(fused, x)) == count_flops(
        lambda: regression_step(explicit, x)
    )


@pytest.mark.parametrize("module", ["mha", "encoder"])
def test_inference_fast_paths_charge_what_the_slow_path_charges(module: str) -> None:
    def make() -> nn.Module:
        torch.manual_seed(1)
        if module == "mha":
            return nn.MultiheadAttention(16, 2, dropout=0.0, batch_first=True)
        return nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)

    x = torch.randn(2, 8, 16)

    def call(m: nn.Module) -> object:
        return m(x, x, x, need_weights=False) if module == "mha" else m(x)

    fast, slow = make().eval(), make().train()
    with torch.inference_mode():
        report = measure(lambda: call(fast))
    with torch.no_grad():
        expected = count_flops(lambda: call(slow))
    fused = {
        "mha": "aten._native_multi_head_attention",
        "encoder": "aten._transformer_encoder_layer_fwd",
    }
    assert report.by_op == {fused[module]: expected}


def test_encoder_fast_path_on_padded_batch_charges_each_sequence() -> None:
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=True).eval()
    x, pad = torch.randn(2, 8, 16), torch.zeros(2, 8, dtype=torch.bool)
    pad[1, 5:] = True
    with torch.no_grad():
        report = measure(lambda: encoder(x, src_key_padding_mask=pad))
    tokens, e, ffn = 8 + 5, 16, 32
    expected = 8 * tokens * e * e + 4 * e * (8 * 8 + 5 * 5) + 4 * tokens * e * ffn
    assert report.by_op == {"aten._transformer_encoder_layer_fwd": expected}


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_on_cpu_fused_kernel_is_charged_per_timestep(bidirectional: bool) -> None:
    lstm = nn.LSTM(6, 8, num_layers=2, bidirectional=bidirectional)
    x = torch.randn(5, 3, 6, requires_grad=True)
    report = measure(lambda: lstm(x)[0].sum().backward())
    matrices = sum(p.numel() for p in lstm.parameters() if p.dim() == 2)
    assert set(report.by_op) == {"aten.mkldnn_rnn_layer", "aten.mkldnn_rnn_layer_backward"}
    assert report.total == 3 * 2 * (5 * 3) * matrices


def test_embedding_lookup_and_its_gradient_are_linear_time_and_charged_zero() -> None:
    emb = nn.Embedding(50, 8)
    report = measure(lambda: emb(torch.randint(0, 50, (2, 4))).sum().backward())
    assert report.total == 0
    assert {"aten.embedding", "aten.embedding_dense_backward"} <= set(report.uncounted)


def test_elementwise_ops_are_reported_as_uncounted() -> None:
    mlp, x = MLP(4, 8, 2), torch.randn(3, 4)
    report = measure(lambda: regression_step(mlp, x))
    assert "aten.gelu" in report.uncounted
    assert "aten.gelu_backward" in report.uncounted


def test_inference_mode_with_an_input_that_requires_grad_is_counted() -> None:
    layer, x = nn.Linear(4, 4), torch.randn(2, 4, requires_grad=True)
    with torch.inference_mode():
        assert count_flops(lambda: layer(x)) == 2 * 2 * 4 * 4


def test_a_custom_op_without_a_formula_is_refused() -> None:
    with pytest.raises(MeteringError, match=r"pbtest\.secret_matmul"):
        count_flops(lambda: torch.ops.pbtest.secret_matmul(torch.randn(4, 8), torch.randn(8, 2)))


def test_a_custom_op_is_counted_with_the_callers_formula() -> None:
    def formula(a: torch.Tensor, b: torch.Tensor, **kwargs: object) -> int:
        return 2 * a.shape[0] * a.shape[1] * b.shape[1]

    fn = lambda: torch.ops.pbtest.secret_matmul(torch.randn(4, 8), torch.randn(8, 2))  # noqa: E731
    assert count_flops(fn, formulas={torch.ops.pbtest.secret_matmul: formula}) == 128


def test_refusal_inside_backward_propagates_as_metering_error() -> None:
    x = torch.randn(3, 3, requires_grad=True)
    with pytest.raises(MeteringError):
        count_flops(lambda: torch.ops.pbtest.hidden_backward(x).sum().backward())


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("aten._sparse_addmm", lambda: torch.sparse.mm(torch.eye(4).to_sparse(), torch.ones(4, 2))),
        ("aten.linalg_matrix_exp", lambda: torch.linalg.matrix_exp(torch.eye(3))),
    ],
)
def test_known_products_without_a_formula_are_refused(name: str, fn: object) -> None:
    with pytest.raises(MeteringError, match=name):
        count_flops(fn)


@torch.library.custom_op("pbtest::secret_matmul", mutates_args=())
def _secret_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b


@torch.library.custom_op("pbtest::hidden_backward", mutates_args=())
def _hidden_backward(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


def _hidden_backward_grad(ctx: object, grad: torch.Tensor) -> torch.Tensor:
    return _secret_matmul(grad, torch.eye(grad.shape[-1]))


torch.library.register_autograd("pbtest::hidden_backward", _hidden_backward_grad)


def test_a_formula_that_cannot_read_its_arguments_fails_closed() -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise IndexError("no such argument")

    with pytest.raises(MeteringError, match=r"formula for aten\.mm failed"):
        count_flops(
            lambda: torch.randn(2, 2) @ torch.randn(2, 2), formulas={torch.ops.aten.mm: broken}
        )
