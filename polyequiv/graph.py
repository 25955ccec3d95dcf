"""`ConstraintGraph`: classes of tied weights from equalities and what additive constraints imply.

Algorithm
---------
1. One node per weight, one edge per equality (and per gauge tie).  The
   connected components are the first classes.
2. Replace every weight of every additive constraint by its class and add up
   the coefficients.  A constraint that becomes ``c·(C_a − C_b) = 0`` is an
   equality in disguise: merge ``C_a`` and ``C_b``.  One that becomes ``0 = 0``
   is dropped.
3. Repeat 2 until no merge happens.  The constraints left over are the
   *reduced additive system* on the classes; :mod:`polyequiv.blocks` takes its
   exact rank.

Components are computed by vectorised hooking and pointer jumping in numpy
(:func:`component_labels`, fast on millions of edges and free of the import
cost of scipy); :meth:`ConstraintGraph.as_networkx` gives the same graph as a
networkx object (imported only then), whose connected components are the same
classes.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from polyequiv.constraints import ConstraintSystem, canonical_form

if TYPE_CHECKING:
    import networkx as nx


def component_labels(num_nodes: int, edges: np.ndarray) -> np.ndarray:
    """Component of each node, numbered in order of each component's smallest node.

    Every node keeps a parent with ``parent[v] ≤ v``.  A round replaces the two
    ends of each edge by their roots, hooks the larger root under the smaller
    one (``parent[hi] = lo``, one ``lo`` per ``hi``) and compresses every path by pointer jumping
    (``parent ← parent[parent]`` until it stops changing).  Each round at least
    halves the number of trees that still touch an edge between two trees, so
    there are O(log V) rounds of O(E + V log V) vectorised work.

    >>> component_labels(5, np.array([[3, 1], [4, 0]])).tolist()
    [0, 1, 2, 1, 0]
    """
    if num_nodes == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    parent = np.arange(num_nodes, dtype=np.int64)
    ends_a, ends_b = edges[:, 0], edges[:, 1]
    while ends_a.size:
        roots_a, roots_b = parent[ends_a], parent[ends_b]
        apart = roots_a != roots_b
        if not apart.any():
            break
        ends_a, ends_b = ends_a[apart], ends_b[apart]
        roots_a, roots_b = roots_a[apart], roots_b[apart]
        # any smaller root will do (a repeated index keeps one of its values): hi's tree joins lo's
        parent[np.maximum(roots_a, roots_b)] = np.minimum(roots_a, roots_b)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return renumber_by_first_appearance(parent)


class ConstraintGraph:
    """Classes of tied weights of a :class:`ConstraintSystem`.

    Attributes
    ----------
    class_of_weight : (W,) int64 array
        Class id of every weight; classes are numbered by their smallest weight id.
    merge_edges : (K, 2) int64 array
        Weight pairs ``(representative a, representative b)`` merged because an
        additive constraint reduced to ``c·(C_a − C_b) = 0``.
    reduced_additive : list of dict
        The additive constraints that remain, on class ids, canonical and unique
        (built on first use).
    reduced_coo : tuple of three (nnz,) int64 arrays
        The same rows as COO arrays ``(row, class, coefficient)`` before the gcd
        is divided out and duplicates dropped: the same row space, for
        :mod:`polyequiv.blocks`.
    """

    def __init__(self, system: ConstraintSystem) -> None:
        self.system = system
        self.num_weights = system.index.num_weights
        edges = np.concatenate([system.equalities, system.gauge_ties]).reshape(-1, 2)
        labels = component_labels(self.num_weights, edges)
        rows = np.repeat(np.arange(system.num_additive), np.diff(system.additive_indptr))
        merges: list[np.ndarray] = []
        while True:
            reduced = _reduce_rows(rows, labels[system.additive_weights], system.additive_coeffs)
            found = _merge_pairs(*reduced)
            if found.shape[0] == 0:
                break
            representative = _representatives(labels)
            merges.append(representative[found])
            labels = _relabel(labels, found)
        self.class_of_weight = labels
        self.merge_edges = np.concatenate(merges) if merges else np.zeros((0, 2), dtype=np.int64)
        self.reduced_coo = reduced

    @cached_property
    def reduced_additive(self) -> list[dict[int, int]]:
        return _canonical_rows(*self.reduced_coo)

    @property
    def num_classes(self) -> int:
        return int(self.class_of_weight.max()) + 1 if self.num_weights else 0

    @cached_property
    def class_members(self) -> list[np.ndarray]:
        """Weight ids of each class, ascending."""
        order = np.argsort(self.class_of_weight, kind="stable")
        bounds = np.cumsum(np.bincount(self.class_of_weight, minlength=self.num_classes))[:-1]
        return np.split(order, bounds)

    @cached_property
    def class_sizes(self) -> np.ndarray:
        return np.bincount(self.class_of_weight, minlength=self.num_classes)

    def as_networkx(self) -> nx.Graph:
        """Weights as nodes (attribute ``name``); equalities, gauge ties and merges as edges
        (attribute ``kind``)."""
        import networkx as nx

        index = self.system.index
        graph = nx.Graph()
        graph.add_nodes_from((w, {"name": index.weight_name(w)}) for w in range(self.num_weights))
        for kind, edges in (
            ("equivariance", self.system.equalities),
            ("gauge", self.system.gauge_ties),
            ("merged", self.merge_edges),
        ):
            graph.add_edges_from(((int(a), int(b)) for a, b in edges), kind=kind)
        return graph


def _reduce_rows(rows: np.ndarray, classes: np.ndarray, coeffs: np.ndarray):
    """Sum coefficients per (row, class); drop zeros.  Returns COO arrays sorted by (row, class)."""
    if rows.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    width = int(classes.max()) + 1
    keys, inverse = np.unique(rows * width + classes, return_inverse=True)
    sums = np.zeros(keys.size, dtype=np.int64)
    np.add.at(sums, inverse, coeffs)
    keep = sums != 0
    return keys[keep] // width, keys[keep] % width, sums[keep]


def _merge_pairs(rows: np.ndarray, classes: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Class pairs of rows that read ``c·C_a − c·C_b`` (exactly two classes, opposite coefficients)."""
    if rows.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    starts = np.concatenate([[0], np.nonzero(np.diff(rows))[0] + 1])
    counts = np.diff(np.concatenate([starts, [rows.size]]))
    two = starts[counts == 2]
    opposite = sums[two] == -sums[two + 1]
    chosen = two[opposite]
    return np.stack([classes[chosen], classes[chosen + 1]], axis=1)


