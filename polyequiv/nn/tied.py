"""`TiedPolynomialLayer`: a derived layer as a torch module with materialised, tied weights.

Two parametrisations, both exact:

* **channel blocks** (ordered indexing, or full indexing with the symmetric
  gauge; any channels): one parameter vector ``weight``; the dense tensor ``V``
  of shape ``(outputs, T, c_out, c_in, …, c_in)`` (``T`` index tuples, ``d``
  channel axes; a bias factor only uses channel 0) is the gather
  ``V = weight[index]`` built from :class:`polyequiv.channels.ChannelStructure`.
  Equal entries share one parameter, so autograd adds up their gradients: the
  gradient reaching a parameter is the sum of the gradients of its copies
  (the seed's §2.8 "constrained backprop").  With ``c_in = c_out = 1`` there is
  one parameter per class: exactly ``free_parameters``.  Full indexing with the
  symmetric gauge copies the block of the sorted monomial to every
  rearrangement ``t`` of it with its channel axes permuted alike,
  ``V[k, t, o, c₁…c_d] = V[k, sort(t), o, c_{π₁}…c_{π_d}]`` (``t_π`` sorted): the
  weight is symmetric under swapping (element, channel) factor pairs, the
  channel form of ``W^k_ij = W^k_ji``.
* **exact basis** (full indexing without a gauge, or any matrix group; one channel):
  ``weights = B_w θ`` with ``B_w = B[class_of_weight]`` the exact basis of the
  scheme, so additive constraints (``a^h_hk + a^h_kh = a^k_hk + a^k_kh``) hold
  after any optimiser step by construction; the gradient is ``B_wᵀ ∂L/∂W``.

Full indexing without a gauge and with several channels is refused: the
single-channel solution ``B`` has no canonical extension to channel blocks
(only the part of ``W^k_ij − W^k_ji`` that is antisymmetric under swapping the
(element, channel) pairs together stays invisible to data); ordered indexing
and the symmetric gauge span the same functions.

Forward: ``x`` of shape ``(batch, n, c_in)`` → ``(batch, n, c_out)``, or
``(batch, c_out)`` when invariant.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from polyequiv.channels import ChannelStructure
from polyequiv.errors import SizeLimitError
from polyequiv.indexing import WeightIndex
from polyequiv.limits import estimate_weights, gigabytes
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.nn.checks import check_count, check_dtype, check_input
from polyequiv.scheme import TyingScheme
from polyequiv.spec import LayerSpec

#: Dense entries a materialised layer may hold (float32: 4 bytes each, plus an int64 index).
MAX_DENSE_ENTRIES = 60_000_000


class TiedPolynomialLayer(nn.Module):
    """Dense equivariant (or invariant) polynomial layer with tied weights, for any permutation group.

    Computes ``y_{k,o} = Σ_t Σ_{c₁..c_d} V[k, t, o, c₁, …, c_d] · x_{t₁,c₁} ⋯ x_{t_d,c_d}``
    over the index tuples ``t`` of the spec (a bias factor ``x_b ≡ 1`` only has
    channel 0), with ``V = weight[gather_index]`` built in every ``forward``, so
    the ties hold by construction and autograd sums the gradients of the copies
    of each parameter (see the module docstring for the two parametrisations).

    Parameters
    ----------
    spec : LayerSpec, MatrixLayerSpec or TyingScheme
        The layer; a scheme (e.g. from :func:`polyequiv.load_scheme`) fixes its classes.
        Tensor layers (``spec.input``/``spec.output`` other than ``V``) take the
        coordinates of their input representation as the rows of ``x`` (edges
        ``{i, j}`` in lexicographic order for ``E``) and return one row per output
        coordinate; see :mod:`polyequiv.reps`.  A matrix group's layer
        (:class:`polyequiv.matrix_spec.MatrixLayerSpec`, one channel) always uses the
        exact basis, ``W = Σ_j θ_j B_j``, and takes the coordinates of
        :mod:`polyequiv.matrix_reps` as rows: ``(batch, coordinates, 1)``.
    in_channels, out_channels : int
        Channels ``c_in`` of every set element and ``c_out`` of every output.
    dtype, device : optional
        Of the parameters (buffers follow ``.to()`` like any module's).

    Raises
    ------
    ValueError
        Full indexing without a gauge, or a matrix group, and more than one channel; a
        scheme whose classes are not the orbits of its group.
    SizeLimitError
        When ``V`` would exceed :data:`MAX_DENSE_ENTRIES` entries (use
        :class:`polyequiv.nn.SetPolyLayer` for large sets).

    Notes
    -----
    With ``c_in = c_out = 1`` the layer has exactly ``derive(spec).free_parameters``
    parameters.  With channels, each class becomes a block of ``c_out`` times the
    number of orbits of its factor symmetry group on channel tuples
    (:mod:`polyequiv.channels`): ``c_out·c_in`` for ``x_i``, ``c_out·c_in(c_in+1)/2``
    for ``x_i²``, ``c_out·c_in²`` for ``x_k x_i`` (Sₙ), which is Burnside's count of
    orbits on (output, output channel, monomial in the ``x_{i,c}``).
    :meth:`project` and :meth:`equivariance_residual` measure any dense weight of
    :attr:`dense_shape` against the tied subspace; :meth:`apply_weight` evaluates one.

    Examples
    --------
    >>> layer = TiedPolynomialLayer(LayerSpec(n=5, degree=2))
    >>> sum(p.numel() for p in layer.parameters())
    4
    >>> layer(torch.randn(3, 5, 1)).shape
    torch.Size([3, 5, 1])
    >>> TiedPolynomialLayer(LayerSpec(n=5, degree=2), 3, 2).num_parameters  # 2·(6 + 9 + 6 + 6)
    54
    """

    def __init__(
        self,
        spec: LayerSpec | MatrixLayerSpec | TyingScheme,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(spec, (LayerSpec, MatrixLayerSpec, TyingScheme)):
            raise ValueError(
                f"spec must be a LayerSpec or a TyingScheme (e.g. LayerSpec.parse('S5 quadratic ordered "
                f"equivariant') or load_scheme(path)), got {type(spec).__name__} {spec!r}"
            )
        scheme = spec if isinstance(spec, TyingScheme) else None
        spec = scheme.spec if scheme is not None else spec
        in_channels = check_count("in_channels", in_channels)
        out_channels = check_count("out_channels", out_channels)
        check_dtype(dtype)
        self.spec, self.in_channels, self.out_channels = spec, in_channels, out_channels
        factory = {"dtype": dtype, "device": device}
        if isinstance(spec, MatrixLayerSpec):
            if (in_channels, out_channels) != (1, 1):
                raise ValueError(
                    f"{spec} takes one channel (a matrix group mixes coordinates, so channels are copies "
                    "in the representation: write e.g. input '3*V' instead of in_channels=3)"
                )
            self._build_basis(scheme or TyingScheme.from_spec(spec), factory)
        elif spec.indexing == "full" and spec.gauge == "none":
            if (in_channels, out_channels) != (1, 1):
                raise ValueError(
                    f"{spec} takes one channel: its additive constraints fix W^k_ij + W^k_ji, and with "
                    "channels only the part of W^k_ij − W^k_ji antisymmetric under swapping (element, "
                    "channel) pairs stays invisible to data, so the one-channel basis does not extend; "
                    "use indexing='ordered' or gauge='symmetric' (the same functions) for channels"
                )
            self._build_basis(scheme or TyingScheme.from_spec(spec), factory)
        else:
            self._build_channels(scheme, factory)
        self.reset_parameters()

    @classmethod
    def from_spec(
        cls, spec: LayerSpec, in_channels: int = 1, out_channels: int = 1, **factory
    ) -> TiedPolynomialLayer:
        """The layer of ``spec`` (derived now)."""
        return cls(spec, in_channels, out_channels, **factory)

    @classmethod
    def from_scheme(
        cls, scheme: TyingScheme, in_channels: int = 1, out_channels: int = 1, **factory
    ) -> TiedPolynomialLayer:
        """The layer of a (loaded, validated) :class:`TyingScheme`."""
        return cls(scheme, in_channels, out_channels, **factory)

    # ------------------------------------------------------------------ construction
    def _build_channels(self, scheme: TyingScheme | None, factory: dict) -> None:
        spec, c_in, c_out = self.spec, self.in_channels, self.out_channels
        entries = estimate_weights(spec) * c_out * c_in**spec.degree  # before building anything
        if entries > MAX_DENSE_ENTRIES:
            if getattr(spec, "group", None) != "symmetric":
                alternative = ("a smaller size or degree (polyequiv.nn.layer(spec) picks "
                               "CircularPolyLayer for torus layers of degree 1 and 2, "
                               "PointCloudPolyLayer for O(d) point clouds)")
            elif spec.is_set_layer:
                alternative = "SetPolyLayer (size-agnostic, power sums) for the symmetric group"
            else:
                alternative = "TensorPolyLayer (size-agnostic, partition patterns) for the symmetric group"
            raise SizeLimitError(
                f"a dense {spec} layer with {c_in} → {c_out} channels materialises {entries:,} weights "
                f"({gigabytes(entries, 12)} GB with its index); the limit is {MAX_DENSE_ENTRIES:,}. "
                f"Use {alternative}",
                estimate=entries,
                limit=MAX_DENSE_ENTRIES,
            )
        structure = ChannelStructure(spec)
        index = WeightIndex(spec)
        gather = _ordered_gather(structure, c_in, c_out)
        if spec.indexing == "full":
            gather = _rearranged_gather(gather, index, structure.index)
        if scheme is not None:
            classes = structure.orbit_of_slot[index.slot_of_weight(np.arange(index.num_weights))]
            if not (_one_parameter_per_class(scheme) and _same_partition(scheme.class_of_weight, classes)):
                raise ValueError(f"the scheme's classes are not the orbits of {spec}'s group")
        offset = structure.parameter_count(c_in, c_out)
        # products feeding one output (k, o): (tuple, channel tuple) entries that are not structural zeros
        feeding = (gather[:, :, 0] >= 0).reshape(gather.shape[0], -1).sum(axis=1)
        self.weight = nn.Parameter(torch.empty(offset, **factory))
        self.register_buffer(
            "gather_index", torch.from_numpy(np.where(gather < 0, offset, gather)), persistent=False
        )
        self.register_buffer("tuples", torch.from_numpy(index.tuples.copy()), persistent=False)
        self._fan_in = int(max(feeding.max(), 1))
        self._kind = "channels"
        self._structure = structure

    def _build_basis(self, scheme: TyingScheme, factory: dict) -> None:
        index = WeightIndex(self.spec)
        basis = torch.from_numpy(scheme.weight_basis()).to(factory["dtype"] or torch.get_default_dtype())
        self.weight = nn.Parameter(torch.empty(scheme.num_free, **factory))
        self.register_buffer(
            "basis", basis.to(factory["device"]) if factory["device"] else basis, persistent=False
        )
        self.register_buffer("tuples", torch.from_numpy(index.tuples.copy()), persistent=False)
        self._fan_in = max(index.num_tuples, 1)
        self._kind = "basis"
        self._scheme = scheme

    def reset_parameters(self) -> None:
        """Uniform in ``±1/√fan_in``, fan_in = the products feeding one output: (index tuple,
        channel tuple) pairs with a nonzero weight, the ``1/√fan_in`` of ``nn.Linear``."""
        bound = 1.0 / math.sqrt(self._fan_in)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)

    # ------------------------------------------------------------------ weights
    @property
    def num_parameters(self) -> int:
        """Trainable values: the length of ``weight``."""
        return self.weight.numel()

    @property
    def dense_shape(self) -> torch.Size:
        """Shape of :meth:`dense_weight` (and of any weight :meth:`project` accepts)."""
        if self._kind == "basis":
            outputs = self.spec.num_outputs
            return torch.Size((outputs, self.basis.shape[0] // outputs))
        return self.gather_index.shape

    def dense_weight(self) -> Tensor:
        """The materialised tied weights: ``(outputs, T, c_out, c_in, …)`` (channel blocks) or
        ``(outputs, T)`` (exact basis, full indexing without a gauge)."""
        if self._kind == "basis":
            return (self.basis @ self.weight).reshape(self.dense_shape)
        padded = torch.cat([self.weight, self.weight.new_zeros(1)])
        return padded[self.gather_index]

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> Tensor:
        coordinates = self.spec.num_coordinates  # n for a set, n(n−1)/2 for E (polyequiv.reps)
        check_input("input", x, like=self.weight)
        if x.dim() != 3 or x.shape[1] != coordinates or x.shape[2] != self.in_channels:
            raise ValueError(
                f"expected input of shape (batch, {coordinates}, {self.in_channels}) for {self.spec}, "
                f"got {tuple(x.shape)}"
            )
        return self.apply_weight(self.dense_weight(), x)

    def apply_weight(self, weight: Tensor, x: Tensor) -> Tensor:
        """The layer's function with an arbitrary dense weight of :meth:`dense_weight`'s shape
        (used to compare with untied layers and to evaluate projections)."""
        if self._kind == "basis":
            extended = _with_bias(x[..., 0], self.spec.bias)
            products = torch.ones(x.shape[0], self.tuples.shape[0], dtype=x.dtype, device=x.device)
            for column in range(self.tuples.shape[1]):
                products = products * extended[:, self.tuples[:, column]]
            y = products @ weight.T  # (batch, outputs)
            return y.unsqueeze(-1) if self.spec.equivariant else y
        products = _channel_products(x, self.tuples, self.spec)  # (batch, T, c_in^d)
        flat = weight.reshape(weight.shape[0], weight.shape[1], self.out_channels, products.shape[-1])
        y = torch.einsum("bmc,kmoc->bko", products, flat)
        return y if self.spec.equivariant else y[:, 0]

    def extra_repr(self) -> str:
        return (
            f"'{self.spec}', in_channels={self.in_channels}, out_channels={self.out_channels}, "
            f"parameters={self.num_parameters}, dense_weights={self.dense_shape.numel()}"
        )

    # ------------------------------------------------------------------ projection
    def project(self, weight: Tensor) -> Tensor:
        """Orthogonal projection of a dense weight onto the tied subspace.

        Channel blocks: the mean over the copies of each parameter (structural
        zeros go to 0).  Exact basis: least squares ``B_w (B_wᵀ B_w)⁻¹ B_wᵀ W``.
        """
        if weight.shape != self.dense_shape:
            raise ValueError(
                f"expected a weight of shape {tuple(self.dense_shape)}, got {tuple(weight.shape)}"
            )
        if self._kind == "basis":
            basis = self.basis.to(weight.dtype)
            theta = torch.linalg.lstsq(basis, weight.reshape(-1, 1)).solution
            return (basis @ theta).reshape(weight.shape)
        index = self.gather_index.reshape(-1)
        slots = self.weight.numel() + 1
        sums = torch.zeros(slots, dtype=weight.dtype, device=weight.device).index_add_(
            0, index, weight.reshape(-1)
        )
        counts = torch.bincount(index, minlength=slots).to(weight.dtype)
        means = sums / counts.clamp(min=1)
        means[-1] = 0
        return means[index].reshape(weight.shape)

    def equivariance_residual(self, weight: Tensor) -> Tensor:
        """``‖W − project(W)‖ / ‖W‖``: 0 for tied weights, up to 1 for weights with no symmetry."""
        norm = torch.linalg.vector_norm(weight)
        if norm == 0:
            return norm
        return torch.linalg.vector_norm(weight - self.project(weight)) / norm


def _ordered_gather(structure: ChannelStructure, c_in: int, c_out: int) -> np.ndarray:
    """Parameter number of every entry of the ordered dense weight ``(outputs, M, c_out, c_in^d)``;
    −1 marks structural zeros (bias factors on channels other than 0)."""
    index, d = structure.index, structure.spec.degree
    big_m = index.num_monomials
    gather = np.full((index.num_outputs, big_m, c_out) + (c_in,) * d, -1, dtype=np.int64)
    offset = 0
    for orbit in structure.orbits:
        e = orbit.real_factors
        labels = orbit.channel_orbits(c_in).reshape((c_in,) * e)
        width = int(labels.max()) + 1
        outputs, monomials = np.divmod(orbit.slots, big_m)
        # slots sharing an orientation get the same block: at most e! distinct assignments
        rhos, which = (
            np.unique(orbit.orientations, axis=0, return_inverse=True)
            if e
            else (np.zeros((1, 0), dtype=np.int64), np.zeros(len(orbit.slots), dtype=np.int64))
        )
        for number, rho in enumerate(rhos):
            chosen = which.reshape(-1) == number
            # the channel of slot position j is the channel of representative position rho[j]
            oriented = np.transpose(labels, rho)
            block = offset + np.arange(c_out)[:, None] * width + oriented.reshape(1, -1)
            where = (outputs[chosen], monomials[chosen], slice(None), *([slice(None)] * e), *([0] * (d - e)))
            gather[where] = block.reshape((c_out,) + (c_in,) * e)
        offset += c_out * width
    return gather


def _rearranged_gather(ordered: np.ndarray, full: WeightIndex, index: WeightIndex) -> np.ndarray:
    """The full-indexed gather ``(outputs, N^d, c_out, c_in^d)``: the block of tuple ``t`` is the block
    of its sorted monomial with the channel axes carried along, ``V[t, c] = V[sort t, c∘π]``."""
    tuples = full.tuples
    order = np.argsort(tuples, axis=1, kind="stable")  # tuples[order] is sorted
    ranks = index.monomial_rank(np.take_along_axis(tuples, order, axis=1))
    axes = np.argsort(order, axis=1)  # channel axis j of t is axis axes[j] of the sorted block
    gather = np.empty((ordered.shape[0], tuples.shape[0], *ordered.shape[2:]), dtype=np.int64)
    for perm in np.unique(axes, axis=0):
        rows = np.nonzero((axes == perm).all(axis=1))[0]
        gather[:, rows] = np.transpose(ordered[:, ranks[rows]], (0, 1, 2, *(3 + perm)))
    return gather


def _one_parameter_per_class(scheme: TyingScheme) -> bool:
    """Whether the scheme's basis ties each class to its own free parameter (a permutation matrix)."""
    rows, cols = {c for c, _, _ in scheme.basis}, {j for _, j, _ in scheme.basis}
    unit = all(v == 1 for _, _, v in scheme.basis)
    return unit and len(scheme.basis) == len(rows) == len(cols) == scheme.num_classes == scheme.num_free


def _same_partition(labels: np.ndarray, other: np.ndarray) -> bool:
    """Whether two labellings define the same partition (up to renaming the labels)."""
    if labels.shape != other.shape:
        return False
    pairs = np.unique(np.column_stack([labels, other]), axis=0)
    return len(pairs) == len(np.unique(labels)) == len(np.unique(other))


def _with_bias(values: Tensor, bias: bool) -> Tensor:
    if not bias:
        return values
    return torch.cat([values, values.new_ones(values.shape[0], 1)], dim=1)


def _channel_products(x: Tensor, tuples: Tensor, spec: LayerSpec) -> Tensor:
    """``P[b, t, (c₁..c_d)] = Π_j x_ext[b, t_j, c_j]``; the bias element is one-hot on channel 0."""
    batch, _, c_in = x.shape
    if spec.bias:
        bias_row = x.new_zeros(batch, 1, c_in)
        bias_row[..., 0] = 1
        x = torch.cat([x, bias_row], dim=1)
    products = x.new_ones(batch, tuples.shape[0], 1)
    for column in range(tuples.shape[1]):
        factor = x[:, tuples[:, column], :]  # (batch, T, c_in)
        width = products.shape[-1] * c_in  # explicit: -1 is ambiguous for an empty batch
        products = (products.unsqueeze(-1) * factor.unsqueeze(-2)).reshape(batch, tuples.shape[0], width)
    return products


def project(layer: TiedPolynomialLayer, weight: Tensor) -> Tensor:
    """Orthogonal projection of ``weight`` onto ``layer``'s tied subspace (see the method)."""
    return layer.project(weight)


def equivariance_residual(layer: TiedPolynomialLayer, weight: Tensor) -> Tensor:
    """``‖W − project(W)‖ / ‖W‖`` for a dense weight of ``layer``'s shape."""
    return layer.equivariance_residual(weight)
