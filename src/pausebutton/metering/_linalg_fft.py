"""FLOP formulas for dense linear algebra and FFTs (preconditioning optimizers, FFT mixers).

Decompositions use the textbook counts of Golub and Van Loan, *Matrix Computations*
(4th ed., tables 3.2, 5.2 and 8.6): the dominant terms, for each matrix of a batch, with
``m ≥ n`` the larger and smaller side. An FFT of N points costs 5·N·log₂N (2.5·N·log₂N
for a real one). Gradients of these operators run as matrix products and are counted so.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import torch

from pausebutton.metering._formula import Formula, first, numel, prod, raw

aten = torch.ops.aten


def _sides(a: torch.Tensor) -> tuple[int, int, int]:
    """Batch count, larger side and smaller side of a (batched) matrix."""
    rows, cols = int(a.shape[-2]), int(a.shape[-1])
    return prod(a.shape[:-2]), max(rows, cols), min(rows, cols)


def _ceil(value: Fraction | int) -> int:
    """Round a FLOP count up to an integer."""
    return max(0, math.ceil(value))


def _cubic(coefficient: Fraction) -> Formula:
    """A square-matrix operator costing ``coefficient·n³`` per matrix."""

    @raw
    def formula(a: torch.Tensor, *args: Any, **kwargs: Any) -> int:
        batch, _, n = _sides(a)
        return batch * _ceil(coefficient * n**3)

    formula.__doc__ = f"{coefficient}·n³ per matrix."
    return formula


def _solve(factor: Fraction, per_rhs: int, matrix_at: int, rhs_at: int) -> Formula:
    """Factor (``factor``·n³ per matrix) then ``per_rhs``·n² per right-hand-side column."""

    @raw
    def formula(*args: Any, **kwargs: Any) -> int:
        a, b = args[matrix_at], args[rhs_at]
        batch, _, n = _sides(a)
        columns = numel(b) // n
        return batch * _ceil(factor * n**3) + per_rhs * n * n * columns

    formula.__doc__ = f"{factor}·n³ per matrix plus {per_rhs}·n² per right-hand side."
    return formula


def _qr_r(m: int, n: int) -> Fraction:
    """Householder QR, R only: 2mn² − 2n³/3."""
    return 2 * m * n * n - Fraction(2, 3) * n**3


def _outputs(out_val: object) -> tuple[torch.Tensor, ...]:
    """An operator's tensor outputs (operators drop arguments left at their defaults, so the
    formulas below read what was computed from the outputs instead)."""
    if isinstance(out_val, torch.Tensor):
        return (out_val,)
    if isinstance(out_val, tuple | list):
        return tuple(o for o in out_val if isinstance(o, torch.Tensor))
    return ()


@raw
def qr(a: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any) -> int:
    """QR: R, plus Q when formed (reduced) or completed (complete), read from Q's shape."""
    batch, m, n = _sides(a)
    cost = _qr_r(m, n)
    q = _outputs(out_val)[0]
    if numel(q) and int(q.shape[-1]) == int(q.shape[-2]) == m and m > n:
        cost += 4 * m * m * n - 4 * m * n * n + Fraction(4, 3) * n**3
    elif numel(q):
        cost += _qr_r(m, n)
    return batch * _ceil(cost)


