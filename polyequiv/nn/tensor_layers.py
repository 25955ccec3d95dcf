"""Size-agnostic Sₙ-equivariant polynomial layers between tensor representations (graphs).

:class:`TensorPolyLayer` holds one parameter per n-free partition pattern
(:mod:`polyequiv.patterns`) and channel block, and runs on graphs of any size.

Basis.  A pattern is a set partition ``π`` of the index positions of a slot
(output indices, then every factor's indices).  The layer uses the *diagram*
basis of the partition algebra: for each pattern the unconstrained contraction

    T_π(X)[o] = Σ_{one element per block of π, output blocks fixed to o}  Π_factors X_f[indices of f],

where indices in one block are equal and indices in different blocks run
independently (they may coincide).  By Möbius inversion on the partition
lattice, ``T_π = Σ_{σ ≥ π} S_σ`` with ``S_σ`` the "all blocks distinct" orbit
sums (the tied weight classes of :class:`~polyequiv.nn.TiedPolynomialLayer`), a
unitriangular change of basis, so the layer spans exactly the equivariant
polynomial maps for every ``n`` at least the number of positions (for smaller
``n`` it spans them too, with some parameters redundant).  Coarsenings that put
the two ends of an edge together vanish because ``E`` inputs have a zero
diagonal, and those that put the two ends of an output edge together only
touch the diagonal, which an ``E`` output drops; an ``E`` output is symmetrised,
``(T_π[i, j] + T_π[j, i]) / 2``, since swapping the output ends maps ``π`` into
its own pattern.  Each ``T_π`` is evaluated as a chain of pairwise
``torch.einsum`` contractions chosen greedily (smallest intermediate first, the
order cached per shape), so e.g. ``Σ A_{ij} A_{kl}`` costs two sums, never an n⁴
outer product.

Evaluation.  A contraction only computes the output letters its factors carry;
the others (``Σ_{kl} X_kl`` on an output pair) are broadcast once per group of
patterns with the same output letters, after summing the group, and patterns
whose output letters repeat (``{o₁,o₂,…}``: the diagonal) are added into a
diagonal *view* of the output, never through a materialised diagonal matrix.
Single-input reductions (row sums, diagonals, totals) are computed once per call
and shared by the patterns that need them; a channel mix that ends several
patterns on the same axes is one matrix product over their concatenated
features.  The result is the same sum of ``T_π`` as the plain definition.

Layout.  One tensor per term of the input representation, in order:
``1`` → ``(batch, c_in)``, ``V`` → ``(batch, n, c_in)``, ``V2`` / ``E`` →
``(batch, n, n, c_in)`` (``E`` symmetric; its diagonal is ignored), ``Vk`` →
``(batch, n, …, n, c_in)``; the output likewise with ``c_out`` (``E`` outputs
are symmetric with a zero diagonal).  A single-term output is returned as a
tensor, a sum as a tuple.  Graphs of different sizes: pad to the largest and
pass ``mask`` ``(batch, n)``, ``True`` on real nodes; padded nodes enter no sum
and get zero outputs.  PyTorch Geometric batches (``x``, ``edge_index``,
``batch``, ``edge_attr``): :meth:`TensorPolyLayer.forward_pyg` and
:mod:`polyequiv.nn.pyg`.

Channels.  A pattern with ``e`` non-bias factors has ``c_out`` times one value per
orbit of channel tuples ``[c_in]^e`` under the factor permutations that map
``π`` to itself (those give the same contraction), so no parameter is redundant
once ``n`` reaches the number of positions.
"""

from __future__ import annotations

import functools
import itertools
import math
import string
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from polyequiv.nn.checks import check_count, check_dtype, check_input, check_mask
from polyequiv.patterns import Pattern, _normalise, _orbits, layer_patterns
from polyequiv.reps import Representation

_POSITION_LETTERS = string.ascii_lowercase[:24]  # "y" is the batch, "z" the output channel
_CHANNEL_LETTERS = string.ascii_uppercase


@dataclass(frozen=True)
class _Plan:
    """One pattern as a contraction: operands (input term, position letters), letters, channel map."""

    output_term: int
    output_letters: str
    factors: tuple[tuple[int, str], ...]  # (input term, position letters) of each non-bias factor
    free_letters: str  # block letters that only the output carries (the value is constant along them)
    computed_letters: str  # the other distinct output letters, in output order: the contraction's axes
    channel_orbit: np.ndarray  # parameter number of every channel tuple (c_in^e,)
    num_parameters: int  # per output channel


