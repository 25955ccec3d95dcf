"""Representations (polyequiv.reps) and the layer specs that carry them."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import permutations_of, tensor_specs

from polyequiv.errors import SpecError
from polyequiv.reps import Representation
from polyequiv.scheme import TyingScheme, load_scheme, scheme_from_dict
from polyequiv.spec import LayerSpec

TERMS = st.sampled_from(["1", "V", "V2", "V3", "E"])


def _image_by_definition(term: str, coordinate: tuple[int, ...], sigma: tuple[int, ...]) -> tuple[int, ...]:
    """σ(c) straight from the convention: every index through σ, an edge re-sorted."""
    image = tuple(sigma[i] for i in coordinate)
    return tuple(sorted(image)) if term == "E" else image


@given(st.lists(TERMS, min_size=1, max_size=4))
def test_string_form_round_trips(terms: list[str]) -> None:
    rep = Representation(tuple(terms))
    assert Representation.parse(str(rep)) == rep
    assert Representation.parse(" + ".join(terms).replace(" ", "")) == rep


@pytest.mark.parametrize(
    ("text", "sizes"), [("V", (5,)), ("E", (10,)), ("V2", (25,)), ("1 + V + E", (1, 5, 10))]
)
def test_sizes(text: str, sizes: tuple[int, ...]) -> None:
    rep = Representation.parse(text)
    assert rep.term_sizes(5) == sizes
    assert len(rep.coordinates(5)) == sum(sizes) == len(set(rep.coordinate_labels(5)))


@given(st.lists(TERMS, min_size=1, max_size=3), st.integers(2, 5).flatmap(permutations_of))
def test_induced_permutation_follows_the_convention(terms: list[str], sigma: tuple[int, ...]) -> None:
    rep = Representation(tuple(terms))
    n = len(sigma)
    coordinates = rep.coordinates(n)
    owner = rep.coordinate_terms(n)
    lookup = {(int(owner[c]), coordinate): c for c, coordinate in enumerate(coordinates)}
    expected = [
        lookup[(int(owner[c]), _image_by_definition(rep.terms[owner[c]], coordinate, sigma))]
        for c, coordinate in enumerate(coordinates)
    ]
    assert list(rep.permutation(sigma)) == expected
    assert sorted(expected) == list(range(len(coordinates)))


@given(st.integers(2, 5).flatmap(lambda n: st.tuples(permutations_of(n), permutations_of(n))))
def test_induced_permutations_compose_like_the_group(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    """(σ∘τ) on coordinates is σ's coordinate map after τ's, so generators decide the group."""
    sigma, tau = pair
    rep = Representation.parse("V + E + V2")
    composed = tuple(sigma[tau[i]] for i in range(len(sigma)))
    p_sigma, p_tau = np.array(rep.permutation(sigma)), np.array(rep.permutation(tau))
    assert rep.permutation(composed) == tuple(p_sigma[p_tau].tolist())


@pytest.mark.parametrize("text", ["W", "V0", "E2", "", "V +", "2"])
def test_unknown_terms_are_refused_by_name(text: str) -> None:
    with pytest.raises(SpecError, match=r"term|representation"):
        Representation.parse(text)


def test_edges_need_two_elements() -> None:
    with pytest.raises(SpecError, match="n ≥ 2"):
        LayerSpec(n=1, degree=1, input="E")
    with pytest.raises(SpecError, match="n ≥ 2"):
        LayerSpec(n=1, degree=1, output="V + E")


@given(tensor_specs())
def test_tensor_spec_string_and_json_round_trip(spec: LayerSpec) -> None:
    assert LayerSpec.parse(str(spec)) == spec
    assert LayerSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_tensor_spec_strings() -> None:
    spec = LayerSpec(n=5, degree=2, input="E", output="V")
    assert str(spec) == "S5 quadratic ordered E -> V"
    assert LayerSpec.parse("S6 linear ordered V + E -> 1 +bias") == LayerSpec(
        n=6, degree=1, input="V + E", output="1", bias=True
    )
    assert LayerSpec.parse("S6 linear ordered V+E -> 1 +bias") == LayerSpec.parse(
        "S6 linear V + E -> 1 +bias"
    )
    with pytest.raises(SpecError, match="both sides"):
        LayerSpec.parse("S5 linear ordered -> V")
    with pytest.raises(SpecError, match="contradicts"):
        LayerSpec.parse("S5 linear ordered E -> V invariant")


def test_mode_is_the_old_spelling_of_the_output() -> None:
    assert LayerSpec(n=4, degree=2, mode="invariant") == LayerSpec(n=4, degree=2, output="1")
    assert LayerSpec(n=4, degree=2, output="1").mode == "invariant"
    assert LayerSpec(n=4, degree=2, input="E", output="E").mode == "equivariant"
    with pytest.raises(SpecError, match="contradicts output 'V'"):
        LayerSpec(n=4, degree=2, mode="invariant", output="V")


@pytest.mark.parametrize(
    "label",
    [
        "S5 quadratic ordered equivariant +bias",
        "D6 linear full invariant",
        "S4/all cubic ordered equivariant",
    ],
)
def test_old_spec_strings_and_json_are_unchanged(label: str) -> None:
    spec = LayerSpec.parse(label)
    assert str(spec) == label and spec.is_set_layer
    data = spec.to_dict()
    assert set(data) == {
        "n",
        "degree",
        "indexing",
        "bias",
        "mode",
        "group",
        "transpositions",
        "generators",
    } | {
        "gauge",
        "label",
    }
    assert LayerSpec.from_dict(data) == spec


def test_old_scheme_json_still_loads() -> None:
    """A scheme written before representations existed (no input/output keys) loads as V → V."""
    spec = LayerSpec(n=4, degree=2)
    data = TyingScheme.from_spec(spec).to_dict()
    assert "input" not in data["spec"] and "output" not in data["spec"]
    old = json.loads(json.dumps(data))
    assert scheme_from_dict(old).spec == spec


def test_tensor_scheme_round_trips_through_a_file(tmp_path) -> None:
    spec = LayerSpec(n=4, degree=2, input="E", output="V", bias=True)
    path = TyingScheme.from_spec(spec).save(tmp_path / "edges.json")
    loaded = load_scheme(path)
    assert loaded.spec == spec and loaded.spec.input == Representation(("E",))


def test_coordinate_labels_tell_terms_apart() -> None:
    labels = Representation.parse("V2 + E").coordinate_labels(3)
    assert labels[:2] == ["V2:00", "V2:01"] and labels[-1] == "E:12"
    assert Representation.parse("E").coordinate_labels(12)[-1] == "10.11"
    assert len(set(Representation.parse("E + E").coordinate_labels(4))) == 12
    assert all(len(c) == 2 for c in Representation.parse("E").coordinates(4))
    assert Representation.parse("E").coordinates(4) == list(itertools.combinations(range(4), 2))
