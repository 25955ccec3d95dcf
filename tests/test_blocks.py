"""Blockwise exact counts (polyequiv.blocks) against the global elimination over Q, dense sympy and
modular ranks: the same ranks, counts and RREF basis, on random matrices and random layers."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from strategies import small_specs, tensor_specs

from polyequiv import LayerSpec, derive, limits
from polyequiv.blocks import SparseSystem, blockwise_nullspace, blockwise_rank, decompose
from polyequiv.derivation import count_parameters, free_basis
from polyequiv.engines.sparse import derive_sparse
from polyequiv.errors import SizeLimitError
from polyequiv.exact import MERSENNE_31, MERSENNE_61, exact_nullspace, exact_rank, modular_rank
from polyequiv.graph import ConstraintGraph
from polyequiv.indexing import WeightIndex


# ----------------------------------------------------------------------------- random structured matrices
@st.composite
def structured_matrices(draw: st.DrawFn) -> tuple[list[dict[int, int]], int]:
    """Rows over a few column groups: incidence rows c·(e_a − e_b), grounded rows c·e_a, general
    rows, then columns copied with a rational-looking integer scale (proportional columns) and
    whole blocks repeated on fresh columns (the same block shape twice)."""
    base = draw(st.integers(1, 7))
    rows: list[dict[int, int]] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["edge", "edge", "ground", "general"]))
        c = draw(st.integers(1, 3)) * draw(st.sampled_from([1, -1]))
        if kind == "edge" and base >= 2:
            a, b = draw(st.lists(st.integers(0, base - 1), min_size=2, max_size=2, unique=True))
            rows.append({a: c, b: -c})
        elif kind == "ground":
            rows.append({draw(st.integers(0, base - 1)): c})
        else:
            columns = draw(st.lists(st.integers(0, base - 1), min_size=1, max_size=4, unique=True))
            row = {col: draw(st.integers(-3, 3)) for col in columns}
            rows.append({col: v for col, v in row.items() if v})
    columns = base
    for source in draw(st.lists(st.integers(0, base - 1), max_size=4)):  # proportional copies
        scale = draw(st.sampled_from([1, -1, 2, -3]))
        for row in rows:
            if source in row:
                row[columns] = scale * row[source]
        columns += 1
    if draw(st.booleans()):  # the same block on fresh columns
        rows += [{c + columns: v for c, v in row.items()} for row in rows]
        columns *= 2
    columns += draw(st.integers(0, 2))  # untouched columns
    order = draw(st.permutations(range(columns)))  # proportional columns may come before their source
    return [{order[c]: v for c, v in row.items()} for row in rows], columns


def dense_rank(rows: list[dict[int, int]], columns: int) -> int:
    matrix = sp.zeros(len(rows), columns)
    for r, row in enumerate(rows):
        for c, v in row.items():
            matrix[r, c] = v
    return matrix.rank() if rows else 0


@given(structured_matrices())
def test_blockwise_rank_and_basis_equal_the_global_elimination(matrix: tuple[list, int]) -> None:
    rows, columns = matrix
    system = SparseSystem.from_rows(rows, columns)
    rank = blockwise_rank(system)
    assert rank == exact_rank(rows, columns) == dense_rank(rows, columns)
    basis = blockwise_nullspace(system)
    assert basis == exact_nullspace(rows, columns)
    assert len(basis) == columns - rank
    for vector in basis:
        for row in rows:
            assert sum(Fraction(row.get(c, 0)) * v for c, v in vector.items()) == 0


def test_the_decomposition_finds_each_kind_of_block() -> None:
    rows = [
        {0: 1, 1: 1, 2: -1, 3: -1},  # columns 1, 3 are copies of 0, 2: an edge 0 — 2 after merging
        {2: 1, 3: 1, 4: -1, 5: -1},  # ... and 2 — 4
        {6: 2},  # grounded
        {7: 1, 8: 2, 9: 3}, {7: 1, 8: 1},  # general
        {10: 1, 11: 2, 12: 3}, {10: 1, 11: 1},  # the same general block on other columns
    ]
    decomposition = decompose(SparseSystem.from_rows(rows, 14))
    stats = decomposition.stats
    assert stats.merged_columns == 3  # 1 → 0, 3 → 2, 5 → 4
    assert (stats.incidence_blocks, stats.grounded_blocks) == (1, 1)
    assert (stats.general_blocks, stats.distinct_general_blocks) == (2, 1)
    assert decomposition.rank == exact_rank(rows, 14) == 2 + 1 + 2 + 2
    assert decomposition.nullspace() == exact_nullspace(rows, 14)


def test_copies_of_free_columns_carry_their_scale() -> None:
    """Column 3 = −3 · column 2 and column 2 is free (the last of the incidence block 0 — 1 — 2): the
    null vector of 3 is e₃ − 3·(v₂ − e₂); the same with a free column of a general block (7 = 2 · 6)."""
    rows = [{0: 1, 1: -1}, {1: 1, 2: -1, 3: 3}, {4: 1, 5: 1, 6: 1, 7: 2}, {4: 1, 5: 2, 6: 3, 7: 6}]
    decomposition = decompose(SparseSystem.from_rows(rows, 8))
    assert decomposition.stats.merged_columns == 2
    assert (decomposition.stats.incidence_blocks, decomposition.stats.general_blocks) == (1, 1)
    basis = decomposition.nullspace()
    assert basis == exact_nullspace(rows, 8)
    assert {3: 1, 0: -3, 1: -3} in basis and {7: 1, 4: 2, 5: -4} in basis


def test_a_general_block_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_EXACT_NONZEROS", 4)
    rows = [{0: 1, 1: 2, 2: 3}, {0: 1, 1: 1}]
    with pytest.raises(SizeLimitError, match="5 nonzeros"):
        blockwise_rank(SparseSystem.from_rows(rows, 3))
    # incidence blocks of any size need no elimination
    chain = [{c: 1, c + 1: -1} for c in range(50)]
    assert blockwise_rank(SparseSystem.from_rows(chain, 51)) == 50


# ----------------------------------------------------------------------------- modular ranks
@given(st.lists(st.lists(st.integers(-50, 50), min_size=5, max_size=5), max_size=7))
def test_modular_rank_agrees_with_a_second_prime_and_with_q(dense: list[list[int]]) -> None:
    rows = [{c: v for c, v in enumerate(row) if v} for row in dense]
    exact = exact_rank(rows, 5)
    assert modular_rank(rows, MERSENNE_61) == modular_rank(rows, MERSENNE_31) == exact
    assert modular_rank(rows, 2) <= exact  # a small prime may lose rank, never gain it


def test_modular_rank_is_a_lower_bound_and_certifies_full_rank_only() -> None:
    p = MERSENNE_31
    unlucky = [{0: p, 1: 0}, {1: 1}]
    assert modular_rank(unlucky, p) == 1 < exact_rank(unlucky, 2) == 2 == modular_rank(unlucky, MERSENNE_61)
    # a block rank-deficient over Q is sent to rational elimination, whatever the prime says
    rows = [{0: 1, 1: 2, 2: 3}, {0: 2, 1: 4, 2: 6}, {0: 1, 1: 1}]
    assert blockwise_rank(SparseSystem.from_rows(rows, 3)) == 2


# ----------------------------------------------------------------------------- layers
def assert_both_methods_agree(spec: LayerSpec) -> ConstraintGraph:
    """Asserts equal counts and identical bases from the blockwise and the global path."""
    graph = ConstraintGraph(derive_sparse(WeightIndex(spec)))
    assert count_parameters(graph, "blockwise") == count_parameters(graph, "global")
    assert free_basis(graph, "blockwise") == free_basis(graph, "global")
    return graph


@given(small_specs())
def test_blockwise_counts_and_basis_equal_the_global_ones_on_random_layers(spec: LayerSpec) -> None:
    assert_both_methods_agree(spec)


@given(tensor_specs())
def test_blockwise_counts_and_basis_equal_the_global_ones_on_tensor_layers(spec: LayerSpec) -> None:
    assert_both_methods_agree(spec)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 4, "degree": 2, "input": "E", "output": "V"},
        {"n": 4, "degree": 2, "input": "V", "output": "E", "bias": True},
        {"n": 3, "degree": 2, "input": "V + E", "output": "V + 1"},
        {"n": 5, "degree": 2, "bias": True, "mode": "invariant"},
        {"n": 5, "degree": 3, "group": "cyclic", "bias": True},
        {"n": 6, "degree": 2, "group": "dihedral"},
        {"n": 5, "degree": 2, "group": "custom", "generators": ((1, 0, 2, 3, 4), (0, 1, 3, 4, 2))},
        {"n": 6, "degree": 3},
    ],
)
def test_blockwise_equals_global_on_full_indexing(kwargs: dict) -> None:
    assert_both_methods_agree(LayerSpec(indexing="full", **kwargs))


@pytest.mark.parametrize(
    ("n", "classes", "free"), [(2, 6, 5), (3, 20, 13), (4, 50, 28), (5, 102, 54), (6, 182, 94)]
)
def test_full_quadratic_seed_counts_by_assert_both_methods_agree(n: int, classes: int, free: int) -> None:
    """Two diagonal classes plus n²(n − 1) untied weights; free = function_dim + n²(n − 1)/2."""
    assert classes == 2 + n * n * (n - 1) and free == (3 if n == 2 else 4) + n * n * (n - 1) // 2
    graph = assert_both_methods_agree(LayerSpec(n=n, degree=2, indexing="full"))
    counts = count_parameters(graph)
    assert (counts["distinct_weights"], counts["free_parameters"]) == (classes, free)


def test_full_quadratic_s30_by_blocks_matches_the_closed_form() -> None:
    """Beyond the global path's reach in a unit test: 2 + n²(n − 1) classes, n²(n − 1)/2 + 4 free, and
    one free direction per slot orbit: the counted basis satisfies every additive constraint."""
    n = 30
    result = derive(LayerSpec(n=n, degree=2, indexing="full"))
    assert result.distinct_weights == 2 + n * n * (n - 1)
    assert result.free_parameters == 4 + n * n * (n - 1) // 2
    assert result.function_dim == 4
    basis = result.free_basis
    assert len(basis) == result.free_parameters
    rng = np.random.default_rng(0)
    theta = rng.integers(-5, 6, size=len(basis))
    values = np.zeros(result.distinct_weights, dtype=np.int64)
    for t, vector in zip(theta.tolist(), basis, strict=True):
        for c, v in vector.items():
            assert v.denominator == 1
            values[c] += t * int(v)
    for row in result.graph.reduced_additive[:: max(1, len(result.graph.reduced_additive) // 500)]:
        assert sum(v * int(values[c]) for c, v in row.items()) == 0


def test_full_indexing_is_refused_up_front_by_the_blockwise_estimate() -> None:
    spec = LayerSpec(n=200, degree=2, indexing="full")
    estimate = limits.estimate_exact_nonzeros(spec)
    assert estimate > limits.MAX_BLOCKWISE_NONZEROS
    with pytest.raises(SizeLimitError, match=f"{estimate:,} nonzeros"):
        derive(spec)
    reachable = LayerSpec(n=100, degree=2, indexing="full")
    assert limits.estimate_exact_nonzeros(reachable) <= limits.MAX_BLOCKWISE_NONZEROS


@pytest.mark.slow
def test_full_quadratic_s100_and_cubic_s10_by_blocks() -> None:
    n = 100
    result = derive(LayerSpec(n=n, degree=2, indexing="full"))
    assert (result.distinct_weights, result.free_parameters, result.function_dim) == (
        2 + n * n * (n - 1), 4 + n * n * (n - 1) // 2, 4)
    assert_both_methods_agree(LayerSpec(n=10, degree=3, indexing="full"))
