"""`CircularPolyLayer`: translation-equivariant polynomial layers on an H×W torus, run as convolutions.

The derivation (``LayerSpec.on_grid(shape, degree)``, group ``torus``) ties
``W^k_t`` to ``W^{σ(k)}_{σ(t)}`` for every translation σ, so a weight depends only
on the offsets of its inputs from the output pixel: the linear layer is a
circular convolution (the lecture's lemma) and the quadratic one a
second-order Volterra filter.  With ``x_c(p)`` the value of channel ``c`` at
pixel ``p = (r, c)`` and offsets added modulo ``(H, W)``::

    y_o(p) = b_o + Σ_{a ∈ S} Σ_c L[o, c, a] x_c(p + a)                          (degree 1, or with bias)
           + Σ_{(a, c) ≤ (a', c')} Q[o, (a, c), (a', c')] x_c(p + a) x_{c'}(p + a')    (degree 2)

The quadratic sum runs over unordered pairs of (offset, channel) variables, one
weight each: exactly the classes of the dense tied layer, whose parameter count
is Burnside's ``c_out·m(m+1)/2`` with ``m = |S|·c_in``.  ``S`` is the **kernel
support**: every offset of the grid (default; the layer then spans the same
functions as :class:`~polyequiv.nn.TiedPolynomialLayer` on the spec) or a
``kh × kw`` window of offsets ``−(kh//2) … kh−1−kh//2`` in each axis (a
restriction of it: the weights outside the window are 0).

Computation, never a dense gather: the linear term is a circular
cross-correlation by FFT (``ŷ = x̂ · conj(L̂)``, any support, ``O(HW log HW)``);
the quadratic term unfolds the circularly padded image into the ``m`` shifted
copies ``z_u(p) = x_c(p + a)`` (``F.unfold``), then ``Σ_u z_u (Q z)_u`` by einsum,
``O(HW·m²)``.  Conventions are those of :mod:`polyequiv.groups`:
``(σ·x)(p) = x(σ(p))``, the translation by ``u`` being ``σ(p) = p + u``, and the
layer satisfies ``f(σ·x) = σ·f(x)``.

Images are ``(batch, c_in, H, W)`` (torch's layout); the pixels of the dense tied
layer are ``x.flatten(2).transpose(1, 2)`` (row-major ``p = r·W + c``).

    >>> import torch
    >>> layer = CircularPolyLayer((28, 28), degree=2, in_channels=1, out_channels=4, kernel_support=5)
    >>> layer(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 4, 28, 28])
    >>> layer.num_parameters          # 4 · 25·26/2
    1300
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional

from polyequiv import groups
from polyequiv.indexing import WeightIndex
from polyequiv.spec import LayerSpec

#: Degrees a compiled grid layer takes (linear convolutions and second-order Volterra filters).
GRID_DEGREES = (1, 2)


class CircularPolyLayer(nn.Module):
    """Translation-equivariant linear or quadratic layer on an H×W torus (see the module docstring).

    Parameters
    ----------
    shape : (H, W) or "HxW"
        The grid; ``(H, 1)`` is a 1D signal of length H.
    degree : {1, 2}
        Circular convolution (1) or second-order Volterra filter (2).
    in_channels, out_channels : int
        Channels of the input and output images.
    kernel_support : int or (kh, kw), optional
        Offsets the layer sees: ``None`` for the whole grid (the derived layer), else a
        ``kh × kw`` window (an int ``k`` means ``k × k``, or ``k × 1`` on a 1D grid).
    bias : bool
        The spec's ``+bias``: add every monomial of lower degree (a constant per output channel,
        and at degree 2 a linear term on the same support).
    dtype, device : optional
        Of the parameters.

    Raises
    ------
    ValueError
        For a degree other than 1 or 2, channels below 1, a bad shape, or a kernel support larger
        than the grid (the message names the value).
    """

    def __init__(
        self,
        shape: tuple[int, int] | str,
        degree: int,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        kernel_support: int | tuple[int, int] | None = None,
        bias: bool = False,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.shape = groups.parse_shape(shape) if isinstance(shape, str) else groups.check_shape(tuple(shape))
        if degree not in GRID_DEGREES:
            raise ValueError(f"degree must be 1 or 2 for a compiled grid layer, got {degree!r}")
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"channels must be ≥ 1, got in_channels={in_channels}, out_channels={out_channels}"
            )
        self.degree, self.in_channels, self.out_channels, self.bias = degree, in_channels, out_channels, bias
        self.support = _support(self.shape, kernel_support)
        self.full_support = kernel_support is None
        offsets = _window_offsets(self.support)
        self.register_buffer("offsets", torch.from_numpy(offsets), persistent=False)
        factory = {"dtype": dtype, "device": device}
        size = len(offsets)
        m = size * in_channels
        self.constant = nn.Parameter(torch.empty(out_channels, **factory)) if bias else None
        has_linear = degree == 1 or bias
        self.linear = (
            nn.Parameter(torch.empty(out_channels, in_channels, size, **factory)) if has_linear else None
        )
        if degree == 2:
            self.quadratic = nn.Parameter(torch.empty(out_channels, m * (m + 1) // 2, **factory))
            upper = np.triu_indices(m)
            self.register_buffer("pair_index", torch.from_numpy(np.stack(upper)), persistent=False)
        else:
            self.quadratic = None
        self.reset_parameters()

    # ------------------------------------------------------------------ construction
    @property
    def spec(self) -> LayerSpec:
        """The derived layer this one computes (restricted to its support): ``T{H}x{W} … equivariant``."""
        return LayerSpec.on_grid(self.shape, self.degree, bias=self.bias)

    @property
    def num_variables(self) -> int:
        """``m = |S|·c_in``: the (offset, channel) variables one output pixel reads."""
        return int(self.offsets.shape[0]) * self.in_channels

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def reset_parameters(self) -> None:
        """Uniform in ``±1/√fan_in``, fan_in = the products feeding one output (as the dense tied layer)."""
        m = self.num_variables
        fan_in = (m if self.degree == 1 else m * (m + 1) // 2) + (
            m + 1 if self.degree == 2 and self.bias else 0
        )
        fan_in += int(self.bias and self.degree == 1)
        bound = 1.0 / math.sqrt(max(fan_in, 1))
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.uniform_(-bound, bound)

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> Tensor:
        """``(batch, c_in, H, W)`` → ``(batch, c_out, H, W)``."""
        height, width = self.shape
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, height, width):
            raise ValueError(
                f"expected images of shape (batch, {self.in_channels}, {height}, {width}) for this "
                f"{height}x{width} layer, got {tuple(x.shape)}"
            )
        y = x.new_zeros(x.shape[0], self.out_channels, height, width)
        if self.linear is not None:
            y = y + self.circular_correlation(x)
        if self.quadratic is not None:
            y = y + self.volterra(x)
        if self.constant is not None:
            y = y + self.constant[:, None, None]
        return y

    def circular_correlation(self, x: Tensor) -> Tensor:
        """``Σ_{a,c} L[o, c, a] x_c(p + a)`` by FFT: ``ŷ_o = Σ_c x̂_c · conj(L̂_{o,c})``."""
        height, width = self.shape
        kernel = self.linear.new_zeros(self.out_channels, self.in_channels, height, width)
        rows, cols = self.offsets[:, 0] % height, self.offsets[:, 1] % width
        kernel = _place(kernel, rows, cols, self.linear)
        spectrum = torch.einsum(
            "bchw,ochw->bohw", torch.fft.rfft2(x), torch.fft.rfft2(kernel.to(x.dtype)).conj()
        )
        return torch.fft.irfft2(spectrum, s=(height, width))

    def shifted(self, x: Tensor) -> Tensor:
        """``z[b, u, p] = x_c(p + a)`` for the variables ``u = c·|S| + j`` (``a`` the j-th offset)."""
        kh, kw = self.support
        top, left = kh // 2, kw // 2
        padded = functional.pad(x, (left, kw - 1 - left, top, kh - 1 - top), mode="circular")
        return functional.unfold(padded, (kh, kw))  # (batch, c_in·kh·kw, H·W), channel-major

    def volterra(self, x: Tensor) -> Tensor:
        """``Σ_{u ≤ v} Q[o, u, v] z_u(p) z_v(p)``."""
        height, width = self.shape
        z = self.shifted(x)
        m = z.shape[1]
        flat = self.quadratic.new_zeros(self.out_channels, m * m)
        matrix = flat.index_copy(1, self.pair_index[0] * m + self.pair_index[1], self.quadratic).reshape(
            -1, m, m
        )
        mixed = torch.einsum("ouv,bvp->boup", matrix.to(x.dtype), z)
        return (mixed * z.unsqueeze(1)).sum(dim=2).reshape(x.shape[0], self.out_channels, height, width)

    def extra_repr(self) -> str:
        support = "full" if self.full_support else f"{self.support[0]}x{self.support[1]}"
        return (
            f"shape={self.shape[0]}x{self.shape[1]}, degree={self.degree}, in_channels={self.in_channels}, "
            f"out_channels={self.out_channels}, kernel_support={support}, bias={self.bias}, "
            f"parameters={self.num_parameters}"
        )

    # ------------------------------------------------------------------ the dense tied layer
    def dense_weight(self) -> Tensor:
        """The same layer as a dense weight of :class:`~polyequiv.nn.TiedPolynomialLayer`'s layout,
        ``(n, T, c_out, c_in, …)`` for ``self.spec`` (weights outside the support are 0).

        ``TiedPolynomialLayer(self.spec, c_in, c_out).apply_weight(self.dense_weight(), pixels)``
        equals ``self(x)``, and the weight lies in the tied subspace (its ``equivariance_residual``
        is 0).  Materialises ``n·T·c_out·c_in^d`` entries: for checks on small grids.
        """
        spec, c_in, c_out = self.spec, self.in_channels, self.out_channels
        index = WeightIndex(spec)
        n, d = spec.n, self.degree
        dtype = next(self.parameters()).dtype
        weight = torch.zeros((n, index.num_tuples, c_out) + (c_in,) * d, dtype=dtype)
        pixels = self._pixels_at_offsets()  # (n, |S|): pixel k + a
        k = np.arange(n)
        with torch.no_grad():
            if self.degree == 1:
                ranks = index.monomial_rank(pixels.reshape(-1, 1)).reshape(n, -1)
                for j in range(pixels.shape[1]):
                    weight[k, ranks[:, j]] += self.linear[:, :, j].to(dtype)
                if self.constant is not None:
                    weight[k, index.monomial_rank(np.full((n, 1), n)), :, 0] += self.constant.to(dtype)
                return weight
            for pair, (u, v) in enumerate(self.pair_index.T.tolist()):
                (cu, ju), (cv, jv) = divmod(u, pixels.shape[1]), divmod(v, pixels.shape[1])
                pu, pv = pixels[:, ju], pixels[:, jv]
                low, high = np.minimum(pu, pv), np.maximum(pu, pv)
                ranks = index.monomial_rank(np.stack([low, high], axis=1))
                value = self.quadratic[:, pair].to(dtype)
                same = pu == pv
                ordered = pu < pv
                weight[k[ordered], ranks[ordered], :, cu, cv] += value
                weight[k[pu > pv], ranks[pu > pv], :, cv, cu] += value
                weight[k[same], ranks[same], :, cu, cv] += value / 2
                weight[k[same], ranks[same], :, cv, cu] += value / 2
            if self.bias:
                for j in range(pixels.shape[1]):
                    ranks = index.monomial_rank(np.stack([pixels[:, j], np.full(n, n)], axis=1))
                    weight[k, ranks, :, :, 0] += self.linear[:, :, j].to(dtype)
                rank = index.monomial_rank(np.array([[n, n]]))[0]
                weight[k, rank, :, 0, 0] += self.constant.to(dtype)
        return weight

    @classmethod
    def from_tied(cls, layer: nn.Module) -> CircularPolyLayer:
        """The compiled layer (full support) computing the same function as a dense
        :class:`~polyequiv.nn.TiedPolynomialLayer` on a ``torus`` spec (ordered, equivariant,
        degree 1 or 2), its parameters read off the dense weight at output pixel 0.

        Raises
        ------
        ValueError
            For a layer of another group, indexing, mode or degree.
        """
        spec = layer.spec
        if (
            spec.group != "torus"
            or spec.indexing != "ordered"
            or not spec.equivariant
            or not spec.is_set_layer
        ):
            raise ValueError(f"from_tied takes an ordered equivariant torus layer on pixels, not {spec}")
        compiled = cls(
            spec.shape,
            spec.degree,
            layer.in_channels,
            layer.out_channels,
            bias=spec.bias,
            dtype=layer.weight.dtype,
        )
        dense = layer.dense_weight().detach()
        index = WeightIndex(spec)
        n = spec.n
        pixels = compiled._pixels_at_offsets()[0]  # pixel of each offset seen from output pixel 0

        def at(*points: int) -> int:
            return int(index.monomial_rank(np.array([sorted(points)]))[0])

        with torch.no_grad():
            if spec.degree == 1:
                for j, p in enumerate(pixels.tolist()):
                    compiled.linear[:, :, j] = dense[0, at(p)]
                if spec.bias:
                    compiled.constant[:] = dense[0, at(n), :, 0]
                return compiled
            size = len(pixels)
            for pair, (u, v) in enumerate(compiled.pair_index.T.tolist()):
                (cu, ju), (cv, jv) = divmod(u, size), divmod(v, size)
                pu, pv = int(pixels[ju]), int(pixels[jv])
                block = dense[0, at(pu, pv)]
                if pu < pv:
                    value = block[:, cu, cv]
                elif pu > pv:
                    value = block[:, cv, cu]
                else:
                    value = block[:, cu, cv] + (block[:, cv, cu] if cu != cv else 0)
                compiled.quadratic[:, pair] = value
            if spec.bias:
                for j, p in enumerate(pixels.tolist()):
                    compiled.linear[:, :, j] = dense[0, at(p, n), :, :, 0]
                compiled.constant[:] = dense[0, at(n, n), :, 0, 0]
        return compiled

    def _pixels_at_offsets(self) -> np.ndarray:
        """``(n, |S|)``: the pixel number of ``k + a`` for every output pixel ``k`` and offset ``a``."""
        height, width = self.shape
        rows, cols = np.divmod(np.arange(height * width), width)
        offsets = self.offsets.cpu().numpy()
        return ((rows[:, None] + offsets[:, 0]) % height) * width + (cols[:, None] + offsets[:, 1]) % width


def images_to_pixels(x: Tensor) -> Tensor:
    """``(batch, c, H, W)`` → ``(batch, H·W, c)``: the rows of the dense tied layer (row-major pixels)."""
    return x.flatten(2).transpose(1, 2)


def pixels_to_images(x: Tensor, shape: tuple[int, int]) -> Tensor:
    """Inverse of :func:`images_to_pixels`: ``(batch, H·W, c)`` → ``(batch, c, H, W)``."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *shape)


