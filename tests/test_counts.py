"""Exact counts: the known answers, Burnside, closed forms, and the structure of full indexing."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from strategies import small_specs

from polyequiv import LayerSpec, derive
from polyequiv.orbits import burnside_orbit_count, partitions_at_most, symmetric_closed_form
from polyequiv.seed_tables import SEED_TABLE_22, seed_equation_21_classes


def counts(**kwargs) -> tuple[int, int, int]:
    engine = kwargs.pop("engine", "sparse")
    r = derive(LayerSpec(**kwargs), engine=engine)
    return r.distinct_weights, r.free_parameters, r.function_dim


# ----------------------------------------------------------------------------- known answers
@pytest.mark.parametrize("n", range(2, 9))
def test_equivariant_linear_layer_is_alpha_identity_plus_beta_ones(n: int) -> None:
    r = derive(LayerSpec(n=n, degree=1))
    assert r.distinct_weights == r.free_parameters == 2
    grid = r.graph.class_of_weight.reshape(n, n)
    assert len(set(np.diag(grid))) == 1
    off_diagonal = grid[~np.eye(n, dtype=bool)]
    assert len(set(off_diagonal)) == 1 and off_diagonal[0] != grid[0, 0]
    assert counts(n=n, degree=1, bias=True) == (3, 3, 3)


@pytest.mark.parametrize("n", range(1, 13))
def test_ordered_quadratic_has_four_weights_from_n_three(n: int) -> None:
    expected = {1: 1, 2: 3}.get(n, 4)
    assert counts(n=n, degree=2) == (expected,) * 3


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"n": 5, "degree": 2, "bias": True}, 7),
        ({"n": 9, "degree": 2, "bias": True}, 7),
        ({"n": 6, "degree": 2, "mode": "invariant"}, 2),
        ({"n": 4, "degree": 3}, 7),
        ({"n": 8, "degree": 3}, 7),
        ({"n": 3, "degree": 3}, 6),
        ({"n": 7, "degree": 1, "group": "cyclic"}, 7),
        ({"n": 12, "degree": 1, "group": "cyclic"}, 12),
        ({"n": 7, "degree": 1, "group": "dihedral"}, 4),
        ({"n": 8, "degree": 1, "group": "dihedral"}, 5),
    ],
)
def test_known_answers(kwargs: dict, expected: int) -> None:
    assert counts(**kwargs) == (expected,) * 3


def test_cyclic_linear_layer_is_circulant() -> None:
    n = 6
    grid = derive(LayerSpec(n=n, degree=1, group="cyclic")).graph.class_of_weight.reshape(n, n)
    for k in range(n):
        for i in range(n):
            assert grid[k, i] == grid[(k + 1) % n, (i + 1) % n]


# ----------------------------------------------------------------------------- independent paths
# `--engine auto` is the sparse engine; drawing the engine keeps the symbolic one tested end to end
ENGINES = st.sampled_from(["symbolic", "sparse"])


@given(small_specs(), ENGINES)
def test_function_dim_is_the_burnside_orbit_count(spec: LayerSpec, engine: str) -> None:
    result = derive(spec, engine=engine)
    assert result.engine == engine
    assert result.function_dim == burnside_orbit_count(spec)
    if spec.indexing == "ordered" or spec.gauge == "symmetric":
        assert result.distinct_weights == result.free_parameters == result.function_dim


@given(small_specs())
def test_full_indexing_free_parameters_are_function_dim_plus_gauge(spec: LayerSpec) -> None:
    """Every equation compares slot sums, so the solution space is orbits + (weights − slots)."""
    result = derive(spec)
    if spec.indexing == "full" and spec.gauge == "none":
        index = result.index
        assert result.free_parameters == result.function_dim + index.num_weights - index.num_slots


@given(small_specs(max_n=4, max_degree=2))
def test_free_parameters_equal_nullity_by_sympy_dense_rank(spec: LayerSpec) -> None:
    """Independent exact path: dense sympy Matrix.rank of all equations on all weights."""
    result = derive(spec, engine="symbolic")
    index = result.index
    rows = [dict(((a, 1), (b, -1))) for a, b in result.system.equalities.tolist()]
    rows += [dict(terms) for terms in result.system.additive_rows()]
    rows += [{int(a): 1, int(b): -1} for a, b in result.system.gauge_ties.tolist()]
    matrix = sp.zeros(len(rows), index.num_weights)
    for r, row in enumerate(rows):
        for c, v in row.items():
            matrix[r, c] = v
    rank = matrix.rank() if rows else 0
    assert result.free_parameters == index.num_weights - rank


@pytest.mark.parametrize("n", range(1, 9))
@pytest.mark.parametrize("degree", range(0, 4))
def test_symmetric_counts_match_the_partition_closed_form(n: int, degree: int) -> None:
    for bias in (False, True):
        for mode in ("equivariant", "invariant"):
            spec = LayerSpec(n=n, degree=degree, bias=bias, mode=mode)
            expected = symmetric_closed_form(n, degree, bias=bias, equivariant=mode == "equivariant")
            assert derive(spec, engine="sparse").distinct_weights == expected
            assert burnside_orbit_count(spec) == expected


def test_partitions_at_most_against_brute_force() -> None:
    def brute(total: int, parts: int) -> int:
        def count(rest: int, largest: int, left: int) -> int:
            if rest == 0:
                return 1
            if left == 0:
                return 0
            return sum(count(rest - p, p, left - 1) for p in range(1, min(rest, largest) + 1))

        return count(total, total, parts)

    for total in range(9):
        for parts in range(6):
            assert partitions_at_most(total, parts) == brute(total, parts)


@pytest.mark.parametrize("n", [20, 50, 100])
def test_large_symmetric_layers_match_the_closed_form(n: int) -> None:
    assert counts(n=n, degree=2) == (4, 4, 4)
    assert counts(n=n, degree=2, bias=True) == (7, 7, 7)
    if n <= 50:
        assert counts(n=n // 2, degree=3) == (7, 7, 7)


# ----------------------------------------------------------------------------- full indexing and the seed
@pytest.mark.parametrize("n", range(2, 7))
def test_full_quadratic_exact_counts_against_the_seed_table(n: int) -> None:
    distinct, free, function_dim = counts(n=n, degree=2, indexing="full", engine="symbolic")
    expected_function = 3 if n == 2 else 4
    assert function_dim == expected_function
    assert distinct == 2 + n * n * (n - 1)  # two diagonal classes, off-diagonal weights untied
    assert free == expected_function + n * n * (n - 1) // 2  # plus the antisymmetric gauge
    assert counts(n=n, degree=2, indexing="full", gauge="symmetric") == (expected_function,) * 3
    # the seed's table comes from its equations (21) alone
    assert seed_equation_21_classes(n) == SEED_TABLE_22[n] == 2 * n + 3 - (1 if n == 2 else 0)


def test_gauge_symmetric_equals_ordered_for_every_small_layer() -> None:
    for n in range(1, 5):
        for degree in range(4):
            for mode in ("equivariant", "invariant"):
                full = counts(n=n, degree=degree, indexing="full", gauge="symmetric", mode=mode, bias=True)
                ordered = counts(n=n, degree=degree, mode=mode, bias=True)
                assert full == ordered


# ----------------------------------------------------------------------------- the graph
@given(small_specs(), ENGINES)
def test_networkx_components_are_the_classes(spec: LayerSpec, engine: str) -> None:
    result = derive(spec, engine=engine)
    graph = result.graph.as_networkx()
    components = sorted(sorted(c) for c in nx.connected_components(graph))
    classes = sorted(sorted(m.tolist()) for m in result.graph.class_members)
    assert components == classes


def test_classes_are_numbered_by_their_first_weight() -> None:
    result = derive(LayerSpec(n=4, degree=2, indexing="full"))
    firsts = [int(m[0]) for m in result.graph.class_members]
    assert firsts == sorted(firsts)
    assert result.graph.class_of_weight[0] == 0


def test_additive_constraints_merge_classes_when_they_reduce_to_equalities() -> None:
    """With the gauge, a^k_ij + a^k_ji = a^h_.. + a^h_.. becomes 2·C_a = 2·C_b: a merge."""
    result = derive(LayerSpec(n=4, degree=2, indexing="full", gauge="symmetric"))
    assert result.graph.merge_edges.shape[0] > 0
    assert result.graph.reduced_additive == []


def test_group_order_of_big_symmetric_group_is_exact() -> None:
    assert derive(LayerSpec(n=30, degree=1)).group_order == math.factorial(30)


@pytest.mark.slow
@pytest.mark.parametrize("transpositions", ["adjacent", "minimal"])
def test_s200_quadratic_and_s30_cubic_by_the_sparse_engine(transpositions: str) -> None:
    assert counts(n=200, degree=2, transpositions=transpositions) == (4, 4, 4)
    assert (
        counts(n=30, degree=3, bias=True, transpositions=transpositions)
        == (symmetric_closed_form(30, 3, bias=True),) * 3
    )


@pytest.mark.slow
@pytest.mark.parametrize("n", range(2, 9))
def test_full_cubic_function_dim_matches_ordered(n: int) -> None:
    full = derive(LayerSpec(n=n, degree=3, indexing="full"))
    assert full.function_dim == derive(LayerSpec(n=n, degree=3)).free_parameters
    assert full.free_parameters == full.function_dim + full.index.num_weights - full.index.num_slots


def test_count_refuses_an_oversized_range_before_counting_anything() -> None:
    from click.testing import CliRunner

    from polyequiv_cli.main import cli

    result = CliRunner().invoke(cli, ["count", "-n", "2-40", "--degree", "3", "--indexing", "full"])
    assert result.exit_code == 2 and "refused: exact blockwise counting on S39" in result.output
    assert "distinct" not in result.output  # no header, no row: the refusal came first


def test_count_streams_rows_and_json_lines() -> None:
    import json

    from click.testing import CliRunner

    from polyequiv_cli.main import cli

    text = CliRunner().invoke(cli, ["count", "-n", "2-4,1000000", "--degree", "2"]).output.splitlines()
    rows = [line.split() for line in text[2:6]]
    assert [row[0] for row in rows] == ["2", "3", "4", "1000000"] and rows[-1][-1] == "patterns"
    assert len({len(line) for line in text[1:6]}) == 1  # aligned: widths fixed before the first row
    lines = CliRunner().invoke(cli, ["count", "-n", "3,5", "--format", "jsonl"]).output.splitlines()
    assert [json.loads(line)["spec"]["n"] for line in lines] == [3, 5]