class TensorPolyLayer(nn.Module):
    """One parameter per partition pattern and channel block; any n.  See the module docstring.

    Parameters
    ----------
    in_rep, out_rep : Representation or str
        E.g. ``"E"`` and ``"V"`` (edges to nodes), ``"V2"``, ``"V + E"``, ``"1"``.
    degree : int
        Polynomial degree.
    in_channels, out_channels : int
        Channels of every input and output coordinate.
    bias : bool
        Include the bias input (every monomial of degree ≤ ``degree``).

    Examples
    --------
    >>> layer = TensorPolyLayer("E", "V", 1)
    >>> layer.num_parameters, [str(p) for p in layer.patterns]
    (2, ['{o₁,i₁}{i₁′}', '{o₁}{i₁}{i₁′}'])
    >>> adjacency = torch.tensor([[[0.0, 1, 1], [1, 0, 0], [1, 0, 0]]]).unsqueeze(-1)
    >>> with torch.no_grad():
    ...     _ = layer.weight.copy_(torch.tensor([1.0, 0.0]))   # the degree of every node
    >>> layer(adjacency)[0, :, 0].tolist()
    [2.0, 1.0, 1.0]
    """

    def __init__(
        self,
        in_rep: Representation | str,
        out_rep: Representation | str,
        degree: int,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        bias: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        degree = check_count("degree", degree, minimum=0)
        in_channels = check_count("in_channels", in_channels)
        out_channels = check_count("out_channels", out_channels)
        check_dtype(dtype)
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        self.in_rep, self.out_rep = Representation.parse(in_rep), Representation.parse(out_rep)
        self.degree, self.bias = degree, bias
        self.in_channels, self.out_channels = in_channels, out_channels
        self.patterns: list[Pattern] = layer_patterns(self.in_rep, self.out_rep, degree, bias=bias)
        self._plans = [self._plan(p) for p in self.patterns]
        self._offsets = np.concatenate(
            [[0], np.cumsum([p.num_parameters * out_channels for p in self._plans])]
        )
        self.weight = nn.Parameter(torch.empty(int(self._offsets[-1]), dtype=dtype, device=device))
        # weight[theta_index] lays out every pattern's (c_out, c_in, …, c_in) block one after another
        blocks = [
            offset + np.arange(self.out_channels)[:, None] * plan.num_parameters + plan.channel_orbit[None, :]
            for offset, plan in zip(self._offsets[:-1], self._plans, strict=True)
        ]
        self._blocks = np.concatenate([[0], np.cumsum([b.size for b in blocks])]).tolist()
        theta_index = np.concatenate([b.reshape(-1) for b in blocks]) if blocks else np.zeros(0, np.int64)
        self.register_buffer(
            "theta_index", torch.as_tensor(theta_index, dtype=torch.long, device=device), persistent=False
        )
        self.reset_parameters()

    @property
    def num_parameters(self) -> int:
        """Trainable values: Σ over patterns of ``c_out`` × channel orbits (one per pattern at c = 1)."""
        return self.weight.numel()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.uniform_(-1.0, 1.0).mul_(1.0 / math.sqrt(max(len(self.patterns), 1)))

    def extra_repr(self) -> str:
        return (
            f"'{self.in_rep} -> {self.out_rep}', degree={self.degree}, bias={self.bias}, "
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, patterns={len(self.patterns)}"
        )

    # ------------------------------------------------------------------ plans
    def _plan(self, pattern: Pattern) -> _Plan:
        arities = self.in_rep.arities
        out_arity = self.out_rep.arities[pattern.output_term]
        letters = [_POSITION_LETTERS[b] for b in pattern.kernel]
        output_letters = "".join(letters[:out_arity])
        factors, position = [], out_arity
        for term, count in enumerate(pattern.composition[:-1]):
            for _ in range(count):
                factors.append((term, "".join(letters[position : position + arities[term]])))
                position += arities[term]
        used = set("".join(f for _, f in factors))
        free = "".join(sorted(set(output_letters) - used))
        computed = "".join(c for c in dict.fromkeys(output_letters) if c in used)
        orbit, count = self._channel_orbits(pattern, [t for t, _ in factors])
        return _Plan(pattern.output_term, output_letters, tuple(factors), free, computed, orbit, count)

    def _channel_orbits(self, pattern: Pattern, factor_terms: list[int]) -> tuple[np.ndarray, int]:
        """Orbit number of every channel tuple under the factor permutations that fix ``π``."""
        e = len(factor_terms)
        if self.in_channels == 1:  # one channel tuple: one orbit, whatever the symmetries
            return np.zeros(1, dtype=np.int64), 1
        tuples = np.array(list(itertools.product(range(self.in_channels), repeat=e)), dtype=np.int64)
        tuples = tuples.reshape(-1, e) if e else np.zeros((1, 0), dtype=np.int64)
        perms = _factor_symmetries(
            self.out_rep.terms[pattern.output_term], self.in_rep, pattern, factor_terms
        )
        codes = [_tuple_codes(tuples[:, list(p)], self.in_channels) for p in perms]
        canonical = np.min(np.stack(codes), axis=0) if codes else _tuple_codes(tuples, self.in_channels)
        _, orbit = np.unique(canonical, return_inverse=True)
        return orbit.reshape(-1), int(orbit.max()) + 1 if orbit.size else 0

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs: Tensor, mask: Tensor | None = None) -> Tensor | tuple[Tensor, ...]:
        xs = self._check_inputs(inputs, mask)
        thetas = self.weight[self.theta_index]  # one gather for all patterns
        weighted = []
        for number, plan in enumerate(self._plans):
            full = thetas[self._blocks[number] : self._blocks[number + 1]]
            shape = (self.out_channels,) + (self.in_channels,) * len(plan.factors)
            weighted.append((plan, full.reshape(shape)))
        outputs = self._evaluate(xs, weighted, mask)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def pattern_values(self, *inputs: Tensor, mask: Tensor | None = None) -> Tensor:
        """Every pattern's contraction ``T_π(X)`` with weight 1, stacked: ``(patterns, batch, n…)``.

        The layer's output is ``Σ_π weight_π · T_π(X)`` (one channel in and out, a single-term
        output): these are its features, e.g. for least squares or preconditioning, computed once
        per pattern rather than by one forward pass per unit weight.
        """
        if self.in_channels != 1 or self.out_channels != 1 or len(self.out_rep.terms) != 1:
            raise ValueError("pattern_values needs one input and one output channel and a one-term output, "
                             f"got {self.in_channels} → {self.out_channels} channels, output {self.out_rep}")
        xs = self._check_inputs(inputs, mask)
        values = []
        for plan in self._plans:
            unit = xs[0].new_ones((1,) * (1 + len(plan.factors)))
            values.append(self._evaluate(xs, [(plan, unit)], mask)[0][..., 0])
        return torch.stack(values)

    def _evaluate(self, xs: list[Tensor], weighted: list[tuple[_Plan, Tensor]],
                  mask: Tensor | None) -> list[Tensor]:
        """``Σ`` over ``(plan, channel weights)`` of the pattern contractions: one tensor per output term."""
        batch, n = xs[0].shape[0], self._size(xs)
        reductions: dict[tuple, Any] = {}  # single-input sums shared by patterns (row sums, diagonals…)
        # values by (output term, output letters) then by computed letters: summed before broadcasting
        groups: dict[tuple[int, str], dict[str, Tensor]] = {}
        # patterns whose last step mixes channels on the same axes share one matrix product
        mixes: dict[tuple[int, str, str], list[_Mix]] = {}
        for plan, full in weighted:
            value = self._contract_pattern(plan, xs, full, reductions)
            key = (plan.output_term, plan.output_letters, plan.computed_letters)
            if isinstance(value, _Mix):
                mixes.setdefault(key, []).append(value)
            else:
                _accumulate(groups, key, value)
        for key, items in mixes.items():
            features = torch.cat([m.features for m in items], dim=-1) if len(items) > 1 else items[0].features
            weights = torch.cat([m.weights for m in items], dim=1) if len(items) > 1 else items[0].weights
            _accumulate(groups, key, features @ weights.T)
        terms = self.out_rep.terms
        outputs = [self._assemble(number, term, groups, batch, n, xs[0]) for number, term in enumerate(terms)]
        for number, term in enumerate(terms):
            if term == "E":  # T_π and T_{π with the output ends swapped} are one pattern: symmetrise
                outputs[number] = (outputs[number] + outputs[number].transpose(1, 2)) / 2
                outputs[number].diagonal(dim1=1, dim2=2).zero_()
        for term, out in zip(terms, outputs, strict=True):
            if mask is not None and term != "1":
                out.mul_(_node_mask(mask, out.dim() - 2).to(out.dtype))
        return outputs

    def forward_pyg(
        self,
        x: Tensor | None = None,
        edge_index: Tensor | None = None,
        batch: Tensor | None = None,
        *,
        edge_attr: Tensor | None = None,
        u: Tensor | None = None,
        num_nodes: int | None = None,
        edges: str = "values",
        method: str = "auto",
    ) -> Tensor | tuple[Tensor, ...]:
        """The layer on a PyTorch Geometric batch (:mod:`polyequiv.nn.pyg`).

        ``x`` ``(N_total, c_in)`` feeds a ``V`` term, ``edge_index`` ``(2, num_edges)`` with
        optional ``edge_attr`` ``(num_edges, c_in)`` (default: all ones) an ``E`` term (undirected:
        both directions listed with equal values, else ``ValueError``) or a ``V2`` term, ``u``
        ``(num_graphs, c_in)`` a ``1`` term; ``batch`` is PyG's node → graph vector (``None``:
        one graph).  Returns ``V`` as ``(N_total, c_out)``, ``E`` / ``V2`` as the values on
        ``edge_index`` ``(num_edges, c_out)`` (``edges="dense"``: the padded
        ``(num_graphs, n_max, n_max, c_out)``), ``1`` as ``(num_graphs, c_out)``; a tuple for a sum.

        ``method``: ``"sparse"`` sums every pattern on the edge lists (:mod:`polyequiv.nn.sparse_patterns`:
        O(|E|) plus the pattern's joins, never n²), ``"dense"`` pads to ``(graphs, n_max, n_max)``
        and runs :meth:`forward`; ``"auto"`` (default) is sparse whenever every pattern has an
        edge-list program (all of degree ≤ 4 on ``1``, ``V``, ``E``, ``V2``) and the output is edge
        values.  Both give the same numbers (to rounding).

        Examples
        --------
        >>> layer = TensorPolyLayer("E", "V", 1)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([1.0, 0.0]))  # degrees
        >>> edge_index = torch.tensor([[0, 1, 0, 2, 3, 4], [1, 0, 2, 0, 4, 3]])  # a path, an edge
        >>> layer.forward_pyg(edge_index=edge_index, batch=torch.tensor([0, 0, 0, 1, 1]))[:, 0].tolist()
        [2.0, 1.0, 1.0, 1.0, 1.0]
        """
        from polyequiv.nn.pyg import dense_to_pyg, pyg_to_dense, pyg_to_sparse

        pyg = {"edge_attr": edge_attr, "u": u, "num_nodes": num_nodes, "dtype": self.weight.dtype}
        if self._sparse_method(method, edges):
            from polyequiv.nn.sparse_patterns import sparse_forward

            graph = pyg_to_sparse(self.in_rep, self.out_rep, self.in_channels, x, edge_index, batch, **pyg)
            self._check_pyg_values(x, edge_attr, u)
            outputs = sparse_forward(self, graph)
            return outputs[0] if len(outputs) == 1 else tuple(outputs)
        inputs, mask, batch = pyg_to_dense(self.in_rep, self.in_channels, x, edge_index, batch, **pyg)
        outputs = self(*inputs, mask=mask)
        return dense_to_pyg(self.out_rep, outputs, mask, batch, edge_index, edges=edges)

    def pattern_values_pyg(
        self, x: Tensor | None = None, edge_index: Tensor | None = None, batch: Tensor | None = None, *,
        edge_attr: Tensor | None = None, u: Tensor | None = None, num_nodes: int | None = None,
    ) -> Tensor:
        """:meth:`pattern_values` on a PyTorch Geometric batch, summed on the edge lists:
        ``(patterns, rows)`` with rows the nodes (``V``), graphs (``1``) or listed edges (``E``, ``V2``)."""
        from polyequiv.nn.pyg import pyg_to_sparse
        from polyequiv.nn.sparse_patterns import sparse_pattern_values

        if self.in_channels != 1 or self.out_channels != 1 or len(self.out_rep.terms) != 1:
            raise ValueError("pattern_values_pyg needs one input and one output channel and one output term, "
                             f"got {self.in_channels} → {self.out_channels} channels, output {self.out_rep}")
        graph = pyg_to_sparse(self.in_rep, self.out_rep, 1, x, edge_index, batch, edge_attr=edge_attr, u=u,
                              num_nodes=num_nodes, dtype=self.weight.dtype)
        self._check_pyg_values(x, edge_attr, u)
        return sparse_pattern_values(self, graph)

    def _sparse_method(self, method: str, edges: str) -> bool:
        """Whether :meth:`forward_pyg` sums on the edge lists (see its ``method``)."""
        from polyequiv.nn.pyg import EDGE_FORMS
        from polyequiv.nn.sparse_patterns import SparsePatternError, layer_programs

        if method not in ("auto", "sparse", "dense"):
            raise ValueError(f"method must be 'auto', 'sparse' or 'dense', got {method!r}")
        if edges not in EDGE_FORMS:
            raise ValueError(f"edges must be one of {EDGE_FORMS}, got {edges!r}")
        if method == "dense":
            return False
        if edges == "dense":
            if method == "sparse":
                raise ValueError("edges='dense' asks for every node pair: use method='dense' (or 'auto')")
            return False
        try:
            layer_programs(self)
        except SparsePatternError:
            if method == "sparse":
                raise
            return False
        return True

    def _check_pyg_values(self, x: Tensor | None, edge_attr: Tensor | None, u: Tensor | None) -> None:
        for name, value in (("x", x), ("edge_attr", edge_attr), ("u", u)):
            if value is not None:
                check_input(name, value, like=self.weight)

    def _contract_pattern(
        self, plan: _Plan, xs: list[Tensor], theta: Tensor, reductions: dict[tuple, Any]
    ) -> Tensor | _Mix:
        """``T_π`` on its computed letters: ``(batch, computed letters…, c_out)``, constant along the
        free letters (broadcast later, never materialised); or its last step, a channel mix, left
        for :meth:`forward` to do together with the other patterns of the same shape."""
        channels = _CHANNEL_LETTERS[: len(plan.factors)]
        operands = [
            _Operand(xs[term], "y" + letters + channels[f], term)
            for f, (term, letters) in enumerate(plan.factors)
        ]
        operands.append(_Operand(theta, "z" + channels))
        if not plan.factors:  # bias only: constant over the batch
            operands.append(_Operand(xs[0].new_ones(xs[0].shape[0]), "y"))
        return _greedy_einsum(operands, "y" + plan.computed_letters + "z", reductions, defer_mix=True)

    def _assemble(
        self, number: int, term: str, groups: dict[tuple[int, str], dict[str, Tensor]],
        batch: int, n: int, like: Tensor,
    ) -> Tensor:
        """Output term ``number``: broadcast each group's sum over its free letters and put the
        groups with repeated output letters on their diagonals (views, added in place)."""
        arity = Representation((term,)).arities[0]
        shape = (batch,) + (n,) * arity + (self.out_channels,)
        distinct = _POSITION_LETTERS[:arity]
        out = None
        if (number, distinct) in groups:
            out = _broadcast_sum(groups[(number, distinct)], distinct, n)
        if out is None or tuple(out.shape) != shape:
            out = like.new_zeros(shape) if out is None else out.expand(shape).contiguous()
        for (target, letters), bucket in groups.items():
            if target == number and letters != distinct:
                view = _diagonal_view(out, letters)
                view.add_(_broadcast_sum(bucket, "".join(dict.fromkeys(letters)), n))
        return out

    def _check_inputs(self, inputs: tuple[Tensor, ...], mask: Tensor | None) -> list[Tensor]:
        terms = self.in_rep.terms
        if len(inputs) != len(terms):
            raise ValueError(
                f"{self.in_rep} takes {len(terms)} input tensor(s), one per term; got {len(inputs)}"
            )
        for term, x in zip(terms, inputs, strict=True):
            check_input(f"input term {term}", x, like=self.weight)
        if mask is not None:
            nodes = [x for x, a in zip(inputs, self.in_rep.arities, strict=True) if a and x.dim() >= 2]
            if nodes:
                check_mask(mask, tuple(nodes[0].shape[:2]))
        checked = []
        for term, arity, x in zip(terms, self.in_rep.arities, inputs, strict=True):
            if x.dim() != arity + 2 or x.shape[-1] != self.in_channels:
                shape = ", ".join(["batch"] + ["n"] * arity + [str(self.in_channels)])
                raise ValueError(f"input term {term} expects shape ({shape}), got {tuple(x.shape)}")
            if arity >= 2 and len(set(x.shape[1:-1])) != 1:
                raise ValueError(
                    f"input term {term} must be square in its node dimensions, got {tuple(x.shape)}"
                )
            if term == "E":
                _check_symmetric(x)
                if x.requires_grad or x.diagonal(dim1=1, dim2=2).any():  # no self-loops: drop the diagonal
                    x = x * (1 - torch.eye(x.shape[1], dtype=x.dtype, device=x.device))[None, :, :, None]
            if mask is not None and arity:
                x = x * _node_mask(mask, arity).to(x.dtype)
            checked.append(x)
        sizes = {x.shape[1] for x, a in zip(checked, self.in_rep.arities, strict=True) if a}
        if len(sizes) > 1:
            raise ValueError(f"input terms disagree on the number of nodes: {sorted(sizes)}")
        if mask is not None and sizes:
            check_mask(mask, (checked[0].shape[0], *sizes))
        return checked

    def _size(self, xs: list[Tensor]) -> int:
        for x, arity in zip(xs, self.in_rep.arities, strict=True):
            if arity:
                return x.shape[1]
        raise ValueError("an input of only scalar terms has no n; add a node or edge term")


