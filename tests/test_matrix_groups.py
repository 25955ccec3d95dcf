"""Matrix groups as data: generators, names, custom groups, representations and the spec's text/JSON forms."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from matrix_strategies import matrix_specs

from polyequiv.errors import SpecError
from polyequiv.matrix_groups import custom_matrix_group, parse_matrix_group
from polyequiv.matrix_reps import MatrixRepresentation
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.product_groups import parse_group
from polyequiv.spec import LayerSpec
from polyequiv.specs import parse_spec, spec_from_dict


def _array(matrix) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in matrix])


@pytest.mark.parametrize("d", [2, 3, 4, 5, 6, 7])
def test_orthogonal_generators_keep_the_dot_product(d: int) -> None:
    for name in (f"O({d})", f"SO({d})"):
        group = parse_matrix_group(name)
        assert group.dim == d and len(group.lie) == d * (d - 1) // 2
        for a in map(_array, group.lie):
            np.testing.assert_array_equal(a.T, -a)  # so(d): antisymmetric
        for g in map(_array, group.finite):
            np.testing.assert_array_equal(g.T @ g, np.eye(d))
            assert round(np.linalg.det(g)) == -1  # O(d) adds a reflection, SO(d) nothing
        assert len(group.finite) == (name[0] == "O")
        # the Lie generators are independent: they span so(d), of dimension d(d−1)/2
        assert (
            np.linalg.matrix_rank(np.array([a.ravel() for a in map(_array, group.lie)])) == d * (d - 1) // 2
        )


@pytest.mark.parametrize(
    ("name", "components"), [("O(1,3)", 4), ("SO(1,3)", 2), ("SO+(1,3)", 1), ("O(1,2)", 4)]
)
def test_lorentz_generators_keep_the_metric(name: str, components: int) -> None:
    group = parse_matrix_group(name)
    d = group.dim
    eta = np.diag([1.0] + [-1.0] * (d - 1))
    for a in map(_array, group.lie):
        np.testing.assert_array_equal(a.T @ eta + eta @ a, 0)
    signs = {(1, 1)}  # (sign of g_00, det g) of the identity component
    for g in map(_array, group.finite):
        np.testing.assert_array_equal(g.T @ eta @ g, eta)
        signs = {(s * int(np.sign(g[0, 0])), t * round(np.linalg.det(g))) for s, t in signs} | signs
    assert len(signs) == components  # the finite generators reach every component of the named group
    assert group.axis_names[0] == "t" and len(group.lie) == d * (d - 1) // 2


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_signed_permutations_have_order_2_to_the_n_times_n_factorial(n: int) -> None:
    group = parse_matrix_group(f"B({n})")
    brute = {
        (tuple(p), s) for p in itertools.permutations(range(n)) for s in itertools.product((1, -1), repeat=n)
    }
    assert group.order == len(brute)
    for g in map(_array, group.finite):
        assert set(np.abs(g).sum(axis=0)) == {1.0} and set(np.abs(g).sum(axis=1)) == {1.0}


def test_custom_group_enumerates_its_order_and_round_trips_its_label() -> None:
    quarter_turn = [[0, -1], [1, 0]]
    group = custom_matrix_group([quarter_turn], [])
    assert group.order == 4
    assert parse_matrix_group(group.label) == group
    half = custom_matrix_group([[["1/2", 0], [0, 2]]], [])
    assert half.order is None  # infinite: the enumeration stops at its limit
    assert parse_matrix_group(half.label).finite == half.finite


@pytest.mark.parametrize(
    ("finite", "lie", "message"),
    [
        ([], [], "at least one generator"),
        ([[[1, 2], [2, 4]]], [], "finite generator 1 is singular"),
        ([[[1, 0], [0, 1]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]], [], "different sizes"),
        ([[[1, 0], [0]]], [], "not square"),
        ([[[0.7071067811865476, 0], [0, 1]]], [], "irrational"),
        ([[["sqrt(2)", 0], [0, 1]]], [], "not a rational number"),
        ([[[True, 0], [0, 1]]], [], "not a number"),
        ([], [[[0, 0], [0, 0]]], "lie generator 1 is the zero matrix"),
        ([[["1/0", 0], [0, 1]]], [], "division by zero"),
        ([[]], [], "square matrix"),
    ],
)
def test_custom_groups_refuse_bad_generators(finite, lie, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        custom_matrix_group(finite, lie)


@pytest.mark.parametrize("name", ["O(0)", "SO(1)", "Q(3)", "O(x)", "O(2,3)", "SO+(3)", "B(0)", "O(65)"])
def test_unknown_or_impossible_group_names_are_refused(name: str) -> None:
    with pytest.raises(SpecError):
        parse_matrix_group(name)


def test_product_groups_parse_and_print() -> None:
    group = parse_group("S(5) x O(3)")
    assert (group.label, group.n, group.points, group.permutation_order) == ("S(5) x O(3)", 5, "S", 120)
    assert parse_group("D(4) × SO(2)").label == "D(4) x SO(2)"
    assert parse_group("S(3) x B(2)").order == 6 * 8
    assert parse_group("O(3)").order is None
    with pytest.raises(SpecError, match="needs its generators"):
        parse_group("S(3) x custom")


def test_representations_parse_with_multiplicities_and_points() -> None:
    rep = MatrixRepresentation.parse("2*1 + 2*V")
    assert str(rep) == "2*1 + 2*V" and rep.size(1, 3) == 8 and rep.term_sizes(1, 3) == (2, 6)
    assert MatrixRepresentation.parse("V3").size(1, 4) == 64
    cloud = MatrixRepresentation.parse("V(x)1 + V + E⊗V2 + 1", on_points=True)
    assert str(cloud) == "V⊗1 + V⊗V + E⊗V2 + 1"
    assert cloud.size(5, 3) == 5 + 15 + 10 * 9 + 1
    labels = cloud.coordinate_labels(5, ("x", "y", "z"))
    assert len(set(labels)) == len(labels) == cloud.size(5, 3)


@pytest.mark.parametrize(
    ("text", "on_points", "message"),
    [
        ("E", False, "pairs of points"),
        ("V⊗V", False, "needs a product group"),
        ("V2", True, "ambiguous"),
        ("0*V", False, "multiplicity 0"),
        ("W", False, "unknown representation term"),
        ("", False, "cannot parse representation"),
        ("V + ", False, "unknown representation term"),
        ("Q⊗V", True, "unknown point term"),
    ],
)
def test_representations_that_do_not_fit_the_group_are_refused(
    text: str, on_points: bool, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        MatrixRepresentation.parse(text, on_points=on_points)


@settings(max_examples=60, deadline=None)
@given(matrix_specs(max_weights=2000))
def test_spec_strings_and_json_round_trip(spec: MatrixLayerSpec) -> None:
    assert MatrixLayerSpec.parse(str(spec)) == spec
    assert parse_spec(str(spec)) == spec
    data = json.loads(json.dumps(spec.to_dict()))
    assert spec_from_dict(data) == spec and data["label"] == str(spec)


def test_permutation_spec_strings_and_json_are_unchanged() -> None:
    for text in (
        "S5 quadratic ordered equivariant +bias",
        "G5[(0 1)(2 3),(0 2 4)] linear ordered invariant",
        "T4x4 linear ordered equivariant",
        "S6 linear ordered V + E -> 1 +bias",
        "S5 quadratic ordered E -> V",
    ):
        spec = parse_spec(text)
        assert isinstance(spec, LayerSpec) and str(spec) == text
        assert spec_from_dict(spec.to_dict()) == spec
    assert "input" not in LayerSpec(n=5, degree=2).to_dict()  # set layers keep their JSON byte for byte


def test_spec_label_that_does_not_match_its_fields_is_refused() -> None:
    data = MatrixLayerSpec("O(3)", degree=1, input="V", output="V").to_dict()
    data["degree"] = 2
    with pytest.raises(SpecError, match="does not match"):
        MatrixLayerSpec.from_dict(data)
    with pytest.raises(SpecError, match="unknown layer spec fields"):
        MatrixLayerSpec.from_dict({**data, "n": 3})
