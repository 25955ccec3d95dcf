"""Turning floats back into short exact rationals: the simplest fraction in an interval.

The simplest rational in ``[lo, hi]`` is the one with the smallest denominator (and, among
those, the smallest numerator in absolute value); it is found from the continued fractions of
the two ends (the Stern–Brocot descent), in ``O(log)`` steps.  A coefficient learned as
``0.49999999999998`` with a tolerance of ``1e-9`` becomes ``1/2``; one learned as ``3e-14``
becomes ``0``.

    >>> simplest_rational(0.49999999999998, 1e-9), simplest_rational(3e-14, 1e-9)
    (Fraction(1, 2), Fraction(0, 1))
    >>> simplest_in_interval(Fraction(3, 10), Fraction(4, 10))
    Fraction(1, 3)
"""

from __future__ import annotations

import math
from fractions import Fraction


def simplest_in_interval(lo: Fraction, hi: Fraction) -> Fraction:
    """The rational of smallest denominator in the closed interval ``[lo, hi]`` (``lo ≤ hi``)."""
    if lo > hi:
        raise ValueError(f"empty interval [{lo}, {hi}]")
    if lo <= 0 <= hi:
        return Fraction(0)
    if hi < 0:
        return -simplest_in_interval(-hi, -lo)
    floor = math.floor(lo)
    if floor == lo or floor + 1 <= hi:  # an integer lies in the interval
        return Fraction(math.ceil(lo))
    # lo and hi share the integer part: recurse on the reciprocals of the fractional parts
    return floor + 1 / simplest_in_interval(1 / (hi - floor), 1 / (lo - floor))


def simplest_rational(value: float, tolerance: float) -> Fraction:
    """The simplest rational within ``tolerance`` of ``value`` (both finite, ``tolerance ≥ 0``)."""
    if not (math.isfinite(value) and math.isfinite(tolerance)) or tolerance < 0:
        raise ValueError(f"cannot rationalise {value!r} within {tolerance!r}")
    exact = Fraction(value)
    slack = Fraction(tolerance)
    return simplest_in_interval(exact - slack, exact + slack)


def format_fraction(value: Fraction) -> str:
    """``"1/2"``, ``"-3"``: the form JSON files store coefficients in."""
    return str(value)
