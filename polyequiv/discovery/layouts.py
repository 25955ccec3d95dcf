"""How a weight tensor is read as copies of one layer, and which index tuple each weight multiplies.

Convention as everywhere: ``(σ·x)_i = x_{σ(i)}``, equivariant means ``f(σ·x) = σ·f(x)``.

* degree 1, equivariant: shape ``(…, n, n)``, ``W[k, i]`` = ``W^k_i`` (output k, input i);
* degree 1, invariant: shape ``(…, n)`` or ``(…, 1, n)``, ``W[i]`` = ``W_i``;
* degree 2, equivariant: shape ``(…, n, n, n)``, ``W[k, i, j]``; the layer only sees the monomial
  coefficient ``W[k,i,j] + W[k,j,i]`` (``W[k,i,i]`` on the diagonal), which is what is clustered
  (numbered as :class:`polyequiv.indexing.WeightIndex` numbers ordered weights);
* degree 2, invariant: shape ``(…, n, n)``, ``W[i, j]``, symmetrised likewise;
* graph node models (``input="V2"`` / ``"E"``): ``(…, n, n, n)``, ``W[k, i, j]`` as given, or
  ``W[k, i, j] + W[k, j, i]`` on edges ``i < j``.

Leading axes ``…`` are channels (e.g. the seed's one matrix per class).  With ``mode="auto"`` a
square last pair is equivariant and a vector (or one row) is invariant; anything else is refused
with a ``ValueError`` naming the shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polyequiv.spec import LayerSpec

MODES = ("auto", "equivariant", "invariant")
#: Input representations a layout can read (output ``V``): the set ``V`` (any degree), and, for a
#: linear node model on graphs, ordered pairs ``V2`` (``W[k, i, j]`` as given) or edges ``E``
#: (``W[k, i, j] + W[k, j, i]`` on ``i < j``: all an adjacency matrix, symmetric with a zero
#: diagonal, lets the data determine).
INPUTS = ("V", "E", "V2")


@dataclass(frozen=True)
class WeightLayout:
    """A weight tensor read as ``channels`` independent copies of one layer of ``spec`` shape.

    ``values`` is ``(channels, num_weights)``, column ``w`` the weight with id ``w`` of
    ``LayerSpec(n, degree, mode)`` (ordered indexing: one weight per monomial)."""

    shape: tuple[int, ...]
    n: int
    degree: int
    mode: str
    values: np.ndarray
    input: str = "V"  # the layer's input representation (INPUTS); output V, or 1 when invariant

    @property
    def channels(self) -> int:
        return int(self.values.shape[0])

    def spec(self, group: str = "custom", generators: tuple[tuple[int, ...], ...] = (),
             shape: tuple[int, int] | None = None) -> LayerSpec:
        """The :class:`LayerSpec` of this layer (no bias) for a group: what the derivation ties."""
        output = "1" if self.mode == "invariant" else "V"
        return LayerSpec(n=self.n, degree=self.degree, mode=self.mode, group=group, generators=generators,
                         shape=shape, input=self.input, output=output)

    def index_tuples(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(outputs, inputs, second)``: the points each weight id multiplies, by role.

        ``outputs[w]`` is the output index ``k`` (``None`` for an invariant layer); ``inputs[w]`` the
        input points as a row (one point, or the unordered pair ``i ≤ j`` of a monomial or an edge;
        for ``V2`` the first index ``i``); ``second[w]`` the second index ``j`` of ``V2`` (``None``
        otherwise).  A permutation ``σ`` ties the weights ``w`` and ``w'`` whose tuples it maps to
        each other (roles kept, the pair unordered).

        >>> layout = read_layout(np.arange(9.0).reshape(3, 3))
        >>> [a.tolist() if a is not None else None for a in layout.index_tuples()]
        [[0, 0, 0, 1, 1, 1, 2, 2, 2], [[0], [1], [2], [0], [1], [2], [0], [1], [2]], None]
        """
        n, degree = self.n, self.degree
        if self.input == "V2":
            k, i, j = (a.ravel() for a in np.indices((n, n, n)))
            return k, i[:, None], j
        if self.input == "E":
            i, j = np.triu_indices(n, 1)
        elif degree == 2:
            i, j = np.triu_indices(n)
        else:
            i, j = np.arange(n), None
        pairs = i[:, None] if j is None else np.stack([i, j], axis=1)
        if self.mode == "invariant":
            return None, pairs, None
        size = pairs.shape[0]
        return np.repeat(np.arange(n), size), np.tile(pairs, (n, 1)), None


