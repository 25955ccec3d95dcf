"""The stabiliser chain (our Schreier–Sims) against sympy's, on random groups and the Rubik's cube."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from sympy.combinatorics import Permutation, PermutationGroup

from polyequiv import groups
from polyequiv.stabilizer_chain import StabilizerChain, compose, inverse

RUBIK = ("(0 2 7 5)(1 4 6 3)(8 32 24 16)(9 33 25 17)(10 34 26 18),(8 10 15 13)(9 12 14 11)(0 16 40 39)"
         "(3 19 43 36)(5 21 45 34),(16 18 23 21)(17 20 22 19)(5 24 42 15)(6 27 41 12)(7 29 40 10),"
         "(24 26 31 29)(25 28 30 27)(2 37 42 18)(4 35 44 20)(7 32 47 23),(32 34 39 37)(33 36 38 35)"
         "(2 8 45 31)(1 11 46 28)(0 13 47 26),(40 42 47 45)(41 44 46 43)(13 21 29 37)(14 22 30 38)"
         "(15 23 31 39)")


def sympy_order(n: int, generators: list[tuple[int, ...]]) -> int:
    return int(PermutationGroup([Permutation(list(g)) for g in generators]).order()) if generators else 1


@pytest.mark.parametrize("seed", range(4))
def test_orders_of_random_groups_agree_with_sympy(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        n = rng.randint(1, 16)
        generators = []
        for _ in range(rng.randint(0, 3)):  # random permutations, or products of a few random cycles
            if rng.random() < 0.5:
                generators.append(tuple(rng.sample(range(n), n)))
            else:
                perm = list(range(n))
                cycle = rng.sample(range(n), rng.randint(1, n))
                for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
                    perm[a] = b
                generators.append(tuple(perm))
        assert StabilizerChain(n, generators).order == sympy_order(n, generators)


def test_the_rubiks_cube_group() -> None:
    chain = StabilizerChain(48, groups.parse_generators(RUBIK, 48))
    assert chain.order == 43_252_003_274_489_856_000


def test_random_elements_are_members_and_cover_a_small_group() -> None:
    generators = groups.dihedral_generators(7) + groups.cyclic_generators(7)
    chain = StabilizerChain(7, generators)
    drawn = groups.random_group_elements(7, generators, 400, np.random.default_rng(0))
    members = {tuple(g) for g in drawn}
    assert len(members) == chain.order == 14  # every element of D₇ drawn, and nothing else
    reference = PermutationGroup([Permutation(list(g)) for g in generators])
    assert all(reference.contains(Permutation(list(g))) for g in members)


def test_recognised_symmetric_groups_are_symmetric() -> None:
    rng = random.Random(5)
    for _ in range(200):
        n = rng.randint(2, 9)
        generators = [tuple(rng.sample(range(n), n)) for _ in range(rng.randint(1, 3))]
        swaps = [(a, b) for a, b in (rng.sample(range(n), 2) for _ in range(rng.randint(0, n)))]
        for a, b in swaps:
            perm = list(range(n))
            perm[a], perm[b] = b, a
            generators.append(tuple(perm))
        if groups.generates_symmetric(n, generators):
            assert sympy_order(n, generators) == math.factorial(n)
    assert groups.generates_symmetric(40, groups.symmetric_generators(40, "minimal"))
    assert groups.group_order(40, groups.symmetric_generators(40, "adjacent")) == math.factorial(40)


def test_compose_and_inverse() -> None:
    g, h = (1, 2, 0, 3), (0, 1, 3, 2)
    assert compose(g, h) == tuple(h[g[x]] for x in range(4))
    assert compose(g, inverse(g)) == (0, 1, 2, 3)
