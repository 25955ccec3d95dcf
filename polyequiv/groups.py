"""Permutation groups given by generators, and the one action used everywhere.

Convention (used by every module of polyequiv)
----------------------------------------------
Set elements are numbered ``0 .. n-1``.  A permutation ``sigma`` is stored in
array form, ``sigma[i] = σ(i)``, and acts on an input vector by

    (σ·x)_i = x_{σ(i)}.

A map ``f: Rⁿ → Rⁿ`` is *equivariant* when ``f(σ·x) = σ·f(x)``, that is
``f_k(σ·x) = f_{σ(k)}(x)`` for every output ``k``; a map ``f: Rⁿ → R`` is
*invariant* when ``f(σ·x) = f(x)``.  Both conditions hold for a whole group as
soon as they hold for a set of generators (the lecture's "generated group"
lemma), which is why the engines only look at generators while
:mod:`polyequiv.verify` checks random elements of the whole group.

Groups are built with :mod:`sympy.combinatorics` (imported only when a group
object is needed: orders of custom groups, random elements); cycle notation
follows sympy's, e.g. ``"(0 1)(2 3),(0 2 4)"`` is two generators.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from polyequiv.errors import SpecError

if TYPE_CHECKING:
    from sympy.combinatorics import PermutationGroup

#: Array-form permutation: ``perm[i] = σ(i)``.
ArrayPerm = tuple[int, ...]

GROUP_KINDS = ("symmetric", "cyclic", "dihedral", "custom", "torus", "torus-dihedral")
#: Groups acting on the pixels of an H×W grid (they need a ``shape``).
GRID_KINDS = ("torus", "torus-dihedral")
TRANSPOSITION_SETS = ("adjacent", "all", "minimal")

#: Array-form shape of a grid: ``(H, W)`` rows × columns; a 1D signal of length H is ``(H, 1)``.
GridShape = tuple[int, int]


def symmetric_generators(n: int, transpositions: str = "adjacent") -> list[ArrayPerm]:
    """Generators of the symmetric group Sₙ.

    Parameters
    ----------
    n : int
        Number of points.
    transpositions : {"adjacent", "all", "minimal"}
        ``"all"``: the n(n−1)/2 transpositions (i j), as the seed paper does;
        ``"adjacent"``: the n−1 transpositions (i i+1);
        ``"minimal"``: the pair {(0 1), (0 1 … n−1)}.

    Examples
    --------
    >>> symmetric_generators(3, "adjacent")
    [(1, 0, 2), (0, 2, 1)]
    """
    if transpositions == "all":
        pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
        return [_transposition(n, a, b) for a, b in pairs]
    if transpositions == "adjacent":
        return [_transposition(n, a, a + 1) for a in range(n - 1)]
    if transpositions == "minimal":
        if n < 2:
            return []
        gens = [_transposition(n, 0, 1), _shift(n)]
        return _dedupe(gens)
    raise SpecError(
        f"unknown transposition set {transpositions!r}; choose one of {', '.join(TRANSPOSITION_SETS)}"
    )


def cyclic_generators(n: int) -> list[ArrayPerm]:
    """The shift σ(i) = i + 1 mod n generating the cyclic group Cₙ (the discrete circle)."""
    return _dedupe([_shift(n)])


def dihedral_generators(n: int) -> list[ArrayPerm]:
    """The shift and the reflection σ(i) = −i mod n generating the dihedral group Dₙ (order 2n for n ≥ 3)."""
    reflection = tuple((-i) % n for i in range(n))
    return _dedupe([_shift(n), reflection])


def parse_shape(text: str) -> GridShape:
    """``"10x10"`` → ``(10, 10)``; ``"32x1"`` or ``"32"`` → ``(32, 1)`` (a 1D signal, H × 1).

    >>> parse_shape("4x6"), parse_shape("10")
    ((4, 6), (10, 1))

    Raises
    ------
    SpecError
        If the text is not ``H`` or ``HxW`` with positive integers.
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:[x×]\s*(\d+))?\s*", str(text))
    if not match:
        raise SpecError(f"grid shape {text!r} is not HxW (e.g. 10x10, or 10 for a 1D signal 10x1)")
    shape = (int(match.group(1)), int(match.group(2) or 1))
    check_shape(shape)
    return shape


def check_shape(shape: object) -> GridShape:
    """``shape`` as an ``(H, W)`` pair of positive ints; :class:`SpecError` naming it otherwise."""
    if (
        not isinstance(shape, tuple | list)
        or len(shape) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
    ):
        raise SpecError(f"grid shape must be a pair (H, W) of integers, got {shape!r}")
    if min(shape) < 1:
        raise SpecError(f"grid shape {shape[0]}x{shape[1]} must have H ≥ 1 and W ≥ 1")
    return (int(shape[0]), int(shape[1]))


