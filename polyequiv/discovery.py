"""Symmetry discovery, measured: which permutation group's weight ties does a learned weight tensor show?

Agarwal et al. (seed 003) train a generic fully-connected model with a sharing penalty and read
the symmetry off a heatmap of the learned weights.  This module turns the heatmap into a number:

1. **Cluster** the weight values into classes (:func:`cluster_values`, one-dimensional clustering
   of the values of each channel: well-separated classes when there are such, else the number
   of classes of least BIC; see there).
2. **Derive** the classes of candidate groups with polyequiv's own derivation
   (``derive(LayerSpec(...)).graph.class_of_weight``): Sₙ, Cₙ, Dₙ, torus translations
   ``Z_H × Z_W`` of every grid ``H × W = n`` (pixels row-major, ``p = r·W + c``), the torus with
   the dihedral symmetries of the square when ``H = W`` (the groups ``torus`` and ``torus-dihedral``
   of :mod:`polyequiv.groups`), and the trivial group.
3. **Compare** the clustered partition of weight positions with each candidate's partition by
   the adjusted Rand index (:func:`adjusted_rand_index`, 1 for identical partitions, ≈ 0 for
   unrelated ones) and the matching distance of Yeh et al. 2022 (:func:`matching_distance`, the
   fraction of positions that must change class).  Candidates are ranked by ARI.

Weight layouts (what :func:`discover` reads)
--------------------------------------------
Convention as everywhere: ``(σ·x)_i = x_{σ(i)}``, equivariant means ``f(σ·x) = σ·f(x)``.

* degree 1, equivariant: shape ``(…, n, n)``, ``W[k, i]`` = ``W^k_i`` (output k, input i);
* degree 1, invariant: shape ``(…, n)`` or ``(…, 1, n)``, ``W[i]`` = ``W_i``;
* degree 2, equivariant: shape ``(…, n, n, n)``, ``W[k, i, j]``; the layer only sees the monomial
  coefficient ``W[k,i,j] + W[k,j,i]`` (``W[k,i,i]`` on the diagonal), which is what is clustered
  (numbered as :class:`polyequiv.indexing.WeightIndex` numbers ordered weights);
* degree 2, invariant: shape ``(…, n, n)``, ``W[i, j]``, symmetrised likewise.

Leading axes ``…`` are channels (e.g. the seed's one matrix per class): each channel is
clustered on its own and scored against its own copy of the candidate's classes (the derivation
ties nothing across independent channels); scores are averaged over channels.  With
``mode="auto"`` a square last pair is equivariant and a vector (or one row) is invariant;
anything else is refused with a ``ValueError`` naming the shape.

    >>> import numpy as np
    >>> n = 6
    >>> circulant = np.array([[float((i - k) % n) for i in range(n)] for k in range(n)])
    >>> result = discover(circulant)
    >>> result.best.name, result.best.ari
    ('C6', 1.0)
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from polyequiv import groups
from polyequiv.derivation import derive
from polyequiv.errors import SizeLimitError
from polyequiv.spec import LayerSpec

MODES = ("auto", "equivariant", "invariant")
#: Input representations a layout can read (output ``V``): the set ``V`` (any degree), and, for a
#: linear node model on graphs, ordered pairs ``V2`` (``W[k, i, j]`` as given) or edges ``E``
#: (``W[k, i, j] + W[k, j, i]`` on ``i < j``: all an adjacency matrix, symmetric with a zero
#: diagonal, lets the data determine).
INPUTS = ("V", "E", "V2")

#: Below this fraction of the value spread, a cluster's spread counts as zero (exact ties).
RELATIVE_RESOLUTION = 1e-6

#: Below this ARI no candidate group counts as found, and the verdict is the trivial group.
MIN_ARI = 0.3

#: Above this residual ‖W − P_G W‖/‖W‖ a candidate does not count as found either.
MAX_RESIDUAL = 0.5

#: Classes separated by gaps this many times their own width are taken as they are (see cluster_values).
SCALE_GAP_RATIO = 20.0

#: Weight values one call clusters (clustering makes about 200 passes over each channel's values).
MAX_POSITIONS = 250_000

#: Largest contingency table (classes × clusters) the exact matching distance is computed on.
_MATCHING_LIMIT = 4_000_000


# ---------------------------------------------------------------------- partitions
def _labels(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"a partition is a 1-D array of class labels, got shape {array.shape}")
    return np.unique(array, return_inverse=True)[1].astype(np.int64)


def _contingency(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nonzero cells ``n_ij`` (with their row and column ids) of the contingency table of ``a``, ``b``."""
    width = int(b.max()) + 1 if b.size else 1
    keys, counts = np.unique(a * width + b, return_counts=True)
    rows, cols = np.divmod(keys, width)
    return rows, cols, counts


