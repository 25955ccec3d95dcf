"""`layer(spec)`: one entry point for every derived layer — the fastest correct module for a spec.

    >>> from polyequiv.nn import layer
    >>> type(layer("S5 quadratic ordered equivariant +bias", 3, 8)).__name__
    'SetPolyLayer'
    >>> type(layer("S8 cubic ordered E -> V")).__name__
    'TensorPolyLayer'
    >>> type(layer("T10x10 linear ordered equivariant", 1, 4)).__name__
    'CircularPolyLayer'
    >>> type(layer("C6 quadratic ordered equivariant")).__name__
    'TiedPolynomialLayer'

Which module is chosen (:func:`choose_layer` says which, and why):

==========================================  ============================  ==============================
spec                                        module                        why
==========================================  ============================  ==============================
Sₙ, ordered, ``V → V`` or ``V → 1``         :class:`SetPolyLayer`         power sums: O(n·c^d), any n
Sₙ, ordered, other tensor / graph reps      :class:`TensorPolyLayer`      n-free patterns (einsum; a PyG
                                                                          batch through ``forward_pyg``)
torus translations, ordered, equivariant    :class:`CircularPolyLayer`    a circular convolution (FFT) or
(degree 1 or 2)                                                           a Volterra filter
O(d), O(1,q), S(n) x O(d) on point clouds   :class:`PointCloudPolyLayer`  n-free patterns of inner products
anything else (Cₙ, Dₙ, custom, full         :class:`TiedPolynomialLayer`  the dense tied weight from the
indexing, the torus with D₄, SO(d), finite                                derivation (classes, or the
matrix groups, invariant grid layers)                                     exact basis)
==========================================  ============================  ==============================

The size-agnostic modules compute, at the spec's ``n``, the same space of functions as the dense
tied layer (the tests compare them pattern by pattern); they take sets, graphs or grids of any size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from polyequiv.cloud_patterns import check_cloud_spec
from polyequiv.derivation import check_derivable
from polyequiv.errors import SpecError
from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.nn.grid_layers import GRID_DEGREES, CircularPolyLayer
from polyequiv.nn.point_layers import PointCloudPolyLayer
from polyequiv.nn.set_layers import SetPolyLayer
from polyequiv.nn.tensor_layers import TensorPolyLayer
from polyequiv.nn.tied import TiedPolynomialLayer
from polyequiv.spec import LayerSpec
from polyequiv.specs import parse_spec

Spec = LayerSpec | MatrixLayerSpec


def choose_layer(spec: Spec | str) -> tuple[str, str]:
    """``(module name, reason)`` of the module :func:`layer` builds for ``spec``."""
    spec = _spec(spec)
    if isinstance(spec, MatrixLayerSpec):
        try:
            check_cloud_spec(spec)
        except SpecError as refusal:
            return "TiedPolynomialLayer", f"a matrix group the point-cloud patterns do not cover ({refusal})"
        return "PointCloudPolyLayer", "O(d), O(1,q) or S(n) x O(d): n-free patterns of inner products"
    ordered = spec.indexing == "ordered" and spec.gauge == "none"
    if spec.group == "symmetric" and ordered:
        if spec.is_set_layer:
            return "SetPolyLayer", "Sₙ on a set: power sums, any set size"
        return "TensorPolyLayer", "Sₙ on tensors or graphs: n-free partition patterns, any size"
    if spec.group == "torus" and ordered and spec.equivariant and spec.degree in GRID_DEGREES \
            and spec.is_set_layer:
        return "CircularPolyLayer", "translations of a torus: a circular convolution or a Volterra filter"
    return "TiedPolynomialLayer", f"{spec.group_label}, {spec.indexing} indexing: the dense tied weight"


def layer(spec: Spec | str, in_channels: int = 1, out_channels: int = 1, *,
          dtype: torch.dtype | None = None, device: torch.device | str | None = None,
          **options: Any) -> nn.Module:
    """The fastest correct torch module for ``spec`` (a string as the CLI writes it, or a spec).

    Parameters
    ----------
    spec : str, LayerSpec or MatrixLayerSpec
        E.g. ``"S5 quadratic ordered equivariant +bias"``, ``"S8 cubic ordered E -> V"``,
        ``"T10x10 linear ordered equivariant"``, ``"O(3) cubic ordered 2*1 + 2*V -> V2"``.
    in_channels, out_channels : int
        Channels (matrix groups take one: they mix coordinates, so copies go in the representation).
    dtype, device : optional
        Of the parameters.
    **options
        Passed to the chosen module (``pooling="mean"`` for :class:`SetPolyLayer`,
        ``kernel_support=3`` for :class:`CircularPolyLayer`); refused when it takes no such option.

    Raises
    ------
    SpecError
        For a spec string that does not parse.
    ValueError
        For channels or options the chosen module refuses (the message names them).
    SizeLimitError
        When the dense tied layer's derivation would be refused by ``polyequiv derive`` (the same
        estimate, the same limit), before anything is built.
    """
    spec = _spec(spec)
    name, _ = choose_layer(spec)
    factory = {"dtype": dtype, "device": device}
    try:
        if name == "SetPolyLayer":
            return SetPolyLayer(spec.degree, in_channels, out_channels, bias=spec.bias, mode=spec.mode,
                                **factory, **options)
        if name == "TensorPolyLayer":
            return TensorPolyLayer(spec.input, spec.output, spec.degree, in_channels, out_channels,
                                   bias=spec.bias, **factory, **options)
        if name == "PointCloudPolyLayer":
            if (in_channels, out_channels) != (1, 1):
                raise ValueError(f"a matrix-group layer takes one channel (copies go in the representation, "
                                 f"e.g. 3*V), got {in_channels} → {out_channels}")
            return PointCloudPolyLayer(spec, **factory, **options)
        if name == "CircularPolyLayer":
            return CircularPolyLayer(spec.shape, spec.degree, in_channels, out_channels, bias=spec.bias,
                                     **factory, **options)
        check_derivable(spec)  # the derivation's own size checks, before a dense weight is built
        return TiedPolynomialLayer(spec, in_channels, out_channels, **factory, **options)
    except TypeError as error:  # an option the chosen module does not take
        raise ValueError(f"{name} (chosen for {spec}) does not take {error}".replace("__init__() got ", "")
                         ) from None


def _spec(spec: Spec | str) -> Spec:
    if isinstance(spec, str):
        return parse_spec(spec)
    if isinstance(spec, (LayerSpec, MatrixLayerSpec)):
        return spec
    raise SpecError(f"layer needs a spec string such as 'S5 quadratic ordered equivariant' or a LayerSpec, "
                    f"got {type(spec).__name__} {spec!r}")
