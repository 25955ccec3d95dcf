"""Size-agnostic Sₙ layers: the tied parameters once, any set size, O(n·c^d) per set.

For the symmetric group a slot orbit is fixed by its *pattern*: which factor
positions carry the output's own element ``k``, which carry equal other
elements, and how many are bias factors.  For ``n ≥ degree + 1`` every pattern
occurs, so the same parameters define the layer for every ``n``.  The patterns
are not typed in: :class:`SetPolyLayer` derives the Sₙ layer at
``n₀ = degree + 1`` (:class:`polyequiv.channels.ChannelStructure`) and reads
each orbit's pattern and channel symmetry off its representative.

Evaluation without the ``n^d`` tensor.  The contribution of a pattern with
output block ``B₀`` (positions equal to ``k``) and free blocks ``B₁ … B_r``
(equal values, distinct from each other and from ``k``) is

    T_k = (1/|Aut|) Σ_{distinct v₁…v_r ≠ k} Σ_c Θ[o, c] Π_{i∈B₀} x_{k,cᵢ} Π_{j≥1} Π_{i∈B_j} x_{v_j,cᵢ},

with ``|Aut| = Π_s (number of free blocks with s positions)!`` (assignments
that give the same monomial).  Möbius inversion on the lattice of set
partitions of ``{B₀, …, B_r}`` turns the sum over distinct values into
unrestricted sums, ``Σ_π μ(π) Π_groups``, where a group containing ``B₀`` is
pinned to ``k`` and every other group is a power-sum tensor
``P_s[c₁..c_s] = Σ_v Π x_{v,cᵢ}`` (``μ(π) = Π_blocks (−1)^{|β|−1}(|β|−1)!``).

``pooling="mean"`` replaces every power sum ``P_s`` of the expansion by the
set's moment ``P_s / n``; factors pinned to ``x_k``, bias factors and the
Möbius coefficients are unchanged.  The layer is then a function of ``x_k``
and the empirical distribution of the set (a set and its r-fold copy give the
same outputs, tested), with the scale of every term independent of ``n``.
At degree 1 the pattern ``Σ_{i≠k} x_i = P₁ − x_k`` becomes ``mean(x) − x_k``,
so the layer reads ``α x_k + β (mean(x) − x_k) + b``: the same functions as
``α' x_k + β mean(x) + b``.  ``"sum"`` matches :class:`TiedPolynomialLayer`
exactly.  Variable-size sets: ``mask`` (batch, n), ``True`` on real
elements; padded elements enter no power sum, their outputs are zero, and
``n`` in the mean is the true set size.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from polyequiv.channels import ChannelStructure, SlotOrbit
from polyequiv.nn.checks import check_count, check_dtype, check_input, check_mask
from polyequiv.spec import LayerSpec

POOLINGS = ("sum", "mean")
#: Highest degree built: the patterns (and their set-partition terms) grow like Bell numbers.
MAX_DEGREE = 8


@dataclass(frozen=True)
class _Term:
    """One Möbius term of one pattern: coefficient, pinned positions, power-sum groups."""

    coefficient: float
    pinned: tuple[int, ...]
    groups: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Pattern:
    """The equality pattern of a slot orbit, as read from its representative.

    Attributes
    ----------
    key : tuple
        ``(output value or None, monomial with the bias written 'b')`` of the representative.
    pinned : tuple of int
        Real factor positions equal to the output element ``k``.
    free_blocks : tuple of tuples
        Positions of each other distinct element.
    bias_factors : int
    """

    key: tuple
    pinned: tuple[int, ...]
    free_blocks: tuple[tuple[int, ...], ...]
    bias_factors: int

    @classmethod
    def of(cls, orbit: SlotOrbit, spec: LayerSpec) -> Pattern:
        k, monomial = orbit.representative
        real = monomial[: orbit.real_factors]
        pinned = tuple(i for i, v in enumerate(real) if v == k)
        values = [v for v in dict.fromkeys(real) if v != k]
        blocks = tuple(tuple(i for i, v in enumerate(real) if v == value) for value in values)
        key = (k, tuple("b" if v == spec.n else v for v in monomial))
        return cls(key, pinned, blocks, len(monomial) - orbit.real_factors)

    def terms(self, equivariant: bool) -> list[_Term]:
        """The Möbius expansion of the sum over distinct values."""
        automorphisms = math.prod(math.factorial(c) for c in Counter(map(len, self.free_blocks)).values())
        blocks = (
            list(range(len(self.free_blocks) + 1))
            if equivariant
            else list(range(1, len(self.free_blocks) + 1))
        )
        positions = {0: self.pinned, **{j + 1: b for j, b in enumerate(self.free_blocks)}}
        out = []
        for partition in _set_partitions(blocks):
            mu = math.prod((-1) ** (len(g) - 1) * math.factorial(len(g) - 1) for g in partition)
            pinned: tuple[int, ...] = ()
            groups = []
            for group in partition:
                members = tuple(sorted(p for b in group for p in positions[b]))
                if 0 in group:
                    pinned = members
                else:
                    groups.append(members)
            out.append(_Term(mu / automorphisms, pinned, tuple(groups)))
        return out


class SetPolyLayer(nn.Module):
    """Equivariant (or invariant) Sₙ polynomial layer for sets of any size.

    Parameters
    ----------
    degree : int
        1 (``αx_k + βΣx``), 2 (4 weights; 7 with bias), 3 (7; 14 with bias), …
    in_channels, out_channels : int
    bias : bool
        Homogenise with ``x_b ≡ 1`` (all monomials of degree ≤ ``degree``).
    mode : {"equivariant", "invariant"}
    pooling : {"sum", "mean"}
        Power sums, or means over the set (see the module docstring).

    Examples
    --------
    >>> layer = SetPolyLayer(2, 1, 1, bias=False)
    >>> sum(p.numel() for p in layer.parameters()), layer(torch.randn(2, 30, 1)).shape
    (4, torch.Size([2, 30, 1]))
    """

    def __init__(
        self,
        degree: int,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool = True,
        mode: str = "equivariant",
        pooling: str = "sum",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        degree = check_count("degree", degree, minimum=0, maximum=MAX_DEGREE)
        in_channels = check_count("in_channels", in_channels)
        out_channels = check_count("out_channels", out_channels)
        check_dtype(dtype)
        self.degree, self.in_channels, self.out_channels = degree, in_channels, out_channels
        self.bias, self.mode, self.pooling = bias, mode, pooling
        self.reference_spec = LayerSpec(n=degree + 1, degree=degree, bias=bias, mode=mode)
        structure = ChannelStructure(self.reference_spec)
        self.patterns: list[Pattern] = []
        self._terms: list[list[_Term]] = []
        self._real_factors: list[int] = []
        self._blocks: list[tuple[int, int]] = []  # (offset, size) of each pattern's parameters
        offset = 0
        for number, orbit in enumerate(structure.orbits):
            pattern = Pattern.of(orbit, self.reference_spec)
            labels = orbit.channel_orbits(in_channels)
            width = int(labels.max()) + 1
            gather = offset + np.arange(out_channels)[:, None] * width + labels[None, :]
            self.register_buffer(f"gather_{number}", torch.from_numpy(gather), persistent=False)
            self.patterns.append(pattern)
            self._terms.append(pattern.terms(self.equivariant))
            self._real_factors.append(orbit.real_factors)
            self._blocks.append((offset, out_channels * width))
            offset += out_channels * width
        self.weight = nn.Parameter(torch.empty(offset, dtype=dtype, device=device))
        self._fan_in = sum(in_channels**e for e in self._real_factors)
        self.reset_parameters()

    @property
    def equivariant(self) -> bool:
        return self.mode == "equivariant"

    def reset_parameters(self) -> None:
        """Uniform in ``±1/√fan_in`` with fan_in = Σ over patterns of ``c_in^e`` (one term per pattern)."""
        bound = 1.0 / math.sqrt(max(self._fan_in, 1))
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)

    def block(self, number: int) -> Tensor:
        """The channel block ``Θ`` of pattern ``number``: ``(c_out, c_in, …, c_in)`` (``e`` channel axes)."""
        e = self._real_factors[number]
        return self.weight[getattr(self, f"gather_{number}")].reshape(
            (self.out_channels,) + (self.in_channels,) * e
        )

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``x`` (batch, n, c_in), ``mask`` (batch, n) bool → (batch, n, c_out) or (batch, c_out)."""
        check_input("input", x, like=self.weight)
        if x.dim() != 3 or x.shape[2] != self.in_channels:
            raise ValueError(f"expected input of shape (batch, n, {self.in_channels}), got {tuple(x.shape)}")
        if mask is not None:
            mask = check_mask(mask, tuple(x.shape[:2]))
            x = x * mask.unsqueeze(-1).to(x.dtype)
        power_sums = self._power_sums(x, mask)
        # Θ contracted with the power sums, added up by the number p of factors pinned to x_k:
        # x_k^{⊗p} is symmetric, so the terms of one arity share one batched product below
        by_arity: dict[int, Tensor] = {}
        for number, terms in enumerate(self._terms):
            theta = self.block(number)
            for term in terms:
                reduced = term.coefficient * self._reduce(theta, term, power_sums, x.shape[0])
                arity = len(term.pinned)
                by_arity[arity] = by_arity[arity] + reduced if arity in by_arity else reduced
        if not self.equivariant:
            return by_arity[0]
        out = x.new_zeros(x.shape[0], x.shape[1], self.out_channels)
        for arity in sorted(by_arity):
            if arity == 0:
                out = out + by_arity[0].unsqueeze(1)
                continue
            # x_k^{⊗arity}, flattened: (batch, n, c_in^arity)
            outer = _outer_power(x, arity)
            out = out + torch.bmm(outer, by_arity[arity].flatten(start_dim=2).transpose(1, 2))
        if self.equivariant and mask is not None:
            out = out * mask.unsqueeze(-1).to(out.dtype)
        return out

    def _power_sums(self, x: Tensor, mask: Tensor | None) -> dict[int, Tensor]:
        """``P_s[b, c₁..c_s] = Σ_v Π x_{v,cᵢ}`` for s = 1..degree (over the set size for mean pooling)."""
        sums: dict[int, Tensor] = {}
        if self.degree >= 1:
            sums[1] = x.sum(dim=1)
        if self.degree >= 2:
            sums[2] = torch.einsum("bvi,bvj->bij", x, x)
        product = None
        for s in range(3, self.degree + 1):
            product = x.unsqueeze(-1) * x.unsqueeze(-2) if product is None else product
            product = product.unsqueeze(-1) * x.reshape(*x.shape[:2], *([1] * (s - 1)), -1)
            sums[s] = product.sum(dim=1)
        if self.pooling == "mean":
            size = x.new_full((x.shape[0],), x.shape[1]) if mask is None else mask.sum(dim=1).to(x.dtype)
            size = size.clamp(min=1)
            sums = {s: p / size.reshape(-1, *([1] * s)) for s, p in sums.items()}
        return sums

    @staticmethod
    def _reduce(theta: Tensor, term: _Term, power_sums: dict[int, Tensor], batch: int) -> Tensor:
        """Θ contracted with the power-sum groups of a term: ``(batch, c_out, c_in^p)``, p pinned factors."""
        letters = "acdefghijlmnpqrstuvwxyz"
        channel = letters[: theta.dim() - 1]
        operands, subscripts = [theta], ["o" + channel]
        for group in term.groups:
            operands.append(power_sums[len(group)])
            subscripts.append("b" + "".join(channel[p] for p in group))
        if len(operands) == 1:
            return theta.unsqueeze(0).expand(batch, *theta.shape)
        kept = "".join(channel[p] for p in term.pinned)
        return torch.einsum(",".join(subscripts) + "->bo" + kept, *operands)

    def extra_repr(self) -> str:
        return (
            f"degree={self.degree}, in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"bias={self.bias}, mode='{self.mode}', pooling='{self.pooling}', patterns={len(self.patterns)}, "
            f"parameters={self.weight.numel()}"
        )

    def to_dense(self, n: int):
        """A :class:`TiedPolynomialLayer` on ``n`` elements computing the same function (sum pooling),
        with this layer's parameters copied pattern by pattern.

        For ``n < degree + 1`` some patterns need more distinct elements than the set
        has; their sums are empty (zero here too), so they have no dense counterpart.
        """
        from polyequiv.nn.tied import TiedPolynomialLayer

        if self.pooling != "sum":
            raise ValueError("only sum pooling has a dense equivalent")
        spec = LayerSpec(n=n, degree=self.degree, bias=self.bias, mode=self.mode)
        dense = TiedPolynomialLayer(
            spec, self.in_channels, self.out_channels, dtype=self.weight.dtype, device=self.weight.device
        )
        sources = {p.key: block for p, block in zip(self.patterns, self._blocks, strict=True)}
        with torch.no_grad():
            for key, (start, width) in _pattern_blocks(
                dense._structure, spec, self.in_channels, self.out_channels
            ):
                offset, size = sources[key]
                if width != size:
                    raise AssertionError(f"pattern {key} has {size} parameters here, {width} at n = {n}")
                dense.weight[start : start + size] = self.weight[offset : offset + size]
        return dense