def _support(shape: tuple[int, int], kernel_support: int | tuple[int, int] | None) -> tuple[int, int]:
    height, width = shape
    if kernel_support is None:
        return height, width
    if isinstance(kernel_support, int) and not isinstance(kernel_support, bool):
        support = (kernel_support, kernel_support if width > 1 else 1)
    elif (
        isinstance(kernel_support, tuple | list)
        and len(kernel_support) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in kernel_support)
    ):
        support = (int(kernel_support[0]), int(kernel_support[1]))
    else:
        raise ValueError(f"kernel_support must be an int or a pair (kh, kw), got {kernel_support!r}")
    if min(support) < 1:
        raise ValueError(f"kernel_support {support[0]}x{support[1]} must be at least 1x1")
    if support[0] > height or support[1] > width:
        raise ValueError(f"kernel_support {support[0]}x{support[1]} is larger than the {height}x{width} grid")
    return support


def _window_offsets(support: tuple[int, int]) -> np.ndarray:
    """``(kh·kw, 2)`` offsets ``(dr, dc)``, ``dr ∈ −(kh//2) … kh−1−kh//2``, row-major
    (``F.unfold``'s order)."""
    kh, kw = support
    dr, dc = np.meshgrid(np.arange(kh) - kh // 2, np.arange(kw) - kw // 2, indexing="ij")
    return np.stack([dr.reshape(-1), dc.reshape(-1)], axis=1).astype(np.int64)


def _place(kernel: Tensor, rows: Tensor, cols: Tensor, values: Tensor) -> Tensor:
    """``kernel[:, :, rows[j], cols[j]] = values[:, :, j]`` (differentiable; the offsets are distinct
    modulo the grid)."""
    flat = kernel.reshape(kernel.shape[0], kernel.shape[1], -1)
    width = kernel.shape[3]
    flat = flat.index_copy(2, rows * width + cols, values)
    return flat.reshape(kernel.shape)