def torus_generators(shape: GridShape) -> list[ArrayPerm]:
    """The two unit translations of an H×W torus (pixels numbered row-major, ``p = r·W + c``).

    ``σ_row(r, c) = (r + 1 mod H, c)`` and ``σ_col(r, c) = (r, c + 1 mod W)``, so
    ``(σ·x)(r, c) = x(r + 1, c)``: the lecture's ``τ_u(x)_i = x_{i+u}`` in each axis.
    The group they generate is ``C_H × C_W`` (order ``H·W``); a 1D signal ``(H, 1)``
    gives the cyclic group ``C_H`` (the trivial column shift is dropped).

    >>> torus_generators((2, 3))
    [(3, 4, 5, 0, 1, 2), (1, 2, 0, 4, 5, 3)]
    """
    height, width = check_shape(shape)
    rows, cols = np.divmod(np.arange(height * width), width)
    down = ((rows + 1) % height) * width + cols
    right = rows * width + (cols + 1) % width
    return _dedupe([tuple(down.tolist()), tuple(right.tolist())])


def torus_dihedral_generators(shape: GridShape) -> list[ArrayPerm]:
    """Translations of a square N×N torus and the symmetries of the square (the group ``C_N² ⋊ D₄``).

    Besides the two translations: the quarter turn ``ρ(r, c) = (c, −r mod N)`` and the mirror
    ``μ(r, c) = (r, −c mod N)`` about pixel ``(0, 0)``; order ``8·N²`` for ``N ≥ 3``.

    Raises
    ------
    SpecError
        If the grid is not square (``H ≠ W``): a quarter turn does not map it to itself.
    """
    height, width = check_shape(shape)
    if height != width:
        raise SpecError(
            f"torus-dihedral needs a square grid (H == W), got shape {height}x{width}; "
            "use group 'torus' for translations only"
        )
    rows, cols = np.divmod(np.arange(height * width), width)
    turn = cols * width + (-rows) % height
    mirror = rows * width + (-cols) % width
    return _dedupe([*torus_generators(shape), tuple(turn.tolist()), tuple(mirror.tolist())])


def parse_generators(text: str, n: int) -> list[ArrayPerm]:
    """Parse generators written in cycle notation, separated by commas.

    Each generator is a product of *disjoint* cycles; points are integers in
    ``0 .. n-1``, separated by spaces (or commas) inside the parentheses.
    The identity ``()`` is allowed (alone it gives the trivial group).

    Examples
    --------
    >>> parse_generators("(0 1)(2 3),(0 2 4)", 5)
    [(1, 0, 3, 2, 4), (2, 1, 4, 3, 0)]

    Raises
    ------
    SpecError
        If the text is not cycle notation, names a point outside ``0 .. n-1``,
        or repeats a point inside one generator.
    """
    text = text.strip()
    if not text:
        raise SpecError("no generators given; write them in cycle notation, e.g. '(0 1),(0 1 2)'")
    chunks = _split_top_level(text)
    gens: list[ArrayPerm] = []
    for number, chunk in enumerate(chunks, start=1):
        gens.append(_parse_one_generator(chunk, n, number))
    return canonical_generators(gens)


def canonical_generators(perms: Sequence[Sequence[int]]) -> list[ArrayPerm]:
    """Drop repeats and identities, keeping order; a lone identity stays (the trivial group).

    >>> canonical_generators([(1, 0), (0, 1), (1, 0)])
    [(1, 0)]
    >>> canonical_generators([(0, 1), (0, 1)])
    [(0, 1)]
    """
    perms = [tuple(int(p) for p in perm) for perm in perms]
    moving = _dedupe(perms)
    return moving if moving or not perms else [perms[0]]


def format_cycles(perm: Sequence[int]) -> str:
    """Cycle notation of an array-form permutation, fixed points omitted: ``(0 1)(2 3)``; identity ``()``."""
    seen = [False] * len(perm)
    parts = []
    for start in range(len(perm)):
        if seen[start] or perm[start] == start:
            seen[start] = True
            continue
        cycle = []
        point = start
        while not seen[point]:
            seen[point] = True
            cycle.append(point)
            point = perm[point]
        parts.append("(" + " ".join(map(str, cycle)) + ")")
    return "".join(parts) or "()"


def permutation_group(n: int, generators: Sequence[ArrayPerm]) -> PermutationGroup:
    """The sympy group generated by ``generators`` on ``n`` points (the trivial group if none)."""
    return _cached_group(n, tuple(tuple(g) for g in generators))


@lru_cache(maxsize=64)
def _cached_group(n: int, generators: tuple[ArrayPerm, ...]) -> PermutationGroup:
    from sympy.combinatorics import Permutation, PermutationGroup

    perms = [Permutation(list(g)) for g in generators] or [Permutation(list(range(n)))]
    return PermutationGroup(perms)