def _check_symmetric(x: Tensor) -> None:
    """An ``E`` input must be symmetric (to float tolerance); the error names the worst entry."""
    transposed = x.transpose(1, 2)
    if torch.equal(x, transposed):  # one pass; the tolerant check below only runs on a mismatch
        return
    gap = (x - transposed).abs()
    tolerance = 1e-5 * x.abs().amax().clamp_min(1e-30) if x.is_floating_point() else 0
    if gap.amax() <= tolerance:
        return
    b, i, j, c = (int(v) for v in torch.unravel_index(gap.argmax(), gap.shape))
    raise ValueError(
        "input term E (undirected edges) must be symmetric, x[b, i, j, c] = x[b, j, i, c]; got "
        f"x[{b}, {i}, {j}, {c}] = {float(x[b, i, j, c]):.6g} but x[{b}, {j}, {i}, {c}] = "
        f"{float(x[b, j, i, c]):.6g} (declare the input V2 for directed graphs)"
    )


def _node_mask(mask: Tensor, arity: int) -> Tensor:
    """``(batch, n, …, n, 1)``: True where every node index of the coordinate is a real node."""
    out = torch.ones((mask.shape[0],) + (1,) * arity, dtype=torch.bool, device=mask.device)
    for axis in range(arity):
        shape = [mask.shape[0]] + [1] * arity
        shape[axis + 1] = mask.shape[1]
        out = out & mask.reshape(shape)
    return out.unsqueeze(-1)


