"""Exact fitting of models linear in their weights: streamed least squares in float64.

A model is *linear in its weights* when its prediction is ``ŷ = F(x) θ`` for a parameter vector
``θ`` (the tensors of :meth:`~polyequiv.models.SetModel.linear_parameters`, flattened and
concatenated) and features ``F(x)`` that do not depend on ``θ``: one tied polynomial layer whose
read-out is fixed, or a graph pattern layer.  Then training is a linear least-squares problem,

    θ* = argmin_θ ‖F θ − y‖² (+ λ‖θ‖²),

which :class:`StreamedLeastSquares` solves in one pass over the training set, batch by batch,
without ever holding ``F``: it keeps the triangular factor ``R`` of the QR decomposition of
``[F | y]`` (``(P + 1) × (P + 1)``), updated by ``R ← qr([R; F_b | y_b]).R`` (the "TSQR" update).
Forming ``FᵀF`` would square the condition number; the QR route does not.

The solve scales each column of ``R`` to unit norm (the pattern features differ by orders of
magnitude: a pattern summing over ``s`` free indices grows like ``nˢ``), takes the SVD of the scaled
factor, and drops singular values below ``rcond · σ_max`` (``rcond = max(rows, P) · ε``, numpy's rule:
the rounding of a QR over that many rows; degenerate data such as regular graphs leave singular values
of ~10⁻¹⁴ that are noise, not directions): the
minimum-norm solution when patterns coincide on the data (``A_ij² = A_ij`` on a 0/1 adjacency).
The rank, the condition number of the kept part and the residual are reported with the solution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import torch
from torch import Tensor, nn

from polyequiv.rationals import simplest_rational

DTYPE = torch.float64
#: Relative residual ``‖Fθ − y‖ / ‖y‖`` under which a fit counts as exact (and is rationalised).
EXACT_FIT = 1e-9


@dataclass(frozen=True)
class Solution:
    """The least-squares weights and what the solve saw (``rational``: the exact weights, when found)."""

    theta: Tensor
    rank: int
    parameters: int
    rows: int
    condition: float
    residual_rms: float
    rational: tuple[Fraction, ...] | None = None

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"name": "lstsq", "parameters": self.parameters, "rank": self.rank,
                                   "rows": self.rows, "condition": self.condition,
                                   "residual_rms": self.residual_rms, "rational": self.rational is not None}
        if self.rational is not None:
            summary["max_denominator"] = max(value.denominator for value in self.rational)
        return summary


class StreamedLeastSquares:
    """The R factor of ``[F | y]`` over all rows seen so far (see the module docstring).

    >>> solver = StreamedLeastSquares(2)
    >>> x = torch.linspace(0, 1, 50, dtype=torch.float64)
    >>> for part in torch.arange(50).split(7):
    ...     solver.add(torch.stack([x[part], torch.ones_like(x[part])], 1), 3 * x[part] - 0.5)
    >>> [round(v, 12) for v in solver.solve().theta.tolist()]
    [3.0, -0.5]
    """

    def __init__(self, parameters: int, r: Tensor | None = None, rows: int = 0) -> None:
        if parameters < 1:
            raise ValueError(f"least squares needs at least one weight, got {parameters}")
        self.parameters = parameters
        self.r = torch.zeros((0, parameters + 1), dtype=DTYPE) if r is None else r.to(DTYPE)
        self.rows = rows

    def add(self, features: Tensor, targets: Tensor) -> None:
        """Take in rows ``features`` ``(rows, P)`` with their targets ``(rows,)``."""
        if features.shape[0] == 0:
            return
        block = torch.cat([features.to(DTYPE), targets.to(DTYPE).reshape(-1, 1)], dim=1)
        if not torch.isfinite(block).all():
            raise ValueError("least squares met a non-finite feature or target")
        self.r = _r_factor(torch.cat([self.r, block]))
        self.rows += features.shape[0]

    def merge(self, other: Tensor, rows: int) -> None:
        """Take in another solver's R factor (another process's rows)."""
        if other.shape[0]:
            self.r = _r_factor(torch.cat([self.r, other.to(DTYPE)]))
        self.rows += rows

    def solve(self, ridge: float = 0.0, rcond: float | None = None) -> Solution:
        """The minimum-norm minimiser of ``‖Fθ − y‖² + ridge·‖θ‖²`` over the rows taken in."""
        p = self.parameters
        r = torch.zeros((p + 1, p + 1), dtype=DTYPE)
        r[: self.r.shape[0]] = self.r[: p + 1]
        if ridge > 0:
            penalty = torch.zeros((p, p + 1), dtype=DTYPE)
            penalty[:, :p] = math.sqrt(ridge) * torch.eye(p, dtype=DTYPE)
            r = _r_factor(torch.cat([r, penalty]))
        factor, rhs, residual = r[:p, :p], r[:p, p], float(r[p, p].abs()) if r.shape[0] > p else 0.0
        scale = factor.norm(dim=0)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        u, s, vh = torch.linalg.svd(factor / scale, full_matrices=False)
        relative = rcond if rcond is not None else max(self.rows, p) * torch.finfo(DTYPE).eps
        cutoff = relative * (float(s[0]) if len(s) else 0.0)
        kept = s > cutoff
        coordinates = (u[:, kept].T @ rhs) / s[kept]
        theta = (vh[kept].T @ coordinates) / scale
        rank = int(kept.sum())
        condition = float(s[0] / s[kept][-1]) if rank else math.inf
        return Solution(theta, rank, p, self.rows, condition, residual / math.sqrt(max(self.rows, 1)))


    def rationalised(self, solution: Solution, tolerances: tuple[float, ...] = (1e-6, 1e-8, 1e-10)
                     ) -> Solution:
        """``solution`` with exact rational weights, when the fit is exact and some rationals fit as well.

        Only a fit whose residual is at most ``EXACT_FIT · ‖y‖`` (the target is computed by the
        model, up to rounding) is rationalised; noisy targets keep their float weights.
        Weight ``j`` becomes the simplest rational within ``t·‖y‖/‖F_j‖`` (a change that moves the
        predictions by at most ``t·‖y‖``), for ``t`` from loose to tight; the first candidate whose
        residual ``‖Fθ' − y‖`` (read off ``R``: ``‖R_F θ' − z‖² + r²``) is at most twice the float
        solution's, or ``10⁻¹²‖y‖``, is taken.  Weights exactly ``0`` (a pattern the target does not
        use) are what makes a fit extrapolate to sizes far from the training data's.
        """
        p = self.parameters
        r = torch.zeros((p + 1, p + 1), dtype=DTYPE)
        r[: self.r.shape[0]] = self.r[: p + 1]
        factor, rhs, rest = r[:p, :p], r[:p, p], float(r[p, p])
        norm_y, scale = float(r[:, p].norm()), factor.norm(dim=0)

        def residual(theta: Tensor) -> float:
            return math.hypot(float((factor @ theta - rhs).norm()), rest)

        fitted = residual(solution.theta)
        if fitted > EXACT_FIT * norm_y:  # the target is not a function the model computes: no exact weights
            return solution
        bound = max(2 * fitted, 1e-12 * norm_y)
        for tolerance in tolerances:
            allowed = [tolerance * norm_y / float(s) if s > 0 else math.inf for s in scale]
            try:
                exact = tuple(simplest_rational(float(v), min(a, 1e300))
                              for v, a in zip(solution.theta, allowed, strict=True))
            except (ValueError, OverflowError):
                continue
            theta = torch.tensor([float(v) for v in exact], dtype=DTYPE)
            if residual(theta) <= bound:
                return replace(solution, theta=theta, rational=exact)
        return solution


def _r_factor(matrix: Tensor) -> Tensor:
    """The (at most ``columns`` rows of the) R factor of ``matrix``'s QR decomposition."""
    return torch.linalg.qr(matrix, mode="r").R[: matrix.shape[1]]


