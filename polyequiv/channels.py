"""Channel blocks of an equivariant polynomial layer: which entries share a parameter, exactly.

With channels the layer reads ``x`` of shape ``(n, c_in)`` and computes

    y_{k,o} = Σ_m Σ_{c₁..c_e} V[k, m, o, c₁, …, c_e] · x_{m₁,c₁} ⋯ x_{m_e,c_e}

over the sorted monomials ``m`` (ordered indexing; ``e`` real factors, the
rest bias factors ``x_b ≡ 1``).  The group permutes elements, never channels.

Attaching a free ``c_out × c_in^e`` block to each scalar class is **not**
equivariant: a permutation can map a slot onto one of its class whose factors
come in another order, so the block must be re-oriented (its channel axes
permuted), and some classes map onto themselves with their factors permuted
(``x_i²``; for Sₙ also ``x_i x_j`` with ``i, j ≠ k``), which forces their block to
be invariant under those axis permutations.  This module works that out from
the generators:

1. a breadth-first search over each slot orbit records, for every slot, the
   *orientation* ``ρ`` that matches its factor positions with those of the
   orbit's representative (the smallest slot);
2. every edge that closes a cycle yields a position permutation induced by
   the stabiliser of the representative (Schreier generators), and equal
   factors of the representative are interchangeable; together they generate
   the *factor symmetry group* ``H`` of the orbit;
3. the block of the orbit is a ``c_out × c_in^e`` tensor invariant under ``H``,
   parametrised by one value per ``H``-orbit of channel tuples, so its size is
   ``c_out · #(H-orbits on [c_in]^e)``: ``c_out·c_in`` for a linear term,
   ``c_out·c_in(c_in+1)/2`` for ``x_i²``, ``c_out·c_in²`` for ``x_k x_i``.

With ``c_in = c_out = 1`` every orbit has one parameter, so the count is the
number of slot orbits: the ``free_parameters`` of the ordered layer.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from polyequiv.engines.sparse import monomial_images, slot_pairs
from polyequiv.graph import component_labels
from polyequiv.indexing import WeightIndex
from polyequiv.spec import LayerSpec


@dataclass(frozen=True)
class SlotOrbit:
    """One orbit of slots and the symmetry of its channel block.

    Attributes
    ----------
    representative : tuple
        ``(k, m)`` of the smallest slot (``k`` is ``None`` when invariant).
    real_factors : int
        ``e``, the number of non-bias factors of its monomials.
    symmetry : tuple of tuples
        Generators of ``H`` as permutations of the ``e`` real factor positions.
    slots : np.ndarray
        Slot ids of the orbit.
    orientations : np.ndarray
        ``(len(slots), e)``: position ``j`` of a slot's monomial corresponds to
        position ``orientations[s, j]`` of the representative.
    """

    representative: tuple[int | None, tuple[int, ...]]
    real_factors: int
    symmetry: tuple[tuple[int, ...], ...]
    slots: np.ndarray
    orientations: np.ndarray

    def channel_orbits(self, channels: int) -> np.ndarray:
        """Orbit id (numbered by first appearance in lexicographic order) of every channel tuple
        in ``[channels]^e``, flattened in C order: shape ``(channels**e,)``."""
        return _tuple_orbits(self.real_factors, channels, self.symmetry)

    def block_size(self, channels: int) -> int:
        """Free values of the block per output channel: ``#H-orbits on [channels]^e``."""
        return int(self.channel_orbits(channels).max()) + 1


class ChannelStructure:
    """Slot orbits with orientations and factor symmetries for one (ordered) layer spec.

    Examples
    --------
    >>> structure = ChannelStructure(LayerSpec(n=5, degree=2))
    >>> [(o.representative, o.block_size(3)) for o in structure.orbits]
    [((0, (0, 0)), 6), ((0, (0, 1)), 9), ((0, (1, 1)), 6), ((0, (1, 2)), 6)]
    """

    def __init__(self, spec: LayerSpec) -> None:
        if spec.indexing != "ordered":
            spec = dataclasses.replace(spec, indexing="ordered", gauge="none")
        self.spec = spec
        self.index = WeightIndex(spec)

    @cached_property
    def orbits(self) -> list[SlotOrbit]:
        return _slot_orbits(self.index)

    @cached_property
    def orbit_of_slot(self) -> np.ndarray:
        labels = np.empty(self.index.num_slots, dtype=np.int64)
        for number, orbit in enumerate(self.orbits):
            labels[orbit.slots] = number
        return labels

    def parameter_count(self, in_channels: int, out_channels: int) -> int:
        """Trainable values of the tied channel layer."""
        return out_channels * sum(orbit.block_size(in_channels) for orbit in self.orbits)


