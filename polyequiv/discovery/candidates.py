"""Candidate groups: Sₙ, Cₙ, Dₙ, tori, the trivial group, and the classes polyequiv derives for them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from polyequiv import groups
from polyequiv.derivation import derive
from polyequiv.spec import LayerSpec


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