@dataclass(frozen=True)
class _Operand:
    """A tensor with one letter per axis; ``term`` names an input term (its reductions are shared)."""

    tensor: Tensor
    letters: str
    term: int | None = None


@dataclass(frozen=True)
class _Mix:
    """A channel mix left for later: the value is ``features @ weights.T``, ``(…, K) @ (K, c_out)``."""

    features: Tensor
    weights: Tensor


def _accumulate(
    groups: dict[tuple[int, str], dict[str, Tensor]], key: tuple[int, str, str], value: Tensor
) -> None:
    """Add ``value`` to the group of (output term, output letters) under its computed letters."""
    bucket = groups.setdefault(key[:2], {})
    bucket[key[2]] = value if key[2] not in bucket else bucket[key[2]] + value


def _broadcast_sum(bucket: dict[str, Tensor], letters: str, n: int) -> Tensor:
    """``Σ`` of values on subsets of ``letters`` (``(batch, subset…, c_out)``), broadcast to
    ``(batch, letters…, c_out)``: smallest first, so each broadcast happens once."""
    total = None
    for computed, value in sorted(bucket.items(), key=lambda item: item[1].numel()):
        shape = [value.shape[0]] + [n if c in computed else 1 for c in letters] + [value.shape[-1]]
        value = value.reshape(shape)
        total = value if total is None else total + value
    return total


