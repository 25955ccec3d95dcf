"""Counts of tensor layers (E, V2, V + E, ...) against closed forms and a brute-force orbit count."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from strategies import stirling2, tensor_specs

from polyequiv import LayerSpec, derive, verify
from polyequiv.engines.sparse import derive_sparse
from polyequiv.engines.symbolic import derive_symbolic
from polyequiv.indexing import WeightIndex


def _rep(order: int) -> str:
    return {0: "1", 1: "V"}.get(order, f"V{order}")


LINEAR_ORDERS = [(k, out) for k in range(1, 7) for out in range(7 - k)]


@pytest.mark.parametrize(("k", "out"), LINEAR_ORDERS)
def test_linear_tensor_layers_count_set_partitions(k: int, out: int) -> None:
    """Linear Vk → V_out under Sₙ: Σ_{j ≤ min(n, k+l)} S(k+l, j), i.e. Bell(k+l) once n ≥ k+l."""
    for n in range(1, 9):
        spec = LayerSpec(n=n, degree=1, input=_rep(k), output=_rep(out))
        expected = sum(stirling2(k + out, j) for j in range(min(n, k + out) + 1))
        result = derive(spec, engine="sparse")
        assert (result.distinct_weights, result.free_parameters, result.function_dim) == (expected,) * 3


@pytest.mark.parametrize(
    ("k", "out", "n"), [(1, 1, 3), (1, 2, 3), (2, 1, 2), (2, 2, 3), (1, 3, 3), (3, 1, 2)]
)
def test_symbolic_engine_agrees_on_small_linear_tensor_layers(k: int, out: int, n: int) -> None:
    spec = LayerSpec(n=n, degree=1, input=_rep(k), output=_rep(out))
    expected = sum(stirling2(k + out, j) for j in range(min(n, k + out) + 1))
    assert derive(spec, engine="symbolic").free_parameters == expected


@pytest.mark.parametrize("n", range(3, 9))
def test_edges_to_nodes_and_edge_invariants(n: int) -> None:
    assert derive(LayerSpec(n=n, degree=1, input="E", output="V")).free_parameters == 2
    assert derive(LayerSpec(n=n, degree=1, input="E", output="1")).free_parameters == 1
    assert derive(LayerSpec(n=n, degree=1, input="E", output="E")).free_parameters == (
        2 if n == 3 else 3
    )  # same, share one, disjoint


@given(tensor_specs())
def test_engines_give_identical_equations_on_tensor_specs(spec: LayerSpec) -> None:
    index = WeightIndex(spec)
    symbolic, sparse = derive_symbolic(index), derive_sparse(index)
    assert symbolic.canonical_forms() == sparse.canonical_forms()
    np.testing.assert_array_equal(symbolic.equalities, sparse.equalities)


# ---------------------------------------------------------------------- brute force, written here
def _group_elements(spec: LayerSpec) -> list[tuple[int, ...]]:
    """Every element of the group, by closing the generators under composition."""
    identity = tuple(range(spec.n))
    if spec.group == "symmetric":
        return list(itertools.permutations(range(spec.n)))
    elements, frontier = {identity}, [identity]
    while frontier:
        nxt = []
        for g in frontier:
            for s in spec.group_generators:
                h = tuple(s[g[i]] for i in range(spec.n))
                if h not in elements:
                    elements.add(h)
                    nxt.append(h)
        frontier = nxt
    return sorted(elements)


def _coordinates(text: str, n: int) -> list[tuple[str, int, tuple[int, ...]]]:
    """(term, term position, index tuple) of every coordinate, built from the term names alone."""
    out = []
    for position, term in enumerate(part.strip() for part in text.split("+")):
        if term == "1":
            out.append((term, position, ()))
        elif term == "E":
            out += [(term, position, pair) for pair in itertools.combinations(range(n), 2)]
        else:
            order = int(term[1:] or 1)
            out += [(term, position, t) for t in itertools.product(range(n), repeat=order)]
    return out


def _act(
    sigma: tuple[int, ...], coordinate: tuple[str, int, tuple[int, ...]]
) -> tuple[str, int, tuple[int, ...]]:
    term, position, indices = coordinate
    image = tuple(sigma[i] for i in indices)
    return term, position, (tuple(sorted(image)) if term == "E" else image)


def brute_force_orbits(spec: LayerSpec) -> int:
    """Orbits of the group on (output coordinate, monomial of degree d in the inputs), by union–find."""
    inputs = _coordinates(str(spec.input), spec.n) + ([("bias", -1, ())] if spec.bias else [])
    outputs = _coordinates(str(spec.output), spec.n)
    monomials = list(itertools.combinations_with_replacement(range(len(inputs)), spec.degree))
    position = {c: i for i, c in enumerate(inputs)}
    out_position = {c: i for i, c in enumerate(outputs)}
    parent = list(range(len(outputs) * len(monomials)))
    mono_id = {m: i for i, m in enumerate(monomials)}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for sigma in _group_elements(spec):
        moved_input = [position[c] if c[0] == "bias" else position[_act(sigma, c)] for c in inputs]
        moved_output = [out_position[_act(sigma, c)] for c in outputs]
        for k in range(len(outputs)):
            for m, monomial in enumerate(monomials):
                image = mono_id[tuple(sorted(moved_input[i] for i in monomial))]
                a, b = find(k * len(monomials) + m), find(moved_output[k] * len(monomials) + image)
                parent[a] = b
    return len({find(a) for a in range(len(parent))})


@given(tensor_specs(max_weights=400))
def test_function_dim_is_the_brute_force_orbit_count(spec: LayerSpec) -> None:
    result = derive(spec)
    assert result.function_dim == brute_force_orbits(spec)
    if spec.indexing == "ordered":
        assert result.distinct_weights == result.free_parameters == result.function_dim


@pytest.mark.parametrize(
    "label",
    [
        "S4 quadratic ordered E -> V",
        "S4 cubic ordered E -> V",
        "S5 quadratic ordered E -> E +bias",
        "S3 quadratic ordered V2 -> V2",
        "S4 quadratic ordered V + E -> V + E",
        "D5 quadratic ordered E -> V",
        "C5 cubic ordered E -> 1",
    ],
)
def test_polynomial_tensor_layers_match_brute_force_and_verify(label: str) -> None:
    spec = LayerSpec.parse(label)
    result = derive(spec)
    assert result.free_parameters == brute_force_orbits(spec)
    report = verify(result, elements=10, inputs=4)
    assert report.passed, report.problems
