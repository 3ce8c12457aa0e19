"""The metering policy as data: our formulas, the kernels refused, the namespaces free.

Every operator a counted function runs falls in exactly one class:

1. it has a formula (FlopCounterMode's own table, overridden and extended by ``FORMULAS``):
   charged by the formula;
2. it is an ``aten`` (or other listed-namespace) operator with no formula and not in
   ``REFUSED``: it costs time linear in its inputs and outputs (elementwise arithmetic,
   reductions, normalisation, softmax, indexing, embedding lookups, copies,
   collectives) and is charged 0, the convention of the 6·N·D rule;
3. anything else (``REFUSED`` kernels, which do products we have no formula for, and
   operators from any other namespace: custom ops, quantized ops, Triton kernels) is
   refused: counting raises ``MeteringError`` rather than metering real work as free.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pausebutton.metering import _attention, _conv_rnn, _linalg_fft, _matmul
from pausebutton.metering._formula import Formula

FORMULAS: Mapping[Any, Formula] = {
    **_matmul.FORMULAS,
    **_attention.FORMULAS,
    **_conv_rnn.FORMULAS,
    **_linalg_fft.FORMULAS,
}
"""Our formulas by operator packet, applied over FlopCounterMode's table."""

REFUSED: frozenset[str] = frozenset(
    {
        # sparse and semi-structured (2:4) products: the work depends on the sparsity
        "aten._sparse_addmm",
        "aten._sparse_mm_reduce_impl",
        "aten._sparse_mm_reduce_impl_backward",
        "aten._sparse_semi_structured_addmm",
        "aten._sparse_semi_structured_linear",
        "aten._sparse_semi_structured_mm",
        "aten._sparse_sparse_matmul",
        "aten._cslt_sparse_mm",
        "aten.hspmm",
        "aten.sparse_sampled_addmm",
        "aten._spsolve",
        "aten._cslt_sparse_mm_search",
        "aten.sspaddmm",
        # dynamically quantised recurrent layers: weights in opaque packed objects
        "aten.quantized_lstm",
        "aten.quantized_gru",
        # the number of products depends on the matrix norm (data-dependent)
        "aten.linalg_matrix_exp",
    }
)
"""``aten`` kernels that do real products but have no formula: counting them raises."""

FREE_NAMESPACES: frozenset[str] = frozenset(
    {"aten", "prim", "prims", "profiler", "c10d", "_c10d_functional", "_dtensor"}
)
"""Operator namespaces whose operators without a formula are linear-time (charged 0)."""