def group_order(n: int, generators: Sequence[ArrayPerm]) -> int:
    """Exact order of the generated group (a Python int): ``n!`` when the generators are recognisably
    all of Sₙ (:func:`generates_symmetric`), else from a stabiliser chain
    (:class:`polyequiv.stabilizer_chain.StabilizerChain`: the Rubik's cube group on 48 facelets in
    0.1–0.2 s, where sympy's Schreier–Sims took 1.4 s)."""
    from polyequiv.stabilizer_chain import StabilizerChain

    if generates_symmetric(n, generators):
        return math.factorial(n)
    return StabilizerChain(n, generators).order


def generates_symmetric(n: int, generators: Sequence[ArrayPerm]) -> bool:
    """Whether the generators are recognisably all of Sₙ: transpositions whose graph on the ``n`` points
    is connected, or a transposition ``(a b)`` with an ``n``-cycle in which ``b`` is ``a``'s
    ``s``-th successor, ``gcd(s, n) = 1`` (both classical).  ``False`` says nothing.

    >>> generates_symmetric(4, symmetric_generators(4, "minimal"))
    True
    >>> generates_symmetric(4, cyclic_generators(4))
    False
    """
    if n <= 1:
        return True
    moved = [[i for i, v in enumerate(g) if v != i] for g in generators]
    swaps = [tuple(m) for m in moved if len(m) == 2]
    if len(swaps) == len(moved) and _connects(n, swaps):
        return True
    for g, m in zip(generators, moved, strict=True):
        if len(m) == n and _cycle_length(g) == n:
            for a, b in swaps:
                step, point = 0, a
                while point != b:
                    point, step = g[point], step + 1
                if math.gcd(step, n) == 1:
                    return True
    return False


def _connects(n: int, edges: Sequence[tuple[int, ...]]) -> bool:
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent[root(a)] = root(b)
    return len({root(x) for x in range(n)}) == 1


def _cycle_length(perm: Sequence[int]) -> int:
    length, point = 1, perm[0]
    while point != 0:
        point, length = perm[point], length + 1
    return length


def random_group_elements(
    n: int, generators: Sequence[ArrayPerm], count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` elements drawn uniformly from the whole generated group, as rows of array forms.

    Uses the group's stabiliser chain (Schreier–Sims): every element is
    uniquely ``g = u₀ ∘ u₁ ∘ …`` with ``uᵢ`` a coset representative of level
    ``i``, so one uniformly chosen representative per level is a uniform
    draw from the group, reproducible from ``rng``.
    """
    from polyequiv.stabilizer_chain import StabilizerChain

    if generates_symmetric(n, generators):
        return np.array([rng.permutation(n) for _ in range(count)], dtype=np.int64).reshape(count, n)
    chain = StabilizerChain(n, generators)
    transversals = [np.asarray(level, dtype=np.int64) for level in chain.transversals]
    out = np.empty((count, n), dtype=np.int64)
    for row in range(count):
        element = np.arange(n)
        for level in transversals:
            element = element[level[int(rng.integers(len(level)))]]
        out[row] = element
    return out


def _transposition(n: int, a: int, b: int) -> ArrayPerm:
    perm = list(range(n))
    perm[a], perm[b] = b, a
    return tuple(perm)


def _shift(n: int) -> ArrayPerm:
    return tuple((i + 1) % n for i in range(n))


def _is_identity(perm: Sequence[int]) -> bool:
    return all(p == i for i, p in enumerate(perm))


def _dedupe(perms: list[ArrayPerm]) -> list[ArrayPerm]:
    seen: set[ArrayPerm] = set()
    out = []
    for perm in perms:
        if perm not in seen and not _is_identity(perm):
            seen.add(perm)
            out.append(perm)
    return out


def _split_top_level(text: str) -> list[str]:
    chunks, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SpecError(f"unbalanced ')' in generators {text!r}")
        if char == "," and depth == 0:
            chunks.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise SpecError(f"unbalanced '(' in generators {text!r}")
    chunks.append("".join(current))
    return [c.strip() for c in chunks]


_CYCLE = re.compile(r"\(([^()]*)\)")


def _parse_one_generator(chunk: str, n: int, number: int) -> ArrayPerm:
    if not chunk or _CYCLE.sub("", chunk).strip():
        raise SpecError(f"generator {number} {chunk!r} is not in cycle notation; write e.g. '(0 1)(2 3)'")
    perm = list(range(n))
    used: set[int] = set()
    for body in _CYCLE.findall(chunk):
        tokens = [t for t in re.split(r"[\s,]+", body.strip()) if t]
        points = []
        for token in tokens:
            if not re.fullmatch(r"\d+", token):
                raise SpecError(f"generator {number} {chunk!r}: {token!r} is not a point number")
            point = int(token)
            if point >= n:
                raise SpecError(f"generator {number} {chunk!r}: point {point} is not in 0..{n - 1} (n = {n})")
            if point in used:
                raise SpecError(
                    f"generator {number} {chunk!r}: point {point} appears twice; "
                    "cycles of one generator must be disjoint"
                )
            used.add(point)
            points.append(point)
        for position, point in enumerate(points):
            perm[point] = points[(position + 1) % len(points)]
    return tuple(perm)
