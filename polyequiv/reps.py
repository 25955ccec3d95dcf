"""Permutation representations of Sₙ (and its subgroups): the inputs and outputs of a layer.

A :class:`Representation` is a sum of terms, each a set of coordinates that a
permutation of the ``n`` elements permutes:

========  ===========================================  ===================
term      coordinates                                  how many
========  ===========================================  ===================
``1``     one scalar (a global feature)                 1
``V``     one value per element ``i``                   n
``Vk``    one per ordered k-tuple ``(i₁, …, i_k)``      n^k  (``V2``: pairs, i = j allowed)
``E``     one per unordered pair ``{i, j}``, i ≠ j      n(n − 1)/2
========  ===========================================  ===================

Coordinates are numbered term after term, in the order the terms are written,
and inside a term in lexicographic order of their index tuples (``E`` as sorted
pairs ``i < j``).  ``V + E`` on n = 3 is ``0, 1, 2, {0,1}, {0,2}, {1,2}``.

Convention
----------
The project's action on a vector, ``(σ·x)_i = x_{σ(i)}``, extends to every term
index-wise:

    (σ·X)_{i₁…i_k} = X_{σ(i₁)…σ(i_k)},        (σ·X)_{{i,j}} = X_{{σ(i),σ(j)}},

so coordinate ``c`` of ``σ·X`` is coordinate ``σ(c)`` of ``X``, where ``σ(c)``
applies σ to every index of ``c`` (re-sorting an ``E`` pair).  A layer
``f: In → Out`` is equivariant when ``f(σ·X) = σ·f(X)``, i.e.
``f_c(σ·X) = f_{σ(c)}(X)`` for every output coordinate ``c``; the output ``1``
is the invariant case.  :meth:`Representation.permutation` returns the array
``[σ(c) for c in coordinates]``, and it composes like σ itself, so invariance
under generators is invariance under the group they generate.

    >>> rep = Representation.parse("V + E")
    >>> str(rep), rep.size(3)
    ('V + E', 6)
    >>> rep.permutation((1, 2, 0))      # σ(0) = 1, σ(1) = 2, σ(2) = 0: {0,1} ↦ {1,2}, {0,2} ↦ {0,1}
    (1, 2, 0, 5, 3, 4)
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from polyequiv.errors import SpecError

_TERM = re.compile(r"1|E|V(\d*)")


@dataclass(frozen=True)
class Representation:
    """A sum of terms ``1``, ``V``, ``Vk`` (k ≥ 2) and ``E``; see the module docstring.

    Parameters
    ----------
    terms : tuple of str
        The terms in order, each ``"1"``, ``"V"``, ``"V2"``, ``"V3"``, … or ``"E"``
        (``"V1"`` is written ``"V"``).

    Examples
    --------
    >>> Representation.parse("E").coordinates(3)
    [(0, 1), (0, 2), (1, 2)]
    >>> Representation.parse("1 + V2").arities
    (0, 2)
    """

    terms: tuple[str, ...]

    def __post_init__(self) -> None:
        if isinstance(self.terms, str) or not self.terms:
            raise SpecError(f"a representation needs at least one term, got {self.terms!r}")
        normal = []
        for term in self.terms:
            match = _TERM.fullmatch(str(term))
            if not match or (match.group(1) and int(match.group(1)) < 1):
                raise SpecError(f"unknown representation term {term!r}; use 1, V, V2, V3, ... or E")
            normal.append("V" if term == "V1" else str(term))
        object.__setattr__(self, "terms", tuple(normal))

    @classmethod
    def parse(cls, text: str | Representation) -> Representation:
        """``"V + E"`` → ``Representation(("V", "E"))``; a Representation passes through."""
        if isinstance(text, Representation):
            return text
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"cannot parse representation {text!r}; write e.g. 'V', 'E' or 'V + E'")
        return cls(tuple(part.strip() for part in text.split("+")))

    def __str__(self) -> str:
        return " + ".join(self.terms)

    # ------------------------------------------------------------------ structure
    @property
    def arities(self) -> tuple[int, ...]:
        """Number of element indices of each term: ``1`` → 0, ``V`` → 1, ``Vk`` → k, ``E`` → 2."""
        return tuple(_arity(term) for term in self.terms)

    @property
    def is_set(self) -> bool:
        """True for ``V``, the representation of today's set layers."""
        return self.terms == ("V",)

    @property
    def is_trivial(self) -> bool:
        """True for ``1``: an invariant output."""
        return self.terms == ("1",)

    def check(self, n: int) -> None:
        """Refuse terms that have no coordinates on ``n`` elements (``E`` needs n ≥ 2)."""
        if "E" in self.terms and n < 2:
            raise SpecError(f"representation {self} has an E term, which needs n ≥ 2 elements (n = {n})")

    def term_sizes(self, n: int) -> tuple[int, ...]:
        """Coordinates of each term: 1, n, n^k or n(n − 1)/2."""
        return tuple(_term_size(term, n) for term in self.terms)

    def size(self, n: int) -> int:
        """Number of coordinates on ``n`` elements, e.g. ``V + E`` on 4 elements: 4 + 6 = 10."""
        return sum(self.term_sizes(n))

    def moved_coordinates(self, n: int, moved_points: int) -> int:
        """At most how many coordinates a permutation moving ``moved_points`` elements moves:
        those with an index among them, ``size(n) − size(n − moved_points)``.

        >>> Representation.parse("E").moved_coordinates(5, 2)    # a transposition moves 7 of 10 edges
        7
        """
        rest = max(n - moved_points, 0)
        return sum(_term_size(t, n) - _term_size(t, rest) for t in self.terms)

    def coordinates(self, n: int) -> list[tuple[int, ...]]:
        """Index tuple of every coordinate, in coordinate order (``()`` for a ``1`` term)."""
        return [c for term in self.terms for c in _term_coordinates(term, n)]

    def coordinate_labels(self, n: int) -> list[str]:
        """Printable name of every coordinate: ``"3"`` for element 3, ``"01"`` for the pair
        {0,1} (``"0.12"`` once n > 10), ``"*"`` for a ``1`` term; terms of equal arity are
        told apart by a prefix (``"V2:01"``, ``"E:01"``).

        >>> Representation.parse("V + E").coordinate_labels(3)
        ['0', '1', '2', '01', '02', '12']
        """
        arities = self.arities
        tagged = len(set(arities)) < len(arities)
        labels = []
        for position, term in enumerate(self.terms):
            tag = ""
            if tagged:
                tag = term if self.terms.count(term) == 1 else f"{term}#{position}"
                tag += ":"
            for coordinate in _term_coordinates(term, n):
                body = ("." if n > 10 else "").join(str(i) for i in coordinate) or "*"
                labels.append(tag + body)
        return labels

    def coordinate_terms(self, n: int) -> np.ndarray:
        """Term number of every coordinate."""
        return np.repeat(np.arange(len(self.terms)), self.term_sizes(n))

    def permutation(self, sigma: tuple[int, ...] | list[int] | np.ndarray) -> tuple[int, ...]:
        """The induced permutation ``c ↦ σ(c)`` of the coordinates, in array form.

        ``σ`` is an array-form permutation of ``0 .. n−1``.  Coordinate ``c`` of
        ``σ·X`` is coordinate ``σ(c)`` of ``X`` (see the module docstring).

        >>> Representation.parse("E").permutation((1, 0, 2))     # (0 1) fixes {0,1}, swaps {0,2} ↔ {1,2}
        (0, 2, 1)
        """
        return tuple(int(c) for c in self.permutation_array(np.asarray(sigma, dtype=np.int64)))

    def permutation_array(self, sigma: np.ndarray) -> np.ndarray:
        """:meth:`permutation` as an int64 array (vectorised; the hot path of the engines)."""
        sigma = np.asarray(sigma, dtype=np.int64)
        n = sigma.size
        pieces, offset = [], 0
        for term in self.terms:
            pieces.append(offset + _term_image(term, n, sigma))
            offset += _term_size(term, n)
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)


