"""Edge-layer patterns counted as rooted multigraphs (polyequiv.pattern_graphs) against the partition
listing (polyequiv.patterns) where both run, against the engines at degrees the listing refuses, and
the canonical form against brute force over every relabelling."""

from __future__ import annotations

import itertools
import random

import pytest
from click.testing import CliRunner

from polyequiv import LayerSpec, derive
from polyequiv.errors import SizeLimitError
from polyequiv.pattern_graphs import (
    canonical_form,
    connected_multigraphs,
    count_edge_patterns,
    edge_blocks_histogram,
)
from polyequiv.patterns import blocks_histogram, count_by_patterns
from polyequiv_cli.main import cli


def brute_canonical(matrix) -> tuple:
    """The least relabelled matrix over every permutation of the vertices."""
    n = len(matrix)
    return min(tuple(tuple(matrix[a][b] for b in order) for a in order)
               for order in itertools.permutations(range(n)))


def brute_connected(edges: int) -> set:
    """Connected multigraphs with ``edges`` edges up to isomorphism: every multiset of edges on up to
    ``edges + 1`` labelled vertices, kept when connected and spanning, by their least relabelling."""
    found = set()
    for n in range(2, edges + 2):
        pairs = list(itertools.combinations(range(n), 2))
        for chosen in itertools.combinations_with_replacement(pairs, edges):
            matrix = [[0] * n for _ in range(n)]
            for a, b in chosen:
                matrix[a][b] += 1
                matrix[b][a] += 1
            if _connected(matrix):
                found.add(brute_canonical(matrix))
    return found


def _connected(matrix) -> bool:
    seen, stack = {0}, [0]
    while stack:
        v = stack.pop()
        for u, m in enumerate(matrix[v]):
            if m and u not in seen:
                seen.add(u)
                stack.append(u)
    return len(seen) == len(matrix)


@pytest.mark.parametrize("edges", [1, 2, 3, 4])
def test_connected_multigraphs_are_every_class_once(edges: int) -> None:
    graphs = connected_multigraphs(edges)
    assert len({g.matrix for g in graphs}) == len(graphs) == len(brute_connected(edges))
    for graph in graphs:  # vertex and pair orbits of the automorphism group, by brute force
        n = graph.vertices
        autos = [p for p in itertools.permutations(range(n))
                 if all(graph.matrix[p[a]][p[b]] == graph.matrix[a][b] for a in range(n) for b in range(n))]
        assert graph.vertex_orbits == len({min(p[v] for p in autos) for v in range(n)})
        pair_orbit = {pair: min(tuple(sorted((p[pair[0]], p[pair[1]]))) for p in autos)
                      for pair in itertools.combinations(range(n), 2)}
        assert graph.pair_orbits == len(set(pair_orbit.values()))


def test_connected_counts_follow_the_known_sequence() -> None:
    # OEIS A076864, connected loopless multigraphs with e edges: 1, 2, 5, 12, 33, 103, 333 (e = 1..7)
    assert [len(connected_multigraphs(e)) for e in range(1, 8)] == [1, 2, 5, 12, 33, 103, 333]


def test_canonical_form_ignores_the_labels() -> None:
    rng = random.Random(4)
    for graph in connected_multigraphs(5):
        n = graph.vertices
        for _ in range(3):
            order = list(range(n))
            rng.shuffle(order)
            shuffled = tuple(tuple(graph.matrix[a][b] for b in order) for a in order)
            assert canonical_form(shuffled)[0] == graph.matrix
    forms = {canonical_form(g.matrix)[0] for g in connected_multigraphs(5)}  # non-isomorphic stay apart
    assert len(forms) == len(connected_multigraphs(5))


@pytest.mark.parametrize(("output", "degrees"), [("V", range(0, 5)), ("1", range(0, 6)), ("E", range(0, 5))])
def test_histograms_equal_the_partition_listing(output: str, degrees: range) -> None:
    for degree in degrees:
        assert edge_blocks_histogram(output, degree) == blocks_histogram("E", output, degree)


@pytest.mark.slow
@pytest.mark.parametrize(("output", "degree"), [("V", 5), ("E", 5), ("1", 6)])
def test_histograms_equal_the_listing_at_the_largest_listed_degrees(output: str, degree: int) -> None:
    assert edge_blocks_histogram(output, degree) == blocks_histogram("E", output, degree)


@pytest.mark.parametrize(("output", "degree", "n"), [("V", 6, 3), ("V", 6, 4), ("V", 6, 5), ("1", 7, 4),
                                                     ("E", 6, 3), ("V", 7, 3)])
def test_degrees_beyond_the_listing_equal_the_engines(output: str, degree: int, n: int) -> None:
    """Degree 6 and 7 cannot be listed (Bell(13) partitions and more); the engines count them at small n."""
    mode = "invariant" if output == "1" else "equivariant"
    spec = LayerSpec(n=n, degree=degree, input="E", output=output, mode=mode)
    assert count_edge_patterns(output, degree, n=n) == derive(spec).free_parameters


def test_count_uses_multigraphs_where_the_listing_is_refused() -> None:
    counted = count_by_patterns(LayerSpec(n=1_000_000, degree=6, input="E", output="V"))
    assert counted.engine == "multigraphs" and counted.free_parameters == counted.total_patterns
    assert counted.free_parameters == count_edge_patterns("V", 6)
    biased = count_by_patterns(LayerSpec(n=9, degree=6, input="E", output="E", bias=True))
    assert biased.free_parameters == sum(count_edge_patterns("E", d, n=9) for d in range(7))
    with pytest.raises(SizeLimitError, match="the limit is 8"):
        count_by_patterns(LayerSpec(n=30, degree=9, input="E", output="V"))
    command = ["count", "--input", "E", "--output", "V", "--degree", "8", "-n", "1000000"]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0 and "14,723" in result.output and "multigraphs" in result.output
