"""Counting the patterns of edge layers without listing set partitions: rooted multigraphs up to isomorphism.

A pattern of the ordered Sₙ layer ``E → V`` of degree ``d`` (:mod:`polyequiv.patterns`) is a set
partition of the positions ``o₁, i₁, i₁′, …, i_d, i_d′`` up to reordering the ``d`` edge factors and
swapping the two ends of each, with the two ends of a factor in different blocks.  Read the blocks
as vertices and each factor as an edge between the blocks of its ends: a pattern *is* a loopless
multigraph with ``d`` edges, one distinguished vertex (the block of ``o₁``, possibly without
edges) and no other vertex without edges, up to isomorphism fixing that root; its number of
blocks is its number of vertices.  Listing the partitions costs Bell(2d + 1) (27.6 million at
``d = 6``); these graphs are few (79 at ``d = 4``, a few tens of thousands at ``d = 8``).

So they are counted from the connected multigraphs, generated edge by edge and kept one per
isomorphism class by a canonical form (:func:`canonical_form`: colour refinement, then
individualisation of each vertex of the first non-singleton cell, twins branched once; the
least adjacency over the leaves).  The leaves with the least form also give the automorphism
group, hence the orbits of vertices (roots) and of vertex pairs.  With ``C(e, v)`` connected graphs
of ``e`` edges on ``v`` vertices, ``R(e, v)`` rooted ones (Σ vertex orbits, plus the lone root
``R(0, 1) = 1``), ``S(e, v)`` ones with an unordered pair of distinct roots, and ``M(e, v)`` multisets
of connected graphs (the Euler transform of ``C``):

* ``E → 1``: ``M(d, b)`` patterns with ``b`` blocks;
* ``E → V``: ``Σ R(e, v) M(d − e, b − v)``: the root's component, then the rest;
* ``E → E``: the two output ends are distinct and unordered (the output is symmetric): both in one
  component (``S``) or each in its own (unordered pairs of rooted components, ``Q``), then the rest;
* with the bias, every degree ``0 … d`` (bias factors carry no positions).

    >>> [count_edge_patterns("V", d) for d in range(1, 6)]
    [2, 7, 23, 79, 274]
    >>> count_edge_patterns("V", 6, n=1_000_000)
    1003

References: the correspondence of partition-algebra basis elements with graphs is Pearce-Crump
2022's; counting by canonical forms is McKay's (nauty), here in a small pure-Python version.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from functools import cache

from polyequiv.errors import SizeLimitError, SpecError

#: Edges (the degree) up to which the connected multigraphs are generated (8: a few seconds).
MAX_EDGES = 8
#: Outputs counted here (input ``E``).
OUTPUTS = ("1", "V", "E")

Graph = tuple[tuple[int, ...], ...]  # symmetric multiplicity matrix, zero diagonal


@dataclass(frozen=True)
class Connected:
    """One connected multigraph up to isomorphism: its canonical matrix and automorphism orbits."""

    matrix: Graph
    vertex_orbits: int
    pair_orbits: int

    @property
    def edges(self) -> int:
        return sum(map(sum, self.matrix)) // 2

    @property
    def vertices(self) -> int:
        return len(self.matrix)


def _refine(matrix: Graph, cells: list[list[int]]) -> list[list[int]]:
    """Split the ordered cells until every vertex of a cell has the same multiset of (cell, multiplicity)
    neighbours; the new cells are ordered by that multiset, so the result depends only on the graph."""
    while True:
        cell_of = {v: number for number, cell in enumerate(cells) for v in cell}
        split: list[list[int]] = []
        for cell in cells:
            signature = {v: tuple(sorted((cell_of[u], m) for u, m in enumerate(matrix[v]) if m))
                         for v in cell}
            for key in sorted(set(signature.values())):
                split.append([v for v in cell if signature[v] == key])
        if len(split) == len(cells):
            return split
        cells = split


def _twins(matrix: Graph, u: int, v: int) -> bool:
    """Swapping ``u`` and ``v`` is an automorphism (same multiplicities to every other vertex)."""
    return all(matrix[u][w] == matrix[v][w] for w in range(len(matrix)) if w not in (u, v))


def _leaves(matrix: Graph, cells: list[list[int]]) -> list[tuple[int, ...]]:
    """The vertex orders of the search tree's leaves (individualise, refine, recurse)."""
    cells = _refine(matrix, cells)
    target = next((number for number, cell in enumerate(cells) if len(cell) > 1), None)
    if target is None:
        return [tuple(cell[0] for cell in cells)]
    out: list[tuple[int, ...]] = []
    chosen: list[int] = []
    for v in cells[target]:
        if any(_twins(matrix, v, w) for w in chosen):
            continue  # a twin's branch gives the same forms
        chosen.append(v)
        rest = [w for w in cells[target] if w != v]
        out += _leaves(matrix, [*cells[:target], [v], rest, *cells[target + 1:]])
    return out