def read_layout(weights: Any, degree: int = 1, mode: str = "auto", input: str = "V") -> WeightLayout:
    """Read a weight tensor as copies of a degree-1 or degree-2 layer (see the module table).

    ``input="V2"`` or ``"E"``: a linear node model on graphs, ``W[…, k, i, j]`` (output node ``k``,
    adjacency entry ``A_ij``), read as the equivariant ``V2 → V`` layer as given, or as the ``E → V``
    layer ``W[k, i, j] + W[k, j, i]`` (``i < j``, edges in lexicographic order) that a symmetric
    zero-diagonal adjacency matrix actually sees.

    Raises
    ------
    ValueError
        For a degree other than 1 or 2, an unknown mode or input, or a shape that fits no layer of
        that degree and mode (the message names the shape).
    """
    array = np.asarray(weights, dtype=np.float64)
    shape = tuple(int(s) for s in array.shape)
    if input not in INPUTS:
        raise ValueError(f"unknown input representation {input!r}; choose one of {', '.join(INPUTS)}")
    if input != "V":
        return _read_pair_layout(array, shape, degree, mode, input)
    if degree not in (1, 2):
        raise ValueError(f"discovery reads linear (1) or quadratic (2) layers, got degree {degree}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode == "auto":
        mode = _auto_mode(shape, degree)
    core = (degree + 1) if mode == "equivariant" else degree
    if array.ndim < core:
        raise ValueError(_shape_message(shape, degree, mode))
    tail = shape[-core:]
    if len(set(tail)) != 1 or tail[0] < 2:
        raise ValueError(_shape_message(shape, degree, mode))
    n = tail[0]
    lead = shape[:-core]
    if mode == "invariant" and degree == 1 and lead and lead[-1] == 1:
        lead = lead[:-1]  # a (1, n) row is one invariant layer
    flat = array.reshape(-1, *tail)
    if degree == 2:
        i, j = np.triu_indices(n)
        sym = flat + np.swapaxes(flat, -1, -2)
        sym[..., np.arange(n), np.arange(n)] /= 2
        flat = sym[..., i, j]  # monomials (i ≤ j) in lexicographic order, as WeightIndex numbers them
    values = flat.reshape(flat.shape[0], -1)
    return WeightLayout(shape=shape, n=n, degree=degree, mode=mode, values=values)


def _read_pair_layout(array: np.ndarray, shape: tuple[int, ...], degree: int, mode: str,
                      input: str) -> WeightLayout:
    """``(…, n, n, n)`` as ``V2 → V`` or ``E → V`` linear layers (see :func:`read_layout`)."""
    if degree != 1 or mode == "invariant":
        raise ValueError(f"input {input} is read as an equivariant linear layer (degree 1), "
                         f"got degree {degree}, mode {mode}")
    if len(shape) < 3 or len(set(shape[-3:])) != 1 or shape[-1] < 2:
        raise ValueError(f"weight tensor of shape {shape} fits no candidate group (input {input}): expected "
                         "(…, n, n, n) = (…, output node k, i, j) with n ≥ 2; leading axes are channels")
    n = shape[-1]
    flat = array.reshape(-1, n, n, n)
    if input == "E":
        i, j = np.triu_indices(n, 1)
        flat = flat[..., i, j] + flat[..., j, i]  # (channels, k, edge): edges i < j in lexicographic order
    values = flat.reshape(flat.shape[0], -1)
    return WeightLayout(shape=shape, n=n, degree=1, mode="equivariant", values=values, input=input)


def _auto_mode(shape: tuple[int, ...], degree: int) -> str:
    if degree == 1:
        if len(shape) >= 2 and shape[-1] == shape[-2]:
            return "equivariant"
        if len(shape) == 1 or (len(shape) >= 2 and shape[-2] == 1):
            return "invariant"
    else:
        if len(shape) == 3 and len(set(shape)) == 1:
            return "equivariant"
        if len(shape) == 2 and shape[0] == shape[1]:
            return "invariant"
    raise ValueError(_shape_message(shape, degree, "auto"))


def _shape_message(shape: tuple[int, ...], degree: int, mode: str) -> str:
    if degree == 1:
        expected = "(…, n, n) for an equivariant linear layer or (…, n) / (…, 1, n) for an invariant one"
    else:
        expected = "(…, n, n, n) for an equivariant quadratic layer or (…, n, n) for an invariant one"
    return (f"weight tensor of shape {shape} fits no candidate group (degree {degree}, mode {mode}): "
            f"expected {expected}, n ≥ 2; leading axes are channels")


