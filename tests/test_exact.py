"""Exact rank and nullspace against sympy's dense Matrix."""

from __future__ import annotations

from fractions import Fraction

import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from polyequiv.exact import dense_rank, exact_nullspace, exact_rank

matrices = st.integers(1, 6).flatmap(
    lambda cols: st.lists(st.lists(st.integers(-3, 3), min_size=cols, max_size=cols), min_size=0, max_size=7)
)


@given(matrices)
def test_rank_and_nullspace_match_sympy(rows: list[list[int]]) -> None:
    columns = len(rows[0]) if rows else 3
    sparse = [{c: v for c, v in enumerate(row) if v} for row in rows]
    dense = sp.Matrix(rows) if rows else sp.zeros(0, columns)
    rank = exact_rank(sparse, columns)
    assert rank == (dense.rank() if rows else 0)
    basis = exact_nullspace(sparse, columns)
    assert len(basis) == columns - rank
    for vector in basis:
        for row in rows:
            assert sum(Fraction(row[c]) * v for c, v in vector.items()) == 0
    if basis:
        stacked = sp.Matrix([[vector.get(c, 0) for c in range(columns)] for vector in basis])
        assert stacked.rank() == len(basis)


@given(matrices)
def test_dense_flint_rank_matches_sympy(rows: list[list[int]]) -> None:
    columns = len(rows[0]) if rows else 3
    sparse = [{c: v for c, v in enumerate(row) if v} for row in rows]
    assert dense_rank(sparse, columns) == (sp.Matrix(rows).rank() if rows else 0)


def test_dense_rank_and_nullspace_match_sympy_on_tall_and_wide_sparse_blocks() -> None:
    """The FLINT paths (a tall block ranked as its transpose, the RREF read from ``fmpz_mat.rref``)
    give sympy's rank and exactly sympy's RREF nullspace vectors."""
    import numpy as np

    from polyequiv.exact import dense_nullspace_by_free_column, nullspace_by_free_column

    rng = np.random.default_rng(4)
    for _ in range(40):
        rows_count, cols = int(rng.integers(1, 40)), int(rng.integers(1, 30))
        rows = [{int(c): int(v) for c, v in zip(rng.choice(cols, min(cols, 3), replace=False),
                                                 rng.integers(-3, 4, size=3), strict=False) if v}
                for _ in range(rows_count)]
        rows += [dict(rows[0])] if rows else []  # a repeated row: rank-deficient on purpose
        dense = sp.Matrix([[row.get(c, 0) for c in range(cols)] for row in rows])
        assert dense_rank(rows, cols) == dense.rank()
        assert dense_nullspace_by_free_column(rows, cols) == nullspace_by_free_column(rows, cols)


def test_a_block_too_large_to_eliminate_is_refused_with_its_estimate() -> None:
    import pytest

    from polyequiv import MatrixLayerSpec, derive
    from polyequiv.errors import SizeLimitError

    with pytest.raises(SizeLimitError, match=r"block of 21,993 equations in 7,428 weights .* the limit is"):
        derive(MatrixLayerSpec("O(3)", 2, "V5", "1"))
