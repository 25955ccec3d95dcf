"""Coefficient-matching equations for any group given by matrices, by index arithmetic (numpy, no sympy).

For a generator acting by ``ρ_in`` on the input variables and ``ρ_out`` on the
outputs (:class:`polyequiv.matrix_spec.GeneratorAction`), the layer
``y_k = Σ_m W[k, m] x^m`` is equivariant when the coefficient of every monomial
``x^{m'}`` agrees on both sides:

    Σ_m W[k, m] S[m, m']  =  Σ_{k'} R[k, k'] W[k', m']       for every output k and monomial m',

where ``R = ρ_out(g)`` and ``S = Sym^d(ρ_in(g))``, ``S[m, m']`` the coefficient of
``x^{m'}`` in ``Π_{i∈m} (ρ_in(g) x)_i`` (a finite generator), or ``R = dρ_out(A)``
and ``S = dSym^d(ρ_in(A))``, the coefficient of ``x^{m'}`` in
``Σ_p (ρ_in(A) x)_{m_p} Π_{q≠p} x_{m_q}`` (a Lie generator: the derivative at
``t = 0`` of the same identity for ``exp(tA)``).  ``S`` is built by expanding the
product factor by factor over the sparse rows of ``ρ_in``, sorting and ranking
the resulting index tuples (:class:`polyequiv.indexing.WeightIndex`), so a
permutation or signed permutation costs one entry per monomial and a Lie
generator ``d`` entries per nonzero of a row.

Every equation is a linear form in the slot sums (one weight per slot with
ordered indexing); it is expanded to weights, divided by the gcd of its
integer coefficients, signed so that its first term is positive, and
duplicates are dropped: the canonical form of :mod:`polyequiv.constraints`.
Forms ``W_a − W_b`` become equalities; the others (``W_a = 0``, sums with
coefficients ±1, general integer combinations) are kept as rows.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sparse

from polyequiv.constraints import ConstraintSystem, symmetric_gauge_ties
from polyequiv.errors import SizeLimitError
from polyequiv.indexing import WeightIndex
from polyequiv.matrix_spec import GeneratorAction

#: Coefficients stay below this bound so that int64 sums cannot overflow.
MAX_COEFFICIENT = 2**53


def monomial_map(index: WeightIndex, matrix: sparse.csr_matrix, kind: str) -> tuple[np.ndarray, ...]:
    """``S`` (``kind="finite"``) or ``dS`` (``kind="lie"``) as COO arrays ``(m, m', coefficient)`` over
    monomial ranks, duplicates summed and zeros dropped."""
    matrix = sparse.csr_matrix(matrix, dtype=np.int64)
    monomials = index.monomials
    big_m, d = monomials.shape
    if d == 0:
        return np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.int64) * (kind == "finite")
    if kind == "finite":
        sources, tuples, coeffs = np.arange(big_m), np.zeros((big_m, 0), np.int64), np.ones(big_m, np.int64)
        for position in range(d):
            rows = monomials[sources, position]
            pick, columns, values = _row_entries(matrix, rows)
            sources, coeffs = sources[pick], coeffs[pick] * values
            tuples = np.column_stack([tuples[pick], columns])
            _check_size(coeffs)
    else:
        chunks = []
        for position in range(d):
            pick, columns, values = _row_entries(matrix, monomials[:, position])
            replaced = monomials[pick].copy()
            replaced[:, position] = columns
            chunks.append((pick, replaced, values))
        sources = np.concatenate([c[0] for c in chunks])
        tuples = np.concatenate([c[1] for c in chunks])
        coeffs = np.concatenate([c[2] for c in chunks])
    targets = index.monomial_rank(np.sort(tuples, axis=1))
    return _summed(sources, targets, coeffs, big_m)


def _row_entries(matrix: sparse.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each requested row (repeats allowed): which request, column and value of every nonzero."""
    starts, counts = matrix.indptr[rows], np.diff(matrix.indptr)[rows]
    pick = np.repeat(np.arange(rows.size), counts)
    within = np.arange(pick.size) - np.repeat(np.cumsum(counts) - counts, counts)
    entries = np.repeat(starts, counts) + within
    return pick, matrix.indices[entries].astype(np.int64), matrix.data[entries].astype(np.int64)


def _summed(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
    """COO entries with repeated ``(row, col)`` added up and zeros dropped, sorted by ``(row, col)``."""
    keys = rows.astype(np.int64) * width + cols
    order = np.argsort(keys, kind="stable")
    keys, vals = keys[order], vals[order]
    if keys.size == 0:
        return keys, keys, vals
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    keys, vals = keys[starts], np.add.reduceat(vals, starts)
    keep = vals != 0
    return keys[keep] // width, keys[keep] % width, vals[keep]


def _check_size(coeffs: np.ndarray) -> None:
    if coeffs.size and int(np.abs(coeffs).max()) > MAX_COEFFICIENT:
        raise SizeLimitError(
            f"a coefficient of the expanded generator reaches {int(np.abs(coeffs).max()):,}, beyond exact "
            f"64-bit arithmetic ({MAX_COEFFICIENT:,}); use a lower degree or smaller generator entries",
            estimate=int(np.abs(coeffs).max()),
            limit=MAX_COEFFICIENT,
        )


def generator_rows(index: WeightIndex, action: GeneratorAction) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO ``(equation, slot, coefficient)`` of one generator; equation ``k·M + m'`` is the coefficient
    of ``x^{m'}`` in output ``k``, slots numbered ``k·M + m`` as in :mod:`polyequiv.indexing`."""
    big_m, outputs = index.num_monomials, index.num_outputs
    source, target, s = monomial_map(index, action.inputs, action.kind)
    finite = action.kind == "finite"
    left = s * (action.output_scale if finite else 1)
    right_scale = action.input_scale**index.spec.degree if finite else 1
    out = sparse.coo_matrix(action.outputs)
    k_rows, k_cols, r = out.row.astype(np.int64), out.col.astype(np.int64), out.data.astype(np.int64)
    offsets = np.arange(outputs, dtype=np.int64)[:, None] * big_m
    monomials = np.arange(big_m, dtype=np.int64)[None, :]
    rows = np.concatenate(
        [(offsets + target[None, :]).ravel(), (k_rows[:, None] * big_m + monomials).ravel()]
    )
    slots = np.concatenate(
        [(offsets + source[None, :]).ravel(), (k_cols[:, None] * big_m + monomials).ravel()]
    )
    coeffs = np.concatenate([np.tile(left, outputs), np.repeat(-r * right_scale, big_m)])
    _check_size(coeffs)
    return rows, slots, coeffs


def derive_matrix(index: WeightIndex) -> ConstraintSystem:
    """The canonical constraint system of a :class:`polyequiv.matrix_spec.MatrixLayerSpec`."""
    per_generator = index.num_outputs * index.num_monomials
    rows, weights, coeffs = [], [], []
    for number, action in enumerate(index.spec.generator_actions):
        eq, slot, value = generator_rows(index, action)
        eq, slot, value = _summed(eq, slot, value, index.num_slots)
        eq, weight, value = _slots_to_weights(index, eq, slot, value)
        rows.append(eq + number * per_generator)
        weights.append(weight)
        coeffs.append(value)
    if rows:
        row, weight, value = _summed(
            np.concatenate(rows), np.concatenate(weights), np.concatenate(coeffs), index.num_weights
        )
    else:
        row = weight = value = np.zeros(0, dtype=np.int64)
    return _canonical_system(index, row, weight, value)


def _slots_to_weights(index: WeightIndex, rows: np.ndarray, slots: np.ndarray, coeffs: np.ndarray):
    """Replace every slot sum by its weights (the identity with ordered indexing)."""
    if index.spec.indexing == "ordered":
        return rows, slots, coeffs
    indptr, members = index.slot_weights
    counts = np.diff(indptr)[slots]
    pick = np.repeat(np.arange(slots.size), counts)
    within = np.arange(pick.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows[pick], members[np.repeat(indptr[slots], counts) + within], coeffs[pick]


def _canonical_system(index: WeightIndex, rows: np.ndarray, weights: np.ndarray, coeffs: np.ndarray):
    """Divide every row by its gcd, make its first coefficient positive, drop repeated rows, and split
    ``W_a − W_b`` rows into equalities (entries must come sorted by (row, weight), zeros dropped)."""
    empty = np.zeros(0, dtype=np.int64)
    if rows.size == 0:
        return ConstraintSystem(
            index,
            np.zeros((0, 2), np.int64),
            np.zeros(1, np.int64),
            empty,
            empty,
            symmetric_gauge_ties(index),
            engine="matrix",
        )
    starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
    lengths = np.diff(np.concatenate([starts, [rows.size]]))
    divisor = np.gcd.reduceat(np.abs(coeffs), starts) * np.sign(coeffs[starts])
    coeffs = coeffs // np.repeat(divisor, lengths)
    keep = _first_occurrences(weights, coeffs, starts, lengths)
    is_equality = (
        (lengths == 2) & (coeffs[starts] == 1) & (coeffs[np.minimum(starts + 1, rows.size - 1)] == -1)
    )
    chosen = keep & is_equality
    equalities = np.stack([weights[starts[chosen]], weights[starts[chosen] + 1]], axis=1)
    equalities = np.unique(equalities, axis=0) if equalities.size else np.zeros((0, 2), np.int64)
    general = np.flatnonzero(keep & ~is_equality)
    entry_pick = np.repeat(general, lengths[general])
    within = np.arange(entry_pick.size) - np.repeat(
        np.cumsum(lengths[general]) - lengths[general], lengths[general]
    )
    entries = starts[entry_pick] + within
    indptr = np.concatenate([[0], np.cumsum(lengths[general])]).astype(np.int64)
    return ConstraintSystem(
        index,
        equalities.astype(np.int64),
        indptr,
        weights[entries],
        coeffs[entries],
        symmetric_gauge_ties(index),
        engine="matrix",
    )


def _first_occurrences(weights, coeffs, starts, lengths) -> np.ndarray:
    """Which rows are the first copy of their content.  A 64-bit digest groups candidates; every row is
    then compared entry by entry with the first row of its digest group, so a collision keeps a row
    (harmless) and never drops one."""
    with np.errstate(over="ignore"):
        entry = weights.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        entry += coeffs.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
        entry ^= entry >> np.uint64(31)
        entry *= np.uint64(0xBF58476D1CE4E5B9)
        digest = np.add.reduceat(entry, starts) + lengths.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
    order = np.lexsort((np.arange(starts.size), digest))
    run_start = np.concatenate([[True], digest[order][1:] != digest[order][:-1]])
    first = order[np.maximum.accumulate(np.where(run_start, np.arange(order.size), 0))]
    candidates = order[~run_start]
    leaders = first[~run_start]
    same_length = lengths[candidates] == lengths[leaders]
    candidates, leaders = candidates[same_length], leaders[same_length]
    keep = np.ones(starts.size, dtype=bool)
    if candidates.size == 0:
        return keep
    sizes = lengths[candidates]
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    a = np.repeat(starts[candidates], sizes) + within
    b = np.repeat(starts[leaders], sizes) + within
    equal = (weights[a] == weights[b]) & (coeffs[a] == coeffs[b])
    bounds = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    keep[candidates[np.logical_and.reduceat(equal, bounds)]] = False
    return keep
