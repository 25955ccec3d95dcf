"""`discover`: cluster a learned weight tensor, rank candidate groups, and find its whole symmetry group."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyequiv.discovery.candidates import CandidateGroup, candidate_groups, derived_classes
from polyequiv.discovery.clustering import cluster_values
from polyequiv.discovery.layouts import WeightLayout, read_layout
from polyequiv.discovery.partitions import adjusted_rand_index, matching_distance
from polyequiv.discovery.robustness import Robustness, check_robustness
from polyequiv.discovery.symmetry import SymmetryGroup, class_means, projection_residual, symmetry_group
from polyequiv.errors import SizeLimitError

#: Below this ARI no candidate group counts as found, and the verdict is the trivial group.
MIN_ARI = 0.3

#: Above this residual ‖W − P_G W‖/‖W‖ a candidate does not count as found either.
MAX_RESIDUAL = 0.5

#: Weight values one call clusters (clustering makes about 200 passes over each channel's values).
MAX_POSITIONS = 250_000


@dataclass(frozen=True)
class CandidateScore:
    """How well one candidate group's classes match the clustered weights.

    ``ari`` and ``matching`` compare partitions; ``residual`` is clustering-free: the relative
    distance ``‖W − P_G W‖ / ‖W‖`` of the weights from the candidate's tied subspace
    (``P_G`` replaces each weight by its class mean: the orthogonal projection, since ordered
    indexing has equalities only; the same measure as ``penalty-mlp``'s ``equivariance_residual``).
    ``same_as`` names an earlier candidate with identical classes.
    """

    group: CandidateGroup
    num_classes: int
    ari: float
    matching: float
    residual: float
    same_as: str | None = None

    @property
    def name(self) -> str:
        return self.group.name

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.name, "classes": self.num_classes, "ari": _finite(self.ari),
                "matching_distance": _finite(self.matching), "residual": _finite(self.residual),
                "same_as": self.same_as}


@dataclass(frozen=True)
class Discovery:
    """The result of :func:`discover`: the clustering, every candidate's score, the verdict."""

    layout: WeightLayout
    labels: np.ndarray  # (channels, num_weights) clustered class ids, distinct across channels
    num_clusters: int
    criterion: str
    candidates: list[CandidateScore]  # ranked: ARI descending, then fewer classes first
    min_ari: float = MIN_ARI
    max_residual: float = MAX_RESIDUAL
    class_maps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    symmetry: SymmetryGroup | None = None
    robustness: Robustness | None = None

    @property
    def best(self) -> CandidateScore:
        """The top-ranked candidate if it is found (ARI ≥ ``min_ari`` and residual ≤
        ``max_residual``), else the trivial group.

        The residual guard matters when a layer has few classes: weights with no ties at all
        (an unconstrained MLP's rows) often cluster into one class, which agrees with every
        transitive group's single invariant class, but they lie far from that tied subspace.
        """
        top = self.candidates[0]
        if self.found(top):
            return top
        return next(c for c in self.candidates if c.name == "trivial")

    def found(self, candidate: CandidateScore) -> bool:
        return candidate.ari >= self.min_ari and candidate.residual <= self.max_residual

    @property
    def verdict(self) -> str:
        best, top = self.best, self.candidates[0]
        if best is top:
            return (f"{best.name} (ARI {best.ari:.3f}, residual {best.residual:.3f}, "
                    f"{best.num_classes} classes)")
        why = (f"ARI {top.ari:.3f} < {self.min_ari:g}" if top.ari < self.min_ari
               else f"residual {top.residual:.3f} > {self.max_residual:g}")
        return f"trivial: no candidate group found (best {top.name}: {why})"

    def candidate_classes(self, name: str) -> np.ndarray:
        """``(channels, num_weights)`` class ids of the candidate called ``name``."""
        return self.class_maps[name]

    def to_dict(self) -> dict[str, Any]:
        layout = self.layout
        found: dict[str, Any] = {}
        if self.symmetry is not None:
            found = {"group_order": self.symmetry.order, "generators": self.symmetry.cycles(),
                     "group": self.symmetry.to_dict()}
        if self.robustness is not None:
            found["robustness"] = self.robustness.to_dict()
        return {
            "shape": list(layout.shape), "n": layout.n, "degree": layout.degree, "mode": layout.mode,
            "input": layout.input,
            "channels": layout.channels, "positions": int(layout.values.size),
            "clusters": self.num_clusters, "criterion": self.criterion, "min_ari": self.min_ari,
            "max_residual": self.max_residual,
            "best": self.best.name, "verdict": self.verdict, **found,
            "candidates": [c.to_dict() for c in self.candidates],
        }


def discover(
    weights: Any,
    *,
    degree: int = 1,
    mode: str = "auto",
    clusters: int | None = None,
    tolerance: float | None = None,
    groups: Sequence[CandidateGroup] | None = None,
    min_ari: float = MIN_ARI,
    max_residual: float = MAX_RESIDUAL,
    input: str = "V",
    symmetry: bool = True,
    bootstrap: int = 0,
    residual_tolerance: float | None = None,
    seed: int = 0,
) -> Discovery:
    """Cluster a learned weight tensor, rank candidate groups by how well their ties match, and
    find the whole permutation group that keeps the clustered classes.

    Parameters
    ----------
    weights : array-like
        A linear layer's matrix ``(…, n_out, n_in)``, an invariant layer's vector, or a quadratic
        layer's tensor (``degree=2``); leading axes are channels (:mod:`polyequiv.discovery.layouts`).
    degree : {1, 2}
    mode : {"auto", "equivariant", "invariant"}
    input : {"V", "E", "V2"}
        The layer's input: a set (default), or a graph node model's ``(…, n, n, n)`` weight read as
        ``V2 → V`` or as the ``E → V`` combination the adjacency sees (:func:`read_layout`).
    clusters, tolerance :
        Override the BIC choice of the number of classes per channel (:func:`cluster_values`).
    groups :
        Candidates to try (default :func:`candidate_groups` of ``n``).
    min_ari, max_residual :
        The top candidate is found when its ARI is at least ``min_ari`` and its residual at most
        ``max_residual``; otherwise :attr:`Discovery.best` is the trivial group.
    symmetry :
        Compute :attr:`Discovery.symmetry`, the automorphism group of the clustered colouring
        (:func:`~polyequiv.discovery.symmetry.symmetry_group`).
    bootstrap, residual_tolerance, seed :
        With ``bootstrap > 0`` draws or a ``residual_tolerance``, :attr:`Discovery.robustness`
        (:func:`~polyequiv.discovery.robustness.robustness`, drawn from ``seed``).

    Returns
    -------
    Discovery
        Candidates ranked by adjusted Rand index (ties: fewer classes, the larger group, first).
        With several channels, ARI and matching distance are the means over channels of the
        per-channel scores (pooling the channels would count every cross-channel pair as an
        agreement of both partitions and inflate the index).

    Raises
    ------
    ValueError
        When the shape fits no layer (the message names it), or the values are not finite or
        all equal.
    SizeLimitError
        When the tensor holds more than :data:`MAX_POSITIONS` values (refused before any work).
    """
    layout = read_layout(weights, degree, mode, input)
    check_values(layout)
    labels, num_clusters, criterion = cluster_layout(layout, clusters, tolerance)
    ranked, class_maps = score_candidates(layout, labels, groups)
    found = symmetry_group(layout, labels) if symmetry else None
    checks = None
    if found is not None and (bootstrap > 0 or residual_tolerance is not None):
        checks = check_robustness(layout, labels, found, tolerance=tolerance, draws=bootstrap,
                                  residual_tolerance=residual_tolerance, seed=seed)
    return Discovery(layout=layout, labels=labels, num_clusters=num_clusters, criterion=criterion,
                     candidates=ranked, min_ari=min_ari, max_residual=max_residual, class_maps=class_maps,
                     symmetry=found, robustness=checks)


def check_values(layout: WeightLayout) -> None:
    """Refuse a tensor too large to cluster, values that are not finite, and constant weights."""
    values = layout.values
    if values.size > MAX_POSITIONS:
        raise SizeLimitError(
            f"{values.size:,} weight values in shape {layout.shape} exceed the {MAX_POSITIONS:,} "
            "that discovery clusters in one call; pass one channel or a sub-block",
            estimate=int(values.size), limit=MAX_POSITIONS)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ValueError(f"the weights contain {bad} NaN or infinite value(s) out of {values.size}")
    if values.size > 1 and np.all(values == values.flat[0]):
        raise ValueError(f"the weights are constant (all {values.flat[0]:g}): every permutation keeps them, "
                         "there is no symmetry to discover")


def cluster_layout(layout: WeightLayout, clusters: int | None = None, tolerance: float | None = None,
                   refine: int = 10) -> tuple[np.ndarray, int, str]:
    """Cluster each channel (:func:`cluster_values`): ``(labels (channels, W), classes, criterion)``,
    class ids distinct across channels."""
    labels = np.empty(layout.values.shape, dtype=np.int64)
    offset, criteria = 0, Counter()
    for channel, row in enumerate(layout.values):
        found = cluster_values(row, clusters=clusters, tolerance=tolerance, refine=refine)
        labels[channel] = found.labels + offset
        offset += found.num_clusters
        criteria[found.criterion] += 1
    criterion = ", ".join(name if layout.channels == 1 else f"{name} in {count} of {layout.channels} channels"
                          for name, count in criteria.most_common())
    return labels, offset, criterion


def score_candidates(layout: WeightLayout, labels: np.ndarray, groups: Sequence[CandidateGroup] | None
                     ) -> tuple[list[CandidateScore], dict[str, np.ndarray]]:
    """Every candidate's ARI, matching distance and residual, ranked; and each candidate's classes."""
    scores: list[CandidateScore] = []
    seen: dict[bytes, str] = {}
    class_maps: dict[str, np.ndarray] = {}
    for group in groups if groups is not None else candidate_groups(layout.n):
        if group.n != layout.n:
            raise ValueError(f"candidate {group.name} acts on {group.n} points, the weights on {layout.n}")
        base = derived_classes(group.spec(layout.degree, layout.mode, layout.input))
        per_class = int(base.max()) + 1
        classes = base[None, :] + per_class * np.arange(layout.channels)[:, None]
        class_maps[group.name] = classes
        key = base.tobytes()  # classes are numbered by first weight: equal partitions, equal arrays
        ari = float(np.mean([adjusted_rand_index(row, base) for row in labels]))
        matching = float(np.mean([matching_distance(row, base) for row in labels]))
        scores.append(CandidateScore(
            group=group, num_classes=per_class, ari=ari, matching=matching,
            residual=projection_residual(layout.values, classes), same_as=seen.get(key)))
        seen.setdefault(key, group.name)
    return sorted(scores, key=lambda s: (-s.ari, s.num_classes)), class_maps


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


__all__ = ["MAX_POSITIONS", "MAX_RESIDUAL", "MIN_ARI", "CandidateScore", "Discovery", "class_means",
           "cluster_layout", "discover", "score_candidates"]
