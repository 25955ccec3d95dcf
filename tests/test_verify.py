"""Numeric verification: passes for derived layers, fails for a layer with a dropped equation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import small_specs

from polyequiv import LayerSpec, derive, verify
from polyequiv.derivation import count_parameters
from polyequiv.engines.symbolic import layer_polynomials, weight_symbols
from polyequiv.graph import ConstraintGraph
from polyequiv.verify import evaluate_layer, random_tied_weights


@given(small_specs(), st.sampled_from(["symbolic", "sparse"]))
def test_derived_layers_pass_verification(spec: LayerSpec, engine: str) -> None:
    report = verify(derive(spec, engine=engine), elements=6, inputs=4, seed=3)
    assert report.passed, report.problems
    assert report.max_residual < 1e-9


@pytest.mark.parametrize(
    "spec",
    [
        LayerSpec(n=7, degree=2),
        LayerSpec(n=5, degree=3, bias=True),
        LayerSpec(n=6, degree=2, group="dihedral", mode="invariant"),
        LayerSpec(n=4, degree=2, indexing="full"),
    ],
)
def test_perturbing_one_weight_breaks_equivariance(spec: LayerSpec) -> None:
    report = verify(derive(spec))
    assert report.perturbed_weight is not None
    assert report.perturbed_residual > 1e-3


def test_a_layer_with_a_dropped_equation_fails_verification() -> None:
    honest = derive(LayerSpec(n=5, degree=2))
    system = dataclasses.replace(honest.system, equalities=honest.system.equalities[::2])
    graph = ConstraintGraph(system)
    broken = dataclasses.replace(honest, system=system, graph=graph, **count_parameters(graph))
    broken.__dict__.pop("free_basis", None)
    assert broken.distinct_weights > honest.distinct_weights
    report = verify(broken)
    assert not report.passed
    assert report.max_residual > 1e-3


def test_trivial_group_skips_the_perturbation_with_a_reason() -> None:
    report = verify(derive(LayerSpec(n=1, degree=2)))
    assert report.passed and report.perturbed_weight is None
    assert any("skipped" in line for line in report.lines())


def test_numpy_evaluation_matches_the_sympy_polynomial() -> None:
    spec = LayerSpec(n=3, degree=2, bias=True, indexing="full")
    result = derive(spec)
    from polyequiv.indexing import WeightIndex

    index = WeightIndex(spec)
    rng = np.random.default_rng(0)
    weights = rng.standard_normal(index.num_weights)
    x = rng.standard_normal((2, 3))
    symbols = weight_symbols(index)
    polys, xs = layer_polynomials(index, symbols)
    values = dict(zip(symbols, weights.tolist(), strict=True))
    for row in range(2):
        point = {**values, **dict(zip(xs, x[row].tolist(), strict=True))}
        expected = [float(p.subs(point)) for p in polys]
        np.testing.assert_allclose(evaluate_layer(index, weights, x[row : row + 1])[0], expected, rtol=1e-12)
    assert result.num_weights == index.num_weights


def test_random_tied_weights_satisfy_every_equation() -> None:
    result = derive(LayerSpec(n=4, degree=2, indexing="full", bias=True))
    weights = random_tied_weights(result, np.random.default_rng(5))
    a, b = result.system.equalities.T
    np.testing.assert_allclose(weights[a], weights[b])
    for terms in result.system.additive_rows():
        assert abs(sum(c * weights[w] for w, c in terms)) < 1e-12
