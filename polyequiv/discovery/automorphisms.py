"""The full permutation group of a coloured weight layer: graph automorphisms by bliss (through igraph).

A clustered weight tensor is a colouring of index tuples: weight ``w`` multiplies the tuple
``(k; i)`` (degree 1), ``(k; {i, j})`` (degree 2, a monomial), ``({i, j})`` (invariant), …
(:meth:`~polyequiv.discovery.layouts.WeightLayout.index_tuples`), and its class is its colour.
The symmetry group of the colouring is

    G = { σ ∈ Sₙ : class(σ·t) = class(t) for every tuple t },   σ·(k; i, j) = (σ(k); σ(i), σ(j)),

every channel at once.  It is the automorphism group of a vertex-coloured digraph (bliss
colours vertices only; tuples become vertices, as in the nauty/Traces manual's recipe for
edge-coloured graphs by subdivision):

* one vertex per point ``0 … n−1`` (colour 0);
* one vertex per tuple, coloured ``2 + class``, with an arc ``k → t`` from its output point and
  arcs ``t → i`` to its input points (the pair ``{i, j}`` is unordered: two arcs, or one on the
  diagonal ``i = j``); for ``V2`` the ordered second index hangs off a vertex of colour 1
  (``t → u → j``);
* the most frequent class of each channel is left out: a permutation that keeps every other class
  keeps that one too, and most weights of a sparse pattern need no vertex.

A tuple vertex is determined by its neighbours among the points, so every automorphism is a
permutation of the points extended in exactly one way: the automorphism group of the graph *is*
``G`` (same order, generators restricted to the points).  Further queries individualise points
with extra colours (:meth:`ColouredLayer.order` with ``point_colours``): stabilisers of a set,
of a block system, of a set of points, all by bliss, which is what names the group
(:mod:`polyequiv.discovery.structure`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyequiv import groups
from polyequiv.discovery.layouts import WeightLayout

#: Splitting heuristic of bliss: first largest non-singleton cell (igraph's default).
_SPLITTING = "fl"


@dataclass
class ColouredLayer:
    """The coloured digraph of a clustered layer and bliss queries on it.

    ``point_colours`` in the queries is one integer per point (points with equal integers may be
    exchanged); ``None`` means all points alike, the group ``G`` itself.
    """

    n: int
    graph: Any  # igraph.Graph
    colours: np.ndarray  # one per vertex; points 0 .. n-1 have colour 0
    _orders: dict[bytes, int] = field(default_factory=dict, repr=False)

    def _vertex_colours(self, point_colours: np.ndarray | None) -> list[int]:
        colours = self.colours.copy()
        if point_colours is not None:
            relabelled = np.unique(np.asarray(point_colours), return_inverse=True)[1]
            colours[: self.n] = int(colours.max()) + 1 + relabelled
        return colours.tolist()

    def order(self, point_colours: np.ndarray | None = None) -> int:
        """``|G_c|``: the order of the subgroup keeping every point's colour ``c`` (exact, by bliss)."""
        key = b"" if point_colours is None else np.unique(
            np.asarray(point_colours), return_inverse=True)[1].astype(np.int64).tobytes()
        if key not in self._orders:
            colours = self._vertex_colours(point_colours)
            self._orders[key] = int(self.graph.count_automorphisms(sh=_SPLITTING, color=colours))
        return self._orders[key]

    def generators(self, point_colours: np.ndarray | None = None) -> list[tuple[int, ...]]:
        """Generators of ``G_c`` in array form on the points (``σ[i]``: the image of ``i``), no identities."""
        found = self.graph.automorphism_group(sh=_SPLITTING, color=self._vertex_colours(point_colours))
        identity = tuple(range(self.n))
        return groups.canonical_generators(
            [tuple(int(p) for p in g[: self.n]) for g in found]) if found else [identity]