def _pattern_blocks(structure: ChannelStructure, spec: LayerSpec, c_in: int, c_out: int):
    """``(pattern key, (offset, size))`` of each orbit's parameters in a dense layer."""
    offset = 0
    for orbit in structure.orbits:
        width = c_out * orbit.block_size(c_in)
        yield Pattern.of(orbit, spec).key, (offset, width)
        offset += width


def _outer_power(x: Tensor, power: int) -> Tensor:
    """``x_k^{⊗power}`` per element, flattened in C order: ``(batch, n, c^power)`` from ``(batch, n, c)``.

    The power is counted explicitly: with one channel ``c^power = 1`` for every
    power, so the width of the result cannot tell ``x_k`` from ``x_k²``.
    """
    outer = x
    for _ in range(power - 1):
        outer = (outer.unsqueeze(-1) * x.unsqueeze(-2)).flatten(start_dim=2)
    return outer


def _set_partitions(items: list[int]):
    """All set partitions of ``items`` (as lists of tuples)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _set_partitions(rest):
        yield [(first,), *partition]
        for position in range(len(partition)):
            yield [*partition[:position], (first, *partition[position]), *partition[position + 1 :]]


class InvariantPolyReadout(SetPolyLayer):
    """Tied invariant read-out: sum (or mean) pooling at degree 1, the 2-weight invariant quadratic
    (``Σx_i²`` and ``Σ_{i<j} x_i x_j`` blocks) at degree 2; with bias, the lower degrees too.

    >>> readout = InvariantPolyReadout(1, 4, 1, bias=False)
    >>> readout(torch.ones(2, 7, 4)).shape
    torch.Size([2, 1])
    """

    def __init__(
        self,
        degree: int,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool = True,
        pooling: str = "sum",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__(
            degree,
            in_channels,
            out_channels,
            bias=bias,
            mode="invariant",
            pooling=pooling,
            dtype=dtype,
            device=device,
        )
