"""Pattern layers on edge lists: every pattern of a ``TensorPolyLayer`` summed in O(|E|) plus its joins.

A pattern ``π`` (:mod:`polyequiv.patterns`) is, in the diagram basis, the sum over one node per block
of a product of factors.  Read it as a small multigraph on its blocks: an ``E`` or ``V2`` factor
``X_ab`` with ``a``, ``b`` in different blocks is an edge, a ``V`` factor ``x_a`` or a self-loop value
``X_aa`` (``V2``) a weight on its block, a ``1`` factor a per-graph constant.  The output blocks are
held fixed (the root ``o₁``; for an edge output the two ends, evaluated only on the listed pairs).

:func:`compile_pattern` orders the other blocks for summing out (variable elimination): always a
block touching the fewest others, a block with one neighbour being a scatter sum over an edge list
and one with two neighbours a join of two edge lists (:mod:`polyequiv.nn.sparse_factors`), preferring
a join whose ends are already linked (a closed triangle, evaluated only on that link's pairs).  A
block touching three others would need a three-node table; patterns of degree ≤ 4 never do (a
multigraph with ≤ 4 edges, plus the link between two output ends, has no K₄ minor, so it has tree
width ≤ 2), and :class:`SparsePatternError` names any pattern that would.  :func:`evaluate_pattern`
then runs the order on a :class:`SparseGraph`.  Nothing of size n² is ever formed: memory is
O(|E|·c) plus the pairs a join produces (two-paths, ``Σ_v deg(v)²`` at most).

    >>> import torch
    >>> from polyequiv.patterns import layer_patterns
    >>> closed_walk = next(p for p in layer_patterns("E", "V", 3) if str(p) == "{o₁,i₁,i₂}{i₁′,i₃}{i₂′,i₃′}")
    >>> program = compile_pattern(closed_walk, "E", "V")
    >>> triangle = torch.tensor([[0, 1, 1, 2, 2, 0, 2, 3], [1, 0, 2, 1, 0, 2, 3, 2]])  # and a tail
    >>> from polyequiv.nn.pyg import pyg_to_sparse                      # PyG's inputs, checked
    >>> graph = pyg_to_sparse("E", "V", 1, edge_index=triangle, num_nodes=4)
    >>> (evaluate_pattern(program, graph).reshape(-1) / 2).tolist()      # triangles through each node
    [1.0, 1.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from polyequiv.nn.sparse_factors import Pair, Supports, join, multiply, sum_per_graph, sum_to_node
from polyequiv.patterns import Pattern
from polyequiv.reps import Representation

SPARSE_TERMS = ("1", "V", "E", "V2")


class SparsePatternError(ValueError):
    """A layer or pattern the edge-list path cannot evaluate (use the dense path)."""


@dataclass(frozen=True)
class SparseProgram:
    """One pattern as factors on blocks and an order of blocks to sum out.

    ``factors`` holds, per non-bias factor in the pattern's order, ``(kind, input term, blocks)``
    with kind ``"node"`` (``V``), ``"loop"`` (``V2``, both ends in one block), ``"pair"`` (``E`` or
    ``V2`` between two blocks, in the factor's own direction) or ``"graph"`` (``1``).
    """

    output: str
    roots: tuple[int, ...]
    factors: tuple[tuple[str, int, tuple[int, ...]], ...]
    order: tuple[int, ...]


def compile_pattern(pattern: Pattern, in_rep: Representation | str, out_rep: Representation | str
                    ) -> SparseProgram:
    """The elimination program of ``pattern`` of the layer ``in_rep → out_rep``.

    Raises
    ------
    SparsePatternError
        A term other than ``1``, ``V``, ``E``, ``V2``, or a pattern that needs a three-block table.
    """
    rep_in, rep_out = Representation.parse(in_rep), Representation.parse(out_rep)
    output = rep_out.terms[pattern.output_term]
    for term in (*rep_in.terms, output):
        if term not in SPARSE_TERMS:
            raise SparsePatternError(f"term {term} has no edge-list form (only {', '.join(SPARSE_TERMS)})")
    out_arity = rep_out.arities[pattern.output_term]
    roots = tuple(pattern.kernel[:out_arity])
    factors, position = [], out_arity
    for term, count in enumerate(pattern.composition[:-1]):
        arity = rep_in.arities[term]
        for _ in range(count):
            blocks = tuple(pattern.kernel[position:position + arity])
            kind = "graph" if arity == 0 else "node" if arity == 1 else "pair"
            kind = "loop" if kind == "pair" and blocks[0] == blocks[1] else kind
            factors.append((kind, term, blocks))
            position += arity
    links = [blocks for kind, _, blocks in factors if kind == "pair"]
    if len(set(roots)) == 2:
        links.append(roots)
    order = _elimination_order(pattern.num_blocks, set(roots), links, pattern)
    return SparseProgram(output, roots, tuple(factors), order)


def _elimination_order(blocks: int, roots: set[int], links: list[tuple[int, ...]], pattern: Pattern
                       ) -> tuple[int, ...]:
    """Blocks to sum out, each touching ≤ 2 others when its turn comes.

    Order of preference: fewest neighbours; then joins of lists closer to the input (a link's
    *level* is 0 for an edge list and one more than its inputs' for a join that made a new list:
    joining a list of two-paths again walks ``Σ_v deg₂(v)·deg(v)`` paths, far more than the
    ``Σ_v deg(v)²`` of two edge lists); then joins that close on an existing link.
    """
    neighbours: dict[int, set[int]] = {b: set() for b in range(blocks)}
    level: dict[frozenset[int], int] = {}
    for a, b in links:
        neighbours[a].add(b)
        neighbours[b].add(a)
        level[frozenset((a, b))] = 0
    remaining, order = [b for b in range(blocks) if b not in roots], []

    def cost(block: int) -> tuple[int, int, bool, int]:
        near = sorted(neighbours[block])
        closes = len(near) == 2 and near[1] in neighbours[near[0]]
        return len(near), sum(level[frozenset((block, other))] for other in near), not closes, block

    while remaining:
        block = min(remaining, key=cost)
        near = sorted(neighbours.pop(block))
        if len(near) > 2:
            raise SparsePatternError(f"pattern {pattern} needs a table on three blocks at once (a K₄ minor); "
                                     "evaluate it densely")
        for other in near:
            neighbours[other].discard(block)
        if len(near) == 2:
            link = frozenset(near)
            if link not in level:  # a join that makes a new pair list
                level[link] = 1 + max(level[frozenset((block, other))] for other in near)
            neighbours[near[0]].add(near[1])
            neighbours[near[1]].add(near[0])
        remaining.remove(block)
        order.append(block)
    return tuple(order)


@dataclass
class EdgeInput:
    """An ``E`` or ``V2`` input on a graph: listed pairs with values ``(M, c)``; ``loops`` ``(N, c)``
    holds the self-loop values (``V2``); ``partner`` the position of each pair's reverse (``E``);
    ``order`` the permutation that sorts the pairs by ``(source, target)``."""

    source: Tensor
    target: Tensor
    values: Tensor
    loops: Tensor
    partner: Tensor | None = None
    order: Tensor | None = None
    _sorted: dict[bool, tuple[Tensor, Tensor, Tensor, Tensor, int]] = field(default_factory=dict)
    _values: dict[bool, Tensor] = field(default_factory=dict)

    def structure(self, flipped: bool, supports: Supports) -> tuple[Tensor, Tensor, Tensor, Tensor, int]:
        """``(first, second, codes, origin, support)`` of the pairs read ``(source, target)`` (or
        flipped), sorted by code; ``origin`` is each sorted pair's position in the input.  For ``E``
        both readings are one list (every edge is listed both ways) on one symmetric support."""
        if self.partner is not None and flipped:
            first, second, codes, order, support = self.structure(False, supports)
            return first, second, codes, self.partner.index_select(0, order), support
        if flipped not in self._sorted:
            first, second = (self.target, self.source) if flipped else (self.source, self.target)
            codes = first * supports.num_nodes + second
            order = self.order if self.order is not None and not flipped else torch.argsort(codes)
            partner = None
            if self.partner is not None:  # the reverse of sorted pair p, as a sorted position
                inverse = torch.empty_like(order).index_put_((order,), torch.arange(order.numel()))
                partner = inverse.index_select(0, self.partner.index_select(0, order))
            self._sorted[flipped] = (first.index_select(0, order), second.index_select(0, order),
                                     codes.index_select(0, order), order, supports.new(partner))
        return self._sorted[flipped]

    def pair(self, flipped: bool, supports: Supports) -> Pair:
        """The input as a pair factor read ``(source, target)``, or ``(target, source)`` if flipped
        (values ``(M, c)``, sorted once per reading)."""
        first, second, codes, order, support = self.structure(flipped, supports)
        if flipped not in self._values:
            self._values[flipped] = self.values.index_select(0, order)
        return Pair(first, second, self._values[flipped], codes, support)

    def listed(self, flipped: bool, values: Tensor, supports: Supports) -> Pair:
        """The listed pairs themselves as a factor with ``values`` and their positions (``origin``)."""
        first, second, codes, order, support = self.structure(flipped, supports)
        return Pair(first, second, values, codes, support, order)


@dataclass
class SparseGraph:
    """A batch of graphs in edge-list form, ready for :func:`evaluate_pattern`.

    ``inputs`` holds one entry per input term: ``u`` ``(G, c)``, ``x`` ``(N, c)`` or an
    :class:`EdgeInput`; ``output_pairs`` the listed pairs an ``E``/``V2`` output lives on, as an
    :class:`EdgeInput` (the input's own when they are the same list).  ``supports`` keeps what
    patterns share within one evaluation (sorted pair lists, triangle lists).
    """

    num_nodes: int
    num_graphs: int
    batch: Tensor
    inputs: list[Any]
    channels: int
    output_pairs: EdgeInput | None = None
    supports: Supports | None = None

    def __post_init__(self) -> None:
        if self.supports is None:
            self.supports = Supports(self.num_nodes)

    def rows(self, output: str) -> int:
        """Rows of an output term: graphs (``1``), nodes (``V``) or listed pairs (``E``, ``V2``)."""
        if output in ("1", "V"):
            return self.num_graphs if output == "1" else self.num_nodes
        return int(self.output_pairs.source.numel())

    def dtype(self) -> torch.dtype:
        for data in self.inputs:
            return (data.values if isinstance(data, EdgeInput) else data).dtype
        return torch.get_default_dtype()


def evaluate_pattern(program: SparseProgram, graph: SparseGraph) -> Tensor:
    """``T_π`` with weight 1 on every channel tuple: ``(rows, c, …, c)``, one channel axis per factor
    (rows: graphs, nodes or the output's listed pairs, as the output term says).  An ``E`` output
    is symmetrised over the two directions of each edge, as the dense layer does."""
    state = _State(graph, len(program.factors))
    for number, (kind, term, blocks) in enumerate(program.factors):
        state.load(kind, graph.inputs[term], blocks, number)
    if program.output in ("E", "V2") and len(set(program.roots)) == 2:
        state.load_output(program.roots)
    for block in program.order:
        state.eliminate(block)
    value = state.result(program)
    full = (value.shape[0], *([graph.channels] * len(program.factors)))
    value = value.expand(full) if value.dim() == len(full) else value.reshape(full)
    if program.output == "E":
        value = (value + value.index_select(0, graph.output_pairs.partner)) / 2
    return value


class _State:
    """The factors of one pattern while its blocks are summed out."""

    def __init__(self, graph: SparseGraph, factors: int) -> None:
        self.graph, self.factors, self.supports = graph, factors, graph.supports
        self.nodes: dict[int, Tensor] = {}
        self.pairs: dict[tuple[int, int], Pair] = {}
        self.scalars: list[Tensor] = []

    def place(self, tensor: Tensor, number: int) -> Tensor:
        """``(rows, c)`` → ``(rows, 1, …, c, …, 1)`` with ``c`` on the factor's own axis."""
        shape = [1] * self.factors
        shape[number] = tensor.shape[-1]
        return tensor.reshape(tensor.shape[0], *shape)

    def load(self, kind: str, data: Any, blocks: tuple[int, ...], number: int) -> None:
        if kind == "graph":
            self.scalars.append(self.place(data, number))
        elif kind in ("node", "loop"):
            self._node(blocks[0], self.place(data.loops if kind == "loop" else data, number))
        else:
            a, b = blocks
            pair = data.pair(a > b, self.supports)
            pair = Pair(pair.first, pair.second, self.place(pair.values, number), pair.codes, pair.support)
            self._pair((min(a, b), max(a, b)), pair)

    def load_output(self, roots: tuple[int, ...]) -> None:
        """The output's listed pairs as a factor of ones on the two output blocks (their origin kept)."""
        pairs = self.graph.output_pairs
        ones = self._ones(pairs.source.numel())
        self._pair((min(roots), max(roots)), pairs.listed(roots[0] > roots[1], ones, self.supports))

    def _node(self, block: int, tensor: Tensor) -> None:
        self.nodes[block] = tensor if block not in self.nodes else self.nodes[block] * tensor

    def _pair(self, key: tuple[int, int], pair: Pair) -> None:
        self.pairs[key] = pair if key not in self.pairs else multiply(self.pairs[key], pair, self.supports)

    def eliminate(self, block: int) -> None:
        node = self.nodes.pop(block, None)
        touching = sorted(key for key in self.pairs if block in key)
        n = self.graph.num_nodes
        if not touching:
            node = self._ones(n) if node is None else node
            self.scalars.append(sum_per_graph(node, self.graph.batch, self.graph.num_graphs))
        elif len(touching) == 1:
            key = touching[0]
            other = key[0] if key[1] == block else key[1]
            self._node(other, sum_to_node(self.pairs.pop(key), node, keep_first=key[0] == other, num_nodes=n))
        else:
            sides = []  # each pair read from the summed block: (other end, pair)
            for key in touching:
                pair = self.pairs.pop(key)
                sides.append((key[1] if key[0] == block else key[0],
                              pair if key[0] == block else self.supports.transpose(pair)))
            (low, left), (high, right) = sorted(sides, key=lambda side: side[0])
            target = self.pairs.pop((low, high), None)
            self.pairs[(low, high)] = join(left, node, right, target, self.supports)

    def result(self, program: SparseProgram) -> Tensor:
        graph = self.graph
        scalar = None
        for tensor in self.scalars:
            scalar = tensor if scalar is None else scalar * tensor
        if program.output == "1":
            return scalar if scalar is not None else self._ones(graph.num_graphs)
        if program.output == "V" or len(set(program.roots)) == 1:
            value = self.nodes.get(program.roots[0], self._ones(graph.num_nodes))
            value = value if scalar is None else value * scalar.index_select(0, graph.batch)
            if program.output == "V":
                return value
            # a diagonal pattern: only self-loops carry it (never an E output)
            pairs = graph.output_pairs
            on_loop = (pairs.source == pairs.target).to(value.dtype).reshape(-1, *([1] * (value.dim() - 1)))
            return value.index_select(0, pairs.source) * (on_loop if program.output == "V2" else 0)
        return self._on_pairs(program.roots, scalar)

    def _on_pairs(self, roots: tuple[int, ...], scalar: Tensor | None) -> Tensor:
        """The factor on the two output blocks, times their node factors, on the listed pairs."""
        pair = self.pairs.pop((min(roots), max(roots)))
        ends = (pair.first, pair.second) if roots[0] < roots[1] else (pair.second, pair.first)
        value = pair.values
        for root, nodes in zip(roots, ends, strict=True):
            if root in self.nodes:
                value = value * self.nodes[root].index_select(0, nodes)
        if scalar is not None:
            value = value * scalar.index_select(0, self.graph.batch.index_select(0, ends[0]))
        count = self.graph.output_pairs.source.numel()
        return value.new_zeros((count, *value.shape[1:])).index_add(0, pair.origin, value)

    def _ones(self, rows: int) -> Tensor:
        shape = (rows, *([1] * self.factors))
        return torch.ones(shape, dtype=self.graph.dtype(), device=self.graph.batch.device)


# ---------------------------------------------------------------------- a whole layer
def layer_programs(layer: Any) -> list[SparseProgram]:
    """The programs of every pattern of a :class:`~polyequiv.nn.TensorPolyLayer` (compiled once).

    Raises
    ------
    SparsePatternError
        When some pattern has no edge-list program (the layer then runs densely).
    """
    cached = layer.__dict__.get("_sparse_programs")
    if cached is None:
        try:
            cached = [compile_pattern(p, layer.in_rep, layer.out_rep) for p in layer.patterns]
        except SparsePatternError as error:
            cached = error
        layer.__dict__["_sparse_programs"] = cached
    if isinstance(cached, SparsePatternError):
        raise cached
    return cached


def sparse_forward(layer: Any, graph: SparseGraph) -> list[Tensor]:
    """``Σ_π θ_π · T_π`` per output term, rows as :meth:`SparseGraph.rows` says: ``(rows, c_out)``."""
    programs = layer_programs(layer)
    thetas = layer.weight[layer.theta_index]
    outputs: dict[int, Tensor] = {}
    for number, (program, pattern) in enumerate(zip(programs, layer.patterns, strict=True)):
        weights = thetas[layer._blocks[number]:layer._blocks[number + 1]].reshape(layer.out_channels, -1)
        value = evaluate_pattern(program, graph)
        mixed = value.reshape(value.shape[0], math.prod(value.shape[1:])) @ weights.T
        term = pattern.output_term
        outputs[term] = mixed if term not in outputs else outputs[term] + mixed
    return [outputs[number] if number in outputs else
            layer.weight.new_zeros((graph.rows(term), layer.out_channels))
            for number, term in enumerate(layer.out_rep.terms)]


def sparse_pattern_values(layer: Any, graph: SparseGraph) -> Tensor:
    """Every pattern's ``T_π`` (one channel in and out, one output term): ``(patterns, rows)``."""
    programs = layer_programs(layer)
    rows = graph.rows(layer.out_rep.terms[0])
    values = [evaluate_pattern(program, graph).reshape(rows) for program in programs]
    return torch.stack(values) if values else layer.weight.new_zeros((0, rows))
