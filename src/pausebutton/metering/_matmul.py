"""FLOP formulas for the matrix-product kernels FlopCounterMode leaves out.

Every formula counts a multiply-add as 2 FLOPs, whatever the data type, so moving
work to int8 or int4 kernels does not move it off the meter.
"""

from __future__ import annotations

from typing import Any

import torch

from pausebutton.metering._formula import Formula, first, mask_count, numel, prod, raw, shape

aten = torch.ops.aten


def _out_times_k(out_val: object, k: int) -> int:
    """2·(output elements)·K: the cost of any product whose output element is a K-long dot."""
    return 2 * numel(first(out_val)) * int(k)


@raw
def self_k(a: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any) -> int:
    """Products ``a @ b`` whose contraction length is ``a``'s last dimension."""
    return _out_times_k(out_val, a.shape[-1])


@raw
def second_k(
    _bias: torch.Tensor, a: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any
) -> int:
    """Products ``bias + a @ b`` (addmv, _addmm_activation)."""
    return _out_times_k(out_val, a.shape[-1])


@raw
def addr(*args: Any, out_val: object = None, **kwargs: Any) -> int:
    """Outer product added to a matrix: one multiply-add per output element."""
    return _out_times_k(out_val, 1)


@raw
def addbmm(
    _bias: torch.Tensor, b1: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any
) -> int:
    """Sum over a batch of products: (M, N) output, each a batch·K-long dot."""
    return _out_times_k(out_val, b1.shape[0] * b1.shape[-1])


@raw
def dyn_quant_4bit(
    inp: torch.Tensor,
    _packed: torch.Tensor,
    _block: int,
    in_features: int,
    *args: Any,
    out_val: object = None,
    **kwargs: Any,
) -> int:
    """Dynamically quantised 4-bit linear: contraction over ``in_features``."""
    return _out_times_k(out_val, in_features)


