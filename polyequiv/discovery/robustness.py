"""How much the discovered group depends on the clustering: a residual bootstrap, and the largest
group whose projection residual stays under a tolerance.

**Bootstrap.** The clustered classes split the weights into class means and residuals
``W = P W + R``.  A draw keeps ``P W`` and shuffles ``R`` within each channel, cuts the result
into as many classes per channel as were found (or at the same ``tolerance``), and computes its
group; it *agrees* when that group equals the discovered one (same order, and each of its
generators keeps the discovered classes, so it is a subgroup of the same order).  It measures
where the cuts fall; how many cuts there are is what the residual sweep below varies.  Exact ties
have ``R = 0``: every draw agrees.

**Largest group within a residual tolerance.** Cutting each channel's sorted values at its
``k_c + δ`` widest gaps gives partitions nested in ``δ`` (``k_c`` the discovered number of classes),
so their automorphism groups ``G_δ`` shrink as ``δ`` grows, and the projection residual
``‖W − P_{G_δ} W‖ / ‖W‖`` (``P_G`` the mean over the orbits of ``G`` on the weights) can only fall.
A bisection over ``δ`` finds the smallest ``δ`` whose residual is at most the tolerance: the
largest group of this family that the weights fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polyequiv.discovery.automorphisms import coloured_layer, preserves
from polyequiv.discovery.clustering import cluster_values
from polyequiv.discovery.layouts import WeightLayout
from polyequiv.discovery.symmetry import SymmetryGroup, class_means, symmetry_group

#: Default tolerance on ‖W − P_G W‖/‖W‖ for the largest group the weights fit.
RESIDUAL_TOLERANCE = 0.05

#: Default number of bootstrap draws (the CLI's ``--bootstrap``).
BOOTSTRAP_DRAWS = 10


@dataclass(frozen=True)
class Robustness:
    """The bootstrap's agreement and the largest group within the residual tolerance."""

    draws: int
    agreeing: int
    orders: dict[int, int]  # group order -> draws that found it
    tolerance: float | None
    largest: SymmetryGroup | None
    classes_per_channel: list[int]  # the cut that gave ``largest``

    def to_dict(self) -> dict[str, Any]:
        largest = None
        if self.largest is not None:
            largest = {**self.largest.to_dict(), "clusters_per_channel": self.classes_per_channel}
        return {"bootstrap": {"draws": self.draws, "agreeing": self.agreeing,
                              "orders": {str(k): v for k, v in sorted(self.orders.items())}},
                "residual_tolerance": self.tolerance, "largest_within_tolerance": largest}


def check_robustness(layout: WeightLayout, labels: np.ndarray, found: SymmetryGroup, *,
                     tolerance: float | None = None, draws: int = BOOTSTRAP_DRAWS,
                     residual_tolerance: float | None = RESIDUAL_TOLERANCE, seed: int = 0) -> Robustness:
    """The bootstrap (``draws``; cut at ``tolerance`` if the discovery was) and the largest group
    within ``residual_tolerance`` (skipped when ``None``) of a discovered group."""
    agreeing, orders = bootstrap(layout, labels, found, draws, seed, tolerance)
    largest, cut = None, []
    if residual_tolerance is not None:
        counts = [len(np.unique(row)) for row in labels]
        largest, cut = largest_within(layout, counts, residual_tolerance)
    return Robustness(draws=draws, agreeing=agreeing, orders=orders, tolerance=residual_tolerance,
                      largest=largest, classes_per_channel=cut)


def bootstrap(layout: WeightLayout, labels: np.ndarray, found: SymmetryGroup, draws: int, seed: int,
              tolerance: float | None = None) -> tuple[int, dict[int, int]]:
    """``(draws agreeing with found, {order: draws})`` of the residual bootstrap (module docstring)."""
    rng = np.random.default_rng(seed)
    means = class_means(layout.values, labels)
    residuals = layout.values - means
    counts = [len(np.unique(row)) for row in labels]
    agreeing, orders = 0, {}
    for _ in range(draws):
        shuffled = np.stack([rng.permutation(row) for row in residuals])
        drawn = np.stack([cluster_values(row, clusters=None if tolerance is not None else k,
                                         tolerance=tolerance).labels
                          for row, k in zip(means + shuffled, counts, strict=True)])
        layer = coloured_layer(layout, drawn + np.arange(layout.channels)[:, None] * drawn.size)
        order = layer.order()
        orders[order] = orders.get(order, 0) + 1
        agreeing += order == found.order and all(preserves(layout, labels, g) for g in layer.generators())
    return agreeing, orders


def nested_labels(layout: WeightLayout, counts: list[int]) -> np.ndarray:
    """Each channel cut at its ``counts[c] − 1`` widest gaps (no refinement: nested in the counts)."""
    size = layout.values.shape[1]
    rows = [cluster_values(row, clusters=int(np.clip(k, 1, size)), refine=0).labels
            for row, k in zip(layout.values, counts, strict=True)]
    return np.stack(rows) + size * np.arange(layout.channels)[:, None]


def largest_within(layout: WeightLayout, counts: list[int], residual_tolerance: float
                   ) -> tuple[SymmetryGroup, list[int]]:
    """The group of the coarsest nested cut (``counts + δ`` classes) whose residual is within the
    tolerance, and that cut's classes per channel (bisection over ``δ``)."""
    size = layout.values.shape[1]
    low, high = 1 - max(counts), size - min(counts)  # high: every weight its own class, residual 0

    def at(delta: int) -> tuple[SymmetryGroup, list[int]]:
        cut = [int(np.clip(k + delta, 1, size)) for k in counts]
        return symmetry_group(layout, nested_labels(layout, cut), name=False), cut

    best = at(high)
    while low < high:
        middle = (low + high) // 2
        trial = at(middle)
        if trial[0].residual <= residual_tolerance:
            high, best = middle, trial
        else:
            low = middle + 1
    cut = best[1]
    return symmetry_group(layout, nested_labels(layout, cut)), cut
