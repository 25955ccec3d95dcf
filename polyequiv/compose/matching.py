"""Coefficient matching in the packed representation: the equations of a network, in numpy.

Notation as in :mod:`polyequiv.compose.expansion`: ``y_k = Σ_α c_{k,α}(θ) x^α``, and under a
generator σ the equation of output ``k`` and monomial ``β`` is

    E = c_{k,α} − c_{t,β},     α = σ⁻¹_* β,   t = σ(k) (equivariant) or k (invariant).

**Grouping by monomial.** The head of each packed key (:mod:`polyequiv.compose.layout`) gives the
code of its ``α`` and its degree in the parameters with two integer operations per term, so each
coefficient ``c_{k,α}`` is a set of terms labelled ``(k, id α)`` (a :class:`CoefficientTable`):
its size and degree come from one ``bincount``, and σ acts on the (few) distinct monomials, not on
the terms.  No term is compared or sorted to know which equations there are.

**Disjoint coefficients** (``method="disjoint"``, taken when the first and the last layers are
free).  Then two different nonzero coefficients share no parameter monomial:

* every term of ``y_k`` holds exactly one parameter of the last layer, one of output ``k``'s own
  (a free last layer gives each output its own), so ``c_{k,·}`` and ``c_{k',·}`` are disjoint for
  ``k ≠ k'``;
* every ``x`` of a term comes from the first layer's weights in it, each weight of a free first
  layer multiplying one fixed monomial, so the parameter monomial determines ``α``: ``c_{k,α}``
  and ``c_{k,α'}`` are disjoint for ``α ≠ α'``.

All coefficients are positive (every weight enters as ``+1 ×`` a parameter), so ``E``'s positive
part is ``c_{k,α}`` and its negative part ``c_{t,β}``; ``E = 0`` exactly when both are the same
coefficient, and ``E₁ = ±E₂`` exactly when ``{(k₁,α₁), (t₁,β₁)} = {(k₂,α₂), (t₂,β₂)}`` as sets
of coefficients (the zero coefficient included).  So the equations, their deduplication up to
sign, their sizes and degrees are read off pairs of labels; terms are gathered only for the
equations that are printed or exported.

**Merging** (``method="merge"``, every other network: a tied class parameter can appear in
several outputs and with several monomials).  The terms of every candidate equation are put
side by side, sorted exactly by (equation, parameter key), equal keys summed and zeros dropped
(:func:`polyequiv.compose.packed.merge_terms`); each equation is signed so that its first term
is positive, and equal equations are found by a 64-bit fingerprint and then compared term by
term, so the result is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import numpy as np

from polyequiv.compose.layout import ExpansionLayout

if TYPE_CHECKING:
    from polyequiv.compose.network import NetworkSpec
    from polyequiv.compose.packed import PackedPolynomial


class NetworkExpansion(Protocol):
    """What matching reads of an expansion (:class:`polyequiv.compose.expansion.NetworkExpansion`,
    which calls this module: named by its shape here, so the import points one way)."""

    spec: NetworkSpec
    layout: ExpansionLayout
    terms: tuple[PackedPolynomial, ...]

    @property
    def num_params(self) -> int: ...

    @property
    def coefficient_table(self) -> CoefficientTable: ...

    @property
    def segments(self) -> TermSegments: ...

#: Largest number of x codes counted with a lookup table (else ``np.unique``).
_TABLE_CODES = 1 << 24
METHODS = ("auto", "disjoint", "merge")
#: Odd multipliers of the parameter-key fingerprint (splitmix64 constants).
_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)


@dataclass
class CoefficientTable:
    """Every output's terms labelled by the id of their x monomial.

    ``codes[m]`` is the code (:meth:`ExpansionLayout.codes`) of monomial ``m``, ascending (so the
    ids follow ``sorted`` on exponent tuples); the monomials of the terms and their images under
    the generators.  ``images[g, m]`` is the id of ``σ_g* α_m``.  ``counts[k, m]`` is the number
    of terms of ``c_{k,m}``, ``max_degree[k, m]`` its degree in the parameters (−1 when zero).
    """

    layout: ExpansionLayout
    codes: np.ndarray
    ids: tuple[np.ndarray, ...]
    degrees: tuple[np.ndarray, ...]
    counts: np.ndarray
    max_degree: np.ndarray
    images: np.ndarray

    @property
    def num_monomials(self) -> int:
        return int(self.codes.shape[0])

    @cached_property
    def monomials(self) -> np.ndarray:
        """``(M, n)`` exponents of the monomials."""
        return self.layout.exponents_of_codes(self.codes)

    @property
    def num_coefficients(self) -> int:
        """Nonzero coefficients ``c_{k,α}``."""
        return int(np.count_nonzero(self.counts))


def coefficient_table(expansion: NetworkExpansion) -> CoefficientTable:
    """Label every term of ``expansion`` with its monomial id (module docstring)."""
    layout = expansion.layout
    heads = [layout.head(p.keys) for p in expansion.terms]
    present = _distinct([codes for codes, _ in heads], layout.x_radix)
    exponents = layout.exponents_of_codes(present)
    generators = expansion.spec.group_generators
    moved = [layout.codes(_push_forward(exponents, sigma)) for sigma in generators]
    codes = np.unique(np.concatenate([present, *moved])) if moved else present
    label_type = np.int32 if codes.shape[0] < 2**31 else np.int64
    ids = tuple(np.searchsorted(codes, term_codes).astype(label_type) for term_codes, _ in heads)
    size = codes.shape[0]
    span = layout.param_degree + 1
    counts = np.zeros((len(ids), size), dtype=np.int64)
    max_degree = np.full((len(ids), size), -1, dtype=np.int64)
    for k, ((_, degrees), labels) in enumerate(zip(heads, ids, strict=True)):
        counts[k] = np.bincount(labels, minlength=size)
        seen = np.bincount(labels.astype(np.int64) * span + degrees, minlength=size * span)
        seen = seen.reshape(size, span) > 0
        top = span - 1 - np.argmax(seen[:, ::-1], axis=1)
        max_degree[k] = np.where(counts[k] > 0, top, -1)
    images = np.array([np.searchsorted(codes, m) for m in moved], dtype=np.int64).reshape(len(moved), -1)
    degrees = tuple(d.astype(np.int16 if span < 2**15 else np.int64) for _, d in heads)
    return CoefficientTable(layout, codes, ids, degrees, counts, max_degree, images)


def _distinct(arrays: list[np.ndarray], radix: int) -> np.ndarray:
    """Sorted distinct values of int arrays in ``[0, radix)``: a lookup table when small."""
    if radix <= _TABLE_CODES:
        seen = np.zeros(radix, dtype=bool)
        for values in arrays:
            seen[values] = True
        return np.flatnonzero(seen).astype(np.int64)
    return np.unique(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=np.int64)


def _push_forward(exponents: np.ndarray, sigma: tuple[int, ...]) -> np.ndarray:
    """``σ_* α`` row by row: ``(σ_*α)_{σ(i)} = α_i``."""
    out = np.empty_like(exponents)
    out[:, list(sigma)] = exponents
    return out


@dataclass
class Candidates:
    """The equations before deduplication, in the order generator, output, ascending ``β``.

    ``left``/``right`` are coefficient labels ``k·M + id`` of ``c_{k,α}`` and ``c_{t,β}``, −1 for
    a zero coefficient; pairs that are the same coefficient (identically zero) are left out.
    """

    generator: np.ndarray
    output: np.ndarray
    monomial: np.ndarray
    left: np.ndarray
    right: np.ndarray


def candidate_equations(table: CoefficientTable, equivariant: bool, generators: tuple) -> Candidates:
    size = table.num_monomials
    parts: list[tuple[np.ndarray, ...]] = []
    for g, sigma in enumerate(generators):
        for k in range(table.counts.shape[0]):
            target = sigma[k] if equivariant else k
            support = np.flatnonzero(table.counts[k])
            preimage = np.full(size, -1, dtype=np.int64)
            preimage[table.images[g, support]] = support
            beta = np.flatnonzero((preimage >= 0) | (table.counts[target] > 0))
            left = np.where(preimage[beta] >= 0, k * size + preimage[beta], -1)
            right = np.where(table.counts[target, beta] > 0, target * size + beta, -1)
            keep = left != right
            count = int(keep.sum())
            parts.append((np.full(count, g), np.full(count, k), beta[keep], left[keep], right[keep]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty, empty, empty, empty)
    return Candidates(*(np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(5)))


@dataclass
class PackedEquations:
    """Distinct equations (up to sign) of a network, kept packed; :meth:`terms` unpacks one.

    ``generator``, ``output``, ``monomial`` (an id of the table) name each equation as in the
    module docstring; ``degree`` is its total degree in the parameters and ``size`` its number
    of terms.
    """

    table: CoefficientTable
    method: str
    generator: np.ndarray
    output: np.ndarray
    monomial: np.ndarray
    degree: np.ndarray
    size: np.ndarray
    unpack: Callable[[int], tuple[np.ndarray, np.ndarray]] = field(repr=False)

    def __len__(self) -> int:
        return int(self.generator.shape[0])

    def terms(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(m, P)`` parameter exponents and the ``m`` integer coefficients of equation ``i``."""
        return self.unpack(i)

    def by_degree(self) -> dict[int, int]:
        values, counts = np.unique(self.degree, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def disjoint_coefficients(spec: object) -> bool:
    """True when the first and the last layers are free (module docstring: disjoint coefficients)."""
    layers = spec.layers  # type: ignore[attr-defined]
    return not layers[0].tied and not layers[-1].tied


def match_coefficients(expansion: NetworkExpansion, method: str = "auto") -> PackedEquations:
    """The distinct equations of ``expansion`` up to sign, first occurrences kept, in the order
    generator, output, ascending ``β`` (module docstring for the two methods)."""
    if method not in METHODS:
        raise ValueError(f"unknown matching method {method!r}; choose one of {', '.join(METHODS)}")
    spec = expansion.spec
    if method == "disjoint" and not disjoint_coefficients(spec):
        raise ValueError(f"{spec}: coefficients are disjoint only when the first and last layers are free")
    if method == "auto":
        method = "disjoint" if disjoint_coefficients(spec) else "merge"
    table = expansion.coefficient_table
    candidates = candidate_equations(table, spec.equivariant, spec.group_generators)
    if method == "disjoint":
        return _disjoint_equations(expansion, table, candidates)
    return _merged_equations(expansion, table, candidates)


class TermSegments:
    """The terms of each output ordered by monomial id (stable), built on first use."""

    def __init__(self, expansion: NetworkExpansion, table: CoefficientTable) -> None:
        self.expansion, self.table = expansion, table
        self._orders: dict[int, np.ndarray] = {}

    def order(self, k: int) -> np.ndarray:
        if k not in self._orders:
            labels = self.table.ids[k]
            kind = "stable"
            small = labels.astype(np.uint16) if self.table.num_monomials < 2**16 else labels
            self._orders[k] = np.argsort(small, kind=kind)
        return self._orders[k]

    def rows(self, label: int) -> tuple[int, np.ndarray]:
        """The output and the term indices of coefficient ``label`` (``k·M + id``)."""
        k, m = divmod(int(label), self.table.num_monomials)
        starts = np.concatenate([[0], np.cumsum(self.table.counts[k])])
        return k, self.order(k)[starts[m] : starts[m + 1]]

    def coefficient(self, k: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """``c_{k,m}``: ``(r, P)`` parameter exponents and ``r`` coefficients (their dtype)."""
        _, rows = self.rows(k * self.table.num_monomials + m)
        poly, params = self.expansion.terms[k], self.expansion.num_params
        return self.expansion.layout.decode(poly.keys[rows])[:, :params], poly.coeffs[rows]

    def unpack(self, labels: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Terms of ``c_left − c_right`` (disjoint coefficients: their union, the right negated)."""
        layout, params = self.expansion.layout, self.expansion.num_params
        exps, coeffs = [], []
        for label, sign in zip(labels, (1, -1), strict=True):
            if label < 0:
                continue
            k, rows = self.rows(label)
            poly = self.expansion.terms[k]
            exps.append(layout.decode(poly.keys[rows])[:, :params])
            coeffs.append(sign * poly.coeffs[rows].astype(object))
        return np.concatenate(exps), np.concatenate(coeffs)


def _disjoint_equations(
    expansion: NetworkExpansion, table: CoefficientTable, candidates: Candidates
) -> PackedEquations:
    pairs = np.column_stack(
        [np.minimum(candidates.left, candidates.right), np.maximum(candidates.left, candidates.right)]
    )
    if len(pairs):
        _, first = np.unique(pairs, axis=0, return_index=True)
        keep = np.sort(first)
    else:
        keep = np.zeros(0, dtype=np.int64)
    left, right = candidates.left[keep], candidates.right[keep]
    flat_degree = np.concatenate([table.max_degree.reshape(-1), [-1]])
    flat_count = np.concatenate([table.counts.reshape(-1), [0]])
    segments = expansion.segments
    return PackedEquations(
        table=table,
        method="disjoint",
        generator=candidates.generator[keep],
        output=candidates.output[keep],
        monomial=candidates.monomial[keep],
        degree=np.maximum(flat_degree[left], flat_degree[right]),
        size=flat_count[left] + flat_count[right],
        unpack=lambda i: segments.unpack((int(left[i]), int(right[i]))),
    )


def sparse_rows(exponents: np.ndarray) -> list[tuple[tuple[int, int], ...]]:
    """Each row of an ``(r, P)`` exponent array as ``((j, e), …)`` over its nonzero entries."""
    rows, columns = np.nonzero(exponents)
    pairs = list(zip(columns.tolist(), exponents[rows, columns].tolist(), strict=True))
    ends = np.searchsorted(rows, np.arange(1, exponents.shape[0] + 1)).tolist()
    out, start = [], 0
    for end in ends:
        out.append(tuple(pairs[start:end]))
        start = end
    return out


def canonical_order(exponents: np.ndarray) -> np.ndarray:
    """The order of ``sorted`` on the rows' :func:`sparse_rows` (distinct rows), in numpy.

    Sparse keys compare pair by pair: at the first column ``j`` where two rows differ, a row
    with ``e_j > 0`` has the pair ``(j, e_j)`` and comes first against a row whose next pair is
    further right (``e_j = 0``), unless that row has no pair left (it is a prefix, so it comes
    first); two positive exponents compare as numbers.  So each entry is keyed as ``e_j`` if
    positive, else −1 once the row's nonzeros are over and a large number before that.
    """
    exponents = exponents[:, exponents.any(axis=0)]  # a column of zeros decides nothing
    rows, columns = exponents.shape
    if rows <= 1 or columns == 0:
        return np.arange(rows)
    nonzero = exponents > 0
    last = columns - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    last = np.where(nonzero.any(axis=1), last, -1)
    before_end = np.arange(columns)[None, :] < last[:, None]
    keys = np.where(nonzero, exponents, np.where(before_end, np.iinfo(np.int64).max, -1))
    return np.lexsort(keys.T[::-1])


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concat(arange(s, s + l))`` over the pairs, vectorised."""
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, lengths)


def _merged_equations(
    expansion: NetworkExpansion, table: CoefficientTable, candidates: Candidates
) -> PackedEquations:
    """Exact differences by sorting (module docstring: merging)."""
    layout = expansion.layout
    keys = np.concatenate([p.keys for p in expansion.terms])
    coeffs = np.concatenate([_signed(p.coeffs) for p in expansion.terms])
    degrees = np.concatenate(table.degrees)
    size = table.num_monomials
    labels = np.concatenate([k * size + ids.astype(np.int64) for k, ids in enumerate(table.ids)])
    pkeys = layout.parameter_keys(keys)
    order = np.lexsort([pkeys[:, w] for w in range(pkeys.shape[1] - 1, -1, -1)] + [labels])
    counts = table.counts.reshape(-1)
    starts = np.cumsum(counts) - counts
    rows, eq, sign = [], [], []
    for side, value in ((candidates.left, 1), (candidates.right, -1)):
        valid = np.flatnonzero(side >= 0)
        lengths = counts[side[valid]]
        rows.append(order[_ranges(starts[side[valid]], lengths)])
        eq.append(np.repeat(valid, lengths))
        sign.append(np.full(int(lengths.sum()), value, dtype=np.int64))
    rows_all, eq_all = np.concatenate(rows), np.concatenate(eq)
    values = coeffs[rows_all] * np.concatenate(sign).astype(coeffs.dtype)
    sorted_rows = np.lexsort([pkeys[rows_all, w] for w in range(pkeys.shape[1] - 1, -1, -1)] + [eq_all])
    rows_all, eq_all, values = rows_all[sorted_rows], eq_all[sorted_rows], values[sorted_rows]
    rows_all, eq_all, values = _sum_equal(rows_all, eq_all, values, pkeys)
    return _dedup_merged(expansion, table, candidates, rows_all, eq_all, values, pkeys, keys, degrees)


def _signed(values: np.ndarray) -> np.ndarray:
    """Coefficients wide enough for a difference: int32 → int64, others unchanged."""
    return values.astype(np.int64) if values.dtype == np.int32 else values


def _sum_equal(
    rows: np.ndarray, eq: np.ndarray, values: np.ndarray, pkeys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the values of adjacent rows with equal (equation, parameter key); drop zero sums."""
    if rows.shape[0] == 0:
        return rows, eq, values
    new = np.empty(rows.shape[0], dtype=bool)
    new[0] = True
    new[1:] = (eq[1:] != eq[:-1]) | np.any(pkeys[rows[1:]] != pkeys[rows[:-1]], axis=1)
    starts = np.flatnonzero(new)
    sums = np.add.reduceat(values, starts)
    keep = sums != 0
    return rows[starts[keep]], eq[starts[keep]], sums[keep]


def _fingerprints(rows: np.ndarray, values: np.ndarray, pkeys: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each equation's (sorted, signed) terms; equal equations share it."""
    mixed = np.zeros(rows.shape[0], dtype=np.uint64)
    for w in range(pkeys.shape[1]):
        mixed += pkeys[rows, w] * np.uint64(_MIX[w % len(_MIX)] + 2 * w)
    mixed ^= mixed >> np.uint64(29)
    wrapped = (
        values.astype(np.int64).view(np.uint64)
        if values.dtype != object
        else np.array([int(v) % 2**64 for v in values], dtype=np.uint64)
    )
    with np.errstate(over="ignore"):
        terms = mixed * (wrapped | np.uint64(1)) + wrapped
    starts = np.concatenate([[0], ends[:-1]])
    sums = np.add.reduceat(terms, starts) if terms.shape[0] else np.zeros(0, np.uint64)
    return sums ^ (ends - starts).astype(np.uint64)


def _dedup_merged(
    expansion: NetworkExpansion,
    table: CoefficientTable,
    candidates: Candidates,
    rows: np.ndarray,
    eq: np.ndarray,
    values: np.ndarray,
    pkeys: np.ndarray,
    keys: np.ndarray,
    degrees: np.ndarray,
) -> PackedEquations:
    """Sign each equation so its first term is positive, keep the first of equal ones (exact)."""
    nonzero, starts = np.unique(eq, return_index=True)
    ends = np.concatenate([starts[1:], [eq.shape[0]]]).astype(np.int64)
    signs = np.where(values[starts] > 0, 1, -1)
    values = values * np.repeat(signs, ends - starts).astype(values.dtype)
    prints = _fingerprints(rows, values, pkeys, ends) if len(nonzero) else np.zeros(0, np.uint64)
    kept: list[int] = []
    by_print: dict[int, list[int]] = {}
    for j, fingerprint in enumerate(prints.tolist()):
        span = slice(int(starts[j]), int(ends[j]))
        twins = by_print.setdefault(fingerprint, [])
        spans = (slice(int(starts[i]), int(ends[i])) for i in twins)
        if not any(_same_terms(span, other, rows, values, pkeys) for other in spans):
            twins.append(j)
            kept.append(j)
    kept_arr = np.array(kept, dtype=np.int64)
    params = expansion.num_params
    max_degree = np.maximum.reduceat(degrees[rows], starts) if len(starts) else np.zeros(0, np.int64)

    def unpack(i: int) -> tuple[np.ndarray, np.ndarray]:
        j = int(kept_arr[i])
        span = rows[starts[j] : ends[j]]
        return expansion.layout.decode(keys[span])[:, :params], values[starts[j] : ends[j]].astype(object)

    chosen = nonzero[kept_arr]
    return PackedEquations(
        table=table,
        method="merge",
        generator=candidates.generator[chosen],
        output=candidates.output[chosen],
        monomial=candidates.monomial[chosen],
        degree=max_degree[kept_arr],
        size=(ends - starts)[kept_arr],
        unpack=unpack,
    )


def _same_terms(a: slice, b: slice, rows: np.ndarray, values: np.ndarray, pkeys: np.ndarray) -> bool:
    if a.stop - a.start != b.stop - b.start:
        return False
    return bool(np.array_equal(values[a], values[b]) and np.array_equal(pkeys[rows[a]], pkeys[rows[b]]))
