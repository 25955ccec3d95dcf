"""`PointCloudPolyLayer`: the ``Sₙ × O(d)`` (or ``O(d)``, ``O(1,q)``) polynomial layer, any number of points,
without the dense weight.

One parameter per pattern of :mod:`polyequiv.cloud_patterns`; a pattern is evaluated as one
``einsum`` over the points and axes of its factors: factors in one point block share a point index
(summed unless it is the output's point), matched factor axes are contracted with the metric ``η``
(inner products: the entries of Gram matrices ``R η Rᵀ``), an axis matched to the output is copied,
two matched output axes carry ``η⁻¹``.  Nothing of size ``n^degree`` or ``coordinates^degree`` is
built; the cost is that of the contractions (at most ``n^{blocks}`` per pattern, usually far less).

Input and output are the flat coordinates of :mod:`polyequiv.matrix_reps` (term after term, copy
after copy, point after point, tensor index row-major), exactly as
:class:`~polyequiv.nn.TiedPolynomialLayer` takes them, so the two can be compared entry for entry:
``x`` of shape ``(batch, coordinates, 1)`` → ``(batch, outputs, 1)``, or ``(batch, 1)`` for an
invariant.  The number of points ``n`` is read off the number of coordinates (or the mask's width).

    >>> import torch
    >>> layer = PointCloudPolyLayer("S(5) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2", dtype=torch.float64)
    >>> layer.num_parameters, layer(torch.randn(2, 5 * 4, 1, dtype=torch.float64)).shape
    (12, torch.Size([2, 9, 1]))
    >>> layer(torch.randn(2, 50 * 4, 1, dtype=torch.float64)).shape  # 50 points, the same weights
    torch.Size([2, 9, 1])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from polyequiv.cloud_patterns import BIAS, CloudPattern, check_cloud_spec, cloud_patterns, metric_signs
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.nn.checks import check_dtype, check_input, check_mask


class PointCloudPolyLayer(nn.Module):
    """A derived polynomial layer on point clouds, one weight per n-free pattern (module docstring).

    Parameters
    ----------
    spec : MatrixLayerSpec or str
        The layer, e.g. ``"S(5) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2"``; the ``n`` written in
        the group only names the layer: any number of points is taken.  Groups: ``O(d)``,
        ``O(1,q)``, alone or as ``S(n) x …``; terms ``1⊗…`` (global) and ``V⊗…`` (per point).
    dtype, device : optional
        Of the weights.

    Raises
    ------
    SpecError
        For groups or terms the patterns do not cover (``SO(d)``, ``B(n)``, custom, ``E⊗…``).
    """

    def __init__(self, spec: MatrixLayerSpec | str, *, dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None) -> None:
        super().__init__()
        spec = MatrixLayerSpec.parse(spec) if isinstance(spec, str) else spec
        if not isinstance(spec, MatrixLayerSpec):
            raise ValueError(f"spec must be a MatrixLayerSpec or its string, got {type(spec).__name__}")
        check_dtype(dtype)
        check_cloud_spec(spec)
        self.spec = spec
        self.patterns: list[CloudPattern] = cloud_patterns(spec)
        self.weight = nn.Parameter(torch.empty(len(self.patterns), dtype=dtype, device=device))
        signs = torch.tensor(metric_signs(spec), dtype=dtype or torch.get_default_dtype(), device=device)
        self.register_buffer("metric", torch.diag(signs), persistent=False)
        self._euclidean = all(s > 0 for s in metric_signs(spec))
        self.reset_parameters()

    @property
    def num_parameters(self) -> int:
        return self.weight.numel()

    @property
    def equivariant(self) -> bool:
        return self.spec.equivariant

    def reset_parameters(self) -> None:
        """Uniform in ``±1/√patterns``."""
        bound = 1.0 / math.sqrt(max(len(self.patterns), 1))
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        return f"'{self.spec}', patterns={len(self.patterns)}"

    # ------------------------------------------------------------------ layout
    def points_of(self, coordinates: int) -> int:
        """``n`` from the number of input coordinates (``A·n + B`` with ``A`` the per-point part)."""
        d, per_point, fixed = self.spec.dim, 0, 0
        for term in self.spec.input.terms:
            size = term.multiplicity * d**term.power
            per_point, fixed = (per_point + size, fixed) if term.points == "V" else (per_point, fixed + size)
        if per_point == 0:
            return self.spec.n
        n, rest = divmod(coordinates - fixed, per_point)
        if rest or n < 1:
            raise ValueError(f"{coordinates} input coordinates are not {fixed} + {per_point}·n for any n ≥ 1 "
                             f"({self.spec.input} in R^{d})")
        return n

    def split(self, x: Tensor, n: int) -> list[Tensor]:
        """The input terms of flat ``x`` ``(batch, coordinates)``: ``(batch, copies[, n], d, …, d)`` each."""
        d, parts, offset = self.spec.dim, [], 0
        for term in self.spec.input.terms:
            points = (n,) if term.points == "V" else ()
            shape = (term.multiplicity, *points, *(d,) * term.power)
            size = math.prod(shape)
            parts.append(x[:, offset:offset + size].reshape(x.shape[0], *shape))
            offset += size
        return parts

    # ------------------------------------------------------------------ evaluation
    def pattern_values(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Every pattern's value: ``(batch, outputs, patterns)`` (``outputs = 1`` for an invariant)."""
        check_input("input", x, like=self.weight)
        if x.dim() != 3 or x.shape[2] != 1:
            raise ValueError(f"expected input of shape (batch, coordinates, 1) for {self.spec}, got "
                             f"{tuple(x.shape)}")
        flat = x[..., 0]
        n = mask.shape[1] if mask is not None else self.points_of(flat.shape[1])
        if mask is not None:
            mask = check_mask(mask, (flat.shape[0], n))
            if self.points_of(flat.shape[1]) != n:
                raise ValueError(f"mask has {n} points but the input holds {self.points_of(flat.shape[1])}")
        weight = (mask.to(flat.dtype) if mask is not None
                  else torch.ones(flat.shape[0], n, dtype=flat.dtype, device=flat.device))
        parts = [p * weight.reshape(weight.shape[0], 1, n, *(1,) * (p.dim() - 3)) if t.points == "V" else p
                 for p, t in zip(self.split(flat, n), self.spec.input.terms, strict=True)]
        columns = [self._output_block(pattern, parts, weight).reshape(
            flat.shape[0], (n if pattern.out_points else 1) * self.spec.dim**pattern.out_power)
            for pattern in self.patterns]
        return self._place(columns, n, flat)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``y = Σ_π w_π T_π(x)``: ``(batch, outputs, 1)``, or ``(batch, 1)`` for an invariant."""
        y = self.pattern_values(x, mask) @ self.weight
        return y.unsqueeze(-1) if self.equivariant else y

    def _output_block(self, pattern: CloudPattern, parts: list[Tensor], weight: Tensor) -> Tensor:
        """One pattern's contraction: ``(batch[, n], d, …, d)`` of its output term."""
        fresh = _Labels()  # label 0 is the batch
        q = pattern.out_power
        out_axes = [fresh.new() for _ in range(q)]
        axis_label, extra = self._axis_labels(pattern, out_axes, fresh)
        block_label: dict[int, int] = {}
        output = [0]
        if pattern.out_points:
            block_label[pattern.blocks[0]] = fresh.new()
            output.append(block_label[pattern.blocks[0]])
            extra += [weight, [0, block_label[pattern.blocks[0]]]]  # the output point's mask
        operands, axis_slot, point_slot = [], q, int(pattern.out_points)
        for term_number, copy in pattern.factors:
            if term_number == BIAS:
                continue
            term = self.spec.input.terms[term_number]
            subscript = [0]
            if term.points == "V":
                subscript.append(block_label.setdefault(pattern.blocks[point_slot], fresh.new()))
                point_slot += 1
            subscript += [axis_label[axis_slot + e] for e in range(term.power)]
            axis_slot += term.power
            operands += [parts[term_number][:, copy], subscript]
        if not operands and not pattern.out_points:  # a constant: carry the batch
            extra += [weight.new_ones(weight.shape[0]), [0]]
        return torch.einsum(*operands, *extra, output + out_axes)

    def _axis_labels(self, pattern: CloudPattern, out_axes: list[int], fresh: _Labels
                     ) -> tuple[dict[int, int], list]:
        """The einsum label of every factor axis slot, and the metric operands: an output axis matched to
        a factor axis is shared; two factor axes share a label (Euclidean) or meet through ``η``; two
        output axes carry ``η⁻¹ = η``."""
        q, labels, extra = pattern.out_power, {}, []
        for a, b in pattern.pairs:  # a < b, output slots first
            if b < q:
                extra += [self.metric, [out_axes[a], out_axes[b]]]
            elif a < q:
                labels[b] = out_axes[a]
            elif self._euclidean:
                labels[a] = labels[b] = fresh.new()
            else:
                labels[a], labels[b] = fresh.new(), fresh.new()
                extra += [self.metric, [labels[a], labels[b]]]
        return labels, extra

    def _place(self, columns: list[Tensor], n: int, flat: Tensor) -> Tensor:
        """Stack the patterns' blocks into ``(batch, outputs, patterns)``, each in its output term's rows."""
        sizes = self.spec.output.term_sizes(n, self.spec.dim)
        offsets = [sum(sizes[:t]) for t in range(len(sizes))]
        out = flat.new_zeros(flat.shape[0], sum(sizes), len(columns))
        for number, (pattern, column) in enumerate(zip(self.patterns, columns, strict=True)):
            term_number, copy = pattern.output
            per_copy = sizes[term_number] // self.spec.output.terms[term_number].multiplicity
            start = offsets[term_number] + copy * per_copy
            out[:, start:start + per_copy, number] = column
        return out


class _Labels:
    """Fresh integer labels for ``torch.einsum``'s sublist form (0 is the batch)."""

    def __init__(self) -> None:
        self.count = 1

    def new(self) -> int:
        self.count += 1
        return self.count - 1