# ---------------------------------------------------------------------- models linear in their weights
def linear_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters a model is linear in; ``ValueError`` when it is not linear in its weights."""
    parameters = model.linear_parameters() if hasattr(model, "linear_parameters") else None
    if not parameters:
        raise ValueError(f"{type(model).__name__} is not linear in its weights")
    return list(parameters)


def weight_vector(model: nn.Module) -> Tensor:
    """``θ``: the model's linear parameters, flattened and concatenated (float64 copy)."""
    return torch.cat([p.detach().reshape(-1).to(DTYPE) for p in linear_parameters(model)])


@torch.no_grad()
def assign_weights(model: nn.Module, theta: Tensor) -> None:
    """Set the model's linear parameters to ``θ`` (the layout of :func:`weight_vector`)."""
    offset = 0
    for parameter in linear_parameters(model):
        size = parameter.numel()
        parameter.copy_(theta[offset: offset + size].reshape(parameter.shape).to(parameter.dtype))
        offset += size
    if offset != theta.numel():
        raise ValueError(f"θ has {theta.numel()} entries, the model {offset} linear weights")


def load_solution(model: nn.Module, theta: Tensor) -> None:
    """Make the model predict ``F(x) θ`` (``θ`` in the coordinates of :func:`model_features`)."""
    if hasattr(model, "set_linear_solution"):
        model.set_linear_solution(theta)
    else:
        assign_weights(model, theta)


@torch.no_grad()
def model_features(model: nn.Module, values: Tensor, mask: Tensor) -> Tensor:
    """``F(x)`` of a model linear in its weights: ``(batch, P)``, or ``(batch, n, P)`` per element.

    Models may provide ``linear_features(values, mask)`` (with ``set_linear_solution(θ)`` when its
    coordinates are not those of :func:`weight_vector`); otherwise column ``j`` is the output with
    ``θ = e_j`` (``P`` forward passes), after checking that ``θ = 0`` predicts 0 (no offset).
    """
    if hasattr(model, "linear_features"):
        return model.linear_features(values, mask)
    saved = weight_vector(model)
    size = saved.numel()
    try:
        assign_weights(model, torch.zeros(size, dtype=DTYPE))
        offset = model(values, mask)
        if offset.abs().max() > 0:
            raise ValueError(f"{type(model).__name__} predicts {float(offset.abs().max()):.3g} ≠ 0 with all "
                             "its linear weights 0: it is not linear in them")
        columns = []
        for j in range(size):
            assign_weights(model, torch.nn.functional.one_hot(torch.tensor(j), size).to(DTYPE))
            columns.append(model(values, mask))
        return torch.stack(columns, dim=-1)
    finally:
        assign_weights(model, saved)


def feature_rows(features: Tensor, targets: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """One row per prediction: per-set outputs as they are, per-element outputs of real elements only."""
    if targets.dim() == 2:
        keep = mask.reshape(-1)
        return features.reshape(-1, features.shape[-1])[keep], targets.reshape(-1)[keep]
    return features.reshape(-1, features.shape[-1]), targets.reshape(-1)
