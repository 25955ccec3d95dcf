"""A structural name for the automorphism group of a coloured layer: Sₖ, Cₖ, Dₖ, Aₖ, × on blocks, ≀.

Every order below is exact and comes from bliss on the coloured digraph with some points
individualised (:meth:`~polyequiv.discovery.automorphisms.ColouredLayer.order`); no group is
enumerated.  For ``X`` the group induced on a set ``D`` of points (a union of orbits) by the
subgroup ``G_c`` keeping a point colouring ``c``:

* ``|X| = |G_c| / |G_{c, (D)}|``, ``(D)``: every point of ``D`` individualised;
* **intransitive** ``X`` with orbits ``O₁ … O_r`` is the direct product of its factors
  ``X_{O}`` (the pointwise stabiliser of ``D ∖ O``, on ``O``) iff ``Π |X_O| = |X|``:
  named ``A × B × …``;
* **transitive** ``X`` of degree ``m``: ``Sₘ`` if ``|X| = m!``, ``Cₘ`` if ``|X| = m`` and it is
  cyclic, ``Dₘ`` if ``|X| = 2m`` and it is dihedral, ``Aₘ`` if ``|X| = m!/2``, the abelian
  invariants ``C_a × C_b`` of any other regular abelian group; else, for a block system that is
  maximal (the action ``K`` on the blocks is primitive) with ``b`` blocks and ``H`` the group a
  block's setwise stabiliser induces on it, ``X ≤ H ≀ K`` always, with equality iff
  ``|X| = |H|^b · |K|`` (``|K| = |X| / |kernel|``, the kernel being the stabiliser of every
  block): named ``H ≀ K``, ``H`` recursively and ``K`` by the rules above;
* anything else: ``order N group``.
"""

from __future__ import annotations

import math

import numpy as np

from polyequiv.discovery.automorphisms import ColouredLayer, UnionFind, orbits


def group_name(layer: ColouredLayer) -> str:
    """The structural name of the automorphism group of ``layer`` (module docstring).

    >>> import numpy as np
    >>> from polyequiv.discovery.automorphisms import coloured_layer
    >>> from polyequiv.discovery.layouts import read_layout
    >>> w = np.kron(np.eye(2), np.ones((3, 3))) + np.diag([1.0, 1, 1, 2, 2, 2])
    >>> group_name(coloured_layer(read_layout(w), np.unique(w, return_inverse=True)[1]))
    'S3 × S3'
    """
    everything = np.zeros(layer.n, dtype=np.int64)
    moved = [x for orbit in orbits(layer.n, layer.generators()) if len(orbit) > 1 for x in orbit]
    return _name(layer, everything, moved) or "trivial"


