"""Node-level substructure counts: how many copies of a small graph contain each node.

A *copy* of a pattern graph ``H`` in ``G`` is a subgraph of ``G`` isomorphic to ``H`` (a set of
edges, not necessarily induced: Chen et al. 2020's "subgraph count"); the count of node ``k`` is
the number of copies whose nodes include ``k``.  Each count is a polynomial in the adjacency
matrix ``A`` (symmetric, 0/1, zero diagonal) of degree the number of edges of ``H``, so the
derived ``E → V`` layer of that degree computes it exactly (:mod:`polyequiv.models.graphs`).
With ``d = A·1`` (degrees), ``P = A²`` (two-paths) and ``t_k = (A³)_kk / 2`` (triangles at ``k``):

=====================  ==========================  ======================================================
task                   pattern (edges)             count at node ``k``
=====================  ==========================  ======================================================
``triangles``          K₃ (3)                      ``t_k``
``3-stars``            K₁,₃ (3)                    ``C(d_k, 3) + Σ_j A_kj C(d_j − 1, 2)`` (centre, leaf)
``tailed-triangles``   triangle + pendant edge (4) ``t_k (d_k − 8) + Σ_j (A∘P)_kj d_j + Σ_j A_kj t_j``
``4-cycles``           C₄ (4)                      ``((A⁴)_kk − d_k² − Σ_j A_kj d_j + d_k) / 2``
``chordal-4-cycles``   K₄ minus an edge (5)        ``Σ_j A_kj C(P_kj, 2) + ½ Σ_jl A_kj A_kl A_jl (P_jl − 1)``
=====================  ==========================  ======================================================

Derivations (each checked against an enumeration of copies in ``tests/test_graph_counts.py``):

* 3-stars: ``k`` is the centre of ``C(d_k, 3)`` copies and a leaf of ``C(d_j − 1, 2)`` for each
  neighbour ``j`` as centre.
* tailed triangles: a copy is a triangle ``T``, a node ``u ∈ T`` and an edge ``u w`` with
  ``w ∉ T`` (``d_u − 2`` choices).  ``k`` lies in ``T`` (``Σ_{T ∋ k} Σ_{u ∈ T} (d_u − 2)``
  ``= t_k (d_k − 6) + Σ_j (A∘P)_kj d_j``) or is the tail (``Σ_j A_kj (t_j − P_kj)``
  ``= Σ_j A_kj t_j − 2 t_k``).
* 4-cycles: closed 4-walks at ``k`` are ``2·C₄(k)``, the ``d_k²`` walks back through ``k`` and the
  ``Σ_j A_kj (d_j − 1)`` walks ``k j l j k``.
* chordal 4-cycles: a copy is its chord ``u v`` (the edge whose ends have degree 3 in the copy)
  and two common neighbours of ``u`` and ``v``: ``k`` is a chord end (``C(P_kv, 2)`` per
  neighbour ``v``) or a tip (``P_uv − 1`` other tips per edge ``u v`` of a triangle on ``k``).

    >>> star = np.zeros((1, 4, 4)); star[0, 0, 1:] = star[0, 1:, 0] = 1
    >>> count_3_stars(star).tolist(), count_triangles(star).tolist()
    ([[1.0, 1.0, 1.0, 1.0]], [[0.0, 0.0, 0.0, 0.0]])

All functions take a batch ``(m, n, n)`` and return ``(m, n)`` ``float64``; padding nodes (no edges)
count 0.
"""

from __future__ import annotations

import numpy as np


def _parts(adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A`` (float64), degrees ``d`` and two-paths ``P = A²``."""
    a = adjacency.astype(np.float64)
    return a, a.sum(axis=-1), a @ a


def _choose2(x: np.ndarray) -> np.ndarray:
    return x * (x - 1) / 2


def count_triangles(adjacency: np.ndarray) -> np.ndarray:
    """Triangles through every node: ``(A³)_kk / 2``."""
    a, _, p = _parts(adjacency)
    return (p * a).sum(axis=-1) / 2


def count_3_stars(adjacency: np.ndarray) -> np.ndarray:
    """Copies of K₁,₃ containing every node."""
    a, d, _ = _parts(adjacency)
    return d * (d - 1) * (d - 2) / 6 + np.einsum("bkj,bj->bk", a, _choose2(d - 1))


def count_tailed_triangles(adjacency: np.ndarray) -> np.ndarray:
    """Copies of the tailed triangle (paw) containing every node."""
    a, d, p = _parts(adjacency)
    t = (p * a).sum(axis=-1) / 2
    return t * (d - 8) + np.einsum("bkj,bj->bk", a * p, d) + np.einsum("bkj,bj->bk", a, t)


def count_4_cycles(adjacency: np.ndarray) -> np.ndarray:
    """Copies of C₄ containing every node."""
    a, d, p = _parts(adjacency)
    closed_walks = (p * p).sum(axis=-1)
    return (closed_walks - d * d - np.einsum("bkj,bj->bk", a, d) + d) / 2


def count_chordal_4_cycles(adjacency: np.ndarray) -> np.ndarray:
    """Copies of K₄ minus an edge (a 4-cycle with one chord) containing every node."""
    a, _, p = _parts(adjacency)
    ends = (a * _choose2(p)).sum(axis=-1)
    tips = ((a @ (a * (p - 1))) * a).sum(axis=-1) / 2
    return ends + tips


#: name → (count, pattern edges = polynomial degree).
COUNTS = {
    "triangles": (count_triangles, 3),
    "3-stars": (count_3_stars, 3),
    "tailed-triangles": (count_tailed_triangles, 4),
    "4-cycles": (count_4_cycles, 4),
    "chordal-4-cycles": (count_chordal_4_cycles, 5),
}
