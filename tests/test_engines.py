"""The symbolic (sympy) and sparse (index arithmetic) engines derive the same equations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import small_specs

from polyequiv.engines.sparse import derive_sparse
from polyequiv.engines.symbolic import derive_symbolic
from polyequiv.indexing import WeightIndex
from polyequiv.spec import LayerSpec


def _both(spec: LayerSpec):
    index = WeightIndex(spec)
    return derive_symbolic(index), derive_sparse(index)


@given(small_specs())
def test_engines_agree_on_random_specs(spec: LayerSpec) -> None:
    symbolic, sparse = _both(spec)
    assert symbolic.canonical_forms() == sparse.canonical_forms()
    np.testing.assert_array_equal(symbolic.equalities, sparse.equalities)
    np.testing.assert_array_equal(symbolic.gauge_ties, sparse.gauge_ties)


@pytest.mark.parametrize("transpositions", ["adjacent", "all", "minimal"])
@pytest.mark.parametrize(
    ("n", "degree", "indexing"), [(4, 2, "full"), (5, 2, "ordered"), (4, 3, "ordered"), (3, 3, "full")]
)
def test_engines_agree_on_seed_layers(transpositions: str, n: int, degree: int, indexing: str) -> None:
    spec = LayerSpec(n=n, degree=degree, indexing=indexing, bias=True, transpositions=transpositions)
    symbolic, sparse = _both(spec)
    assert symbolic.canonical_forms() == sparse.canonical_forms()
    assert symbolic.num_additive == sparse.num_additive


def test_linear_equations_are_the_seeds_15() -> None:
    """Seed (15): W_ij = W_ik, W_kj = W_jk, W_jj = W_kk for the transposition (j k); here n = 3, σ = (0 1)."""
    spec = LayerSpec(n=3, degree=1, group="custom", generators=((1, 0, 2),))
    index = WeightIndex(spec)
    text = {eq.text(index) for eq in derive_symbolic(index).equations()}
    # our weights are W^k_i (output k, input i)
    assert text == {"W^0_0 = W^1_1", "W^0_1 = W^1_0", "W^0_2 = W^1_2", "W^2_0 = W^2_1"}


def test_full_quadratic_gives_the_seeds_additive_constraint() -> None:
    """Seed (21), last line: a^h_hk + a^h_kh = a^k_hk + a^k_kh, here for σ = (0 1), h = 0, k = 1."""
    spec = LayerSpec(n=3, degree=2, indexing="full", group="custom", generators=((1, 0, 2),))
    index = WeightIndex(spec)
    text = {eq.text(index) for eq in derive_sparse(index).equations()}
    assert "W^0_01 + W^0_10 = W^1_01 + W^1_10" in text


def test_ordered_indexing_never_produces_additive_constraints() -> None:
    for spec in (LayerSpec(n=5, degree=3, bias=True), LayerSpec(n=6, degree=2, group="dihedral")):
        assert derive_sparse(WeightIndex(spec)).num_additive == 0


def test_every_equation_is_trivial_for_the_trivial_group() -> None:
    spec = LayerSpec(n=3, degree=2, group="custom", generators=((0, 1, 2),))
    symbolic, sparse = _both(spec)
    assert symbolic.canonical_forms() == sparse.canonical_forms() == set()


@pytest.mark.slow
@settings(max_examples=400)
@given(small_specs(max_n=6, max_degree=3))
def test_engines_agree_thoroughly(spec: LayerSpec) -> None:
    symbolic, sparse = _both(spec)
    assert symbolic.canonical_forms() == sparse.canonical_forms()
