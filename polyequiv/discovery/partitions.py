"""Distances between two partitions of the same weight positions: adjusted Rand index, matching distance.

A partition is a 1-D array of class labels, one per position; labels may be renamed freely.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Largest contingency table (classes × clusters) the exact matching distance is computed on.
_MATCHING_LIMIT = 4_000_000


def _labels(labels: Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"a partition is a 1-D array of class labels, got shape {array.shape}")
    return np.unique(array, return_inverse=True)[1].astype(np.int64)


def _same_size(a: np.ndarray, b: np.ndarray) -> None:
    if a.size != b.size:
        raise ValueError(f"partitions of different sizes: {a.size} and {b.size} positions")


def adjusted_rand_index(a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> float:
    """Adjusted Rand index of two partitions of the same ``m`` positions (Hubert & Arabie 1985).

    With ``n_ij`` the contingency table, ``a_i``/``b_j`` its row/column sums and ``C(x) = x(x−1)/2``,

        ARI = (Σ C(n_ij) − E) / (½(Σ C(a_i) + Σ C(b_j)) − E),   E = Σ C(a_i) · Σ C(b_j) / C(m).

    It is 1 for identical partitions (labels may be renamed), 0 in expectation for independent
    random ones, and may be negative.  Computed by scikit-learn's ``adjusted_rand_score``
    (which returns 1 when both partitions are the same degenerate one: all singletons, or one
    class); this function only checks that the inputs are two partitions of the same positions.

    >>> adjusted_rand_index([0, 0, 1, 1], [5, 5, 2, 2])
    1.0
    >>> round(adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]), 3)
    -0.5
    """
    from sklearn.metrics import adjusted_rand_score  # imported here: it costs every CLI start ~0.5 s

    a, b = _labels(a), _labels(b)
    _same_size(a, b)
    if a.size < 2:
        return 1.0
    return float(adjusted_rand_score(a, b))


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
    _same_size(a, b)
    m = a.size
    if m == 0:
        return 0.0
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    if ka == m or kb == m:  # all singletons on one side: each class of the other matches one position
        return 1.0 - min(ka, kb) / m
    if ka * kb > _MATCHING_LIMIT:
        return math.nan
    from scipy.optimize import linear_sum_assignment  # imported here: it costs every CLI start ~0.1 s

    keys, cells = np.unique(a * kb + b, return_counts=True)
    table = np.zeros((ka, kb))
    table[keys // kb, keys % kb] = cells
    r, c = linear_sum_assignment(table, maximize=True)
    return float(1.0 - table[r, c].sum() / m)
