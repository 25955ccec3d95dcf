"""The sums a sparse pattern evaluation is made of: pair factors on edge lists, and three eliminations.

A pattern of a graph layer (:mod:`polyequiv.patterns`) in the diagram basis is a sum over one node
per block of a product of factors.  On a PyTorch Geometric graph each factor lives on

* a **node** tensor ``(N, …)``: a ``V`` feature ``x_a``, a self-loop value ``X_aa`` of ``V2``, or a
  sum already taken;
* a **pair** (:class:`Pair`): values on a sorted list of node pairs ``(a, b)``: the listed edges
  of an ``E`` or ``V2`` input (every other entry of the matrix is zero), or a join;
* a **graph** tensor ``(G, …)``: a ``1`` input ``u`` or a block summed over a whole graph.

Summing out one block ``v`` touches only the factors that carry it:

``sum_per_graph``  no pair at ``v``: ``Σ_v h(v)`` per graph (``batch``), a graph tensor;
``sum_to_node``    one pair ``f(w, v)``: ``Σ_v f(w, v) h(v)``, a scatter sum over the pair list, O(|pairs|);
``join``           two pairs ``f(a, v)``, ``g(v, c)``: ``Σ_v f(a, v) h(v) g(v, c)``, enumerated along the
                   two-paths ``a – v – c`` (``Σ_v deg(v)²`` of them) in chunks; kept only on the
                   pairs of a ``target`` (a factor already on ``(a, c)``: a triangle closes) or, with
                   no target, summed into a new pair list (the join's own size).

Pairs on one list of node pairs share a *support* (:class:`Supports`): their products need no
lookup, and on a symmetric support (an ``E`` input: every edge both ways, no loops) a closing join
runs over the graph's triangles, listed once per support by the degree ordering (each triangle
found once, from its lowest-ranked node; ``Σ_v C(d⁺(v), 2)`` wedges, far fewer than two-paths on
graphs with hubs).  Lookups sort their queries first (cache-friendly binary search).

Everything is an index gather, a product and an ``index_add``, so autograd differentiates it, and
memory stays O(|E|·c) plus the join at hand.  Channels: every tensor keeps one axis per factor of
the pattern (size 1 where the factor is absent), so products are broadcasts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

#: Two-paths (or wedges) enumerated at once in a join (memory per chunk: a few int64 and value columns).
JOIN_CHUNK = 1 << 22
#: Lookups of more queries than this sort them first.
SORTED_LOOKUP = 1 << 14

#: The six orderings (a, b, c) of a triangle's nodes (x, y, z), as indices into the positions
#: (xy, yx, xz, zx, yz, zy): the pairs (b, a), (b, c) and (a, c) a closing join reads.
_ORDERINGS = torch.tensor([[1, 4, 2], [3, 5, 0], [0, 2, 4], [5, 3, 1], [2, 0, 5], [4, 1, 3]])


@dataclass
class Pair:
    """Values on a list of node pairs, sorted by ``code = first · N + second`` (no repeats).

    ``support`` names the list (pairs with one support have the same ``first``, ``second`` and
    ``codes``); ``origin`` is the position in the layer's output list of each pair, for the output's
    own pairs.
    """

    first: Tensor
    second: Tensor
    values: Tensor
    codes: Tensor
    support: int
    origin: Tensor | None = None

    def __len__(self) -> int:
        return int(self.codes.numel())


@dataclass
class Supports:
    """The pair lists of one evaluation: fresh support numbers, the reverse of each pair on a
    symmetric support, and its triangles (listed on first use)."""

    num_nodes: int
    partners: dict[int, Tensor] = field(default_factory=dict)
    triangle_lists: dict[int, Tensor] = field(default_factory=dict)
    count: int = 0

    def new(self, partner: Tensor | None = None) -> int:
        self.count += 1
        if partner is not None:
            self.partners[self.count] = partner
        return self.count

    def make_pair(self, first: Tensor, second: Tensor, values: Tensor, origin: Tensor | None = None) -> Pair:
        """A :class:`Pair` on a new support from unsorted pairs without repeats (sorted here)."""
        codes = first * self.num_nodes + second
        order = torch.argsort(codes)
        return Pair(first[order], second[order], values.index_select(0, order), codes[order], self.new(),
                    None if origin is None else origin[order])

    def transpose(self, pair: Pair) -> Pair:
        """The same factor read with its two blocks swapped: pairs ``(b, a)``."""
        partner = self.partners.get(pair.support)
        if partner is None:
            return self.make_pair(pair.second, pair.first, pair.values, pair.origin)
        return Pair(pair.first, pair.second, pair.values.index_select(0, partner), pair.codes, pair.support,
                    None if pair.origin is None else pair.origin[partner])

    def triangles(self, pair: Pair) -> Tensor | None:
        """``(T, 6)`` positions of the pairs ``xy, yx, xz, zx, yz, zy`` of every triangle of a
        symmetric support (``None`` for another support)."""
        if pair.support not in self.partners:
            return None
        if pair.support not in self.triangle_lists:
            partner = self.partners[pair.support]
            self.triangle_lists[pair.support] = _list_triangles(pair, partner, self.num_nodes)
        return self.triangle_lists[pair.support]


def lookup(codes: Tensor, wanted: Tensor) -> tuple[Tensor, Tensor]:
    """Positions of ``wanted`` in the sorted ``codes`` and whether each is there."""
    if not codes.numel() or not wanted.numel():
        return torch.zeros_like(wanted), torch.zeros(wanted.shape, dtype=torch.bool, device=wanted.device)
    if wanted.numel() > SORTED_LOOKUP:
        ordered, order = torch.sort(wanted)
        position = torch.empty_like(wanted).index_put_((order,), torch.searchsorted(codes, ordered))
    else:
        position = torch.searchsorted(codes, wanted)
    position = position.clamp_max(codes.numel() - 1)
    return position, codes.index_select(0, position) == wanted


def multiply(first: Pair, second: Pair, supports: Supports) -> Pair:
    """The product of two factors on the same two blocks (same orientation): their common pairs."""
    if first.support == second.support:
        origin = first.origin if first.origin is not None else second.origin
        values = first.values * second.values
        return Pair(first.first, first.second, values, first.codes, first.support, origin)
    position, found = lookup(first.codes, second.codes)
    keep = torch.nonzero(found)[:, 0]
    position = position[keep]
    origin = second.origin[keep] if second.origin is not None else (
        first.origin[position] if first.origin is not None else None)
    return Pair(second.first[keep], second.second[keep],
                first.values.index_select(0, position) * second.values.index_select(0, keep),
                second.codes[keep], second.support if len(keep) == len(second) else supports.new(), origin)


def sum_per_graph(node: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """``Σ_v h(v)`` over the nodes of each graph: ``(G, …)``."""
    return node.new_zeros((num_graphs, *node.shape[1:])).index_add(0, batch, node)


def sum_to_node(pair: Pair, node: Tensor | None, *, keep_first: bool, num_nodes: int) -> Tensor:
    """``Σ_v f(w, v) h(v)`` for every ``w``, ``v`` the summed end (the second if ``keep_first``)."""
    kept, summed = (pair.first, pair.second) if keep_first else (pair.second, pair.first)
    values = pair.values if node is None else pair.values * node.index_select(0, summed)
    return values.new_zeros((num_nodes, *values.shape[1:])).index_add(0, kept, values)


def join(left: Pair, node: Tensor | None, right: Pair, target: Pair | None, supports: Supports) -> Pair:
    """``Σ_v f(a, v) h(v) g(v, c)`` as a pair factor on ``(a, c)``.

    ``left`` holds ``f`` read from the summed block, pairs ``(v, a)``; ``right`` holds ``g`` as
    pairs ``(v, c)``; both sorted by ``v`` (their codes).  With a ``target`` the result lives on the
    target's pairs and is multiplied into it (a pair with no two-path gets 0); without one it is the
    list of every ``(a, c)`` joined by a two-path, repeats summed.
    """
    shape = torch.broadcast_shapes(left.values.shape[1:], right.values.shape[1:],
                                   node.shape[1:] if node is not None else ())
    if target is not None and left.support == right.support == target.support:
        triangles = supports.triangles(target)
        if triangles is not None:
            return _join_on_triangles(left, node, right, target, triangles, shape)
    if target is not None:  # summed chunk by chunk: memory stays one chunk of two-paths
        summed = target.values.new_zeros((len(target), *shape))
        for i, j in _two_paths(left, right, supports.num_nodes):
            summed = summed.index_add(0, *_chunk(left, node, right, target, i, j, supports.num_nodes))
        values = summed * target.values
        return Pair(target.first, target.second, values, target.codes, target.support, target.origin)
    pieces = []
    for i, j in _two_paths(left, right, supports.num_nodes):  # each chunk coalesced, then all of them
        codes, values = _chunk(left, node, right, None, i, j, supports.num_nodes)
        unique, inverse = torch.unique(codes, return_inverse=True)
        pieces.append((unique, values.new_zeros((unique.numel(), *shape)).index_add(0, inverse, values)))
    if not pieces:
        empty = left.codes.new_zeros(0)
        return Pair(empty, empty, left.values.new_zeros((0, *shape)), empty, supports.new())
    codes = torch.cat([c for c, _ in pieces])
    unique, inverse = torch.unique(codes, return_inverse=True)
    values = torch.cat([v for _, v in pieces])
    values = values.new_zeros((unique.numel(), *shape)).index_add(0, inverse, values)
    n = supports.num_nodes
    return Pair(unique // n, unique % n, values, unique, supports.new())


def _two_paths(left: Pair, right: Pair, num_nodes: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Every ``(i, j)`` with ``left.first[i] == right.first[j]``, in chunks of about :data:`JOIN_CHUNK`."""
    count_right = torch.bincount(right.first, minlength=num_nodes)
    start_right = torch.cumsum(count_right, 0) - count_right
    repeats = count_right.index_select(0, left.first)
    for begin, stop in _chunks(repeats):
        i, offset = _expand(begin, stop, repeats)
        yield i, start_right.index_select(0, left.first.index_select(0, i)) + offset


