"""Derivation for matrix groups: known answers, the two engines, and independent counts (SVD, Molien)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from matrix_reference import character_dim, numeric_function_dim
from matrix_strategies import matrix_specs

from polyequiv import derive, verify
from polyequiv.engines.matrix import derive_matrix
from polyequiv.engines.matrix_symbolic import derive_matrix_symbolic
from polyequiv.indexing import WeightIndex
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.render import basis_vectors
from polyequiv.scheme import TyingScheme, scheme_from_dict

KNOWN = [
    ("SO(3) linear ordered V2 -> V", 1),  # ε_ijk: the cross product as a linear map of V⊗V
    ("SO(3) quadratic ordered 2*V -> V", 1),  # x × y
    ("O(3) quadratic ordered 2*V -> V", 0),  # x × y is a pseudovector: reflections forbid it
    ("O(3) linear ordered V2 -> V2", 3),  # identity, transpose, trace·I
    ("O(3) cubic ordered V -> V", 1),  # x |x|²
    ("O(1,3) quadratic ordered V -> 1", 1),  # the Minkowski metric
    ("O(1,3) quartic ordered 4*V -> 1", 55),  # products of two of the 10 dot products p_i·p_j
    ("SO(1,3) quartic ordered 4*V -> 1", 56),  # ... and ε(p1, p2, p3, p4), which parity alone flips
    ("O(5) quadratic ordered 2*V -> 1", 3),  # |x1|², x1·x2, |x2|²
    ("B(3) linear ordered V -> V", 1),  # signed permutations: only the identity
    ("B(3) quadratic ordered V -> 1", 1),  # |x|²
]


@pytest.mark.parametrize(("text", "expected"), KNOWN)
def test_known_answers(text: str, expected: int) -> None:
    result = derive(MatrixLayerSpec.parse(text))
    assert result.free_parameters == result.function_dim == expected


def test_the_cross_product_is_the_basis_of_so3_bilinear_maps() -> None:
    (vector,) = basis_vectors(derive(MatrixLayerSpec.parse("SO(3) linear ordered V2 -> V")))
    values = {name: int(value) for name, value in vector.items()}
    # y_x = a (v_yz − v_zy), y_y = a (v_zx − v_xz), y_z = a (v_xy − v_yx) for one common a
    signs = {"W^x_{yz}": 1, "W^x_{zy}": -1, "W^y_{zx}": 1, "W^y_{xz}": -1, "W^z_{xy}": 1, "W^z_{yx}": -1}
    scale = values["W^x_{yz}"]
    assert values == {name: sign * scale for name, sign in signs.items()}


def test_lorentz_metric_is_the_quadratic_invariant() -> None:
    (vector,) = basis_vectors(derive(MatrixLayerSpec.parse("O(1,3) quadratic ordered V -> 1")))
    values = {name: int(value) for name, value in vector.items()}
    assert values == {
        "W_tt": -values["W_xx"],
        "W_xx": values["W_xx"],
        "W_yy": values["W_xx"],
        "W_zz": values["W_xx"],
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrix_specs(max_weights=300))
def test_engines_agree_on_random_specs(spec: MatrixLayerSpec) -> None:
    index = WeightIndex(spec)
    fast, symbolic = derive_matrix(index), derive_matrix_symbolic(index)
    assert fast.canonical_forms() == symbolic.canonical_forms()
    np.testing.assert_array_equal(fast.equalities, symbolic.equalities)
    np.testing.assert_array_equal(fast.gauge_ties, symbolic.gauge_ties)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrix_specs(max_weights=250))
def test_function_dim_matches_a_numeric_nullspace(spec: MatrixLayerSpec) -> None:
    """The SVD of the equivariance condition on random group elements (tests/matrix_reference.py)."""
    result = derive(spec)
    nullity, gap = numeric_function_dim(spec)
    assert gap > 1e-7, f"no clear numerical gap ({gap:.1e}) for {spec}"
    assert result.function_dim == nullity


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrix_specs(max_weights=400, finite=True))
def test_function_dim_of_finite_groups_matches_molien(spec: MatrixLayerSpec) -> None:
    """Character averaging over every element (tests/matrix_reference.py), on random finite-group specs."""
    assert derive(spec).function_dim == character_dim(spec)


@pytest.mark.parametrize(
    "text",
    [
        "B(2) cubic ordered V -> V2 +bias",
        "B(3) quadratic full V -> V",
        "S(3) x B(2) quadratic ordered V⊗V -> 1⊗V2",
        "C(4) x O(1) cubic ordered V⊗V -> V⊗V +bias",
        'M2{"finite":[[[0,-1],[1,0]]],"lie":[]} quartic ordered V + 1 -> V2',
    ],
)
def test_finite_groups_match_molien_character_averaging(text: str) -> None:
    spec = MatrixLayerSpec.parse(text)
    result = derive(spec)
    assert result.function_dim == character_dim(spec)
    report = verify(result)
    assert report.passed and report.independent_count == result.function_dim


@pytest.mark.parametrize(
    "text",
    [
        "O(3) cubic ordered 2*1 + 2*V -> V2",
        "S(4) x SO(2) quadratic full V⊗1 + V⊗V -> 1⊗V2 +bias",
        "SO+(1,3) quadratic ordered 2*V -> V",
    ],
)
def test_verify_passes_on_random_elements_and_catches_a_perturbation(text: str) -> None:
    report = verify(derive(MatrixLayerSpec.parse(text)), elements=10, inputs=4)
    assert report.passed, report.problems
    assert report.max_residual < 1e-9 and report.perturbed_residual > 1e-4


def test_schemes_of_matrix_layers_round_trip_and_are_rederived() -> None:
    scheme = TyingScheme.from_spec(MatrixLayerSpec.parse("S(3) x O(2) quadratic ordered V -> 1⊗V2"))
    again = scheme_from_dict(scheme.to_dict())
    assert again.spec == scheme.spec and again.basis == scheme.basis
    assert np.array_equal(again.class_of_weight, scheme.class_of_weight)


def test_constraint_kinds_are_counted() -> None:
    summary = derive(MatrixLayerSpec.parse("O(3) linear ordered 2*1 + 2*V -> V2")).summary()
    kinds = summary["constraint_kinds"]
    assert kinds["equality"] == summary["equality_constraints"]
    assert kinds["zero"] + kinds["additive"] + kinds["general linear"] == summary["additive_constraints"]
    assert kinds["zero"] > 0 and summary["group_order"] is None and summary["lie_algebra_dim"] == 3


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrix_specs(max_weights=600, max_degree=4))
def test_engines_and_numeric_nullspace_agree_thoroughly(spec: MatrixLayerSpec) -> None:
    index = WeightIndex(spec)
    assert derive_matrix(index).canonical_forms() == derive_matrix_symbolic(index).canonical_forms()
    nullity, gap = numeric_function_dim(spec)
    assert gap > 1e-7 and derive(spec).function_dim == nullity
