"""From a model's predictions to a short exact formula: merge, fit, prune, rationalise, in that order.

Given the features ``F`` (rows × features, a :class:`~polyequiv.models.features.Dictionary`
evaluated on fresh data) and the model's predictions ``ŷ`` on the same rows:

1. **Merge** features that coincide on the data's domain (equal columns, e.g. ``Σ_j A_kj²`` and
   ``Σ_j A_kj`` on a 0/1 adjacency): the simplest one stays, the others are listed as its aliases.
2. **Fit** ``ŷ ≈ F c`` by least squares (columns scaled to unit norm).  If the best fit misses a
   prediction by more than ``10⁻⁶ · max|ŷ|`` the model is not a polynomial in these features, and
   that is an error, not a formula.
3. **Prune**: from the most complex feature to the simplest (ties: smallest contribution
   ``max_rows |c_j F_j|`` first), a term is dropped when the least-squares refit without it still
   reproduces every prediction within ``tolerance · max|ŷ|``.
4. **Rationalise**: each kept coefficient becomes the simplest rational within
   ``tolerance · max|ŷ| / (terms · max_rows |F_j|)`` (so that together they move no prediction by
   more than ``tolerance · max|ŷ|``), checked on the rows; the bound is tightened up to four times
   before the float coefficients are kept (and said to be).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from polyequiv.models.features import Feature
from polyequiv.rationals import simplest_rational

#: Largest miss of the full fit, relative to max|ŷ|, for a model to count as a polynomial in the features.
SPAN_TOLERANCE = 1e-6


class ExplainError(ValueError):
    """A model that cannot be explained (not polynomial, not in the features, no run to read)."""


@dataclass(frozen=True)
class Term:
    """``coefficient · feature`` of a formula; ``aliases`` are features equal to it on the data's domain."""

    coefficient: Fraction
    feature: Feature
    aliases: tuple[Feature, ...] = ()


@dataclass
class Simplified:
    """The formula, whether its coefficients are exact rationals, and how far it is from the model."""

    terms: list[Term]
    rational: bool
    max_error: float
    scale: float
    dropped: int
    merged: int
    tolerance: float
    notes: list[str] = field(default_factory=list)


def simplify(features: list[Feature], matrix: np.ndarray, predictions: np.ndarray, tolerance: float
             ) -> Simplified:
    """The steps of the module docstring on ``matrix`` (rows × features) and ``predictions`` (rows)."""
    scale = float(np.abs(predictions).max()) or 1.0
    groups = _coinciding(features, matrix)
    columns = matrix[:, [group[0] for group in groups]]
    coefficients = _fit(columns, predictions)
    miss = float(np.abs(columns @ coefficients - predictions).max())
    if miss > SPAN_TOLERANCE * scale:
        raise ExplainError(f"the model is not a polynomial in these {len(features)} features: the best fit "
                           f"misses a prediction by {miss:.3g} (max |prediction| {scale:.3g})")
    complexity = [features[group[0]].complexity for group in groups]
    active = _prune(columns, predictions, coefficients, tolerance * scale, complexity)
    kept = _fit(columns[:, active], predictions)
    exact, rational = _rationalise(columns[:, active], predictions, kept, tolerance * scale)
    error = float(np.abs(columns[:, active] @ np.array([float(v) for v in exact]) - predictions).max())
    terms = [Term(value, features[groups[j][0]], tuple(features[i] for i in groups[j][1:]))
             for j, value in zip(active, exact, strict=True) if value != 0]
    return Simplified(terms, rational, error, scale, len(groups) - len(terms), len(features) - len(groups),
                      tolerance)


def _coinciding(features: list[Feature], matrix: np.ndarray) -> list[list[int]]:
    """Groups of equal columns (to 10⁻¹² of their size), simplest first; all-zero columns are left out."""
    norms = np.abs(matrix).max(axis=0)
    groups: list[list[int]] = []
    for j in sorted(range(matrix.shape[1]), key=lambda i: (features[i].complexity, i)):
        if norms[j] == 0:
            continue
        for group in groups:
            first = group[0]
            if np.abs(matrix[:, j] - matrix[:, first]).max() <= 1e-12 * max(norms[j], norms[first]):
                group.append(j)
                break
        else:
            groups.append([j])
    return groups


def _fit(columns: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Least squares with columns scaled to unit norm (minimum norm when they are dependent)."""
    if columns.shape[1] == 0:
        return np.zeros(0)
    norms = np.linalg.norm(columns, axis=0)
    norms[norms == 0] = 1.0
    solution = np.linalg.lstsq(columns / norms, predictions, rcond=None)[0]
    return solution / norms


class _Reduced:
    """Least squares on column subsets through one QR of all (unit-norm) columns: with ``F = QR`` and
    ``z = Qᵀy``, ``‖F_S c − y‖² = ‖R_S c − z‖² + ‖y − QQᵀy‖²``, so the subset fit is the small problem
    ``R_S c ≈ z`` — the same minimisers, the same singular values (hence the same minimum-norm
    solution and cutoff) as :func:`_fit` on ``F_S``, at the cost of a features × features solve."""

    def __init__(self, columns: np.ndarray, predictions: np.ndarray) -> None:
        norms = np.linalg.norm(columns, axis=0)
        self.norms = np.where(norms == 0, 1.0, norms)
        q, self.r = np.linalg.qr(columns / self.norms)
        self.z = q.T @ predictions

    def fit(self, subset: list[int]) -> np.ndarray:
        if not subset:
            return np.zeros(0)
        return np.linalg.lstsq(self.r[:, subset], self.z, rcond=None)[0] / self.norms[subset]


def _prune(columns: np.ndarray, predictions: np.ndarray, coefficients: np.ndarray, allowed: float,
           complexity: list[int]) -> list[int]:
    """Indices of the terms kept by backward elimination: the most complex features are tried first
    (among equals, the smallest contribution), so that of features proportional on the data (``p₂``
    and ``p₂/n²`` on sets of one size) the simplest stays."""
    active = [j for j in range(columns.shape[1]) if coefficients[j] != 0]
    contribution = {j: float(np.abs(coefficients[j] * columns[:, j]).max()) for j in active}
    reduced = _Reduced(columns, predictions)
    for j in sorted(active, key=lambda i: (-complexity[i], contribution[i])):
        trial = [i for i in active if i != j]
        refit = reduced.fit(trial)
        if float(np.abs(columns[:, trial] @ refit - predictions).max()) <= allowed:
            active = trial
    return active


def _rationalise(columns: np.ndarray, predictions: np.ndarray, coefficients: np.ndarray, allowed: float
                 ) -> tuple[list[Fraction], bool]:
    """Simplest rationals moving no prediction by more than ``allowed`` (tightened up to four times)."""
    sizes = np.abs(columns).max(axis=0) if columns.shape[1] else np.zeros(0)
    budget = allowed
    for _ in range(5):
        exact = [simplest_rational(float(c), budget / (len(sizes) * float(s))) if s > 0 else Fraction(0)
                 for c, s in zip(coefficients, sizes, strict=True)]
        values = np.array([float(v) for v in exact])
        if float(np.abs(columns @ values - predictions).max(initial=0.0)) <= allowed:
            return exact, True
        budget /= 10
    return [Fraction(float(c)).limit_denominator(10**12) for c in coefficients], False