def _chunks(repeats: Tensor) -> list[tuple[int, int]]:
    """Ranges of rows whose ``repeats`` add up to about :data:`JOIN_CHUNK` (one row at least)."""
    ends = torch.cumsum(repeats, 0)
    ranges, begin = [], 0
    while begin < repeats.numel():
        done = int(ends[begin - 1]) if begin else 0
        if done == int(ends[-1]):
            break
        stop = int(torch.searchsorted(ends, torch.tensor(done + JOIN_CHUNK, device=ends.device), right=True))
        stop = max(stop, begin + 1)
        ranges.append((begin, stop))
        begin = stop
    return ranges


def _expand(begin: int, stop: int, repeats: Tensor) -> tuple[Tensor, Tensor]:
    """Row ``i`` repeated ``repeats[i]`` times for ``begin ≤ i < stop``, and the count ``0…`` within each."""
    own = repeats[begin:stop]
    rows = torch.repeat_interleave(torch.arange(begin, stop, device=own.device), own)
    first = torch.repeat_interleave(torch.cumsum(own, 0) - own, own)
    offset = torch.arange(rows.numel(), device=own.device) - first
    return rows, offset


def _chunk(left: Pair, node: Tensor | None, right: Pair, target: Pair | None, i: Tensor, j: Tensor,
           num_nodes: int) -> tuple[Tensor, Tensor]:
    """The two-paths ``(i, j)``: (target positions or codes, values)."""
    codes = left.second.index_select(0, i) * num_nodes + right.second.index_select(0, j)
    if target is not None:
        position, found = lookup(target.codes, codes)
        hit = torch.nonzero(found)[:, 0]
        i, j, codes = i[hit], j[hit], position[hit]
    values = left.values.index_select(0, i) * right.values.index_select(0, j)
    if node is not None:
        values = values * node.index_select(0, left.first.index_select(0, i))
    return codes, values


