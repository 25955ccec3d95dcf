"""The parameters of a network and the tied subspace ``T``, as exact rational matrices.

Every layer ``ℓ`` has weights ``W^ℓ`` (numbered as in :class:`polyequiv.indexing.WeightIndex`,
offset by :attr:`NetworkSpec.weight_offsets`).  Its single-layer derivation
(:func:`polyequiv.derive` on :meth:`NetworkSpec.layer_spec`) gives the exact basis
``B_ℓ`` (weights × free parameters) of its equivariant weight tensors.

* A **tied** layer's parameters are the ``F_ℓ`` free parameters: ``W^ℓ = B_ℓ θ^ℓ``.
* A **free** layer's parameters are its weights: ``W^ℓ = θ^ℓ``.

So ``weights = L θ`` with ``L`` block diagonal (:attr:`NetworkParameters.embedding`).
The **tied subspace** ``T`` is the set of parameters for which *every* layer is
equivariant on its own (hidden widths read as in :mod:`polyequiv.compose.network`):
``θ^ℓ = B_ℓ τ^ℓ`` on free layers and ``θ^ℓ = τ^ℓ`` on tied ones, basis
:attr:`NetworkParameters.tied_basis`.  ``T`` lies inside the variety ``V`` of
parameters whose network output is equivariant (invariant), since a composition
of equivariant maps is equivariant.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

from polyequiv.compose.network import NetworkSpec
from polyequiv.scheme import TyingScheme


@dataclass(frozen=True)
class NetworkParameters:
    """Parameter layout of a :class:`NetworkSpec` (see the module docstring)."""

    spec: NetworkSpec

    @cached_property
    def schemes(self) -> tuple[TyingScheme, ...]:
        """The single-layer tying scheme of every layer (also of free ones: it defines ``T``)."""
        return tuple(self.scheme(number) for number in range(len(self.spec.layers)))

    def scheme(self, layer: int) -> TyingScheme:
        """The tying scheme of one layer, derived on first use (free layers need it only for ``T``)."""
        cache = self.__dict__.setdefault("_scheme_cache", {})
        if layer not in cache:
            cache[layer] = TyingScheme.from_spec(self.spec.layer_specs[layer])
        return cache[layer]

    def layer_basis(self, layer: int) -> np.ndarray:
        """``B_ℓ``: weights × free parameters of layer ``layer``, an object array of Fractions."""
        scheme = self.scheme(layer)
        classes = np.zeros((scheme.num_classes, scheme.num_free), dtype=object)
        classes[:] = Fraction(0)
        for c, j, v in scheme.basis:
            classes[c, j] = v
        return classes[scheme.class_of_weight]

    @cached_property
    def param_offsets(self) -> tuple[int, ...]:
        offsets = [0]
        for number, layer in enumerate(self.spec.layers):
            index = self.spec.weight_indices[number]
            size = self.scheme(number).num_free if layer.tied else index.num_weights
            offsets.append(offsets[-1] + size)
        return tuple(offsets)

    @property
    def num_params(self) -> int:
        return self.param_offsets[-1]

    @property
    def num_weights(self) -> int:
        return self.spec.num_weights

    @cached_property
    def embedding(self) -> np.ndarray:
        """``L``: weights × parameters (object array of Fractions), ``weights = L θ``."""
        matrix = np.zeros((self.num_weights, self.num_params), dtype=object)
        matrix[:] = Fraction(0)
        for number, layer in enumerate(self.spec.layers):
            w0, w1 = self.spec.weight_offsets[number], self.spec.weight_offsets[number + 1]
            p0, p1 = self.param_offsets[number], self.param_offsets[number + 1]
            if layer.tied:
                matrix[w0:w1, p0:p1] = self.layer_basis(number)
            else:
                for i in range(w1 - w0):
                    matrix[w0 + i, p0 + i] = Fraction(1)
        return matrix

    @cached_property
    def tied_basis(self) -> np.ndarray:
        """Basis of ``T`` in parameter space: parameters × dim T (object array of Fractions)."""
        blocks = []
        for number, layer in enumerate(self.spec.layers):
            size = self.param_offsets[number + 1] - self.param_offsets[number]
            if layer.tied:
                block = np.zeros((size, size), dtype=object)
                block[:] = Fraction(0)
                for i in range(size):
                    block[i, i] = Fraction(1)
            else:
                block = self.layer_basis(number)
            blocks.append(block)
        rows = sum(b.shape[0] for b in blocks)
        cols = sum(b.shape[1] for b in blocks)
        basis = np.zeros((rows, cols), dtype=object)
        basis[:] = Fraction(0)
        r = c = 0
        for block in blocks:
            basis[r : r + block.shape[0], c : c + block.shape[1]] = block
            r, c = r + block.shape[0], c + block.shape[1]
        return basis

    @property
    def tied_dim(self) -> int:
        return int(self.tied_basis.shape[1])

    def equalities_only(self, layer: int) -> bool:
        """True when the tied layer's parameters are classes of equal weights (``B_ℓ`` is 0/1)."""
        return self.scheme(layer).equalities_only

    def param_name(self, param: int, *, latex: bool = False) -> str:
        """A free layer's weight name; a tied layer's class is named after its first weight."""
        layer = next(i for i in range(len(self.spec.layers)) if param < self.param_offsets[i + 1])
        local = param - self.param_offsets[layer]
        offset = self.spec.weight_offsets[layer]
        if not self.spec.layers[layer].tied:
            return self.spec.weight_name(offset + local, latex=latex)
        scheme = self.scheme(layer)
        if scheme.equalities_only:
            first = int(np.flatnonzero(scheme.class_of_weight == local)[0])
            return self.spec.weight_name(offset + first, latex=latex)
        return f"\\theta^{{({layer + 1})}}_{{{local}}}" if latex else f"t{layer + 1}_{local}"

    def weights_from_params(self, theta: np.ndarray) -> np.ndarray:
        """``L θ`` in float64 (for numeric work); exact callers use :attr:`embedding` directly."""
        return self.embedding.astype(float) @ np.asarray(theta, dtype=float)