def _relabelled(matrix: Graph, order: tuple[int, ...]) -> Graph:
    return tuple(tuple(matrix[a][b] for b in order) for a in order)


def canonical_form(matrix: Graph) -> tuple[Graph, list[tuple[int, ...]]]:
    """The least relabelled matrix over the search leaves, and generators of the automorphism group
    (as vertex maps), including the twin transpositions the search skipped."""
    n = len(matrix)
    degree = [sum(row) for row in matrix]
    cells = [[v for v in range(n) if degree[v] == d] for d in sorted(set(degree))]
    forms = [(_relabelled(matrix, order), order) for order in _leaves(matrix, cells)]
    best = min(form for form, _ in forms)
    orders = [order for form, order in forms if form == best]
    first = orders[0]
    generators = []
    for order in orders[1:]:
        image = [0] * n
        for a, b in zip(first, order, strict=True):
            image[a] = b
        generators.append(tuple(image))
    for u, v in itertools.combinations(range(n), 2):
        if _twins(matrix, u, v):
            swap = list(range(n))
            swap[u], swap[v] = v, u
            generators.append(tuple(swap))
    return best, generators


def _orbit_count(points: list, generators: list, act) -> int:
    """Orbits of the group generated by ``generators`` on ``points`` (union–find)."""
    parent = {p: p for p in points}

    def root(p):
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    for g in generators:
        for p in points:
            a, b = root(p), root(act(g, p))
            if a != b:
                parent[a] = b
    return len({root(p) for p in points})


def _extensions(matrix: Graph) -> list[Graph]:
    """Every graph with one more edge: between two vertices (a multi-edge allowed) or to a new vertex."""
    n = len(matrix)
    out = []
    for u, v in itertools.combinations(range(n), 2):
        rows = [list(row) for row in matrix]
        rows[u][v] += 1
        rows[v][u] += 1
        out.append(tuple(map(tuple, rows)))
    for u in range(n):
        rows = [[*row, 0] for row in matrix] + [[0] * (n + 1)]
        rows[u][n] = rows[n][u] = 1
        out.append(tuple(map(tuple, rows)))
    return out


@cache
def connected_multigraphs(edges: int) -> tuple[Connected, ...]:
    """Every connected loopless multigraph with ``edges`` edges, one per isomorphism class.

    Every such graph with ``e ≥ 2`` edges comes from one with ``e − 1``: remove an edge that is not
    a bridge, or a pendant edge with its leaf.
    """
    if edges < 1 or edges > MAX_EDGES:
        raise SpecError(f"connected multigraphs are generated for 1..{MAX_EDGES} edges, got {edges}")
    parents = [((0, 1), (1, 0))] if edges == 1 else [c.matrix for c in connected_multigraphs(edges - 1)]
    seen: dict[Graph, Connected] = {}
    for parent in parents:
        for child in ([parent] if edges == 1 else _extensions(parent)):
            form, generators = canonical_form(child)
            if form in seen:
                continue
            n = len(child)
            relabel = generators or [tuple(range(n))]
            seen[form] = Connected(
                form,
                _orbit_count(list(range(n)), relabel, lambda g, v: g[v]),
                _orbit_count(list(itertools.combinations(range(n), 2)), relabel,
                             lambda g, p: tuple(sorted((g[p[0]], g[p[1]])))),
            )
    return tuple(sorted(seen.values(), key=lambda c: (c.vertices, c.matrix)))


