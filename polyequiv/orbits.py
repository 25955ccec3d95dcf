"""Independent counts of the free weights: Burnside's lemma and closed forms.

None of this touches the engines.  For ordered indexing (or full indexing with
the symmetric gauge) the classes of tied weights are the orbits of the group
on slots ``(output k, monomial m)``, ``g·(k, m) = (g(k), g(m))``, so their
number is, by Burnside's lemma,

    #orbits = (1/|G|) Σ_g  fix_out(g) · fix_mono(g),

where ``fix_out(g)`` counts the outputs ``g`` fixes (1 when invariant) and
``fix_mono(g)`` the monomials of degree ``d`` it fixes: a monomial is fixed
when its exponents are constant on every cycle of ``g``, so ``fix_mono(g)`` is
the coefficient of ``t^d`` in ``Π_cycles 1/(1 − t^{len})`` (the bias input is a
fixed point, a cycle of length 1).

For Sₙ the sum runs over cycle types, and it has a closed form: a slot is
``x_k^m`` times a monomial of degree ``d − m`` in the other ``n − 1`` inputs, up
to their permutations, so

    #orbits = Σ_{m=0..d} p_{≤ n−1}(d − m)          (equivariant, no bias)

with ``p_{≤ r}(j)`` the number of partitions of ``j`` into at most ``r``
parts; invariant layers have ``p_{≤ n}(d)``; a bias adds up the counts of every
degree ``0..d``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from fractions import Fraction
from functools import cache

from polyequiv import groups
from polyequiv.spec import LayerSpec

#: Groups up to this order are summed element by element.
MAX_ENUMERATED_ORDER = 200_000
#: Sₙ is summed over its p(n) cycle types up to this n (p(40) = 37,338).
MAX_SYMMETRIC_N = 40


@cache
def partitions_at_most(total: int, parts: int) -> int:
    """Number of partitions of ``total`` into at most ``parts`` parts, ``p_{≤ parts}(total)``.

    >>> [partitions_at_most(4, r) for r in range(5)]
    [0, 1, 3, 4, 5]
    """
    if total == 0:
        return 1
    if parts == 0:
        return 0
    # either fewer than `parts` parts, or exactly `parts` parts (subtract 1 from each)
    return partitions_at_most(total, parts - 1) + (
        partitions_at_most(total - parts, parts) if total >= parts else 0
    )


def symmetric_closed_form(n: int, degree: int, *, bias: bool = False, equivariant: bool = True) -> int:
    """Number of free weights of an ordered Sₙ layer, from partitions.

    >>> symmetric_closed_form(5, 2), symmetric_closed_form(2, 2), symmetric_closed_form(9, 3)
    (4, 3, 7)
    >>> symmetric_closed_form(5, 2, bias=True), symmetric_closed_form(5, 2, equivariant=False)
    (7, 2)
    """
    degrees = range(degree + 1) if bias else [degree]
    if equivariant:
        return sum(partitions_at_most(e - m, n - 1) for e in degrees for m in range(e + 1))
    return sum(partitions_at_most(e, n) for e in degrees)


def fixed_monomials(cycle_lengths: Iterable[int], degree: int) -> int:
    """Monomials of ``degree`` fixed by a permutation with these cycle lengths:
    the coefficient of ``t^degree`` in ``Π 1/(1 − t^len)``.

    >>> fixed_monomials([1, 1, 1], 2), fixed_monomials([2, 1], 2), fixed_monomials([3], 2)
    (6, 2, 0)
    """
    series = [1] + [0] * degree
    for length in cycle_lengths:
        for power in range(length, degree + 1):
            series[power] += series[power - length]
    return series[degree]


def burnside_orbit_count(spec: LayerSpec) -> int:
    """Orbits of the spec's group on slots (output, monomial), by Burnside's lemma.

    Sₙ is summed over cycle types (any n); other groups element by element.  For
    tensor representations (:mod:`polyequiv.reps`) the inputs are the coordinates,
    whose cycles are read off a permutation of each cycle type.

    >>> burnside_orbit_count(LayerSpec(n=4, degree=1, input="V2", output="V2"))   # Bell(4)
    15
    """
    total = Fraction(0)
    for cycle_lengths, weight in _cycle_type_distribution(spec):
        if spec.is_set_layer:
            fixed_points = sum(1 for length in cycle_lengths if length == 1)
            inputs = list(cycle_lengths) + ([1] if spec.bias else [])
            out = fixed_points if spec.equivariant else 1
        else:  # tensors: the cycles σ induces on coordinates depend only on σ's cycle type
            sigma = _permutation_of_type(cycle_lengths)
            inputs = _cycle_lengths(spec.input_permutation(sigma).tolist())
            outputs = spec.output_permutation(sigma)
            out = int((outputs == range(outputs.size)).sum())
        total += weight * out * fixed_monomials(inputs, spec.degree)
    if total.denominator != 1:
        raise ArithmeticError(f"Burnside sum {total} is not an integer for {spec}")
    return int(total)


def channel_orbit_count(spec: LayerSpec, in_channels: int, out_channels: int) -> int:
    """Free parameters of the layer with channels, by Burnside on the expanded variables.

    The group permutes elements, not channels, so an element cycle of length ``L``
    becomes ``in_channels`` cycles of length ``L`` on the variables ``x_{i,c}``; the
    bias is one fixed variable; each fixed output gives ``out_channels`` fixed outputs.

    >>> channel_orbit_count(LayerSpec(n=5, degree=2), 3, 1)   # 6 + 9 + 6 + 6
    27
    """
    total = Fraction(0)
    for cycle_lengths, weight in _cycle_type_distribution(spec):
        fixed_points = sum(1 for length in cycle_lengths if length == 1)
        variables = [length for length in cycle_lengths for _ in range(in_channels)]
        variables += [1] if spec.bias else []
        out = (fixed_points if spec.equivariant else 1) * out_channels
        total += weight * out * fixed_monomials(variables, spec.degree)
    if total.denominator != 1:
        raise ArithmeticError(f"Burnside sum {total} is not an integer for {spec}")
    return int(total)


def _cycle_type_distribution(spec: LayerSpec) -> Iterator[tuple[tuple[int, ...], Fraction]]:
    """``(cycle lengths, probability)`` of a uniformly random group element."""
    n = spec.n
    if spec.group == "symmetric":
        if n > MAX_SYMMETRIC_N:
            raise ValueError(f"S{n} has too many cycle types to sum; use symmetric_closed_form")
        for partition in _partitions(n, n):
            counts = Counter(partition)
            z = math.prod(length**c * math.factorial(c) for length, c in counts.items())
            yield tuple(partition), Fraction(1, z)
        return
    group = groups.permutation_group(n, spec.group_generators)
    order = int(group.order())
    if order > MAX_ENUMERATED_ORDER:
        raise ValueError(
            f"group of order {order:,} is too large to enumerate (limit {MAX_ENUMERATED_ORDER:,})"
        )
    types = Counter(tuple(sorted(_cycle_lengths(g.array_form), reverse=True)) for g in group.generate())
    for cycle_type, count in types.items():
        yield cycle_type, Fraction(count, order)


def _permutation_of_type(cycle_lengths: Iterable[int]) -> list[int]:
    """An array-form permutation with the given cycle lengths (consecutive points per cycle)."""
    sigma: list[int] = []
    for length in cycle_lengths:
        start = len(sigma)
        sigma += [start + (j + 1) % length for j in range(length)]
    return sigma


def _cycle_lengths(array_form: list[int]) -> list[int]:
    seen = [False] * len(array_form)
    lengths = []
    for start in range(len(array_form)):
        length, point = 0, start
        while not seen[point]:
            seen[point] = True
            point = array_form[point]
            length += 1
        if length:
            lengths.append(length)
    return lengths


def _partitions(total: int, largest: int) -> Iterator[list[int]]:
    if total == 0:
        yield []
        return
    for first in range(min(total, largest), 0, -1):
        for rest in _partitions(total - first, first):
            yield [first, *rest]
