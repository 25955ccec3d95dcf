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