def _join_on_triangles(left: Pair, node: Tensor | None, right: Pair, target: Pair, triangles: Tensor,
                       shape: torch.Size) -> Pair:
    """A closing join on a symmetric support: every ordering ``(a, b, c)`` of every triangle adds
    ``f(b, a) h(b) g(b, c)`` at ``(a, c)``."""
    summed = target.values.new_zeros((len(target), *shape))
    for reads in _ORDERINGS.tolist():
        b_a, b_c, a_c = (triangles[:, k] for k in reads)
        values = left.values.index_select(0, b_a) * right.values.index_select(0, b_c)
        if node is not None:
            values = values * node.index_select(0, left.first.index_select(0, b_a))
        summed = summed.index_add(0, a_c, values)
    values = summed * target.values
    return Pair(target.first, target.second, values, target.codes, target.support, target.origin)


def _list_triangles(pair: Pair, partner: Tensor, num_nodes: int) -> Tensor:
    """The triangles of a symmetric pair list, each once: ``(T, 6)`` positions (:meth:`Supports.triangles`).

    Nodes are ranked by (degree, number); each pair is oriented up the ranking; a triangle is a
    wedge ``y ← x → z`` of up-pairs closed by the up-pair ``y → z``.
    """
    degree = torch.bincount(pair.first, minlength=num_nodes)
    rank = degree * num_nodes + torch.arange(num_nodes, device=degree.device)
    up = torch.nonzero(rank.index_select(0, pair.first) < rank.index_select(0, pair.second))[:, 0]
    x, y = pair.first.index_select(0, up), pair.second.index_select(0, up)  # sorted by x, then y
    count = torch.bincount(x, minlength=num_nodes)
    start = torch.cumsum(count, 0) - count
    within = torch.arange(up.numel(), device=x.device) - start.index_select(0, x)
    later = count.index_select(0, x) - 1 - within
    found = []
    for begin, stop in _chunks(later):
        i, offset = _expand(begin, stop, later)
        j = i + 1 + offset
        ends = (rank.index_select(0, y.index_select(0, i)) < rank.index_select(0, y.index_select(0, j)))
        low = torch.where(ends, i, j)
        high = torch.where(ends, j, i)
        codes = y.index_select(0, low) * num_nodes + y.index_select(0, high)
        position, hit = lookup(pair.codes, codes)
        keep = torch.nonzero(hit)[:, 0]
        xy, xz, yz = up.index_select(0, low[keep]), up.index_select(0, high[keep]), position[keep]
        found.append(torch.stack([xy, partner.index_select(0, xy), xz, partner.index_select(0, xz),
                                  yz, partner.index_select(0, yz)], 1))
    return torch.cat(found) if found else pair.codes.new_zeros((0, 6))
