"""Where the variables of a network's expansion live in its packed keys.

The expansion of :mod:`polyequiv.compose.block_expansion` is a polynomial in the parameters
``θ_0 … θ_{P−1}`` and the inputs ``x_0 … x_{n−1}``.  Its packed keys
(:class:`polyequiv.compose.packed.MonomialPacking`) hold, in this order from the lowest digit of
word 0 on,

    x_{n−1}, …, x_1, x_0,  δ,  θ_0, …, θ_{P−1}

where ``δ`` is a **degree counter**: every parameter's unit key also adds 1 to it, so the digit
``δ`` of a term is its total degree in the parameters.  The *head* of a key, its lowest
``n + 1`` digits,

    head = code(α) + R_x · deg,      code(α) = Σ_i α_i (D+1)^{n−1−i},   R_x = (D+1)^n,

is one remainder of word 0 (``D`` the degree of the output in ``x``), and ``code`` orders the x
exponents ``α`` lexicographically (``x_0`` most significant), the order of ``sorted`` on tuples.
The rest of the key (``word_0 // R_head`` and the other words) is the parameter monomial.

    >>> layout = ExpansionLayout(n=2, x_degree=2, parameter_bounds=(2, 1, 1), param_degree=3)
    >>> keys = layout.param_units[0] * 2 + layout.x_units[1]     # θ_0² x_1
    >>> layout.decode(keys[None, :]).tolist()                     # (θ_0, θ_1, θ_2, x_0, x_1)
    [[2, 0, 0, 0, 1]]
    >>> codes, degrees = layout.head(keys[None, :])
    >>> codes.tolist(), degrees.tolist()
    ([1], [2])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from polyequiv.compose.packed import MonomialPacking


@dataclass(frozen=True)
class ExpansionLayout:
    """The packing of an expansion in ``n`` inputs of degree ≤ ``x_degree`` (module docstring).

    Parameters
    ----------
    n : int
    x_degree : int
        Largest exponent (and total degree) of the inputs in any term formed.
    parameter_bounds : tuple of int
        Largest exponent of each parameter.
    param_degree : int
        Largest total degree in the parameters (the degree counter's bound).
    """

    n: int
    x_degree: int
    parameter_bounds: tuple[int, ...]
    param_degree: int

    @property
    def num_params(self) -> int:
        return len(self.parameter_bounds)

    @cached_property
    def packing(self) -> MonomialPacking:
        bounds = (self.x_degree,) * self.n + (self.param_degree,) + self.parameter_bounds
        return MonomialPacking(bounds)

    @property
    def num_words(self) -> int:
        return self.packing.num_words

    @cached_property
    def x_units(self) -> np.ndarray:
        """``(n, W)`` keys of ``x_0 … x_{n−1}``."""
        units = self.packing.unit_keys[: self.n][::-1]
        return np.ascontiguousarray(units)

    @cached_property
    def param_units(self) -> np.ndarray:
        """``(P, W)`` keys of ``θ_j`` (each with the degree counter's 1)."""
        units = self.packing.unit_keys
        return units[self.n + 1 :] + units[self.n]

    @property
    def x_radix(self) -> int:
        """``R_x = (D+1)^n``: the number of x codes."""
        return (self.x_degree + 1) ** self.n

    @property
    def head_radix(self) -> int:
        return self.x_radix * (self.param_degree + 1)

    @cached_property
    def head_in_word0(self) -> bool:
        """True when the head digits all lie in word 0 (then one remainder gives them)."""
        return self.head_radix <= 2**64 and int(self.packing.unit_keys[self.n, 0]) != 0

    def head(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(code(α), deg)`` of each key, int64 (see the module docstring)."""
        if self.head_in_word0:
            head = keys[:, 0] % np.uint64(self.head_radix) if self.head_radix < 2**64 else keys[:, 0]
            radix = np.uint64(self.x_radix)
            return (head % radix).astype(np.int64), (head // radix).astype(np.int64)
        digits = self.packing.decode(keys)
        return self.codes(digits[:, self.n - 1 :: -1] if self.n else digits[:, :0]), digits[:, self.n]

    def codes(self, exponents: np.ndarray) -> np.ndarray:
        """``code(α)`` of ``(m, n)`` x exponents (x_0 first), int64."""
        weights = (self.x_degree + 1) ** np.arange(self.n - 1, -1, -1, dtype=np.int64)
        return np.asarray(exponents, dtype=np.int64) @ weights

    def exponents_of_codes(self, codes: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`codes`: ``(m, n)`` exponents."""
        out = np.empty((len(codes), self.n), dtype=np.int64)
        rest = np.asarray(codes, dtype=np.int64)
        for i in range(self.n - 1, -1, -1):
            rest, out[:, i] = np.divmod(rest, self.x_degree + 1)
        return out

    def parameter_keys(self, keys: np.ndarray) -> np.ndarray:
        """``(m, W)`` keys without their head: equal exactly when the parameter monomials are."""
        out = np.array(keys, dtype=np.uint64, order="F", copy=True)
        if self.head_in_word0:
            if self.head_radix < 2**64:
                out[:, 0] //= np.uint64(self.head_radix)
            else:
                out[:, 0] = 0
            return out
        head_units = self.packing.unit_keys[: self.n + 1]
        digits = self.packing.decode(keys)[:, : self.n + 1]
        return out - digits.astype(np.uint64) @ head_units

    def decode(self, keys: np.ndarray) -> np.ndarray:
        """``(m, P + n)`` exponents in the order ``(θ_0 … θ_{P−1}, x_0 … x_{n−1})``."""
        digits = self.packing.decode(keys)
        return np.concatenate([digits[:, self.n + 1 :], digits[:, self.n - 1 :: -1][:, : self.n]], axis=1)
