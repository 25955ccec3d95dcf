"""LayerSpec: validation, string and JSON round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from strategies import small_specs

from polyequiv.errors import SpecError
from polyequiv.spec import LayerSpec


@given(small_specs())
def test_string_form_round_trips(spec: LayerSpec) -> None:
    assert LayerSpec.parse(str(spec)) == spec


@given(small_specs())
def test_dict_form_round_trips(spec: LayerSpec) -> None:
    assert LayerSpec.from_dict(spec.to_dict()) == spec


def test_string_form_matches_the_style_guide() -> None:
    assert str(LayerSpec(n=5, degree=2, bias=True)) == "S5 quadratic ordered equivariant +bias"
    assert str(LayerSpec(n=4, degree=3, indexing="full", gauge="symmetric", mode="invariant")) == (
        "S4 cubic full invariant +symmetric-gauge"
    )
    assert str(LayerSpec(n=6, degree=7, group="dihedral")) == "D6 degree-7 ordered equivariant"
    custom = LayerSpec(n=5, degree=1, group="custom", generators=((1, 0, 3, 2, 4),))
    assert str(custom) == "G5[(0 1)(2 3)] linear ordered equivariant"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0, "degree": 2}, "n must be ≥ 1"),
        ({"n": 3, "degree": -1}, "degree must be ≥ 0"),
        ({"n": 3, "degree": 2, "indexing": "sorted"}, "unknown indexing"),
        ({"n": 3, "degree": 2, "group": "alternating"}, "unknown group"),
        ({"n": 3, "degree": 2, "gauge": "symmetric"}, "only applies to full indexing"),
        ({"n": 3, "degree": 2, "group": "custom"}, "needs generators"),
        ({"n": 3, "degree": 2, "group": "custom", "generators": ((0, 0, 1),)}, "not a permutation"),
        ({"n": 3, "degree": 2, "group": "cyclic", "transpositions": "all"}, "only applies to the symmetric"),
        ({"n": 3, "degree": True}, "must be an integer"),
    ],
)
def test_bad_specs_are_refused_with_the_reason(kwargs: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        LayerSpec(**kwargs)


def test_from_dict_rejects_unknown_fields_and_mismatched_labels() -> None:
    data = LayerSpec(n=4, degree=2).to_dict()
    with pytest.raises(SpecError, match="unknown layer spec fields"):
        LayerSpec.from_dict({**data, "colour": "red"})
    with pytest.raises(SpecError, match="does not match"):
        LayerSpec.from_dict({**data, "label": "S4 cubic ordered equivariant"})
    with pytest.raises(SpecError, match="missing"):
        LayerSpec.from_dict({"degree": 2})


def test_parse_rejects_garbage() -> None:
    with pytest.raises(SpecError):
        LayerSpec.parse("quadratic layer please")
    with pytest.raises(SpecError, match="unknown token"):
        LayerSpec.parse("S5 quadratic ordered sideways")