def _arity(term: str) -> int:
    if term == "1":
        return 0
    if term == "E":
        return 2
    return int(term[1:] or 1)


def _term_size(term: str, n: int) -> int:
    if term == "E":
        return n * (n - 1) // 2
    return n ** _arity(term)


@lru_cache(maxsize=64)
def _term_coordinates(term: str, n: int) -> tuple[tuple[int, ...], ...]:
    if term == "E":
        return tuple(itertools.combinations(range(n), 2))
    return tuple(itertools.product(range(n), repeat=_arity(term)))


def _term_image(term: str, n: int, sigma: np.ndarray) -> np.ndarray:
    """Coordinate numbers (within the term) of ``σ(c)`` for every coordinate ``c`` of the term."""
    if term == "1":
        return np.zeros(1, dtype=np.int64)
    if term == "E":
        i, j = np.triu_indices(n, k=1)
        a, b = sigma[i], sigma[j]
        low, high = np.minimum(a, b), np.maximum(a, b)
        # rank of the sorted pair (low < high) among the pairs in lexicographic order
        return low * n - low * (low + 1) // 2 + (high - low - 1)
    arity = _arity(term)
    grid = np.indices((n,) * arity).reshape(arity, -1)
    code = np.zeros(grid.shape[1], dtype=np.int64)
    for column in range(arity):
        code = code * n + sigma[grid[column]]
    return code


#: The representation of today's set layers, and of invariant outputs.
SET = Representation(("V",))
TRIVIAL = Representation(("1",))
