"""The exact expansion of a network as disjoint blocks of shared products (packed, numpy).

Notation: layer ``ℓ = 1..L`` has outputs ``h^ℓ_k`` and reads ``h^{ℓ−1}`` (``h⁰ = x``).  Its output is
linear in its own parameters::

    h^ℓ_k = Σ_t v(ℓ, k, t) · M_{ℓ−1}(t),       M_ℓ(S) = Π_{i ∈ S} h^ℓ_i,

``t`` running over the layer's index tuples read as multisets of inputs (the bias input dropped),
``v(ℓ, k, t)`` the parameter of weight ``W^{ℓ,k}_t`` (its own on a free layer, its class's on a
tied one), and ``M_ℓ(S)`` the product over a multiset ``S`` of layer-ℓ outputs (``M_ℓ(∅) = 1``,
``M_0(S) = x^S``).  Call each ``(v, t)`` an *item* of output ``k``.  Expanding the product,

    M_ℓ(S) = Σ_c  μ_c · n_c · M_{ℓ−1}(U_c),

over the choices ``c`` of one item per factor taken as multisets (per output ``k`` of multiplicity
``m_k`` in ``S``, a multiset of ``m_k`` of its items, with the multinomial count ``n_c``),
``μ_c`` the product of the chosen parameters and ``U_c`` the union of the chosen ``t``'s.

**Disjointness.** ``M_{ℓ−1}(U)`` holds no layer-ℓ parameter, so blocks with *different* ``μ_c``
share no monomial: when all ``μ_c`` of ``M_ℓ(S)`` are distinct its terms are the concatenation
of the blocks, with no comparison of terms at all.  On free layers this always holds (each
parameter belongs to one item of one output, so a multiset of items is determined by its
product); on tied layers a class parameter repeats across items and outputs, ``μ`` can repeat,
and then the blocks are merged exactly (:func:`polyequiv.compose.packed.merge_terms`).  Equal
choices never cancel: every weight enters as ``+1 ×`` a parameter (equality ties), so all
coefficients are positive.

**Sharing.** Every ``M_ℓ(S)`` is built once per level (a pool) and read by every block that
needs it; a level is planned top-down (which ``S`` the next level needs) and built bottom-up.
The outputs are ``y_k = M_L({k})``.

**Exactness of the packed keys.** A layer-j parameter has exponent ≤ ``Π_{i>j} d_i`` and ``x``
has exponent ≤ ``Π_i d_i`` in every polynomial formed (degrees), which are the bounds of the
packing (:func:`expansion_layout`; its degree counter is bounded by their sum).  Coefficients
are ``int32`` (``int64``) when ``max_k y_k(1, …, 1)`` (the sum of
the positive coefficients, an upper bound for every coefficient and partial sum formed) is below
``2³¹`` (``2⁶³``), else Python ints (``object`` arrays, the same code).  With every weight 1 this
sum is the number of terms before any merging (ordered products of the inputs' terms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from polyequiv.compose.layout import ExpansionLayout
from polyequiv.compose.network import NetworkSpec
from polyequiv.compose.packed import PackedPolynomial, merge_terms, repeated_rows
from polyequiv.compose.parameters import NetworkParameters

#: Largest coefficient sums for ``int32`` and ``int64`` coefficients (above: exact Python ints).
INT32_COEFFICIENT_LIMIT = 2**31 - 1
INT64_COEFFICIENT_LIMIT = 2**63 - 1
#: Mean block size (terms) from which blocks are copied slice by slice instead of gathered.
_SLICE_BLOCK = 256


@dataclass(frozen=True)
class _Items:
    """The items of one output: parameter ``v``, multiset ``t`` as input counts, multiplicity."""

    params: np.ndarray  # (T,) int64
    counts: np.ndarray  # (T, inputs) int64
    multiplicity: np.ndarray  # (T,) int64


@dataclass(frozen=True)
class _Choices:
    """The choices ``c`` of a product ``M_ℓ(S)``: keys of ``μ_c``, counts ``n_c``, lower multisets ``U_c``."""

    keys: np.ndarray  # (c, W) uint64
    counts: np.ndarray  # (c,) coefficient dtype
    lower: np.ndarray  # (c, inputs) int64


def expansion_layout(spec: NetworkSpec, parameters: NetworkParameters) -> ExpansionLayout:
    """The key layout of the expansion (:mod:`polyequiv.compose.layout`), with exponent bounds from
    the degrees: a layer-j parameter has exponent ≤ ``Π_{i>j} d_i`` (so does the total degree in
    layer j's parameters), each ``x_i`` ≤ ``Π_i d_i``."""
    degrees = [layer.degree for layer in spec.layers]
    bounds: list[int] = []
    for number in range(len(spec.layers)):
        size = parameters.param_offsets[number + 1] - parameters.param_offsets[number]
        bounds += [math.prod(degrees[number + 1 :])] * size
    param_degree = sum(math.prod(degrees[number + 1 :]) for number in range(len(degrees)))
    return ExpansionLayout(spec.n, math.prod(degrees), tuple(bounds), param_degree)


def coefficient_sum_bound(spec: NetworkSpec) -> int:
    """``max_k y_k(1, …, 1)`` with every weight 1: the sum of an output's (positive) coefficients."""
    values = [1] * spec.n
    for number, layer in enumerate(spec.layers):
        inputs = [*values, 1] if layer.bias else values
        per_unit = sum(math.prod(inputs[i] for i in t) for t in spec.weight_indices[number].tuples.tolist())
        values = [per_unit] * layer.num_outputs
    return max(values)


def coefficient_dtype(bound: int) -> type:
    """The narrowest exact coefficient type for coefficients (and their sums) of at most ``bound``."""
    if bound <= INT32_COEFFICIENT_LIMIT:
        return np.int32
    if bound <= INT64_COEFFICIENT_LIMIT:
        return np.int64
    return object


def expand_blocks(
    spec: NetworkSpec, parameters: NetworkParameters
) -> tuple[ExpansionLayout, tuple[PackedPolynomial, ...]]:
    """Every output ``y_k`` as a packed polynomial in (parameters, x) (see the module docstring).

    Tied layers must have equality ties only (the caller checks it).
    """
    layout = expansion_layout(spec, parameters)
    dtype = coefficient_dtype(coefficient_sum_bound(spec))
    needed, plans = _plan(spec, parameters, layout.param_units, dtype)
    # level 0 holds the monomials x^U
    exponents = np.array(list(needed[0]), dtype=np.uint64).reshape(len(needed[0]), spec.n)
    pool_keys = _empty_keys(len(needed[0]), layout.num_words)
    pool_keys[:] = exponents @ layout.x_units if spec.n else 0
    pool_coeffs = np.ones(len(needed[0]), dtype=dtype)
    pool_sizes = np.ones(len(needed[0]), dtype=np.int64)
    for level in range(1, len(plans)):
        pool = (pool_keys, pool_coeffs, np.cumsum(pool_sizes) - pool_sizes, pool_sizes)
        if level == len(plans) - 1:
            built = [_build(*plan, *pool) for plan in plans[level]]
            return layout, tuple(PackedPolynomial(keys, coeffs) for keys, coeffs in built)
        # the merged products first (their sizes are known only after merging), then one pool
        merged = {
            j: _build(*plan, *pool) for j, plan in enumerate(plans[level]) if plan.merge_from is not None
        }
        pool_sizes = np.array(
            [
                len(merged[j][1]) if j in merged else int(pool_sizes[plan.ids].sum())
                for j, plan in enumerate(plans[level])
            ],
            dtype=np.int64,
        )
        ends = np.cumsum(pool_sizes).tolist()
        pool_keys = _empty_keys(ends[-1], layout.num_words)
        pool_coeffs = np.empty(ends[-1], dtype=dtype)
        for j, (plan, end, size) in enumerate(zip(plans[level], ends, pool_sizes.tolist(), strict=True)):
            out = (pool_keys[end - size : end], pool_coeffs[end - size : end])
            if j in merged:
                out[0][:], out[1][:] = merged[j]
            else:
                _build(*plan, *pool, out=out)
    raise AssertionError("unreachable: a network has at least one layer")


class _Plan(NamedTuple):
    """How to build one ``M_ℓ(S)``: its choices, the pool id of each ``U_c``, and (tied layers) the
    first choice whose ``μ`` repeats, from which on the terms are merged (``None``: no merging)."""

    choices: _Choices
    ids: np.ndarray
    merge_from: int | None


def _plan(
    spec: NetworkSpec, parameters: NetworkParameters, units: np.ndarray, dtype: type
) -> tuple[list[dict[tuple[int, ...], int]], list[list[_Plan]]]:
    """Top-down: ``needed[ℓ]`` maps each multiset ``S`` of layer-ℓ outputs (as counts) to its pool
    id, and ``plans[ℓ]`` lists how to build them from level ``ℓ − 1`` (``plans[0]`` is empty)."""
    items = [_layer_items(spec, parameters, number) for number in range(len(spec.layers))]
    # a layer whose items carry pairwise distinct parameters (every free layer) never repeats a μ
    distinct_params = [
        len(np.unique(np.concatenate([i.params for i in own]))) == sum(len(i.params) for i in own)
        for own in items
    ]
    depth = len(spec.layers)
    needed: list[dict[tuple[int, ...], int]] = [{} for _ in range(depth + 1)]
    width = spec.layers[-1].num_outputs
    for k in range(width):
        needed[depth][tuple(int(i == k) for i in range(width))] = k
    plans: list[list[_Plan]] = [[] for _ in range(depth + 1)]
    for level in range(depth, 0, -1):
        lower, inputs = needed[level - 1], spec.input_width(level - 1)
        size_bound = math.prod(layer.degree for layer in spec.layers[level - 1 :])
        for multiset in needed[level]:
            choices = _choices(multiset, items[level - 1], units, dtype, inputs)
            distinct, inverse = _row_ids(choices.lower, size_bound)
            ids = np.array(
                [lower.setdefault(tuple(row), len(lower)) for row in distinct.tolist()], dtype=np.int64
            )
            block_ids, merge_from = ids[inverse], None
            if not distinct_params[level - 1]:
                choices, block_ids = _combine_equal_blocks(choices, block_ids)
                repeated = repeated_rows(choices.keys)
                if repeated.any():
                    # blocks of a repeated μ go last: only their terms are merged
                    order = np.argsort(repeated, kind="stable")
                    choices = _Choices(choices.keys[order], choices.counts[order], choices.lower)
                    block_ids, merge_from = block_ids[order], int((~repeated).sum())
            plans[level].append(_Plan(choices, block_ids, merge_from))
    return needed, plans


def _layer_items(spec: NetworkSpec, parameters: NetworkParameters, number: int) -> list[_Items]:
    """The items of every output of layer ``number``; equal (parameter, multiset) pairs combined."""
    tuples = spec.weight_indices[number].tuples
    num_tuples, inputs = tuples.shape[0], spec.input_width(number)
    counts = np.zeros((num_tuples, inputs + 1), dtype=np.int64)
    for column in tuples.T:
        np.add.at(counts, (np.arange(num_tuples), column), 1)
    counts = counts[:, :inputs]  # the bias input (index ``inputs``) is the constant 1
    layer = spec.layers[number]
    first = parameters.param_offsets[number]
    weights = np.arange(layer.num_outputs * num_tuples, dtype=np.int64)
    if layer.tied:
        weights = np.asarray(parameters.scheme(number).class_of_weight, dtype=np.int64)[weights]
    params = first + weights
    result = []
    for k in range(layer.num_outputs):
        own = params[k * num_tuples : (k + 1) * num_tuples]
        rows, multiplicity = np.unique(np.column_stack([own, counts]), axis=0, return_counts=True)
        result.append(_Items(rows[:, 0].copy(), rows[:, 1:].copy(), multiplicity.astype(np.int64)))
    return result


def _choices(
    multiset: tuple[int, ...], items: list[_Items], units: np.ndarray, dtype: type, inputs: int
) -> _Choices:
    """All choices of ``M_ℓ(S)``: per output of multiplicity ``m``, multisets of ``m`` of its items."""
    result = _Choices(
        np.zeros((1, units.shape[1]), dtype=np.uint64),
        np.ones(1, dtype=dtype),
        np.zeros((1, inputs), np.int64),
    )
    for k, m in enumerate(multiset):
        if not m:
            continue
        own = items[k]
        rows, multinomial = _multisets(len(own.params), m)
        counts = multinomial.astype(dtype)
        if (own.multiplicity != 1).any():
            counts = counts * np.prod(own.multiplicity.astype(dtype)[rows], axis=1)
        keys = units[own.params[rows[:, 0]]]
        lower = own.counts[rows[:, 0]]
        for p in range(1, m):
            keys += units[own.params[rows[:, p]]]
            lower += own.counts[rows[:, p]]
        part = _Choices(keys, counts, lower)
        result = _product(result, part)
    return result


def _combine_equal_blocks(choices: _Choices, ids: np.ndarray) -> tuple[_Choices, np.ndarray]:
    """Choices with equal ``μ`` and equal ``U`` are one block: add their counts (tied layers)."""
    rows = np.column_stack([choices.keys, ids.astype(np.uint64)])
    rows, counts = merge_terms(rows, choices.counts)
    keys = np.ascontiguousarray(rows[:, :-1])
    return _Choices(keys, counts, choices.lower[:0]), rows[:, -1].astype(np.int64)


def _product(a: _Choices, b: _Choices) -> _Choices:
    """Every choice of ``a`` with every choice of ``b`` (products of different outputs)."""
    na, nb = len(a.counts), len(b.counts)
    return _Choices(
        (a.keys[:, None, :] + b.keys[None, :, :]).reshape(na * nb, -1),
        (a.counts[:, None] * b.counts[None, :]).reshape(na * nb),
        (a.lower[:, None, :] + b.lower[None, :, :]).reshape(na * nb, -1),
    )


@lru_cache(maxsize=256)
def _multisets(size: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(c, m)`` non-decreasing rows over ``range(size)`` and their multinomials ``m!/Π cᵢ!``."""
    rows = np.arange(size, dtype=np.int64)[:, None]
    for _ in range(m - 1):
        last = rows[:, -1]
        repeat = size - last
        starts = np.cumsum(repeat) - repeat
        offsets = np.arange(int(repeat.sum()), dtype=np.int64) - np.repeat(starts, repeat)
        rows = np.column_stack([np.repeat(rows, repeat, axis=0), np.repeat(last, repeat) + offsets])
    # prefix multinomials stay integers: value_p = value_{p−1} · (p + 1) / (run length at p)
    exact = math.factorial(m) >= 2**62
    value = np.ones(rows.shape[0], dtype=object if exact else np.int64)
    run = np.ones(rows.shape[0], dtype=np.int64)
    for p in range(1, m):
        run = np.where(rows[:, p] == rows[:, p - 1], run + 1, 1)
        value = value * (p + 1) // (run.astype(object) if exact else run)
    rows.setflags(write=False)
    value.setflags(write=False)
    return rows, value


def _empty_keys(count: int, words: int) -> np.ndarray:
    """An uninitialised ``(count, words)`` key array stored word by word (column-major): adding a
    monomial to a block is then ``words`` contiguous loops instead of ``count`` loops of ``words``."""
    return np.empty((words, count), dtype=np.uint64).T


def _build(
    choices: _Choices,
    ids: np.ndarray,
    merge_from: int | None,
    pool_keys: np.ndarray,
    pool_coeffs: np.ndarray,
    pool_starts: np.ndarray,
    pool_sizes: np.ndarray,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``Σ_c μ_c n_c M(U_c)``: the blocks ``μ_c · n_c M(U_c)`` written one after the other.

    ``merge_from``: the choices from this one on share their ``μ`` with another (tied layers), so
    equal terms among their blocks are added up.  ``out``: arrays of the (unmerged) size to write into.
    """
    sizes = pool_sizes[ids]
    total = int(sizes.sum())
    keys, coeffs = out if out is not None else (_empty_keys(total, pool_keys.shape[1]), None)
    if coeffs is None:
        coeffs = np.empty(total, dtype=pool_coeffs.dtype)
    block_starts = np.cumsum(sizes) - sizes
    scaled = not (choices.counts == 1).all()
    if total >= _SLICE_BLOCK * len(ids):
        # large blocks: one pass per block, reading the pool slice and writing the output slice
        for j, (start, size, at) in enumerate(
            zip(pool_starts[ids].tolist(), sizes.tolist(), block_starts.tolist(), strict=True)
        ):
            np.add(pool_keys[start : start + size], choices.keys[j], out=keys[at : at + size])
            if scaled:
                np.multiply(pool_coeffs[start : start + size], choices.counts[j], out=coeffs[at : at + size])
            else:
                coeffs[at : at + size] = pool_coeffs[start : start + size]
    else:
        gather = np.arange(total, dtype=np.int64) + np.repeat(pool_starts[ids] - block_starts, sizes)
        for word in range(keys.shape[1]):
            np.take(pool_keys[:, word], gather, out=keys[:, word], mode="clip")
            keys[:, word] += np.repeat(choices.keys[:, word], sizes)
        np.take(pool_coeffs, gather, out=coeffs, mode="clip")
        if scaled:
            coeffs *= np.repeat(choices.counts, sizes)
    if merge_from is not None:
        start = int(block_starts[merge_from]) if merge_from < len(ids) else total
        tail_keys, tail_coeffs = merge_terms(keys[start:], coeffs[start:])
        end = start + len(tail_coeffs)
        keys[start:end], coeffs[start:end] = tail_keys, tail_coeffs
        return keys[:end], coeffs[:end]
    return keys, coeffs


def _row_ids(rows: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a non-negative ``(c, m)`` int array with entries ≤ ``bound``, and each row's index."""
    radix = bound + 1
    if rows.shape[1] == 0:
        return rows[:1], np.zeros(rows.shape[0], dtype=np.int64)
    if radix ** rows.shape[1] < 2**62:
        codes = rows @ (radix ** np.arange(rows.shape[1], dtype=np.int64))
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        return rows[first], inverse.reshape(-1)
    distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
    return distinct, inverse.reshape(-1)