def real_factor_count(index: WeightIndex) -> np.ndarray:
    """Number of non-bias factors of each monomial."""
    return (index.monomials < index.spec.num_coordinates).sum(axis=1)


def _slot_orbits(index: WeightIndex) -> list[SlotOrbit]:
    """Orbits with orientations, by a breadth-first search from every orbit's smallest slot at once.

    Level by level, every generator moves the whole frontier (vectorised): a slot
    reached for the first time takes the orientation carried along the edge; a
    slot reached again with a different orientation yields a relation, an
    element of the factor symmetry group of its orbit.
    """
    spec = index.spec
    big_m, d = index.num_monomials, spec.degree
    orbit_of = component_labels(index.num_slots, slot_pairs(index))
    _, representatives = np.unique(orbit_of, return_index=True)
    moves = []
    for sigma in spec.group_generators:
        extended = spec.input_permutation(sigma)  # σ on coordinates (polyequiv.reps), bias fixed
        position_map = np.argsort(extended[index.monomials], axis=1, kind="stable")  # new j ← old position
        outputs = spec.output_permutation(sigma)
        moves.append((outputs, monomial_images(index, sigma), position_map))
    orientation = np.full((index.num_slots, d), -1, dtype=np.int64)
    orientation[representatives] = np.arange(d)
    visited = np.zeros(index.num_slots, dtype=bool)
    visited[representatives] = True
    relations: set[tuple[int, tuple[int, ...]]] = set()
    frontier = representatives if moves else representatives[:0]
    while frontier.size:
        reached = []
        outputs_now, monomials_now = np.divmod(frontier, big_m)
        for outputs, image, position_map in moves:
            targets = outputs[outputs_now] * big_m + image[monomials_now]
            carried = np.take_along_axis(orientation[frontier], position_map[monomials_now], axis=1)
            fresh = np.nonzero(~visited[targets])[0]
            new_targets, first = np.unique(targets[fresh], return_index=True)
            orientation[new_targets] = carried[fresh[first]]
            visited[new_targets] = True
            reached.append(new_targets)
            differ = np.nonzero((orientation[targets] != carried).any(axis=1))[0]
            if differ.size:
                relation = np.empty((differ.size, d), dtype=np.int64)
                np.put_along_axis(relation, orientation[targets[differ]], carried[differ], axis=1)
                rows = np.unique(np.column_stack([orbit_of[targets[differ]], relation]), axis=0)
                relations.update((int(r[0]), tuple(int(v) for v in r[1:])) for r in rows)
        frontier = np.unique(np.concatenate(reached))
    reals = real_factor_count(index)
    members = np.argsort(orbit_of, kind="stable")
    bounds = np.cumsum(np.bincount(orbit_of))[:-1]
    orbits = []
    for number, (start, slots) in enumerate(zip(representatives, np.split(members, bounds), strict=True)):
        k0, m0 = divmod(int(start), big_m)
        rep_monomial = tuple(int(i) for i in index.monomials[m0])
        symmetry = {perm for orbit, perm in relations if orbit == number}
        for j in range(d - 1):  # equal factors of the representative are interchangeable
            if rep_monomial[j] == rep_monomial[j + 1]:
                swap = list(range(d))
                swap[j], swap[j + 1] = j + 1, j
                symmetry.add(tuple(swap))
        e = int(reals[m0])
        real_symmetry = {p[:e] for p in symmetry if p[:e] != tuple(range(e))}
        orbits.append(
            SlotOrbit(
                representative=(k0 if spec.equivariant else None, rep_monomial),
                real_factors=e,
                symmetry=tuple(sorted(real_symmetry)),
                slots=slots,
                orientations=orientation[slots][:, :e].copy(),
            )
        )
    return orbits


def _tuple_orbits(length: int, channels: int, symmetry: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Orbits of the position permutations ``symmetry`` acting on ``[channels]^length``."""
    size = channels**length
    labels = np.full(size, -1, dtype=np.int64)
    if length == 0:
        return np.zeros(1, dtype=np.int64)
    strides = channels ** np.arange(length - 1, -1, -1)
    tuples = np.array(list(itertools.product(range(channels), repeat=length)), dtype=np.int64)
    images = [tuples[:, list(np.argsort(p))] @ strides for p in symmetry]
    next_label = 0
    for start in range(size):
        if labels[start] >= 0:
            continue
        labels[start] = next_label
        stack = [start]
        while stack:
            code = stack.pop()
            for image in images:
                target = int(image[code])
                if labels[target] < 0:
                    labels[target] = next_label
                    stack.append(target)
        next_label += 1
    return labels