def _diagonal_view(out: Tensor, letters: str) -> Tensor:
    """The view ``out[y, letters…, z]`` with axes ``(y, distinct letters…, z)``: repeated letters
    index one diagonal (``"aa"`` → the entries ``out[:, i, i]``)."""
    labels = ["y", *letters, "z"]
    while True:
        repeated = next((c for c in labels if labels.count(c) > 1), None)
        if repeated is None:
            break
        first = labels.index(repeated)
        second = labels.index(repeated, first + 1)
        out = out.diagonal(0, first, second)  # the diagonal axis goes last
        labels = [c for k, c in enumerate(labels) if k not in (first, second)] + [repeated]
    order = ["y", *dict.fromkeys(letters), "z"]
    return out.permute([labels.index(c) for c in order])


def _canonical(equation: str) -> str:
    """Rename the letters of an einsum equation in order of appearance (a cache key)."""
    names: dict[str, str] = {}
    return "".join(
        c if not c.isalpha() else names.setdefault(c, string.ascii_letters[len(names)]) for c in equation
    )


def _greedy_einsum(
    operands: list[_Operand],
    output: str,
    reductions: dict[tuple, Any] | None = None,
    *,
    defer_mix: bool = False,
) -> Tensor | _Mix:
    """Contract ``operands`` to ``output`` pairwise, always the pair with the smallest result.

    Each input operand is first reduced alone (diagonals, letters nobody else needs); those
    reductions are looked up in / stored into ``reductions`` (keyed by input term and the
    equation with canonical letters), so patterns that share a row sum compute it once.  The
    order of contractions depends only on the letters and sizes, and is cached
    (:func:`_contraction_order`).  With ``defer_mix``, a last step that is a channel mix giving
    ``output`` directly is returned undone, as a :class:`_Mix`.
    """
    sizes: dict[str, int] = {}
    for operand in operands:
        sizes.update(zip(operand.letters, operand.tensor.shape, strict=True))
    program = _contraction_order(
        tuple(op.letters for op in operands), output, tuple(sorted(sizes.items()))
    )
    current = []
    for operand, (keep, key) in zip(operands, program.reductions, strict=True):
        if keep == operand.letters:
            current.append((operand.tensor, keep))
            continue
        if operand.term is None or reductions is None:
            current.append((torch.einsum(f"{operand.letters}->{keep}", operand.tensor), keep))
            continue
        current.append((_shared_reduction(operand, keep, key, reductions), keep))
    for step, (i, j, result) in enumerate(program.pairs):
        if defer_mix and step == len(program.pairs) - 1 and result == output:
            split = _mix_split(current[i], current[j], result)
            if split is not None and split[2] == output:
                return _Mix(split[0], split[1])
        merged = (_pairwise(current[i], current[j], result), result)
        current = [op for k, op in enumerate(current) if k not in (i, j)] + [merged]
    tensor, letters = current[0]
    return tensor if letters == output else torch.einsum(f"{letters}->{output}", tensor)


