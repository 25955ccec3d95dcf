"""One-dimensional clustering of weight values into classes of (nearly) equal values.

Why this is ours and not scikit-learn's ``KMeans`` / ``GaussianMixture``: the values are
one-dimensional, and the number of classes is chosen among ``k ≤ m/2`` (a layer tied by a small
group has up to ``m/2`` classes of 2 weights).  scikit-learn's estimators compute every
value-to-centre distance, ``O(m·k)`` per iteration or per likelihood, which is ``O(m²)`` over
that range (hours at ``m = 250,000``); on *sorted* values a class is an interval, so a Lloyd
iteration is a ``searchsorted`` of the ``k − 1`` midpoints (``O(m log m)``) and a mixture's
density needs only the classes next to a value's own.  ``tests/test_discovery.py`` checks both
against scikit-learn (``KMeans`` from the same initial centres, ``GaussianMixture(covariance_type=
"tied").bic`` at the same parameters) where scikit-learn's cost allows.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Below this fraction of the value spread, a cluster's spread counts as zero (exact ties).
RELATIVE_RESOLUTION = 1e-6

#: Classes separated by gaps this many times their own width are taken as they are (see cluster_values).
SCALE_GAP_RATIO = 20.0

#: Classes on either side of a value's own whose densities the mixture likelihood sums.
_NEIGHBOURS = 4


@dataclass(frozen=True)
class Clustering:
    """Classes found in one array of values, and how their number was chosen."""

    labels: np.ndarray
    num_clusters: int
    criterion: str


def cluster_values(
    values: Sequence[float] | np.ndarray,
    *,
    clusters: int | None = None,
    tolerance: float | None = None,
    refine: int = 10,
) -> Clustering:
    """Partition real values into classes of (nearly) equal values.

    Method
    ------
    Sort the ``m`` values; a clustering into ``k`` classes cuts the sorted list at its ``k − 1``
    widest gaps (single linkage in one dimension).  The number of classes is

    * ``tolerance`` given: cut every gap wider than ``tolerance``;
    * ``clusters`` given: that many;
    * otherwise, when some cut into ``2 ≤ k ≤ m/2`` classes is *well separated* — its narrowest
      cut gap at least 20 times (:data:`SCALE_GAP_RATIO`) the width (max − min) of its widest
      class, widths below ``ε·s`` (see below) counting as ``ε·s`` — the best separated such
      ``k``.  Trained weights are often tied at two scales (classes 10⁻² apart, sub-classes
      10⁻⁵ apart inside them), and the coarse, well-separated one is the symmetry;
    * otherwise the ``k ≤ m/2`` minimising the Bayesian information criterion of the
      one-dimensional Gaussian mixture the cut defines (class means, class frequencies as
      weights, one shared variance ``σ² = max(SSE_k/m, (ε·s)²)``):

          BIC(k) = −2 Σ_v ln Σ_j π_j N(v; μ_j, σ²) + 2k · ln m,

      ``SSE_k`` the within-class sum of squares, ``s`` the spread (max − min) of the values and
      ``ε = 10⁻⁶`` (:data:`RELATIVE_RESOLUTION`): a class spread below ``ε·s`` counts as an exact
      tie, so noiseless tied weights give exactly their classes.  The mixture likelihood (not the
      hard-assignment one) is what keeps a continuous spread of values from being cut into many
      small classes; each density sums the 4 nearest classes on either side of the value's own.
      ``k ≤ 64`` are all tried, then a 5 % geometric grid, then the grid is refined around the
      best point until its neighbours are adjacent.

    Then ``refine`` Lloyd iterations of 1-D k-means move the class boundaries to the midpoints
    between neighbouring class means (the classes stay intervals of the sorted values; with an
    explicit ``tolerance`` no refinement is done).  Labels are numbered in increasing value.

    >>> cluster_values([0.0, 1.0, 0.001, 1.002, 5.0, 5.001]).labels.tolist()
    [0, 1, 0, 1, 2, 2]
    >>> cluster_values([0.0, 1.0, 0.001, 1.002, 5.0, 5.001], tolerance=0.0001).num_clusters
    6
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    m = v.size
    if m == 0:
        raise ValueError("no values to cluster")
    if not np.all(np.isfinite(v)):
        raise ValueError("the weights contain NaN or infinite values")
    if clusters is not None and not 1 <= clusters <= m:
        raise ValueError(f"clusters must be between 1 and the number of values {m}, got {clusters}")
    if tolerance is not None and not tolerance >= 0:
        raise ValueError(f"tolerance must be ≥ 0, got {tolerance}")
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    gaps = np.diff(sorted_v)
    widest = np.argsort(-gaps, kind="stable")  # gap g sits between sorted positions g and g+1
    if tolerance is not None:
        k = 1 + int(np.count_nonzero(gaps > tolerance))
        criterion = f"tolerance {tolerance:g}"
    elif clusters is not None:
        k = clusters
        criterion = f"{clusters} clusters (given)"
    else:
        k, ratio = _scale_gap(sorted_v, widest)
        criterion = f"separation ≥ {SCALE_GAP_RATIO:g}"
        if ratio < SCALE_GAP_RATIO:
            k = _bic_choice(sorted_v, widest)
            criterion = "BIC (1-D Gaussian mixture, shared variance)"
    cuts = np.sort(widest[: k - 1]) + 1  # sorted positions where a new class starts
    if tolerance is None and k > 1:
        cuts = _lloyd(sorted_v, cuts, refine)
    sorted_labels = np.zeros(m, dtype=np.int64)
    sorted_labels[cuts] = 1
    sorted_labels = np.cumsum(sorted_labels)
    labels = np.empty(m, dtype=np.int64)
    labels[order] = sorted_labels
    return Clustering(labels=labels, num_clusters=int(sorted_labels[-1]) + 1, criterion=criterion)


