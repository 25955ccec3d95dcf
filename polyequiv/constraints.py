"""Linear constraints on the weights: `Equality`, `AdditiveConstraint`, `ConstraintSystem`.

Both engines produce a :class:`ConstraintSystem` in one canonical form, so that
their outputs can be compared array for array:

* an equation is a linear form ``Σ c_w W_w = 0`` with integer coefficients,
  terms sorted by weight id, coefficients divided by their gcd and the first
  one positive;
* a form ``W_a − W_b`` (a < b) is an **equality**, anything else is an
  **additive** constraint (e.g. ``a^h_hk + a^h_kh − a^k_hk − a^k_kh``);
* trivial forms (all coefficients cancel) and duplicates are dropped.

Gauge ties (``--gauge symmetric``) are kept apart from the equations that
equivariance produces: they are a choice of coordinates, not a consequence of
the symmetry.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from polyequiv.indexing import WeightIndex


@dataclass(frozen=True)
class Equality:
    """``W_a = W_b`` between two weight ids (``a < b``)."""

    a: int
    b: int
    kind: str = "equivariance"

    def text(self, index: WeightIndex) -> str:
        return f"{index.weight_name(self.a)} = {index.weight_name(self.b)}"

    def latex(self, index: WeightIndex) -> str:
        return f"{index.weight_latex(self.a)} &= {index.weight_latex(self.b)}"


@dataclass(frozen=True)
class AdditiveConstraint:
    """``Σ c_w W_w = 0`` with integer coefficients, written with positive terms on each side."""

    terms: tuple[tuple[int, int], ...]

    def _sides(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        left = [(w, c) for w, c in self.terms if c > 0]
        right = [(w, -c) for w, c in self.terms if c < 0]
        return left, right

    def text(self, index: WeightIndex) -> str:
        left, right = self._sides()
        return f"{_join(left, index.weight_name)} = {_join(right, index.weight_name)}"

    def latex(self, index: WeightIndex) -> str:
        left, right = self._sides()
        return f"{_join(left, index.weight_latex)} &= {_join(right, index.weight_latex)}"


def _join(terms: list[tuple[int, int]], name) -> str:
    if not terms:
        return "0"
    return " + ".join((f"{c}·" if c != 1 else "") + name(w) for w, c in terms)


@dataclass
class ConstraintSystem:
    """All equations an engine derived for one layer, in canonical form.

    Attributes
    ----------
    index : WeightIndex
        Numbering and names of the weights.
    equalities : (E, 2) int64 array
        Sorted, unique weight pairs ``(a, b)``, ``a < b``: ``W_a = W_b``.
    additive_indptr, additive_weights, additive_coeffs : int64 arrays
        CSR rows of the additive constraints (canonical, unique, sorted rows).
    gauge_ties : (G, 2) int64 array
        Pairs tied by the symmetric gauge, ``W^k_t = W^k_{sorted t}``.
    engine : str
        Which engine derived the system.
    """

    index: WeightIndex
    equalities: np.ndarray
    additive_indptr: np.ndarray
    additive_weights: np.ndarray
    additive_coeffs: np.ndarray
    gauge_ties: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    engine: str = ""

    @property
    def num_equalities(self) -> int:
        return int(self.equalities.shape[0])

    @property
    def num_additive(self) -> int:
        return int(self.additive_indptr.shape[0] - 1)

    def additive_rows(self) -> Iterator[tuple[tuple[int, int], ...]]:
        """Each additive constraint as a tuple of ``(weight id, coefficient)`` terms."""
        ptr, weights, coeffs = self.additive_indptr, self.additive_weights, self.additive_coeffs
        for row in range(self.num_additive):
            lo, hi = ptr[row], ptr[row + 1]
            yield tuple(zip(weights[lo:hi].tolist(), coeffs[lo:hi].tolist(), strict=True))

    def equations(self, limit: int | None = None) -> list[Equality | AdditiveConstraint]:
        """Equalities first, then additive constraints, then gauge ties (at most ``limit``)."""
        out: list[Equality | AdditiveConstraint] = []
        for a, b in self.equalities.tolist():
            if limit is not None and len(out) >= limit:
                return out
            out.append(Equality(a, b))
        for terms in self.additive_rows():
            if limit is not None and len(out) >= limit:
                return out
            out.append(AdditiveConstraint(terms))
        for a, b in self.gauge_ties.tolist():
            if limit is not None and len(out) >= limit:
                return out
            out.append(Equality(a, b, kind="gauge"))
        return out

    def kind_counts(self) -> dict[str, int]:
        """How many equations are of each kind (:func:`constraint_kind`), gauge ties excluded."""
        counts = dict.fromkeys(CONSTRAINT_KINDS, 0)
        counts["equality"] = self.num_equalities
        lengths = np.diff(self.additive_indptr)
        largest = np.zeros(self.num_additive, dtype=np.int64)
        if self.additive_coeffs.size:
            nonempty = lengths > 0
            starts = self.additive_indptr[:-1][nonempty]
            largest[nonempty] = np.maximum.reduceat(np.abs(self.additive_coeffs), starts)
        counts["zero"] = int(np.count_nonzero(lengths == 1))
        counts["additive"] = int(np.count_nonzero((lengths > 1) & (largest == 1)))
        counts["general linear"] = int(np.count_nonzero((lengths > 1) & (largest > 1)))
        return counts

    def canonical_forms(self) -> set[tuple[tuple[int, int], ...]]:
        """Every equation (gauge ties excluded) as a canonical linear form; for comparing engines."""
        forms = {((a, 1), (b, -1)) for a, b in self.equalities.tolist()}
        forms.update(self.additive_rows())
        return forms


#: Kinds of equations: ``W_a = W_b``; ``W_a = 0``; coefficients ±1 (sums equal sums); any other.
CONSTRAINT_KINDS = ("equality", "zero", "additive", "general linear")


def constraint_kind(terms: tuple[tuple[int, int], ...]) -> str:
    """``"equality"`` (``W_a − W_b``), ``"zero"`` (``c·W_a``), ``"additive"`` (every coefficient ±1) or
    ``"general linear"``, for a canonical form.

    >>> constraint_kind(((0, 1), (3, -1))), constraint_kind(((2, 1),)), constraint_kind(((0, 2), (1, -1)))
    ('equality', 'zero', 'general linear')
    """
    if len(terms) == 1:
        return "zero"
    if len(terms) == 2 and terms[0][1] == 1 and terms[1][1] == -1:
        return "equality"
    return "additive" if all(abs(c) == 1 for _, c in terms) else "general linear"


def canonical_form(terms: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...] | None:
    """Canonical form of ``Σ c_w W_w``: merge repeated weights, drop zeros, sort, divide by the
    gcd, make the first coefficient positive.  ``None`` when the form is trivial."""
    merged: dict[int, int] = {}
    for weight, coeff in terms:
        merged[weight] = merged.get(weight, 0) + int(coeff)
    items = sorted((w, c) for w, c in merged.items() if c != 0)
    if not items:
        return None
    divisor = 0
    for _, c in items:
        divisor = math.gcd(divisor, c)
    sign = 1 if items[0][1] > 0 else -1
    return tuple((w, sign * c // divisor) for w, c in items)


def system_from_forms(
    index: WeightIndex,
    forms: Iterable[tuple[tuple[int, int], ...]],
    gauge_ties: np.ndarray,
    engine: str,
) -> ConstraintSystem:
    """Split canonical forms into equalities and additive rows, sorted and unique."""
    unique = set(forms)
    equalities = sorted((f[0][0], f[1][0]) for f in unique if len(f) == 2 and f[0][1] == 1 and f[1][1] == -1)
    additive = sorted(f for f in unique if not (len(f) == 2 and f[0][1] == 1 and f[1][1] == -1))
    indptr = np.zeros(len(additive) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(f) for f in additive]) if additive else []
    weights = np.array([w for f in additive for w, _ in f], dtype=np.int64)
    coeffs = np.array([c for f in additive for _, c in f], dtype=np.int64)
    return ConstraintSystem(
        index=index,
        equalities=np.array(equalities, dtype=np.int64).reshape(-1, 2),
        additive_indptr=indptr,
        additive_weights=weights,
        additive_coeffs=coeffs,
        gauge_ties=gauge_ties,
        engine=engine,
    )


def symmetric_gauge_ties(index: WeightIndex) -> np.ndarray:
    """Pairs ``(W^k_{sorted t}, W^k_t)`` for every unsorted tuple ``t`` (full indexing only)."""
    if index.spec.gauge != "symmetric":
        return np.zeros((0, 2), dtype=np.int64)
    tuples = index.tuples
    sorted_codes = index.tuple_codes(np.sort(tuples, axis=1))
    own_codes = index.tuple_codes(tuples)
    unsorted = np.nonzero(sorted_codes != own_codes)[0]
    # with full indexing a tuple's id is its code, so the sorted twin's id is its code
    twins = sorted_codes[unsorted]
    per_output = np.stack([twins, unsorted], axis=1)
    offsets = np.arange(index.num_outputs, dtype=np.int64)[:, None, None] * index.num_tuples
    pairs = (per_output[None, :, :] + offsets).reshape(-1, 2)
    return np.sort(pairs, axis=1)