@raw
def geqrf(a: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    """Householder QR in compact form."""
    batch, m, n = _sides(a)
    return batch * _ceil(_qr_r(m, n))


def _svd_cost(m: int, n: int, vectors: bool, full: bool) -> Fraction:
    """Golub–Reinsch SVD of an m×n matrix, m ≥ n."""
    if not vectors:
        return 4 * m * n * n - Fraction(4, 3) * n**3
    if full:
        return Fraction(4 * m * m * n + 8 * m * n * n + 9 * n**3)
    return Fraction(14 * m * n * n + 8 * n**3)


@raw
def svd(a: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any) -> int:
    """SVD: values only, thin or full vectors, read from U's shape."""
    batch, m, n = _sides(a)
    u = _outputs(out_val)[0]
    full = bool(numel(u)) and int(u.shape[-1]) == int(u.shape[-2]) and m > n
    return batch * _ceil(_svd_cost(m, n, bool(numel(u)), full))


@raw
def eigh(a: torch.Tensor, *args: Any, out_val: object = None, **kwargs: Any) -> int:
    """Symmetric eigendecomposition: 9n³ with vectors, 4n³/3 values only."""
    batch, _, n = _sides(a)
    vectors = numel(_outputs(out_val)[1]) > 0
    return batch * _ceil((Fraction(9) if vectors else Fraction(4, 3)) * n**3)


@raw
def pinv(a: torch.Tensor, *args: Any, hermitian: bool = False, **kwargs: Any) -> int:
    """Pseudo-inverse: an eigendecomposition (hermitian) or thin SVD, then V·Σ⁺·Uᵀ."""
    batch, m, n = _sides(a)
    factor = Fraction(9 * n**3) if hermitian else _svd_cost(m, n, True, False)
    return batch * _ceil(factor + 2 * m * n * n)


@raw
def lstsq(a: torch.Tensor, b: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    """Least squares by QR: factor A, then apply Qᵀ and back-substitute per column."""
    batch, m, n = _sides(a)
    columns = numel(b) // int(b.shape[-2]) if b.dim() > 1 else 1
    return batch * _ceil(_qr_r(m, n)) + 4 * m * n * columns


@raw
def householder_product(a: torch.Tensor, tau: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    """Forming Q from k reflectors: 4mnk − 2(m+n)k² + 4k³/3."""
    batch, m, n = _sides(a)
    k = int(tau.shape[-1])
    return batch * _ceil(4 * m * n * k - 2 * (m + n) * k * k + Fraction(4, 3) * k**3)


@raw
def ormqr(a: torch.Tensor, tau: torch.Tensor, c: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    """Applying k reflectors to C: at most 4·rows·columns·k."""
    return 4 * numel(c) * int(tau.shape[-1])


def _fft(points: int, transforms: int, per_point: Fraction) -> int:
    """``transforms`` FFTs of ``points`` points at ``per_point``·N·log₂N each."""
    if points <= 1:
        return 0
    return _ceil(per_point * transforms * points * Fraction(math.log2(points)))


@raw
def fft_r2c(x: torch.Tensor, dim: list[int], *args: Any, **kwargs: Any) -> int:
    """Real-to-complex FFT over ``dim``."""
    points = prod(x.shape[d] for d in dim)
    return _fft(points, numel(x) // max(points, 1), Fraction(5, 2))


@raw
def fft_c2c(x: torch.Tensor, dim: list[int], *args: Any, **kwargs: Any) -> int:
    """Complex FFT over ``dim``."""
    points = prod(x.shape[d] for d in dim)
    return _fft(points, numel(x) // max(points, 1), Fraction(5))


@raw
def fft_c2r(x: torch.Tensor, dim: list[int], *args: Any, out_val: object = None, **k: Any) -> int:
    """Complex-to-real FFT over ``dim`` (sizes read from the real output)."""
    out = first(out_val)
    points = prod(out.shape[d] for d in dim)
    return _fft(points, numel(out) // max(points, 1), Fraction(5, 2))


_THIRD = Fraction(1, 3)
_TWO_THIRDS = Fraction(2, 3)

FORMULAS: dict[Any, Formula] = {
    aten.linalg_cholesky_ex: _cubic(_THIRD),
    aten.cholesky: _cubic(_THIRD),
    aten.linalg_ldl_factor_ex: _cubic(_THIRD),
    aten.linalg_lu_factor_ex: _cubic(_TWO_THIRDS),
    aten.linalg_lu: _cubic(_TWO_THIRDS),
    aten._linalg_det: _cubic(_TWO_THIRDS),
    aten._linalg_slogdet: _cubic(_TWO_THIRDS),
    aten.linalg_inv_ex: _cubic(Fraction(2)),
    aten.cholesky_inverse: _cubic(Fraction(1)),
    aten._linalg_eigh: eigh,
    aten.linalg_eig: _cubic(Fraction(25)),
    aten._linalg_eigvals: _cubic(Fraction(10)),
    aten.linalg_eigvals: _cubic(Fraction(10)),
    aten.linalg_pinv: pinv,
    aten._linalg_svd: svd,
    aten.linalg_qr: qr,
    aten.geqrf: geqrf,
    aten.linalg_lstsq: lstsq,
    aten.linalg_householder_product: householder_product,
    aten.ormqr: ormqr,
    aten._linalg_solve_ex: _solve(_TWO_THIRDS, 2, 0, 1),
    aten.linalg_solve_triangular: _solve(Fraction(0), 1, 0, 1),
    aten.triangular_solve: _solve(Fraction(0), 1, 1, 0),
    aten.linalg_lu_solve: _solve(Fraction(0), 2, 0, 2),
    aten._cholesky_solve_helper: _solve(Fraction(0), 2, 1, 0),
    aten.cholesky_solve: _solve(Fraction(0), 2, 1, 0),
    aten.linalg_ldl_solve: _solve(Fraction(0), 2, 0, 2),
    aten._fft_r2c: fft_r2c,
    aten._fft_c2c: fft_c2c,
    aten._fft_c2r: fft_c2r,
}