def _scale_gap(sorted_v: np.ndarray, widest: np.ndarray) -> tuple[int, float]:
    """``(k, separation)`` of the best-separated cut into ``2 ≤ k ≤ m/2`` classes.

    The separation of the cut at the ``k − 1`` widest gaps is the narrowest cut gap over the widest
    class (max − min of its values), the class width floored at ``ε·s``; ``(1, 0)`` if no cut exists.
    Cuts are added one at a time; the widest class is kept in a heap (O(m log m) in all).
    """
    m = sorted_v.size
    limit = min(max(1, m // 2), m - 1)
    spread = float(sorted_v[-1] - sorted_v[0])
    if limit < 2 or spread == 0:
        return 1, 0.0
    floor = RELATIVE_RESOLUTION * spread
    gaps = np.diff(sorted_v)
    boundaries = [0, m]
    alive = {0: m}  # class start -> end (exclusive)
    heap = [(-spread, 0, m)]
    best_k, best = 1, 0.0
    for k, gap in enumerate(widest[: limit - 1].tolist(), start=2):
        narrowest_cut = float(gaps[gap])
        if narrowest_cut <= floor:
            break  # every further cut splits an exact tie
        cut = gap + 1
        at = bisect.bisect_left(boundaries, cut)
        lo, hi = boundaries[at - 1], boundaries[at]
        boundaries.insert(at, cut)
        alive[lo], alive[cut] = cut, hi
        heapq.heappush(heap, (-float(sorted_v[cut - 1] - sorted_v[lo]), lo, cut))
        heapq.heappush(heap, (-float(sorted_v[hi - 1] - sorted_v[cut]), cut, hi))
        while alive.get(heap[0][1]) != heap[0][2]:
            heapq.heappop(heap)  # a class split since it was pushed
        separation = narrowest_cut / max(-heap[0][0], floor)
        if separation > best:
            best_k, best = k, separation
    return best_k, best


def _bic_choice(sorted_v: np.ndarray, widest: np.ndarray) -> int:
    """The number of classes of least BIC when cutting the widest gaps one after the other.

    ``k = 1 … 64`` are all tried, then a geometric grid (steps of 5 %) up to ``m/2``, then up to
    32 points at a time between the neighbours of the best point until they are adjacent.
    """
    m = sorted_v.size
    limit = max(1, m // 2)
    spread = float(sorted_v[-1] - sorted_v[0])
    if spread == 0:
        return 1
    floor = RELATIVE_RESOLUTION * spread
    steps = int(math.log(max(limit / 64, 1)) / math.log(1.05))
    geometric = {round(64 * 1.05**step) for step in range(1, 1 + steps)}
    grid = sorted(set(range(1, min(limit, 64) + 1)) | geometric | {limit})
    grid = [k for k in grid if k <= limit]
    scores = {k: _bic(sorted_v, widest, k, floor) for k in grid}
    while True:  # narrow down between the grid neighbours of the best point, ≤ 32 new points a round
        best = min(scores, key=lambda k: (scores[k], k))
        known = sorted(scores)
        at = known.index(best)
        lo, hi = known[max(at - 1, 0)], known[min(at + 1, len(known) - 1)]
        step = max(1, (hi - lo) // 32)
        new = [k for k in range(lo, hi + 1, step) if k not in scores]
        if not new:
            return best
        scores.update({k: _bic(sorted_v, widest, k, floor) for k in new})


def _bic(sorted_v: np.ndarray, widest: np.ndarray, k: int, floor: float) -> float:
    """``−2 ln L + 2k ln m`` of the Gaussian mixture fitted to the ``k`` classes of the widest-gap
    cut: class means, class frequencies as weights, one shared σ (at least ``floor``); each
    density sums the ``_NEIGHBOURS`` nearest classes on either side of the value's own class.

    ``2k`` parameters (``k`` means, ``k − 1`` weights, one variance): the count and the likelihood of
    scikit-learn's ``GaussianMixture(covariance_type="tied").bic`` at these parameters, which it
    equals when ``k ≤ _NEIGHBOURS + 1`` (every class is a neighbour)."""
    m = sorted_v.size
    starts = np.zeros(m, dtype=np.int64)
    starts[np.sort(widest[: k - 1]) + 1] = 1
    segment = np.cumsum(starts)
    sizes = np.bincount(segment, minlength=k)
    means = np.bincount(segment, weights=sorted_v, minlength=k) / sizes
    sse = float(np.sum((sorted_v - means[segment]) ** 2))
    sigma = max(math.sqrt(sse / m), floor)
    offsets = np.arange(-_NEIGHBOURS, _NEIGHBOURS + 1)
    comps = segment[:, None] + offsets[None, :]
    valid = (comps >= 0) & (comps < k)
    comps = np.clip(comps, 0, k - 1)
    z = (sorted_v[:, None] - means[comps]) / sigma
    log_terms = np.where(valid, np.log(sizes[comps] / m) - 0.5 * z * z, -np.inf)
    top = log_terms.max(axis=1, keepdims=True)
    log_norm = math.log(sigma * math.sqrt(2 * math.pi))
    log_density = top[:, 0] + np.log(np.exp(log_terms - top).sum(axis=1)) - log_norm
    return float(-2 * log_density.sum() + 2 * k * math.log(m))


def _lloyd(sorted_v: np.ndarray, cuts: np.ndarray, iterations: int) -> np.ndarray:
    """Lloyd's k-means on sorted values: class boundaries move to midpoints of neighbouring means.

    The iterations of scikit-learn's ``KMeans(algorithm="lloyd")`` started from the classes' means,
    in ``O(m + k log m)`` each; it stops early rather than empty a class."""
    k = cuts.size + 1
    s1 = np.concatenate([[0.0], np.cumsum(sorted_v)])
    for _ in range(iterations):
        edges = np.concatenate([[0], cuts, [sorted_v.size]])
        means = (s1[edges[1:]] - s1[edges[:-1]]) / np.diff(edges)
        new = np.searchsorted(sorted_v, (means[:-1] + means[1:]) / 2, side="right")
        if new.size != k - 1 or np.any(np.diff(np.concatenate([[0], new, [sorted_v.size]])) <= 0):
            break  # a class would empty out: keep the previous boundaries
        if np.array_equal(new, cuts):
            break
        cuts = new
    return cuts


