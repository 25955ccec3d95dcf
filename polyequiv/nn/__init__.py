"""Torch modules built from derived constraints.

* :func:`layer` — the one entry point: a spec string as the CLI writes it → the fastest correct
  module below (:func:`choose_layer` says which, and why).
* :class:`TiedPolynomialLayer` — any group, materialised tied weights (one parameter per
  class and channel-block entry, or the exact basis for full indexing).
* :class:`SetPolyLayer` — the symmetric group, size-agnostic, through power sums.
* :class:`TensorPolyLayer` — the symmetric group on tensors and graphs (``E -> V``, ``V2 -> V2``, …),
  size-agnostic, one parameter per partition pattern, einsum contractions; PyTorch Geometric
  batches through ``forward_pyg`` (:mod:`polyequiv.nn.pyg`), summed on the edge lists in O(|E|) plus
  each pattern's joins (:mod:`polyequiv.nn.sparse_patterns`).
* :class:`PointCloudPolyLayer` — ``Sₙ × O(d)`` (or ``O(d)``, ``O(1,q)``) on point clouds, size-agnostic,
  one parameter per n-free pattern (point partition × Brauer matching), einsum contractions.
* :class:`CircularPolyLayer` — translations of an H×W torus: the derived linear / quadratic layer run
  as a circular convolution (FFT) or a Volterra filter (unfolded shifts), any kernel support.
* :class:`InvariantPolyReadout` — the invariant read-out (sum/mean pooling at degree 1,
  the 2-weight invariant quadratic at degree 2).
* :func:`project`, :func:`equivariance_residual` — the distance of any dense weight from
  the tied subspace.

    >>> import torch
    >>> from polyequiv.nn import SetPolyLayer, InvariantPolyReadout
    >>> layer, readout = SetPolyLayer(2, 1, 8), InvariantPolyReadout(1, 8, 1)
    >>> readout(torch.tanh(layer(torch.randn(4, 10, 1)))).shape
    torch.Size([4, 1])
"""

from polyequiv.nn.factory import choose_layer, layer
from polyequiv.nn.grid_layers import CircularPolyLayer
from polyequiv.nn.point_layers import PointCloudPolyLayer
from polyequiv.nn.set_layers import InvariantPolyReadout, SetPolyLayer
from polyequiv.nn.tensor_layers import TensorPolyLayer
from polyequiv.nn.tied import TiedPolynomialLayer, equivariance_residual, project

__all__ = [
    "CircularPolyLayer",
    "InvariantPolyReadout",
    "PointCloudPolyLayer",
    "SetPolyLayer",
    "TensorPolyLayer",
    "TiedPolynomialLayer",
    "choose_layer",
    "equivariance_residual",
    "layer",
    "project",
]
