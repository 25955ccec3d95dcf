"""The seed paper's hand-derived count (its table (22)) reproduced, and explained.

The seed (§2.4) derives, for the full-indexed quadratic layer
``y_k = Σ_{ij} a^k_ij x_i x_j`` and a transposition ``σ = (h k)``, the equations
(21) by comparing ``y_k(σ·x)`` with ``y_h`` term by term:

    a^h_ij = a^k_ij   (i, j ∉ {h, k})      a^h_kj = a^k_hj   (j ∉ {h, k})
    a^h_hj = a^k_kj   (j ∉ {h, k})         a^h_ik = a^k_ih   (i ∉ {h, k})
    a^h_ih = a^k_ik   (i ∉ {h, k})         a^h_kk = a^k_hh,  a^h_hh = a^k_kk
    a^h_hk + a^h_kh = a^k_hk + a^k_kh      (additive)

and counts the classes the equalities leave: 6, 9, 11, 13, 15 for N = 2..6,
that is ``2N + 3``.  :func:`seed_equation_21_classes` rebuilds exactly that graph
and gets the same numbers, which pins down where the difference from the exact
count comes from:

1. only the two outputs that σ moves are compared; the outputs it fixes give
   ``y_j(σ·x) = y_j(x)`` for ``j ∉ {h, k}``, which ties ``a^j_jh`` to ``a^j_jk``
   and collapses the N classes ``{a^h_hj : h ≠ j}`` (one per j) into one (and
   likewise for ``a^h_jh``);
2. ``x_i x_j`` and ``x_j x_i`` are compared as different monomials (except in
   the last, additive, equation), which ties off-diagonal weights one by one,
   while equivariance only constrains their sums ``a^k_ij + a^k_ji``.

The exact system (coefficients of true monomials, every output, every
generator) leaves ``2 + N²(N − 1)`` classes with full indexing, of which only
4 directions change the function for N ≥ 3 (3 for N = 2): the rest is the
antisymmetric gauge.  With the symmetric gauge, or ordered indexing, the count
is 4 — the seed's own "≡ 4 for all N" of §2.5.
"""

from __future__ import annotations

import itertools

import networkx as nx

#: The seed's table (22): N → distinct weights, as printed.
SEED_TABLE_22 = {2: 6, 3: 9, 4: 11, 5: 13, 6: 15}
#: The seed's §2.5 ordered-index counts: "≡ 4 for all N, except N = 1, 2 which have 1 and 3".
SEED_ORDERED = {1: 1, 2: 3, 3: 4, 4: 4, 5: 4, 6: 4}
#: The seed's linear result (15)/(16): W = αI + β11ᵀ, two weights.
SEED_LINEAR = 2


def seed_equation_21_graph(n: int) -> nx.Graph:
    """Weights ``(k, i, j)`` of the full quadratic layer, with the equalities of the seed's (21)
    for every transposition ``(h k)`` as edges (the additive equation is not an equality)."""
    graph = nx.Graph()
    graph.add_nodes_from(itertools.product(range(n), repeat=3))
    for h, k in itertools.permutations(range(n), 2):
        others = [v for v in range(n) if v not in (h, k)]
        for i, j in itertools.product(others, repeat=2):
            graph.add_edge((h, i, j), (k, i, j))
        for j in others:
            graph.add_edge((h, k, j), (k, h, j))
            graph.add_edge((h, h, j), (k, k, j))
        for i in others:
            graph.add_edge((h, i, k), (k, i, h))
            graph.add_edge((h, i, h), (k, i, k))
        graph.add_edge((h, k, k), (k, h, h))
        graph.add_edge((h, h, h), (k, k, k))
    return graph


def seed_equation_21_classes(n: int) -> int:
    """Number of classes the seed's equations (21) leave: ``2N + 3`` for N ≥ 3 (6 for N = 2).

    >>> [seed_equation_21_classes(n) for n in range(2, 7)]
    [6, 9, 11, 13, 15]
    """
    return nx.number_connected_components(seed_equation_21_graph(n))
