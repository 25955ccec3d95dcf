"""Generators, cycle notation, group orders and uniform sampling of the whole group."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import permutations_of

from polyequiv import groups
from polyequiv.derivation import group_order
from polyequiv.errors import SpecError
from polyequiv.spec import LayerSpec


@pytest.mark.parametrize("kind", ["adjacent", "all", "minimal"])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
def test_every_transposition_set_generates_the_symmetric_group(kind: str, n: int) -> None:
    gens = groups.symmetric_generators(n, kind)
    assert groups.group_order(n, gens) == math.factorial(n)
    expected_count = {"all": n * (n - 1) // 2, "adjacent": n - 1, "minimal": min(2, n - 1)}[kind]
    assert len(gens) == expected_count


@pytest.mark.parametrize("n", range(1, 9))
def test_known_group_orders_match_schreier_sims(n: int) -> None:
    for group in ("symmetric", "cyclic", "dihedral"):
        spec = LayerSpec(n=n, degree=1, group=group)
        assert group_order(spec) == groups.group_order(n, spec.group_generators)


@given(st.integers(1, 7).flatmap(lambda n: st.lists(permutations_of(n), min_size=1, max_size=3)))
def test_cycle_notation_round_trips(perms: list[tuple[int, ...]]) -> None:
    n = len(perms[0])
    text = ",".join(groups.format_cycles(p) for p in perms)
    parsed = groups.parse_generators(text, n)
    assert parsed == groups.canonical_generators(perms)
    moving = {p for p in perms if list(p) != list(range(n))}
    assert set(parsed) == (moving or {tuple(range(n))})


def test_cycle_notation_follows_sympy() -> None:
    # (0 2 4) sends 0 → 2 → 4 → 0
    assert groups.parse_generators("(0 2 4)", 5) == [(2, 1, 4, 3, 0)]
    assert groups.parse_generators("(0,1)(2, 3)", 4) == [(1, 0, 3, 2)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(0 5)", "not in 0..4"),
        ("(0 1)(1 2)", "appears twice"),
        ("0 1", "not in cycle notation"),
        ("(0 1", "unbalanced"),
        ("(0 a)", "not a point number"),
        ("", "no generators"),
    ],
)
def test_bad_generators_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        groups.parse_generators(text, 5)


@pytest.mark.parametrize(
    ("n", "gens"),
    [
        (4, groups.symmetric_generators(4, "minimal")),
        (5, groups.dihedral_generators(5)),
        (6, groups.parse_generators("(0 1)(2 3),(0 2 4)", 6)),
    ],
)
def test_random_elements_cover_the_whole_group_uniformly(n: int, gens: list) -> None:
    order = groups.group_order(n, gens)
    draws = 200 * order
    sample = groups.random_group_elements(n, gens, draws, np.random.default_rng(1))
    counts = Counter(map(tuple, sample))
    group = {tuple(g.array_form) for g in groups.permutation_group(n, gens).generate()}
    assert set(counts) == group
    # each element is drawn 200 times on average; 6 standard deviations is generous
    assert max(abs(c - 200) for c in counts.values()) < 6 * math.sqrt(200)