@raw
def grouped_mm(
    a: torch.Tensor, b: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any
) -> int:
    """Grouped (mixture-of-experts) products: every row meets exactly one group's matrix.

    For 2-D by 2-D inputs the groups split the contraction dimension and the output has
    one (M, N) block per group; otherwise ``a``'s last dimension is the contraction.
    """
    out = first(out_val)
    if a.dim() == 2 and b.dim() == 2:
        return 2 * (numel(out) // int(out.shape[0])) * int(a.shape[-1])
    return _out_times_k(out, a.shape[-1])


@raw
def foreach_mm(
    mats: list[torch.Tensor], others: list[torch.Tensor], *args: Any, **kwargs: Any
) -> int:
    """A list of independent matrix products."""
    return sum(2 * numel(a) * int(b.shape[-1]) for a, b in zip(mats, others, strict=True))


@raw
def trilinear(
    i1: torch.Tensor,
    i2: torch.Tensor,
    i3: torch.Tensor,
    expand1: list[int],
    expand2: list[int],
    expand3: list[int],
    *args: Any,
    **kwargs: Any,
) -> int:
    """``_trilinear`` (nn.Bilinear and its backward): 2 FLOPs per point of the joint index space."""
    expanded: list[list[int]] = []
    for tensor, dims in ((i1, expand1), (i2, expand2), (i3, expand3)):
        sizes = list(shape(tensor))
        for d in sorted(dims):
            sizes.insert(d, 1)
        expanded.append(sizes)
    return 2 * prod(max(column) for column in zip(*expanded, strict=True))


@raw
def cdist_forward(
    x1: torch.Tensor, x2: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any
) -> int:
    """Direct p-norm distances: subtract, power and accumulate per coordinate (3 FLOPs)."""
    return 3 * numel(first(out_val)) * int(x1.shape[-1])


@raw
def cdist_backward(
    _grad: torch.Tensor,
    _x1: torch.Tensor,
    x2: torch.Tensor,
    *args: Any,
    out_val: object = None,
    **kwargs: Any,
) -> int:
    """Backward of direct p-norm distances (the gradient of x1): twice the forward."""
    return 6 * numel(first(out_val)) * int(x2.shape[-2])


@raw
def mkldnn_linear_backward(
    _x: torch.Tensor,
    grad_out: torch.Tensor,
    weight: torch.Tensor,
    output_mask: list[bool],
    *args: Any,
    **kwargs: Any,
) -> int:
    """Linear backward (oneDNN, nested): input and weight gradients, each 2·tokens·in·out."""
    return mask_count(output_mask, (0, 1)) * 2 * numel(grad_out) * int(weight.shape[1])


@raw
def grad_out_times_in(
    _first: object, grad_out: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """oneDNN linear input gradient: 2·tokens·in·out."""
    return 2 * numel(grad_out) * int(weight.shape[1])


@raw
def go_first_times_in(
    grad_out: torch.Tensor, _x: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """oneDNN linear weight gradient: 2·tokens·in·out."""
    return 2 * numel(grad_out) * int(weight.shape[1])


@raw
def matmul_backward(
    grad: torch.Tensor, a: torch.Tensor, _b: torch.Tensor, mask: list[bool], **kwargs: Any
) -> int:
    """``matmul_backward`` (nested tensors): each requested gradient is one product."""
    return mask_count(mask, (0, 1)) * 2 * numel(grad) * int(a.size(-1))


@raw
def pdist_forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    """Pairwise distances within one set of rows: 3 FLOPs per pair and coordinate."""
    rows = int(x.shape[-2])
    return 3 * (rows * (rows - 1) // 2) * int(x.shape[-1])


@raw
def pdist_backward(_grad: torch.Tensor, x: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    """Backward of pairwise distances: twice the forward."""
    return 2 * pdist_forward(x)


@raw
def linear_combination(
    x: torch.Tensor, _coefficients: torch.Tensor, *args: Any, out_val: object = None, **kw: Any
) -> int:
    """``_compute_linear_combination``: each output element combines ``x.shape[0]`` inputs."""
    return _out_times_k(out_val, x.shape[0])


@raw
def euclidean_dist(
    x1: torch.Tensor, x2: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any
) -> int:
    """Euclidean distances by matrix product of ``[x, |x|², 1]`` rows: K = features + 2."""
    return _out_times_k(out_val, int(x1.shape[-1]) + 2)


FORMULAS: dict[Any, Formula] = {
    aten.linear: self_k,
    aten.matmul: self_k,
    aten.linear_backward: mkldnn_linear_backward,
    aten.matmul_backward: matmul_backward,
    aten.addmm_: second_k,
    aten.baddbmm_: second_k,
    aten.addbmm_: addbmm,
    aten.addmv_: second_k,
    aten.addr_: addr,
    aten._compute_linear_combination: linear_combination,
    aten._pdist_forward: pdist_forward,
    aten._pdist_backward: pdist_backward,
    aten.mv: self_k,
    aten.dot: self_k,
    aten.vdot: self_k,
    aten.addmv: second_k,
    aten.addr: addr,
    aten.addbmm: addbmm,
    aten._addmm_activation: second_k,
    aten._int_mm: self_k,
    aten._scaled_mm_v2: self_k,
    aten._weight_int8pack_mm: self_k,
    aten._weight_int4pack_mm: self_k,
    aten._weight_int4pack_mm_for_cpu: self_k,
    aten._weight_int4pack_mm_with_scales_and_zeros: self_k,
    aten._mixed_dtypes_linear: self_k,
    aten._dyn_quant_matmul_4bit: dyn_quant_4bit,
    aten.mkldnn_linear: self_k,
    aten.mkldnn_linear_backward: mkldnn_linear_backward,
    aten.mkldnn_linear_backward_input: grad_out_times_in,
    aten.mkldnn_linear_backward_weights: go_first_times_in,
    aten._grouped_mm: grouped_mm,
    aten._scaled_grouped_mm: grouped_mm,
    aten._scaled_grouped_mm_v2: grouped_mm,
    aten._foreach_mm: foreach_mm,
    aten._trilinear: trilinear,
    aten._cdist_forward: cdist_forward,
    aten._cdist_backward: cdist_backward,
    aten._euclidean_dist: euclidean_dist,
}
