"""The same equations as the symbolic engine, from index arithmetic alone (numpy, no sympy).

Why this works: with ``(σ·x)_i = x_{σ(i)}`` the monomial ``x^m`` of ``y_k(σ·x)``
becomes ``x^{σ(m)}``, so the coefficient of ``x^μ`` on the left is the slot sum
``S^k_{σ⁻¹(μ)}`` and on the right ``S^{σ(k)}_μ``.  Writing ``m = σ⁻¹(μ)``, the
equations of generator σ are exactly

    S_{(k, m)} = S_{(σ(k), σ(m))}        for every slot (k, m) that σ moves,

where ``S_slot`` is the sum of the weights of that slot (one weight with ordered
indexing; the multinomial number of index orders with full indexing).  The
engine computes the image of every slot under every generator with vectorised
sorting and ranking, keeps the moved ones, and materialises the canonical
linear forms.  Cost: ``O(#generators · #slots · d log d)``.
"""

from __future__ import annotations

import numpy as np

from polyequiv.constraints import ConstraintSystem, symmetric_gauge_ties
from polyequiv.indexing import WeightIndex


def slot_images(index: WeightIndex, sigma: tuple[int, ...]) -> np.ndarray:
    """Slot id of ``(σ(k), sorted σ(m))`` for every slot ``(k, m)`` (the bias index is fixed)."""
    spec = index.spec
    extended = np.array(list(sigma) + ([spec.n] if spec.bias else []), dtype=np.int64)
    moved_monomials = np.sort(extended[index.monomials], axis=1)
    monomial_image = index.monomial_rank(moved_monomials)
    if not spec.equivariant:
        return monomial_image
    outputs = np.asarray(sigma, dtype=np.int64)
    return (outputs[:, None] * index.num_monomials + monomial_image[None, :]).ravel()


def slot_pairs(index: WeightIndex) -> np.ndarray:
    """Unique slot pairs ``(a, b)``, ``a < b``, with ``S_a = S_b`` required by some generator."""
    identity = np.arange(index.num_slots, dtype=np.int64)
    chunks = []
    for sigma in index.spec.group_generators:
        image = slot_images(index, sigma)
        moved = np.nonzero(image != identity)[0]
        if moved.size:
            chunks.append(np.stack([np.minimum(moved, image[moved]), np.maximum(moved, image[moved])], axis=1))
    if not chunks:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(chunks)
    codes = np.unique(pairs[:, 0] * index.num_slots + pairs[:, 1])
    return np.stack(np.divmod(codes, index.num_slots), axis=1)


def derive_sparse(index: WeightIndex) -> ConstraintSystem:
    """Derive the canonical constraint system of ``index.spec`` by index arithmetic."""
    pairs = slot_pairs(index)
    indptr, slot_members = index.slot_weights
    sizes = np.diff(indptr)
    single = (sizes[pairs[:, 0]] == 1) & (sizes[pairs[:, 1]] == 1)
    equal_pairs = pairs[single]
    equalities = np.stack(
        [slot_members[indptr[equal_pairs[:, 0]]], slot_members[indptr[equal_pairs[:, 1]]]], axis=1
    )
    add_indptr, add_weights, add_coeffs = _additive_rows(pairs[~single], indptr, slot_members, sizes)
    return ConstraintSystem(
        index=index,
        equalities=equalities.reshape(-1, 2),
        additive_indptr=add_indptr,
        additive_weights=add_weights,
        additive_coeffs=add_coeffs,
        gauge_ties=symmetric_gauge_ties(index),
        engine="sparse",
    )


def _additive_rows(
    pairs: np.ndarray, indptr: np.ndarray, members: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR rows ``S_a − S_b`` with terms sorted by weight id.

    The smallest weight of a slot is its sorted tuple, which orders slots the
    same way as their ids; so with ``a < b`` the first term is ``+1`` and the
    form is already canonical (coefficients ±1, gcd 1).
    """
    if pairs.shape[0] == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    row_sizes = sizes[pairs[:, 0]] + sizes[pairs[:, 1]]
    row_ptr = np.concatenate([[0], np.cumsum(row_sizes)]).astype(np.int64)
    weights, coeffs, rows = [], [], []
    for side, sign in ((0, 1), (1, -1)):
        slots = pairs[:, side]
        counts = sizes[slots]
        starts = np.repeat(indptr[slots], counts)
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        weights.append(members[starts + within])
        coeffs.append(np.full(counts.sum(), sign, dtype=np.int64))
        rows.append(np.repeat(np.arange(pairs.shape[0]), counts))
    weight_arr, coeff_arr, row_arr = (np.concatenate(x) for x in (weights, coeffs, rows))
    order = np.lexsort((weight_arr, row_arr))
    return row_ptr, weight_arr[order], coeff_arr[order]