def _representatives(labels: np.ndarray) -> np.ndarray:
    """Smallest weight id of each class."""
    rep = np.full(int(labels.max()) + 1, labels.size, dtype=np.int64)
    np.minimum.at(rep, labels, np.arange(labels.size, dtype=np.int64))
    return rep


def _relabel(labels: np.ndarray, class_pairs: np.ndarray) -> np.ndarray:
    merged = component_labels(int(labels.max()) + 1, class_pairs)
    return renumber_by_first_appearance(merged[labels])


def renumber_by_first_appearance(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0, 1, … in order of first appearance (a class's number follows its smallest member)."""
    _, first_seen, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first_seen)
    renumber = np.empty_like(order)
    renumber[order] = np.arange(order.size)
    return renumber[inverse].astype(np.int64)


def _canonical_rows(rows: np.ndarray, classes: np.ndarray, sums: np.ndarray) -> list[dict[int, int]]:
    out: dict[tuple[tuple[int, int], ...], None] = {}
    if rows.size:
        starts = np.concatenate([[0], np.nonzero(np.diff(rows))[0] + 1, [rows.size]])
        cls, val = classes.tolist(), sums.tolist()
        for lo, hi in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
            form = canonical_form(zip(cls[lo:hi], val[lo:hi], strict=True))
            if form is not None:
                out[form] = None
    return [dict(form) for form in out]