def _shared_reduction(operand: _Operand, keep: str, key: str, reductions: dict[tuple, Any]) -> Tensor:
    """``einsum(operand → keep)``, looked up in ``reductions`` or computed from the smallest stored
    reduction of the same input that keeps more letters (a total from row sums, a trace from the
    diagonal), then stored.  ``key`` is the equation with canonical letters."""
    cache = (operand.term, key)
    if cache in reductions:
        return reductions[cache]
    own, kept = key.split("->")
    family = reductions.setdefault(("family", operand.term, own), [])  # (canonical kept, tensor)
    wider = [(k, t) for k, t in family if set(kept) < set(k)]
    if wider:
        source, tensor = min(wider, key=lambda item: item[1].numel())
        tensor = torch.einsum(f"{source}->{kept}", tensor)
    else:
        tensor = torch.einsum(f"{operand.letters}->{keep}", operand.tensor)
    reductions[cache] = tensor
    family.append((kept, tensor))
    return tensor


@dataclass(frozen=True)
class _Program:
    """What :func:`_greedy_einsum` does: each operand's letters after its own reduction (and the
    canonical reduction equation, a cache key), then the pairs to merge in order."""

    reductions: tuple[tuple[str, str], ...]
    pairs: tuple[tuple[int, int, str], ...]