def _pairs(counts: np.ndarray) -> float:
    counts = counts.astype(np.float64)
    return float(np.sum(counts * (counts - 1) / 2))


def adjusted_rand_index(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    """Adjusted Rand index of two partitions of the same ``m`` positions (Hubert & Arabie 1985).

    With ``n_ij`` the contingency table, ``a_i``/``b_j`` its row/column sums and ``C(x) = x(x−1)/2``,

        ARI = (Σ C(n_ij) − E) / (½(Σ C(a_i) + Σ C(b_j)) − E),   E = Σ C(a_i) · Σ C(b_j) / C(m).

    It is 1 for identical partitions (labels may be renamed), 0 in expectation for independent
    random ones, and may be negative.  When both partitions are the same degenerate partition
    (all singletons, or one class) the denominator vanishes and the value is 1, as in
    scikit-learn's ``adjusted_rand_score``.

    >>> adjusted_rand_index([0, 0, 1, 1], [5, 5, 2, 2])
    1.0
    >>> round(adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]), 3)
    -0.5
    """
    a, b = _labels(a), _labels(b)
    if a.size != b.size:
        raise ValueError(f"partitions of different sizes: {a.size} and {b.size} positions")
    m = a.size
    if m < 2:
        return 1.0
    _, _, cells = _contingency(a, b)
    index = _pairs(cells)
    rows, cols = _pairs(np.bincount(a)), _pairs(np.bincount(b))
    expected = rows * cols / (m * (m - 1) / 2)
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def matching_distance(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    """Partition (matching) distance, normalised: the fraction of positions that must move class.

    ``1 − max_π Σ_i n_{i,π(i)} / m`` over one-to-one matchings ``π`` of the classes of ``a``
    with those of ``b`` (Gusfield 2002; the distance Yeh et al. 2022 use to compare a learned
    sharing scheme with the true one).  0 for identical partitions.  Solved exactly with
    ``scipy.optimize.linear_sum_assignment``; ``nan`` when the table exceeds 4·10⁶ cells and
    neither partition is all singletons (then the matching is ``min(#classes)`` in closed form).

    >>> matching_distance([0, 0, 1, 1], [1, 1, 0, 0])
    0.0
    >>> matching_distance([0, 0, 0, 0], [0, 0, 1, 1])
    0.5
    """
    a, b = _labels(a), _labels(b)
    if a.size != b.size:
        raise ValueError(f"partitions of different sizes: {a.size} and {b.size} positions")
    m = a.size
    if m == 0:
        return 0.0
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    if ka == m or kb == m:  # all singletons on one side: each class of the other matches one position
        return 1.0 - min(ka, kb) / m
    if ka * kb > _MATCHING_LIMIT:
        return math.nan
    from scipy.optimize import linear_sum_assignment  # imported here: it costs every CLI start ~0.1 s

    rows, cols, cells = _contingency(a, b)
    table = np.zeros((ka, kb))
    table[rows, cols] = cells
    r, c = linear_sum_assignment(table, maximize=True)
    return float(1.0 - table[r, c].sum() / m)


# ---------------------------------------------------------------------- clustering
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


_NEIGHBOURS = 4


def _bic(sorted_v: np.ndarray, widest: np.ndarray, k: int, floor: float) -> float:
    """``−2 ln L + 2k ln m`` of the Gaussian mixture fitted to the ``k`` classes of the widest-gap
    cut: class means, class frequencies as weights, one shared σ (at least ``floor``); each
    density sums the ``_NEIGHBOURS`` nearest classes on either side of the value's own class."""
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
    """Lloyd's k-means on sorted values: class boundaries move to midpoints of neighbouring means."""
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


# ---------------------------------------------------------------------- candidate groups
def torus_generators(height: int, width: int) -> list[tuple[int, ...]]:
    """Translations of the ``height × width`` torus on pixels ``p = r·width + c`` (row-major): the
    generators of :func:`polyequiv.groups.torus_generators` (``--group torus``), kept under this name.

    >>> torus_generators(2, 3)
    [(3, 4, 5, 0, 1, 2), (1, 2, 0, 4, 5, 3)]
    """
    return groups.torus_generators((height, width))


def torus_dihedral_generators(side: int) -> list[tuple[int, ...]]:
    """Translations of the ``side × side`` torus plus the quarter turn ``(r, c) ↦ (c, −r)`` and the
    mirror ``(r, c) ↦ (r, −c)``: :func:`polyequiv.groups.torus_dihedral_generators` (``--group
    torus-dihedral``), kept under this name."""
    return groups.torus_dihedral_generators((side, side))


@dataclass(frozen=True)
class CandidateGroup:
    """A named permutation group on ``0 .. n-1`` that :func:`discover` tries."""

    name: str
    n: int
    kind: str  # LayerSpec.group
    generators: tuple[tuple[int, ...], ...] = ()
    shape: tuple[int, int] | None = None  # the grid of the torus groups (LayerSpec.shape)

    def spec(self, degree: int, mode: str, input: str = "V") -> LayerSpec:
        output = "1" if mode == "invariant" else "V"
        return LayerSpec(n=self.n, degree=degree, mode=mode, group=self.kind, generators=self.generators,
                         shape=self.shape, input=input, output=output)


def candidate_groups(n: int) -> list[CandidateGroup]:
    """Sₙ, Cₙ, Dₙ, every torus ``T{H}x{W}`` with ``H·W = n`` and ``H, W ≥ 2``, ``T{s}x{s}+D4`` when
    ``n = s²``, and the trivial group (each weight its own class).

    >>> [group.name for group in candidate_groups(4)]
    ['S4', 'C4', 'D4', 'T2x2', 'T2x2+D4', 'trivial']
    """
    if n < 2:
        raise ValueError(f"symmetry discovery needs at least 2 elements, got n={n}")
    found = [CandidateGroup(f"S{n}", n, "symmetric"), CandidateGroup(f"C{n}", n, "cyclic"),
             CandidateGroup(f"D{n}", n, "dihedral")]
    for height in range(2, n // 2 + 1):
        if n % height == 0:
            found.append(CandidateGroup(f"T{height}x{n // height}", n, "torus", shape=(height, n // height)))
    side = math.isqrt(n)
    if side * side == n and side >= 2:
        found.append(CandidateGroup(f"T{side}x{side}+D4", n, "torus-dihedral", shape=(side, side)))
    found.append(CandidateGroup("trivial", n, "custom", (tuple(range(n)),)))
    return found


@lru_cache(maxsize=256)
def derived_classes(spec: LayerSpec) -> np.ndarray:
    """Class id of every weight of ``spec`` (ids as :class:`polyequiv.indexing.WeightIndex` numbers
    them), from polyequiv's derivation; read-only."""
    classes = derive(spec, engine="sparse").graph.class_of_weight.copy()
    classes.setflags(write=False)
    return classes


# ---------------------------------------------------------------------- weight layouts
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
        if len(shape) == 1 or shape[-2] == 1:
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


# ---------------------------------------------------------------------- discovery
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
        return {
            "shape": list(layout.shape), "n": layout.n, "degree": layout.degree, "mode": layout.mode,
            "input": layout.input,
            "channels": layout.channels, "positions": int(layout.values.size),
            "clusters": self.num_clusters, "criterion": self.criterion, "min_ari": self.min_ari,
            "max_residual": self.max_residual,
            "best": self.best.name, "verdict": self.verdict,
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
) -> Discovery:
    """Cluster a learned weight tensor and rank candidate groups by how well their ties match.

    Parameters
    ----------
    weights : array-like
        A linear layer's matrix ``(…, n_out, n_in)``, an invariant layer's vector, or a quadratic
        layer's tensor (``degree=2``); leading axes are channels (module docstring).
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
        When the shape fits no layer (the message names it), or the values are not finite.
    SizeLimitError
        When the tensor holds more than :data:`MAX_POSITIONS` values (refused before any work).
    """
    layout = read_layout(weights, degree, mode, input)
    if layout.values.size > MAX_POSITIONS:
        raise SizeLimitError(
            f"{layout.values.size:,} weight values in shape {layout.shape} exceed the {MAX_POSITIONS:,} "
            "that discovery clusters in one call; pass one channel or a sub-block",
            estimate=int(layout.values.size), limit=MAX_POSITIONS)
    labels = np.empty(layout.values.shape, dtype=np.int64)
    offset, criteria = 0, Counter()
    for channel, row in enumerate(layout.values):
        found = cluster_values(row, clusters=clusters, tolerance=tolerance)
        labels[channel] = found.labels + offset
        offset += found.num_clusters
        criteria[found.criterion] += 1
    criterion = ", ".join(name if layout.channels == 1 else f"{name} in {count} of {layout.channels} channels"
                          for name, count in criteria.most_common())
    norm = float(np.sqrt(np.sum(layout.values**2)))
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
            residual=_residual(layout.values.ravel(), classes.ravel(), norm), same_as=seen.get(key)))
        seen.setdefault(key, group.name)
    ranked = sorted(scores, key=lambda s: (-s.ari, s.num_classes))
    return Discovery(layout=layout, labels=labels, num_clusters=offset, criterion=criterion,
                     candidates=ranked, min_ari=min_ari, max_residual=max_residual, class_maps=class_maps)


def class_means(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each value replaced by the mean of its class (the projection onto the tied weights)."""
    flat_v, flat_c = np.asarray(values, dtype=np.float64).ravel(), np.asarray(classes).ravel()
    ids = np.unique(flat_c, return_inverse=True)[1]
    means = np.bincount(ids, weights=flat_v) / np.bincount(ids)
    return means[ids].reshape(np.shape(values))


def _residual(values: np.ndarray, classes: np.ndarray, norm: float) -> float:
    if norm == 0:
        return 0.0
    return float(np.sqrt(np.sum((values - class_means(values, classes)) ** 2)) / norm)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def format_table(result: Discovery) -> str:
    """The ranked candidates as an aligned text table."""
    header = ("rank", "group", "classes", "ARI", "matching", "residual", "note")
    rows = [header]
    for rank, c in enumerate(result.candidates, start=1):
        note = f"same classes as {c.same_as}" if c.same_as else ""
        matching = "—" if math.isnan(c.matching) else f"{c.matching:.3f}"
        rows.append((str(rank), c.name, str(c.num_classes), f"{c.ari:.3f}", matching,
                     f"{c.residual:.3f}", note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i in (1, 6) else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    return "\n".join(lines)


def heatmap_grids(result: Discovery) -> list[tuple[str, np.ndarray]]:
    """``(title, 2-D grid)`` pairs to draw side by side: the learned weights, the clustered classes
    and the best candidate's classes (each class drawn as its mean weight).

    Rows are outputs (channels stacked one below the other), columns are inputs (monomials
    ``i ≤ j`` in lexicographic order for a quadratic layer).

    >>> import numpy as np
    >>> [(title.split(" ")[0], grid.shape) for title, grid in heatmap_grids(discover(np.eye(4)))]
    [('learned', (4, 4)), ('clustered', (4, 4)), ('S4', (4, 4))]
    """
    layout = result.layout
    rows = layout.channels * (layout.n if layout.mode == "equivariant" else 1)
    best = result.best

    def grid(values: np.ndarray) -> np.ndarray:
        return values.reshape(rows, -1)

    return [
        ("learned weights", grid(layout.values)),
        (f"clustered classes ({result.num_clusters})", grid(class_means(layout.values, result.labels))),
        (f"{best.name} classes ({best.num_classes}, ARI {best.ari:.2f})",
         grid(class_means(layout.values, result.candidate_classes(best.name)))),
    ]
