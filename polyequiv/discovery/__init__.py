"""Symmetry discovery, measured: which permutation group's weight ties does a learned weight tensor show?

Agarwal et al. (seed 003) train a generic fully-connected model with a sharing penalty and read
the symmetry off a heatmap of the learned weights.  This package turns the heatmap into numbers:

1. **Cluster** the weight values into classes (:mod:`.clustering`, one channel at a time).
2. **Rank candidates** (:mod:`.candidates`, :mod:`.ranking`): the classes polyequiv derives for
   Sₙ, Cₙ, Dₙ, the tori ``Z_H × Z_W`` (with the dihedral symmetries of the square when ``H = W``)
   and the trivial group, compared with the clustered partition by the adjusted Rand index and the
   matching distance (:mod:`.partitions`), and by the clustering-free residual ``‖W − P_G W‖/‖W‖``.
3. **Find the whole group** (:mod:`.automorphisms`, :mod:`.structure`, :mod:`.symmetry`): every
   permutation that keeps the clustered classes, as the automorphism group of a coloured digraph
   (bliss, through igraph): its exact order, generators in cycle notation (``derive --generators``),
   orbits and a structural name (``S4 × S4``, ``C3 ≀ S8``, …), whatever the group is.
4. **Check it** (:mod:`.robustness`): a residual bootstrap of the clustering, and the largest group
   whose projection residual stays within a tolerance.

Weight layouts are described in :mod:`.layouts`; readers of trained runs in :mod:`.runs`.

    >>> import numpy as np
    >>> n = 6
    >>> circulant = np.array([[float((i - k) % n) for i in range(n)] for k in range(n)])
    >>> result = discover(circulant)
    >>> result.best.name, result.best.ari
    ('C6', 1.0)
    >>> result.symmetry.name, result.symmetry.order
    ('C6', 6)
"""

from __future__ import annotations

from polyequiv.discovery.automorphisms import ColouredLayer, coloured_layer, orbits, preserves
from polyequiv.discovery.candidates import (
    CandidateGroup,
    candidate_groups,
    derived_classes,
    torus_dihedral_generators,
    torus_generators,
)
from polyequiv.discovery.clustering import RELATIVE_RESOLUTION, SCALE_GAP_RATIO, Clustering, cluster_values
from polyequiv.discovery.layouts import INPUTS, MODES, WeightLayout, read_layout
from polyequiv.discovery.partitions import adjusted_rand_index, matching_distance
from polyequiv.discovery.ranking import (
    MAX_POSITIONS,
    MAX_RESIDUAL,
    MIN_ARI,
    CandidateScore,
    Discovery,
    check_values,
    cluster_layout,
    discover,
    score_candidates,
)
from polyequiv.discovery.report import format_group, format_table, heatmap_grids
from polyequiv.discovery.robustness import BOOTSTRAP_DRAWS, RESIDUAL_TOLERANCE, Robustness, check_robustness
from polyequiv.discovery.structure import group_name
from polyequiv.discovery.symmetry import (
    SymmetryGroup,
    class_means,
    group_classes,
    projection_residual,
    symmetry_group,
)

__all__ = [
    "BOOTSTRAP_DRAWS",
    "INPUTS",
    "MAX_POSITIONS",
    "MAX_RESIDUAL",
    "MIN_ARI",
    "MODES",
    "RELATIVE_RESOLUTION",
    "RESIDUAL_TOLERANCE",
    "SCALE_GAP_RATIO",
    "CandidateGroup",
    "CandidateScore",
    "Clustering",
    "ColouredLayer",
    "Discovery",
    "Robustness",
    "SymmetryGroup",
    "WeightLayout",
    "adjusted_rand_index",
    "candidate_groups",
    "check_robustness",
    "check_values",
    "class_means",
    "cluster_layout",
    "cluster_values",
    "coloured_layer",
    "derived_classes",
    "discover",
    "format_group",
    "format_table",
    "group_classes",
    "group_name",
    "heatmap_grids",
    "matching_distance",
    "orbits",
    "preserves",
    "projection_residual",
    "read_layout",
    "score_candidates",
    "symmetry_group",
    "torus_dihedral_generators",
    "torus_generators",
]