@functools.lru_cache(maxsize=4096)
def _contraction_order(letters: tuple[str, ...], output: str, sizes: tuple[tuple[str, int], ...]) -> _Program:
    """Greedy pairwise order: contract first the pair that shares a letter and gives the smallest
    intermediate (so ``Σ A_ij A_kl`` is two sums, never an n⁴ outer product)."""
    size = dict(sizes)

    def needed(current: list[str], skip: set[int]) -> set[str]:
        keep = set(output)
        for number, other in enumerate(current):
            if number not in skip:
                keep |= set(other)
        return keep

    current = list(letters)
    reductions = []
    for number, own in enumerate(letters):
        keep = "".join(dict.fromkeys(c for c in own if c in needed(current, {number})))
        reductions.append((keep, _canonical(f"{own}->{keep}")))
    current = [keep for keep, _ in reductions]
    pairs = []
    while len(current) > 1:
        best = None
        for i, j in itertools.combinations(range(len(current)), 2):
            keep = needed(current, {i, j})
            result = "".join(dict.fromkeys(c for c in current[i] + current[j] if c in keep))
            cost = math.prod(size[c] for c in result)
            shared = bool(set(current[i]) & set(current[j]))
            key = (not shared, cost)
            if best is None or key < best[0]:
                best = (key, i, j, result)
        _, i, j, result = best
        pairs.append((i, j, result))
        current = [op for k, op in enumerate(current) if k not in (i, j)] + [result]
    return _Program(tuple(reductions), tuple(pairs))