def coloured_layer(layout: WeightLayout, labels: np.ndarray) -> ColouredLayer:
    """The coloured digraph of ``layout`` whose weights carry the class ids ``labels`` ``(channels, W)``.

    >>> import numpy as np
    >>> from polyequiv.discovery.layouts import read_layout
    >>> layout = read_layout(np.eye(4))
    >>> coloured_layer(layout, (layout.values != 0).astype(int)).order()
    24
    """
    import igraph

    outputs, inputs, second = layout.index_tuples()
    n = layout.n
    labels = np.asarray(labels).reshape(layout.channels, -1)
    kept = np.zeros(labels.shape, dtype=bool)
    for channel, row in enumerate(labels):
        values, counts = np.unique(row, return_counts=True)
        kept[channel] = row != values[np.argmax(counts)]
    channel_of, weight = np.nonzero(kept)
    classes = np.unique(labels[channel_of, weight], return_inverse=True)[1]
    tuples = n + np.arange(weight.size)
    arcs = [np.stack([tuples, inputs[weight, 0]], axis=1)]
    if inputs.shape[1] == 2:
        off_diagonal = inputs[weight, 1] != inputs[weight, 0]
        arcs.append(np.stack([tuples, inputs[weight, 1]], axis=1)[off_diagonal])
    if outputs is not None:
        arcs.append(np.stack([outputs[weight], tuples], axis=1))
    colours = [np.zeros(n, dtype=np.int64), 2 + classes]
    if second is not None:
        hubs = n + weight.size + np.arange(weight.size)
        arcs += [np.stack([tuples, hubs], axis=1), np.stack([hubs, second[weight]], axis=1)]
        colours.append(np.ones(weight.size, dtype=np.int64))
    vertex_colours = np.concatenate(colours)
    graph = igraph.Graph(n=int(vertex_colours.size), edges=np.concatenate(arcs).tolist(), directed=True)
    return ColouredLayer(n=n, graph=graph, colours=vertex_colours)


class UnionFind:
    """Disjoint sets of ``0 .. m-1`` (path halving; the smaller root wins)."""

    def __init__(self, m: int) -> None:
        self.parent = list(range(m))

    def root(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        """Merge the sets of ``a`` and ``b``; whether they were apart."""
        ra, rb = self.root(a), self.root(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True

    def labels(self) -> np.ndarray:
        """Set ids ``0, 1, …`` numbered by smallest member."""
        return np.unique([self.root(x) for x in range(len(self.parent))], return_inverse=True)[1]


def orbits(n: int, generators: list[tuple[int, ...]]) -> list[list[int]]:
    """Orbits of the group generated by ``generators`` on ``0 .. n-1``, each sorted, by smallest point.

    >>> orbits(5, [(1, 0, 2, 3, 4), (0, 1, 3, 4, 2)])
    [[0, 1], [2, 3, 4]]
    """
    sets = UnionFind(n)
    for g in generators:
        for x, y in enumerate(g):
            sets.union(x, int(y))
    found: dict[int, list[int]] = {}
    for x in range(n):
        found.setdefault(sets.root(x), []).append(x)
    return sorted(found.values())


def preserves(layout: WeightLayout, labels: np.ndarray, sigma: tuple[int, ...]) -> bool:
    """Whether ``σ`` maps every tuple to one of the same class (the definition, checked directly)."""
    image = position_image(layout, np.asarray(sigma, dtype=np.int64))
    labels = np.asarray(labels).reshape(layout.channels, -1)
    return bool(np.array_equal(labels[:, image], labels))


def position_image(layout: WeightLayout, sigma: np.ndarray) -> np.ndarray:
    """``image[w]``: the weight id of the tuple ``σ·t_w`` (roles kept, pairs unordered)."""
    n = layout.n

    def codes(point_map: np.ndarray) -> np.ndarray:
        outputs, inputs, second = layout.index_tuples()
        columns = [np.sort(point_map[inputs], axis=1)]
        if outputs is not None:
            columns.insert(0, point_map[outputs][:, None])
        if second is not None:
            columns.append(point_map[second][:, None])
        digits = np.concatenate(columns, axis=1)
        return digits @ (n ** np.arange(digits.shape[1] - 1, -1, -1))

    identity = codes(np.arange(n))
    lookup = np.full(n ** _arity(layout), -1, dtype=np.int64)
    lookup[identity] = np.arange(identity.size)
    return lookup[codes(np.asarray(sigma, dtype=np.int64))]


def _arity(layout: WeightLayout) -> int:
    outputs, inputs, second = layout.index_tuples()
    return inputs.shape[1] + (outputs is not None) + (second is not None)
