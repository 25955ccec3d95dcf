"""Sparse polynomials over ZZ with exponent vectors packed into a few ``uint64`` words.

A monomial ``Π_v z_v^{e_v}`` in ``V`` variables whose exponents are bounded, ``0 ≤ e_v ≤ b_v``, is
stored as a **mixed-radix key** of ``W`` words::

    K_w = Σ_{v in word w} e_v · R_v,      R_v = Π_{u before v in word w} (b_u + 1),

the variables being packed in order, a new word starting when the radix product would pass
``2⁶⁴``.  Multiplying monomials adds their keys word by word; as long as every product formed
obeys the bounds (the caller's guarantee, from degrees), no digit carries into the next, so
keys are equal exactly when monomials are.  A variable with bound 1 takes one bit, one with
bound 4 takes log₂5 ≈ 2.3 bits: the 93 variables of the seed's three biased quadratic layers
fit in 3 words (FLINT's ``fmpz_mpoly`` needs ≥ 8 bits per variable, 12 words).

A :class:`PackedPolynomial` is a ``(terms, W)`` key array and a ``(terms,)`` coefficient array
(``int64`` where the caller proved no overflow, else ``object`` of Python ints), with pairwise
distinct keys and nonzero coefficients, in no particular order.

    >>> packing = MonomialPacking((2, 1))
    >>> keys = packing.encode(np.array([[2, 1], [0, 1]]))
    >>> packing.decode(keys).tolist(), packing.num_words
    ([[2, 1], [0, 1]], 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

_WORD = 1 << 64


@dataclass(frozen=True)
class MonomialPacking:
    """Where each variable's exponent lives: its word and its radix multiplier (module docstring).

    Parameters
    ----------
    bounds : tuple of int
        ``b_v ≥ 0``: the largest exponent of variable ``v`` in any monomial that will be formed.
    """

    bounds: tuple[int, ...]

    def __post_init__(self) -> None:
        if any(b < 0 for b in self.bounds):
            raise ValueError(f"exponent bounds must be ≥ 0, got {self.bounds}")
        if any(b + 1 >= _WORD for b in self.bounds):
            raise ValueError("an exponent bound does not fit in a 64-bit word")

    @cached_property
    def _layout(self) -> tuple[np.ndarray, tuple[int, ...]]:
        words, multipliers = [], []
        word, product = 0, 1
        for bound in self.bounds:
            radix = bound + 1
            if product * radix > _WORD:
                word, product = word + 1, 1
            words.append(word)
            multipliers.append(product)
            product *= radix
        return np.array(words, dtype=np.int64), tuple(multipliers)

    @property
    def num_vars(self) -> int:
        return len(self.bounds)

    @property
    def num_words(self) -> int:
        words, _ = self._layout
        return int(words[-1]) + 1 if len(words) else 1

    @cached_property
    def unit_keys(self) -> np.ndarray:
        """``(V, W)`` keys of the single variables ``z_v`` (read-only)."""
        words, multipliers = self._layout
        keys = np.zeros((self.num_vars, self.num_words), dtype=np.uint64)
        keys[np.arange(self.num_vars), words] = np.array(multipliers, dtype=np.uint64)
        keys.setflags(write=False)
        return keys

    def encode(self, exponents: np.ndarray) -> np.ndarray:
        """``(m, V)`` exponents (each within its bound) → ``(m, W)`` keys."""
        exponents = np.asarray(exponents)
        if exponents.ndim != 2 or exponents.shape[1] != self.num_vars:
            raise ValueError(f"exponents must have shape (m, {self.num_vars}), got {exponents.shape}")
        if exponents.size and (exponents.min() < 0 or (exponents > np.array(self.bounds)).any()):
            raise ValueError("an exponent is outside its bound")
        return exponents.astype(np.uint64) @ self.unit_keys

    def decode(self, keys: np.ndarray) -> np.ndarray:
        """``(m, W)`` keys → ``(m, V)`` int64 exponents."""
        words, multipliers = self._layout
        out = np.empty((keys.shape[0], self.num_vars), dtype=np.int64)
        for v, (word, multiplier, bound) in enumerate(
            zip(words.tolist(), multipliers, self.bounds, strict=True)
        ):
            digits = keys[:, word] // np.uint64(multiplier)
            out[:, v] = digits % np.uint64(bound + 1)
        return out


@dataclass(frozen=True)
class PackedPolynomial:
    """Terms ``coeffs[i] · z^{decode(keys[i])}``: distinct keys, nonzero coefficients, any order."""

    keys: np.ndarray
    coeffs: np.ndarray

    def __len__(self) -> int:
        return int(self.coeffs.shape[0])

    def exponents(self, packing: MonomialPacking) -> np.ndarray:
        return packing.decode(self.keys)

    def to_dict(self, packing: MonomialPacking) -> dict[tuple[int, ...], int]:
        """``{exponent tuple: int coefficient}`` (Python ints)."""
        rows = self.exponents(packing).tolist()
        return {tuple(row): int(c) for row, c in zip(rows, self.coeffs.tolist(), strict=True)}


def merge_terms(keys: np.ndarray, coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the coefficients of equal keys and drop zero sums (exact: compares whole keys)."""
    if keys.shape[0] <= 1:
        keep = coeffs != 0
        return keys[keep], coeffs[keep]
    order = np.lexsort(keys.T[::-1]) if keys.shape[1] > 1 else np.argsort(keys[:, 0])
    keys, coeffs = keys[order], coeffs[order]
    new = np.empty(keys.shape[0], dtype=bool)
    new[0] = True
    np.any(keys[1:] != keys[:-1], axis=1, out=new[1:])
    starts = np.flatnonzero(new)
    sums = np.add.reduceat(coeffs, starts)
    keep = sums != 0
    return keys[starts[keep]], sums[keep]


def repeated_rows(keys: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``keys`` that equal some other row."""
    mask = np.zeros(keys.shape[0], dtype=bool)
    if keys.shape[0] <= 1:
        return mask
    order = np.lexsort(keys.T[::-1]) if keys.shape[1] > 1 else np.argsort(keys[:, 0])
    ordered = keys[order]
    same = np.all(ordered[1:] == ordered[:-1], axis=1)
    mask[order[1:][same]] = True
    mask[order[:-1][same]] = True
    return mask


def has_repeated_rows(keys: np.ndarray) -> bool:
    """True when two rows of ``keys`` are equal."""
    return bool(repeated_rows(keys).any())
