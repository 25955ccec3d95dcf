"""The discovered group: order, generators, orbits, name, and the layer's classes under it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polyequiv import groups
from polyequiv.derivation import derive
from polyequiv.discovery.automorphisms import coloured_layer, orbits
from polyequiv.discovery.layouts import WeightLayout
from polyequiv.discovery.structure import group_name


@dataclass(frozen=True)
class SymmetryGroup:
    """The group of all permutations that keep a clustered layer's classes (its colouring).

    Attributes
    ----------
    n : int
        Points the group acts on.
    order : int
        Exact order (bliss).
    generators : tuple of tuple of int
        Array form, ``σ[i]`` the image of ``i``; :meth:`cycles` writes them for ``--generators``.
    orbits : list of list of int
        Orbits on the points, singletons included.
    name : str
        Structural name (:func:`polyequiv.discovery.structure.group_name`).
    classes : (channels, W) int array
        The layer's classes under the group (orbits of its weights, per channel; the derivation's
        ``class_of_weight`` for ``LayerSpec(group="custom", generators=…)``).
    residual : float
        ``‖W − P_G W‖ / ‖W‖`` with ``P_G`` the class-mean projection onto the tied weights.
    """

    n: int
    order: int
    generators: tuple[tuple[int, ...], ...]
    orbits: list[list[int]]
    name: str
    classes: np.ndarray
    residual: float

    @property
    def num_classes(self) -> int:
        """Classes of one channel's weights under the group."""
        return int(self.classes[0].max()) + 1

    def cycles(self) -> str:
        """Generators in cycle notation, as ``derive --generators`` reads them (``()``: trivial).

        >>> SymmetryGroup(3, 2, ((1, 0, 2),), [[0, 1], [2]], "S2", np.zeros((1, 1)), 0.0).cycles()
        '(0 1)'
        """
        moving = [g for g in self.generators if list(g) != list(range(self.n))]
        return ",".join(groups.format_cycles(g) for g in moving) or "()"

    @property
    def spec_label(self) -> str:
        """The group as a layer spec writes it: ``G8[(0 1),(0 1 2 3)]``."""
        return f"G{self.n}[{self.cycles()}]"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "order": self.order, "generators": self.cycles(),
                "spec": self.spec_label, "orbits": self.orbits, "classes": self.num_classes,
                "residual": round(self.residual, 6)}


def symmetry_group(layout: WeightLayout, labels: np.ndarray, *, name: bool = True) -> SymmetryGroup:
    """The automorphism group of the colouring ``labels`` ``(channels, W)`` of ``layout``'s weights.

    ``name=False`` skips the structural name (it costs a few more bliss calls): ``name`` is then ``""``.
    """
    layer = coloured_layer(layout, labels)
    generators = tuple(layer.generators())
    classes = group_classes(layout, generators)
    return SymmetryGroup(n=layout.n, order=layer.order(), generators=generators,
                         orbits=orbits(layout.n, list(generators)), name=group_name(layer) if name else "",
                         classes=classes, residual=projection_residual(layout.values, classes))


def group_classes(layout: WeightLayout, generators: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """``(channels, W)`` class ids of the layer's weights under the group (ids distinct across channels)."""
    base = derive(layout.spec("custom", generators), engine="sparse").graph.class_of_weight  # not cached:
    # every cut of the bisection has its own group, and a cache of them would hold their class arrays
    per_channel = int(base.max()) + 1
    return base[None, :] + per_channel * np.arange(layout.channels)[:, None]


def class_means(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each value replaced by the mean of its class (the projection onto the tied weights)."""
    flat_v, flat_c = np.asarray(values, dtype=np.float64).ravel(), np.asarray(classes).ravel()
    ids = np.unique(flat_c, return_inverse=True)[1]
    means = np.bincount(ids, weights=flat_v) / np.bincount(ids)
    return means[ids].reshape(np.shape(values))


def projection_residual(values: np.ndarray, classes: np.ndarray) -> float:
    """``‖W − P W‖ / ‖W‖``, ``P`` the class-mean projection (0 for zero weights)."""
    norm = float(np.sqrt(np.sum(np.asarray(values, dtype=np.float64) ** 2)))
    if norm == 0:
        return 0.0
    return float(np.sqrt(np.sum((values - class_means(values, classes)) ** 2)) / norm)
