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
``torch.einsum`` contractions chosen greedily (smallest intermediate first), so
e.g. ``Σ A_{ij} A_{kl}`` costs two sums, never an n⁴ outer product.

Layout.  One tensor per term of the input representation, in order:
``1`` → ``(batch, c_in)``, ``V`` → ``(batch, n, c_in)``, ``V2`` / ``E`` →
``(batch, n, n, c_in)`` (``E`` symmetric; its diagonal is ignored), ``Vk`` →
``(batch, n, …, n, c_in)``; the output likewise with ``c_out`` (``E`` outputs
are symmetric with a zero diagonal).  A single-term output is returned as a
tensor, a sum as a tuple.  Graphs of different sizes: pad to the largest and
pass ``mask`` ``(batch, n)``, ``True`` on real nodes; padded nodes enter no sum
and get zero outputs.

Channels.  A pattern with ``e`` non-bias factors has ``c_out`` times one value per
orbit of channel tuples ``[c_in]^e`` under the factor permutations that map
``π`` to itself (those give the same contraction), so no parameter is redundant
once ``n`` reaches the number of positions.
"""

from __future__ import annotations

import itertools
import math
import string
from dataclasses import dataclass

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
    free_letters: str  # block letters that only the output carries
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
        orbit, count = self._channel_orbits(pattern, [t for t, _ in factors])
        return _Plan(pattern.output_term, output_letters, tuple(factors), free, orbit, count)

    def _channel_orbits(self, pattern: Pattern, factor_terms: list[int]) -> tuple[np.ndarray, int]:
        """Orbit number of every channel tuple under the factor permutations that fix ``π``."""
        e = len(factor_terms)
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
        batch, n = xs[0].shape[0], self._size(xs)
        outputs = [self._zeros_output(term, batch, n, xs[0]) for term in self.out_rep.terms]
        for number, plan in enumerate(self._plans):
            lo, hi = int(self._offsets[number]), int(self._offsets[number + 1])
            theta = self.weight[lo:hi].reshape(self.out_channels, plan.num_parameters)
            full = theta[:, torch.as_tensor(plan.channel_orbit, device=theta.device)]
            full = full.reshape((self.out_channels,) + (self.in_channels,) * len(plan.factors))
            value = self._contract_pattern(plan, xs, full, n)
            _add_output(outputs[plan.output_term], value, plan.output_letters)
        for number, term in enumerate(self.out_rep.terms):
            if term == "E":  # T_π and T_{π with the output ends swapped} are one pattern: symmetrise
                outputs[number] = (outputs[number] + outputs[number].transpose(1, 2)) / 2
                outputs[number].diagonal(dim1=1, dim2=2).zero_()
        for term, out in zip(self.out_rep.terms, outputs, strict=True):
            if mask is not None and term != "1":
                out.mul_(_node_mask(mask, out.dim() - 2).to(out.dtype))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _contract_pattern(self, plan: _Plan, xs: list[Tensor], theta: Tensor, n: int) -> Tensor:
        channels = _CHANNEL_LETTERS[: len(plan.factors)]
        operands = [(xs[term], "y" + letters + channels[f]) for f, (term, letters) in enumerate(plan.factors)]
        operands.append((theta, "z" + channels))
        ones = xs[0].new_ones(n)
        operands += [(ones, letter) for letter in plan.free_letters]
        if not plan.factors:  # bias only: constant over the batch
            operands.append((xs[0].new_ones(xs[0].shape[0]), "y"))
        unique_output = "".join(dict.fromkeys(plan.output_letters))
        return _greedy_einsum(operands, "y" + unique_output + "z")

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
                if not torch.allclose(x, x.transpose(1, 2)):
                    raise ValueError(
                        "an E input (undirected edges) must be symmetric: x[:, i, j] = x[:, j, i]"
                    )
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

    def _zeros_output(self, term: str, batch: int, n: int, like: Tensor) -> Tensor:
        arity = Representation((term,)).arities[0]
        return like.new_zeros((batch,) + (n,) * arity + (self.out_channels,))


def _node_mask(mask: Tensor, arity: int) -> Tensor:
    """``(batch, n, …, n, 1)``: True where every node index of the coordinate is a real node."""
    out = torch.ones((mask.shape[0],) + (1,) * arity, dtype=torch.bool, device=mask.device)
    for axis in range(arity):
        shape = [mask.shape[0]] + [1] * arity
        shape[axis + 1] = mask.shape[1]
        out = out & mask.reshape(shape)
    return out.unsqueeze(-1)


def _add_output(out: Tensor, value: Tensor, letters: str) -> None:
    """``out[y, letters…, z] += value[y, unique letters…, z]``, repeated letters on the diagonal."""
    unique = "".join(dict.fromkeys(letters))
    if unique == letters:
        out.add_(value)
        return
    n = out.shape[1]
    grids = torch.meshgrid(*[torch.arange(n, device=out.device)] * len(unique), indexing="ij")
    index = tuple(grids[unique.index(letter)] for letter in letters)
    view = out.permute(*range(1, len(letters) + 1), 0, out.dim() - 1)  # (n…, batch, z)
    view.index_put_(index, value.permute(*range(1, len(unique) + 1), 0, value.dim() - 1), accumulate=True)


def _greedy_einsum(operands: list[tuple[Tensor, str]], output: str) -> Tensor:
    """Contract ``operands`` to ``output`` pairwise, always the pair with the smallest result."""
    sizes = {}
    for tensor, letters in operands:
        sizes.update(zip(letters, tensor.shape, strict=True))

    def needed(skip: set[int]) -> set[str]:
        keep = set(output)
        for number, (_, letters) in enumerate(operands):
            if number not in skip:
                keep |= set(letters)
        return keep

    # reduce every operand alone first: diagonals and letters nobody else needs
    reduced = []
    for number, (tensor, letters) in enumerate(operands):
        keep = "".join(dict.fromkeys(c for c in letters if c in needed({number})))
        reduced.append((torch.einsum(f"{letters}->{keep}", tensor) if keep != letters else tensor, keep))
    operands = reduced
    while len(operands) > 1:
        best = None
        for i, j in itertools.combinations(range(len(operands)), 2):
            keep = needed({i, j})
            result = "".join(dict.fromkeys(c for c in operands[i][1] + operands[j][1] if c in keep))
            cost = math.prod(sizes[c] for c in result)
            shared = bool(set(operands[i][1]) & set(operands[j][1]))
            key = (not shared, cost)
            if best is None or key < best[0]:
                best = (key, i, j, result)
        _, i, j, result = best
        (a, la), (b, lb) = operands[i], operands[j]
        merged = (torch.einsum(f"{la},{lb}->{result}", a, b), result)
        operands = [op for k, op in enumerate(operands) if k not in (i, j)] + [merged]
    tensor, letters = operands[0]
    return torch.einsum(f"{letters}->{output}", tensor)


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
    identity = tuple(range(size))
    elements, frontier = {identity}, [identity]
    while frontier:  # H is small: at most d!·2^d·2 elements
        step = []
        for g in frontier:
            for s in layout.generators:
                h = tuple(g[s[p]] for p in range(size))
                if h not in elements:
                    elements.add(h)
                    step.append(h)
        frontier = step
    perms = set()
    scalar_groups = [
        [f for f, t in enumerate(factor_terms) if t == term and not in_rep.arities[t]]
        for term in set(factor_terms)
    ]
    for g in elements:
        if size and not np.array_equal(_normalise(kernel[:, list(g)]), kernel):
            continue
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
