"""The same equations as the symbolic engine, from index arithmetic alone (numpy, no sympy).

Why this works: with ``(σ·x)_i = x_{σ(i)}`` (for tensors σ acts on every index
of a coordinate, :mod:`polyequiv.reps`) the monomial ``x^m`` of ``y_k(σ·x)``
becomes ``x^{σ(m)}``, so the coefficient of ``x^μ`` on the left is the slot sum
``S^k_{σ⁻¹(μ)}`` and on the right ``S^{σ(k)}_μ``.  Writing ``m = σ⁻¹(μ)``, the
equations of generator σ are exactly

    S_{(k, m)} = S_{(σ(k), σ(m))}        for every slot (k, m) that σ moves,

where ``S_slot`` is the sum of the weights of that slot (one weight with ordered
indexing; the multinomial number of index orders with full indexing).  The
engine computes the image of every slot under every generator with vectorised
sorting and ranking, keeps the moved ones, and materialises the canonical
linear forms.  Cost: ``O(Σ_σ |moved outputs|·M + n·|moved monomials|)`` for
``M`` monomials, a few percent of ``#generators · #slots`` for transpositions.
"""

from __future__ import annotations

import numpy as np

from polyequiv.constraints import ConstraintSystem, symmetric_gauge_ties
from polyequiv.indexing import WeightIndex


def monomial_images(index: WeightIndex, sigma: tuple[int, ...]) -> np.ndarray:
    """Rank of ``sorted σ(m)`` for every monomial ``m`` (σ acting on the input coordinates,
    see :mod:`polyequiv.reps`; the bias input is fixed)."""
    extended = index.spec.input_permutation(sigma)
    return index.monomial_rank(np.sort(extended[index.monomials], axis=1))


def moved_slots(index: WeightIndex, sigma: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The slots ``(k, m)`` that σ moves and their images ``(σ(k), σ(m))``, as slot ids.

    Only outputs σ moves (with any monomial) and monomials σ moves (with any
    output) can move, so the work is ``|moved outputs|·M + n·|moved monomials|``
    rather than ``n·M``: a transposition touches a few percent of the slots.
    """
    image = monomial_images(index, sigma)
    big_m = index.num_monomials
    monomials_moved = np.nonzero(image != np.arange(big_m))[0]
    outputs = index.spec.output_permutation(sigma)  # [0] when invariant: nothing moves through it
    is_fixed = outputs == np.arange(outputs.size)
    outputs_moved, outputs_fixed = np.nonzero(~is_fixed)[0], np.nonzero(is_fixed)[0]
    # outputs σ moves, with every monomial
    slots_a = (outputs_moved[:, None] * big_m + np.arange(big_m)[None, :]).ravel()
    images_a = (outputs[outputs_moved][:, None] * big_m + image[None, :]).ravel()
    # outputs σ fixes, with the monomials σ moves
    slots_b = (outputs_fixed[:, None] * big_m + monomials_moved[None, :]).ravel()
    images_b = (outputs_fixed[:, None] * big_m + image[monomials_moved][None, :]).ravel()
    return np.concatenate([slots_a, slots_b]), np.concatenate([images_a, images_b])


def slot_pairs(index: WeightIndex) -> np.ndarray:
    """Unique slot pairs ``(a, b)``, ``a < b``, with ``S_a = S_b`` required by some generator."""
    chunks = []
    for sigma in index.spec.group_generators:
        moved, image = moved_slots(index, sigma)
        if moved.size:
            chunks.append(np.stack([np.minimum(moved, image), np.maximum(moved, image)], axis=1))
    if not chunks:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(chunks)
    codes = pairs[:, 0] * index.num_slots + pairs[:, 1]
    codes.sort()  # sort + adjacent compare: much faster than np.unique's hashing on ~10⁷ codes
    codes = codes[np.concatenate([[True], codes[1:] != codes[:-1]])]
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