def _pairwise(first: tuple[Tensor, str], second: tuple[Tensor, str], result: str) -> Tensor:
    """``einsum(first, second → result)``; a channel mix (one operand ``z`` + channel letters that
    end the other and appear nowhere else) is one matrix product on the last axes."""
    split = _mix_split(first, second, result)
    if split is not None:
        features, weights, letters = split
        product = features @ weights.T
        return product if letters == result else torch.einsum(f"{letters}->{result}", product)
    (a, la), (b, lb) = first, second
    return torch.einsum(f"{la},{lb}->{result}", a, b)


def _mix_split(
    first: tuple[Tensor, str], second: tuple[Tensor, str], result: str
) -> tuple[Tensor, Tensor, str] | None:
    """If the pair is a channel mix, ``(features (…, K), weights (c_out, K), letters of the
    product)``; else ``None``."""
    for (a, la), (b, lb) in ((first, second), (second, first)):
        channels = lb[1:]
        if (
            channels
            and lb[0] == "z"
            and "z" not in la
            and la.endswith(channels)
            and not set(channels) & set(result)
            and not set(channels) & set(la[: -len(channels)])
            and len(la) > len(channels)
        ):
            rest = la[: -len(channels)]
            width = math.prod(a.shape[len(rest) :])  # explicit: -1 is ambiguous for an empty batch
            return a.reshape(*a.shape[: len(rest)], width), b.reshape(b.shape[0], width), rest + lb[0]
    return None


def _tuple_codes(rows: np.ndarray, base: int) -> np.ndarray:
    code = np.zeros(rows.shape[0], dtype=np.int64)
    for column in range(rows.shape[1]):
        code = code * base + rows[:, column]
    return code


def _factor_symmetries(
    out_term: str, in_rep: Representation, pattern: Pattern, factor_terms: list[int]
) -> list[tuple[int, ...]]:
    """Permutations of the factors (as new-position → old-factor maps) that map ``π`` to itself:
    the elements of H (factor reordering, edge-end swaps) fixing the partition, plus any
    reordering of factors from ``1`` terms (they carry no positions)."""
    orbits = _orbits(out_term, in_rep.terms, pattern.composition)
    layout = orbits.layout
    kernel = np.array([pattern.kernel], dtype=np.int8)
    size = len(layout.names)
    out_arity = Representation((out_term,)).arities[0]
    factor_of_position = [-1] * out_arity
    positioned = [f for f, t in enumerate(factor_terms) if in_rep.arities[t]]
    for f in positioned:
        factor_of_position += [f] * in_rep.arities[factor_terms[f]]
    elements = _h_elements(layout.generators, size)
    if size:  # the elements of H that map the partition to itself
        elements = elements[(_normalise(kernel[0][elements]) == kernel).all(axis=1)]
    perms = set()
    scalar_groups = [
        [f for f, t in enumerate(factor_terms) if t == term and not in_rep.arities[t]]
        for term in set(factor_terms)
    ]
    for g in elements.tolist():
        base = list(range(len(factor_terms)))
        for f in positioned:
            first = factor_of_position.index(f)
            base[f] = factor_of_position[g[first]]
        for shuffles in itertools.product(
            *[itertools.permutations(group) for group in scalar_groups if group]
        ):
            perm = list(base)
            for group, shuffled in zip([g2 for g2 in scalar_groups if g2], shuffles, strict=True):
                for old, new in zip(group, shuffled, strict=True):
                    perm[old] = new
            perms.add(tuple(perm))
    return sorted(perms)


@functools.lru_cache(maxsize=256)
def _h_elements(generators: tuple[tuple[int, ...], ...], size: int) -> np.ndarray:
    """Every element of the group H generated by ``generators`` (permutations of ``size``
    positions), one row each: at most d!·2^d·2 of them."""
    identity = tuple(range(size))
    elements, frontier = {identity}, [identity]
    while frontier:
        step = []
        for g in frontier:
            for s in generators:
                h = tuple(g[s[p]] for p in range(size))
                if h not in elements:
                    elements.add(h)
                    step.append(h)
        frontier = step
    return np.array(sorted(elements), dtype=np.int64).reshape(len(elements), size)