def _table(values: dict[tuple[int, int], int]) -> Counter:
    return Counter({key: value for key, value in values.items() if value})


@cache
def _components(degree: int) -> tuple[Counter, Counter, Counter]:
    """``C``, ``R`` and ``S`` (see the module docstring) for every ``(edges, vertices)`` up to ``degree``."""
    connected, rooted, paired = Counter(), Counter({(0, 1): 1}), Counter()
    for e in range(1, degree + 1):
        for graph in connected_multigraphs(e):
            key = (e, graph.vertices)
            connected[key] += 1
            rooted[key] += graph.vertex_orbits
            paired[key] += graph.pair_orbits
    return connected, rooted, paired


def _multisets(types: Counter, degree: int) -> Counter:
    """Multisets of objects (``types[(e, v)]`` of each size) with total edges ≤ ``degree``, by (e, v)."""
    total = Counter({(0, 0): 1})
    for (e, v), count in sorted(types.items()):
        grown = Counter()
        for (e0, v0), ways in total.items():
            for k in range(0, (degree - e0) // e + 1):
                grown[(e0 + k * e, v0 + k * v)] += ways * math.comb(count + k - 1, k)
        total = grown
    return total


def _unordered_pairs(rooted: Counter) -> Counter:
    """Unordered pairs of rooted components, by total (edges, vertices)."""
    pairs = Counter()
    items = sorted(rooted.items())
    for i, ((e1, v1), c1) in enumerate(items):
        pairs[(2 * e1, 2 * v1)] += c1 * (c1 + 1) // 2
        for (e2, v2), c2 in items[i + 1:]:
            pairs[(e1 + e2, v1 + v2)] += c1 * c2
    return pairs


def edge_blocks_histogram(output: str, degree: int) -> dict[int, int]:
    """Patterns of the ordered Sₙ layer ``E → output`` of exactly ``degree`` edge factors, by blocks."""
    if output not in OUTPUTS:
        raise SpecError(f"edge patterns are counted here for outputs {', '.join(OUTPUTS)}, not {output!r}")
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 0:
        raise SpecError(f"degree must be an integer ≥ 0, got {degree!r}")
    if degree > MAX_EDGES:
        raise SizeLimitError(f"counting edge patterns of degree {degree} would generate multigraphs of up to "
                             f"{degree} edges; the limit is {MAX_EDGES}", estimate=degree, limit=MAX_EDGES)
    connected, rooted, paired = _components(degree)
    rest = _multisets(connected, degree)
    roots = {"1": Counter({(0, 0): 1}), "V": rooted, "E": paired + _unordered_pairs(rooted)}[output]
    histogram: Counter = Counter()
    for (e0, v0), ways in roots.items():
        for (e1, v1), others in rest.items():
            if e0 + e1 == degree:
                histogram[v0 + v1] += ways * others
    return dict(sorted(histogram.items()))


def count_edge_patterns(output: str, degree: int, *, bias: bool = False, n: int | None = None) -> int:
    """Free weights of the ordered Sₙ layer ``E → output``: patterns with at most ``n`` blocks
    (all if ``n`` is None); with ``bias``, every degree up to ``degree``."""
    total = 0
    for d in range(degree + 1) if bias else (degree,):
        histogram = edge_blocks_histogram(output, d)
        total += sum(count for blocks, count in histogram.items() if n is None or blocks <= n)
    return total
