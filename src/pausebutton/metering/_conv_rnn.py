"""FLOP formulas for backend convolution kernels and fused recurrent kernels.

``aten.convolution`` and ``convolution_backward`` are in FlopCounterMode's own table; the
backend kernels below run as separate operators only when called directly (or, for
double backward, through gradient penalties). Fused RNN kernels (oneDNN on CPU, cuDNN,
MIOpen, MPS) hide every per-timestep product inside one operator.

Upstream's ``convolution_backward`` formula charges a grouped convolution's weight
gradient as if it were ungrouped (``groups`` times too much: 384× for a depthwise
convolution of 384 channels); it is replaced by one that reads the grouped weight.
Upstream also applies ``aten.convolution``'s formula to ``_slow_conv2d_forward`` (which
then raises) and ``cudnn_convolution`` (whose ``benchmark`` flag it reads as
``transposed``), whose arguments differ; both are replaced.
"""

from __future__ import annotations

from typing import Any

import torch

from pausebutton.metering._formula import Formula, first, mask_count, numel, raw

aten = torch.ops.aten


def _dot_length(weight: torch.Tensor) -> int:
    """Elements of one filter: the dot-product length behind each output (or input) element."""
    return numel(weight) // int(weight.shape[0])


@raw
def conv_direct(
    _x: torch.Tensor, weight: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any
) -> int:
    """A direct convolution, weight (C_out, C_in/groups, *kernel): 2·outputs·filter size."""
    return 2 * numel(first(out_val)) * _dot_length(weight)