def _refined(colours: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """The common refinement of two point colourings, renumbered ``0, 1, …``."""
    pairs = np.stack([colours, extra], axis=1)
    return np.unique(pairs, axis=0, return_inverse=True)[1].ravel().astype(np.int64)


def _individualised(colours: np.ndarray, points: list[int]) -> np.ndarray:
    """``colours`` with each of ``points`` in a colour of its own."""
    extra = np.zeros(len(colours), dtype=np.int64)
    extra[points] = 1 + np.arange(len(points))
    return _refined(colours, extra)


def _marked(colours: np.ndarray, blocks: dict[int, int]) -> np.ndarray:
    """``colours`` refined by a block label per point (points not in ``blocks``: label 0)."""
    extra = np.zeros(len(colours), dtype=np.int64)
    for point, label in blocks.items():
        extra[point] = 1 + label
    return _refined(colours, extra)


def _name(layer: ColouredLayer, colours: np.ndarray, domain: list[int]) -> str | None:
    """Name of the group ``X`` that ``G_colours`` induces on ``domain`` (``None``: trivial)."""
    if not domain:
        return None
    fixed = layer.order(_individualised(colours, domain))
    order = layer.order(colours) // fixed
    if order == 1:
        return None
    generators = [tuple(int(g[x]) for x in domain) for g in layer.generators(colours)]
    local = {x: i for i, x in enumerate(domain)}
    relabelled = [tuple(local[y] for y in g) for g in generators]
    parts = [[domain[i] for i in orbit] for orbit in orbits(len(domain), relabelled) if len(orbit) > 1]
    if len(parts) > 1:
        return _direct_product(layer, colours, domain, parts, order, fixed)
    if len(parts[0]) < len(domain):  # fixed points in the domain: the group acts on its one orbit
        return _name(layer, colours, parts[0])
    simple = _by_order(len(domain), order, relabelled)
    if simple is not None:
        return simple
    return _wreath(layer, colours, domain, relabelled, order, fixed) or f"order {order:,} group"


def _direct_product(layer: ColouredLayer, colours: np.ndarray, domain: list[int], parts: list[list[int]],
                    order: int, fixed: int) -> str:
    factors, product = [], 1
    for part in parts:
        inside = set(part)
        others = [x for x in domain if x not in inside]
        alone = _individualised(colours, others)
        product *= layer.order(alone) // fixed
        factors.append((alone, part))
    if product != order:
        return f"order {order:,} group"
    names = [_name(layer, alone, part) for alone, part in factors]
    return " × ".join(_wrapped(name) for name in names if name is not None)


def _wrapped(name: str) -> str:
    return f"({name})" if " " in name else name


def _by_order(m: int, order: int, generators: list[tuple[int, ...]]) -> str | None:
    """``Sₘ``, ``Cₘ``, ``Dₘ``, ``Aₘ`` or a regular abelian group, told by the order (and sympy for
    the small groups of order ``m`` and ``2m``); ``None`` otherwise."""
    if order == math.factorial(m):
        return f"S{m}"
    if order in (m, 2 * m):
        from sympy.combinatorics import Permutation, PermutationGroup

        group = PermutationGroup([Permutation(list(g)) for g in generators])
        if order == m and group.is_cyclic:
            return f"C{m}"
        if order == 2 * m and m >= 3 and group.is_dihedral:
            return f"D{m}"
        if order == m and group.is_abelian:
            return " × ".join(f"C{a}" for a in group.abelian_invariants())
    if m >= 4 and 2 * order == math.factorial(m):
        return f"A{m}"
    return None


def _wreath(layer: ColouredLayer, colours: np.ndarray, domain: list[int], generators: list[tuple[int, ...]],
            order: int, fixed: int) -> str | None:
    """``H ≀ K`` on a maximal block system, when the order says the group is the whole wreath product."""
    blocks = maximal_blocks(len(domain), generators)
    if blocks is None:
        return None
    count = int(blocks.max()) + 1
    label_of = {domain[i]: int(b) for i, b in enumerate(blocks)}
    kernel = layer.order(_marked(colours, label_of)) // fixed
    first = [domain[i] for i in np.flatnonzero(blocks == blocks[0])]
    setwise = _marked(colours, dict.fromkeys(first, 0))
    base_order = layer.order(setwise) // layer.order(_individualised(setwise, first))
    top_order = order // kernel
    if order != base_order**count * top_order:
        return None
    top = _by_order(count, top_order, _block_action(blocks, generators)) or f"order {top_order:,} group"
    base = _name(layer, setwise, first) or "trivial"
    return f"{_wrapped(base)} ≀ {_wrapped(top)}"


def _block_action(blocks: np.ndarray, generators: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """The permutations ``generators`` induce on the blocks (``blocks[x]``: the block of point ``x``)."""
    count = int(blocks.max()) + 1
    representative = [int(np.flatnonzero(blocks == b)[0]) for b in range(count)]
    return [tuple(int(blocks[g[x]]) for x in representative) for g in generators]


def finest_block(m: int, generators: list[tuple[int, ...]], a: int, b: int) -> np.ndarray:
    """Block labels of the finest block system in which ``a`` and ``b`` share a block (Atkinson 1975).

    >>> finest_block(4, [(1, 2, 3, 0)], 0, 2).tolist()
    [0, 1, 0, 1]
    """
    sets = UnionFind(m)
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if sets.union(x, y):
            pending.extend((g[x], g[y]) for g in generators)
    return sets.labels()


def maximal_blocks(m: int, generators: list[tuple[int, ...]]) -> np.ndarray | None:
    """Labels of a block system of a transitive group whose action on the blocks is primitive, with
    blocks of size ``1 < s < m``; ``None`` when the group is primitive.

    Starts from the smallest finest block of ``0`` with another point, then coarsens while the
    group acting on the blocks has a block system of its own.

    >>> maximal_blocks(4, [(1, 0, 2, 3), (2, 3, 0, 1)]).tolist()  # S2 ≀ S2: the pairs {0, 1}, {2, 3}
    [0, 0, 1, 1]
    """
    blocks = _minimal_system(m, generators)
    if blocks is None:
        return None
    while True:
        count = int(blocks.max()) + 1
        coarser = _minimal_system(count, _block_action(blocks, generators))
        if coarser is None:
            return blocks
        blocks = coarser[blocks]


def _minimal_system(m: int, generators: list[tuple[int, ...]]) -> np.ndarray | None:
    best = None
    for other in range(1, m):
        labels = finest_block(m, generators, 0, other)
        count = int(labels.max()) + 1
        if 1 < count < m and (best is None or count > int(best.max()) + 1):
            best = labels
    return best