@raw
def conv_transposed(x: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    """A transposed convolution, weight (C_in, C_out/groups, *kernel): 2·inputs·filter size."""
    return 2 * numel(x) * _dot_length(weight)


@raw
def conv_tbc(
    _x: torch.Tensor, weight: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any
) -> int:
    """Time-batch-channel convolution, weight (kernel, C_in, C_out)."""
    return 2 * numel(first(out_val)) * (numel(weight) // int(weight.shape[-1]))


@raw
def conv_tbc_backward(
    grad: torch.Tensor, _x: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """Time-batch-channel convolution backward: input and weight gradients."""
    return 4 * numel(grad) * (numel(weight) // int(weight.shape[-1]))


@raw
def slow_conv2d_backward(
    grad_out: torch.Tensor, _x: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """Backward of the direct 2-D kernel: input and weight gradients as the mask asks."""
    mask = args[3] if len(args) > 3 else None
    return mask_count(mask, (0, 1)) * 2 * numel(grad_out) * _dot_length(weight)


@raw
def mps_conv_backward(
    _x: torch.Tensor, grad_out: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """Backward of the MPS convolution (output_mask last)."""
    return mask_count(args[-1], (0, 1)) * 2 * numel(grad_out) * _dot_length(weight)


@raw
def mps_conv_transpose_backward(
    x: torch.Tensor, _grad_out: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """Backward of the MPS transposed convolution (output_mask last)."""
    return mask_count(args[-1], (0, 1)) * 2 * numel(x) * _dot_length(weight)


def _conv_backward(
    grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, transposed: object, mask: object
) -> int:
    """Input and weight gradients, each as costly as the forward convolution."""
    forward = 2 * numel(x if transposed else grad_out) * _dot_length(weight)
    return mask_count(mask, (0, 1)) * forward


@raw
def conv_backward(
    grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """``convolution_backward`` (bias_sizes, stride, padding, dilation, transposed, ...)."""
    return _conv_backward(grad_out, x, weight, args[4], args[7])


@raw
def conv_backward_overrideable(
    grad_out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """``convolution_backward_overrideable`` (stride, padding, dilation, transposed, ...)."""
    return _conv_backward(grad_out, x, weight, args[3], args[6])


@raw
def conv_double_backward(
    gg_in: object,
    gg_w: object,
    _gg_b: object,
    grad_out: torch.Tensor,
    weight: torch.Tensor,
    x: torch.Tensor,
    *args: Any,
    **kwargs: Any,
) -> int:
    """Double backward (gradient penalties): up to four convolution-sized products."""
    transposed, mask = bool(args[3]), args[6]
    side = x if transposed else grad_out
    conv = 2 * numel(side) * _dot_length(weight)
    terms = 0
    if isinstance(gg_in, torch.Tensor):
        terms += mask_count(mask, (0, 1))  # grad of grad_out; weight gradient
    if isinstance(gg_w, torch.Tensor):
        terms += mask_count(mask, (0, 2))  # grad of grad_out; input gradient
    return terms * conv


def _steps(x: torch.Tensor) -> int:
    """Timesteps times batch rows an RNN processes (for packed sequences, the packed rows)."""
    return numel(x) // int(x.shape[-1])


def _matrices(weights: list[torch.Tensor]) -> int:
    """Elements of an RNN's weight matrices (biases excluded)."""
    return sum(numel(w) for w in weights if isinstance(w, torch.Tensor) and w.dim() == 2)


@raw
def onednn_rnn_layer(
    x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """oneDNN RNN/LSTM/GRU layer (one direction): every step multiplies both matrices."""
    return 2 * _steps(x) * (numel(w_ih) + numel(w_hh))


@raw
def onednn_rnn_layer_backward(
    x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, *args: Any, **kwargs: Any
) -> int:
    """oneDNN RNN layer backward: data and weight gradients, twice the forward."""
    return 4 * _steps(x) * (numel(w_ih) + numel(w_hh))


@raw
def cudnn_rnn(x: torch.Tensor, weights: list[torch.Tensor], *args: Any, **kwargs: Any) -> int:
    """cuDNN or MIOpen RNN (all layers and directions): 2·steps·matrix elements."""
    return 2 * _steps(x) * _matrices(weights)


@raw
def cudnn_rnn_backward(
    x: torch.Tensor, weights: list[torch.Tensor], *args: Any, **kwargs: Any
) -> int:
    """cuDNN or MIOpen RNN backward: the data pass (always run, weight gradients need it)
    and, when asked for, the weight pass; each 2·steps·matrix elements."""
    mask = args[-1]
    data = 1 if mask_count(mask, (0, 1, 2, 3)) else 0
    return (data + mask_count(mask, (3,))) * 2 * _steps(x) * _matrices(weights)


@raw
def mps_lstm(x: torch.Tensor, _hx: object, params: list[torch.Tensor], *a: Any, **k: Any) -> int:
    """MPS LSTM (all layers and directions)."""
    return 2 * _steps(x) * _matrices(params)


@raw
def mps_lstm_backward(*args: Any, **kwargs: Any) -> int:
    """MPS LSTM backward: twice the forward."""
    return 4 * _steps(args[5]) * _matrices(args[8])


_DIRECT = (
    aten._slow_conv2d_forward, aten.cudnn_convolution,  # upstream reads them as aten.convolution
    aten._conv_depthwise2d, aten.conv_depthwise3d, aten.slow_conv3d_forward,
    aten.slow_conv_dilated2d, aten.slow_conv_dilated3d, aten.mkldnn_convolution,
    aten.miopen_convolution, aten.miopen_depthwise_convolution, aten._nnpack_spatial_convolution,
    aten._mps_convolution, aten.cudnn_convolution_relu, aten.cudnn_convolution_add_relu,
    aten.miopen_convolution_relu, aten.miopen_convolution_add_relu,
)  # fmt: skip
_TRANSPOSED = (
    aten.slow_conv_transpose2d, aten.slow_conv_transpose3d, aten.cudnn_convolution_transpose,
    aten.miopen_convolution_transpose, aten._mps_convolution_transpose,
)  # fmt: skip

FORMULAS: dict[Any, Formula] = {
    **dict.fromkeys(_DIRECT, conv_direct),
    **dict.fromkeys(_TRANSPOSED, conv_transposed),
    aten.conv_tbc: conv_tbc,
    aten.conv_tbc_backward: conv_tbc_backward,
    aten._slow_conv2d_backward: slow_conv2d_backward,
    aten.mps_convolution_backward: mps_conv_backward,
    aten.mps_convolution_transpose_backward: mps_conv_transpose_backward,
    aten.convolution_backward: conv_backward,
    aten.convolution_backward_overrideable: conv_backward_overrideable,
    aten._convolution_double_backward: conv_double_backward,
    aten.mkldnn_rnn_layer: onednn_rnn_layer,
    aten.mkldnn_rnn_layer_backward: onednn_rnn_layer_backward,
    aten._cudnn_rnn: cudnn_rnn,
    aten._cudnn_rnn_backward: cudnn_rnn_backward,
    aten.miopen_rnn: cudnn_rnn,
    aten.miopen_rnn_backward: cudnn_rnn_backward,
    aten._lstm_mps: mps_lstm,
    aten.lstm_mps_backward: mps_lstm_backward,
}
