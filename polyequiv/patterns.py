"""n-free partition patterns: the classes of an Sₙ-equivariant polynomial layer, without n.

A weight of an ordered-indexed layer ``In → Out`` (:mod:`polyequiv.reps`) sits on a
slot: an output coordinate and a monomial of degree ``d`` in the input
coordinates (and the bias).  Write the slot as a list of **index positions**:
the output coordinate's indices ``o₁, o₂, …`` then, factor after factor, the
indices of every input coordinate (``i₁`` for a node, ``i₁, i₁′`` for an edge or
an ordered pair).  Bias factors and ``1`` terms carry no positions.

For the symmetric group Sₙ, two assignments of elements to positions lie in the
same orbit exactly when they have the same *kernel*: the set partition of the
positions into "equal index" blocks.  Every partition with at most ``n`` blocks
occurs, except that the two ends of an ``E`` coordinate are never equal.  A
slot is an assignment up to the finite group ``H`` that reorders the factors
of the monomial (factors of the same term) and swaps the two ends of each
``E`` coordinate; ``H`` commutes with Sₙ, so

    orbits of Sₙ on slots  =  H-orbits of admissible set partitions of the positions,

one **pattern** per orbit, with ``blocks(pattern) ≤ n``.  Each pattern is a
value that does not depend on n; the number of free weights of the layer on
``n`` elements is the number of patterns with at most ``n`` blocks, so
``polyequiv count -n 1000000`` needs no group at all.  This is a third
certification path, independent of both engines (no permutation is applied to a
single weight here).

The partitions are enumerated as restricted growth strings (vectorised), the
``H``-orbits found with a union–find over ``H``'s generators, and each pattern is
represented by its orbit's lexicographically smallest string.

    >>> [str(p) for p in layer_patterns("V", "V", 2)]
    ['{o₁,i₁,i₂}', '{o₁,i₁}{i₂}', '{o₁}{i₁,i₂}', '{o₁}{i₁}{i₂}']
    >>> count_patterns("V", "V", 3, n=1_000_000), count_patterns("E", "V", 1, n=10)
    (7, 2)

References: Maron et al. 2019 (Bell(k + l) linear maps between order-k and
order-l tensors); Pearce-Crump 2022 and Godfrey et al. 2023 (partition-algebra
bases: a basis element is a set partition of output and input positions).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from polyequiv import limits
from polyequiv.errors import SizeLimitError, SpecError
from polyequiv.graph import component_labels
from polyequiv.reps import Representation
from polyequiv.spec import LayerSpec

#: Set partitions enumerated at most per (output term, composition); Bell(12) = 4,213,597.
MAX_PARTITIONS = 5_000_000

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_PRIMES = ["", "′", "″", "‴"]


@dataclass(frozen=True)
class Pattern:
    """One orbit of Sₙ on the slots of a layer, as a set partition of index positions.

    Attributes
    ----------
    output_term : int
        Which term of the output representation the output coordinate belongs to.
    composition : tuple of int
        How many factors the monomial takes from each input term, then from the bias.
    blocks : tuple of tuple of str
        The partition: blocks of position names (indices in a block are equal,
        indices in different blocks differ).
    suffix : str
        What the positions do not show: the output term and the factor terms when
        the representations have several terms, and the bias factors (``b²``).
    kernel : tuple of int
        Block number of every position, in position order: the output's indices,
        then the factors term by term (``arity`` positions each); bias factors and
        ``1`` terms have none.  This is what a layer contracts over.
    """

    output_term: int
    composition: tuple[int, ...]
    blocks: tuple[tuple[str, ...], ...]
    suffix: str = ""
    kernel: tuple[int, ...] = ()

    @property
    def num_blocks(self) -> int:
        """Distinct elements the pattern needs: it exists for Sₙ exactly when ``n ≥ num_blocks``."""
        return len(self.blocks)

    def __str__(self) -> str:
        body = "".join("{" + ",".join(block) + "}" for block in self.blocks) or "∅"
        return body + (f" · {self.suffix}" if self.suffix else "")


@dataclass(frozen=True)
class _Layout:
    """Positions of one (output term, composition): names, the E pairs, and H's generators."""

    names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    generators: tuple[tuple[int, ...], ...]


def _power(name: str, count: int) -> str:
    return name if count == 1 else name + ("²" if count == 2 else str(count).translate(_SUPERSCRIPTS))


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _layout(out_term: str, in_terms: tuple[str, ...], composition: tuple[int, ...]) -> _Layout:
    arity = Representation(in_terms).arities
    names: list[str] = []
    edges: list[tuple[int, int]] = []
    generators: list[tuple[int, ...]] = []
    out_arity = Representation((out_term,)).arities[0]
    names += [f"o{j + 1}".translate(_SUBSCRIPTS) for j in range(out_arity)]
    if out_term == "E":
        edges.append((0, 1))
    factor = 0
    groups: list[tuple[int, int, int]] = []  # (start position, factors, arity) per input term
    for term, count, a in zip(in_terms, composition, arity, strict=False):
        if a == 0 or count == 0:
            continue
        groups.append((len(names), count, a))
        for _ in range(count):
            factor += 1
            start = len(names)
            names += [
                f"i{factor}".translate(_SUBSCRIPTS) + _PRIMES[e] if e < 4 else f"i{factor}^{e}"
                for e in range(a)
            ]
            if term == "E":
                edges.append((start, start + 1))
    size = len(names)
    if out_term == "E":
        generators.append((1, 0, *range(2, size)))
    for (start, count, a), term in zip(
        groups, [t for t, c, a in zip(in_terms, composition, arity, strict=False) if a and c], strict=True
    ):
        for f in range(count - 1):  # swap factors f and f + 1 of this term
            perm = list(range(size))
            lo, hi = start + f * a, start + (f + 1) * a
            perm[lo : lo + a], perm[hi : hi + a] = range(hi, hi + a), range(lo, lo + a)
            generators.append(tuple(perm))
        if term == "E":  # swap the ends of the first edge (with the factor swaps: every edge)
            perm = list(range(size))
            perm[start], perm[start + 1] = start + 1, start
            generators.append(tuple(perm))
    return _Layout(tuple(names), tuple(edges), tuple(generators))


def _restricted_growth_strings(size: int) -> np.ndarray:
    """All set partitions of ``size`` positions as restricted growth strings, in lexicographic order."""
    rows = np.zeros((1, size), dtype=np.int8)
    highest = np.zeros(1, dtype=np.int8)
    for position in range(1, size):
        choices = highest.astype(np.int64) + 2
        parent = np.repeat(np.arange(rows.shape[0]), choices)
        within = np.arange(parent.size) - np.repeat(np.cumsum(choices) - choices, choices)
        rows = rows[parent]
        rows[:, position] = within
        highest = np.maximum(highest[parent], within.astype(np.int8))
    return rows


def _normalise(rows: np.ndarray) -> np.ndarray:
    """Relabel every row's blocks in order of first appearance (restricted growth form)."""
    count, size = rows.shape
    mapping = np.full((count, max(size, 1)), -1, dtype=np.int8)
    following = np.zeros(count, dtype=np.int8)
    out = np.empty_like(rows)
    every = np.arange(count)
    for position in range(size):
        label = rows[:, position]
        fresh = mapping[every, label] < 0
        mapping[every[fresh], label[fresh]] = following[fresh]
        following[fresh] += 1
        out[:, position] = mapping[every, label]
    return out


def _codes(rows: np.ndarray) -> np.ndarray:
    code = np.zeros(rows.shape[0], dtype=np.int64)
    for column in range(rows.shape[1]):
        code = code * 16 + rows[:, column]
    return code


@dataclass(frozen=True)
class _Orbits:
    """Admissible partitions of one layout (codes ascending), the orbit of each, and the orbits'
    smallest strings (``representatives``, in order of their codes)."""

    layout: _Layout
    codes: np.ndarray
    orbit_of: np.ndarray
    representatives: np.ndarray


@lru_cache(maxsize=256)
def _orbits(out_term: str, in_terms: tuple[str, ...], composition: tuple[int, ...]) -> _Orbits:
    """H-orbits of the admissible partitions of one (output term, composition)."""
    layout = _layout(out_term, in_terms, composition)
    size = len(layout.names)
    estimate = limits.bell_number(size)
    if estimate > MAX_PARTITIONS:
        raise SizeLimitError(
            f"enumerating patterns would list Bell({size}) = {estimate:,} set partitions of {size} index "
            f"positions; the limit is {MAX_PARTITIONS:,}. Use a smaller degree",
            estimate=estimate,
            limit=MAX_PARTITIONS,
        )
    rows = _restricted_growth_strings(size) if size else np.zeros((1, 0), dtype=np.int8)
    for a, b in layout.edges:
        rows = rows[rows[:, a] != rows[:, b]]
    codes = _codes(rows)  # ascending: the strings come out in lexicographic order
    orbit_of = np.arange(rows.shape[0])
    if layout.generators:
        images = [np.searchsorted(codes, _codes(_normalise(rows[:, list(g)]))) for g in layout.generators]
        pairs = np.concatenate([np.stack([np.arange(rows.shape[0]), image], 1) for image in images])
        orbit_of = component_labels(rows.shape[0], pairs)
    _, first = np.unique(orbit_of, return_index=True)
    first = np.sort(first)
    # renumber orbits by their smallest string, so orbit number = representative number
    renumber = np.empty(first.size, dtype=np.int64)
    renumber[orbit_of[first]] = np.arange(first.size)
    return _Orbits(layout, codes, renumber[orbit_of], rows[first])


def _compositions(in_terms: tuple[str, ...], degree: int, bias: bool) -> list[tuple[int, ...]]:
    """Factor counts per input term (then per bias) summing to ``degree``."""
    slots = len(in_terms) + 1
    out = []
    for counts in itertools.product(range(degree + 1), repeat=slots):
        if sum(counts) == degree and (bias or counts[-1] == 0):
            out.append(counts)
    return sorted(out, reverse=True)


def _suffix(
    output: Representation, out_term: int, in_terms: tuple[str, ...], composition: tuple[int, ...]
) -> str:
    parts = []
    if len(output.terms) > 1:
        parts.append(f"out {output.terms[out_term]}")
    if len(in_terms) > 1 or in_terms == ("1",):
        factors = [_power(t, c) for t, c in zip(in_terms, composition, strict=False) if c]
        parts.append("in " + " ".join(factors) if factors else "")
    if composition[-1]:
        parts.append(_power("b", composition[-1]))
    return ", ".join(p for p in parts if p)


def layer_patterns(
    input: Representation | str, output: Representation | str, degree: int, *, bias: bool = False
) -> list[Pattern]:
    """Every pattern of the ordered Sₙ layer ``input → output`` of ``degree`` (any n), fewest blocks last.

    Parameters
    ----------
    input, output : Representation or str
        E.g. ``"V"``, ``"E"``, ``"V + E"``, ``"1"``.
    degree : int
        Polynomial degree ``d ≥ 0``.
    bias : bool
        Include the bias input (monomials of every degree ``≤ d``).

    Raises
    ------
    SpecError
        For a bad representation or degree.
    SizeLimitError
        When a term would need more than :data:`MAX_PARTITIONS` partitions.

    Examples
    --------
    >>> [str(p) for p in layer_patterns("E", "V", 1)]
    ['{o₁,i₁}{i₁′}', '{o₁}{i₁}{i₁′}']
    >>> len(layer_patterns("V2", "V2", 1))      # Bell(4)
    15
    """
    rep_in, rep_out = Representation.parse(input), Representation.parse(output)
    if isinstance(degree, bool) or not isinstance(degree, int) or degree < 0:
        raise SpecError(f"degree must be an integer ≥ 0, got {degree!r}")
    patterns = []
    for out_position, out_term in enumerate(rep_out.terms):
        for composition in _compositions(rep_in.terms, degree, bias):
            orbits = _orbits(out_term, rep_in.terms, composition)
            rows, layout = orbits.representatives, orbits.layout
            suffix = _suffix(rep_out, out_position, rep_in.terms, composition)
            for row in rows.tolist():
                blocks = tuple(
                    tuple(layout.names[p] for p in range(len(row)) if row[p] == b)
                    for b in range(max(row, default=-1) + 1)
                )
                patterns.append(Pattern(out_position, composition, blocks, suffix, tuple(row)))
    return patterns


def count_patterns(
    input: Representation | str,
    output: Representation | str,
    degree: int,
    *,
    bias: bool = False,
    n: int | None = None,
) -> int:
    """Free weights of the ordered Sₙ layer: patterns with at most ``n`` blocks (all if ``n`` is None).

    >>> [count_patterns("V", "V", 2, n=n) for n in (1, 2, 3, 10**6)]
    [1, 3, 4, 4]
    """
    patterns = layer_patterns(input, output, degree, bias=bias)
    return sum(1 for p in patterns if n is None or p.num_blocks <= n)


def blocks_histogram(
    input: Representation | str, output: Representation | str, degree: int, *, bias: bool = False
) -> dict[int, int]:
    """How many patterns need exactly ``m`` distinct elements, for every ``m``.

    >>> blocks_histogram("V", "V", 3)
    {1: 1, 2: 3, 3: 2, 4: 1}
    """
    histogram: dict[int, int] = {}
    for p in layer_patterns(input, output, degree, bias=bias):
        histogram[p.num_blocks] = histogram.get(p.num_blocks, 0) + 1
    return dict(sorted(histogram.items()))


def pattern_of_slot(
    input: Representation | str,
    output: Representation | str,
    n: int,
    output_coordinate: tuple[int, ...],
    output_term: int,
    factors: list[tuple[int, tuple[int, ...]]],
    num_bias: int,
) -> Pattern:
    """The pattern of one slot: output coordinate (its index tuple and term), and the monomial's
    factors as ``(input term, index tuple)`` pairs in coordinate order, plus its bias factors.

    >>> str(pattern_of_slot("E", "V", 5, (3,), 0, [(0, (1, 3))], 0))
    '{o₁,i₁}{i₁′}'
    """
    rep_in, rep_out = Representation.parse(input), Representation.parse(output)
    composition = [0] * (len(rep_in.terms) + 1)
    values = list(output_coordinate)
    for term, indices in factors:
        composition[term] += 1
        values += list(indices)
    composition[-1] = num_bias
    key = tuple(composition)
    orbits = _orbits(rep_out.terms[output_term], rep_in.terms, key)
    kernel = np.asarray(values, dtype=np.int64)[None, :]
    row = _normalise(np.unique(kernel, return_inverse=True)[1].reshape(kernel.shape).astype(np.int8))
    number = int(orbits.orbit_of[int(np.searchsorted(orbits.codes, _codes(row))[0])])
    representative = orbits.representatives[number].tolist()
    names = orbits.layout.names
    blocks = tuple(
        tuple(names[p] for p in range(len(representative)) if representative[p] == b)
        for b in range(max(representative, default=-1) + 1)
    )
    suffix = _suffix(rep_out, output_term, rep_in.terms, key)
    return Pattern(output_term, key, blocks, suffix, tuple(representative))


@dataclass
class PatternCount:
    """Counts of an ordered Sₙ layer from its patterns (no derivation): a row of ``polyequiv count``.

    For ordered indexing every class is one slot orbit and no additive constraint
    exists, so ``distinct_weights = free_parameters = function_dim`` = patterns
    with at most ``n`` blocks.
    """

    spec: LayerSpec
    free_parameters: int
    total_patterns: int
    seconds: float
    engine: str = "patterns"

    @property
    def distinct_weights(self) -> int:
        return self.free_parameters

    @property
    def function_dim(self) -> int:
        return self.free_parameters

    @property
    def num_weights(self) -> int:
        return limits.estimate_weights(self.spec)

    def summary(self) -> dict[str, object]:
        """The counts as a JSON-ready dict, with the keys of :meth:`Derivation.summary` that apply."""
        return {
            "spec": self.spec.to_dict(),
            "weights": self.num_weights,
            "distinct_weights": self.distinct_weights,
            "free_parameters": self.free_parameters,
            "function_dim": self.function_dim,
            "gauge_dim": 0,
            "patterns_n_free": self.total_patterns,
            "engine": self.engine,
            "seconds": round(self.seconds, 6),
        }


def pattern_path_problem(spec: LayerSpec) -> str | None:
    """Why the pattern path cannot count ``spec`` (``None`` when it can)."""
    if spec.group != "symmetric":
        return f"the pattern path counts the symmetric group only, not {spec.group_label}"
    if spec.indexing != "ordered":
        return (
            "the pattern path counts ordered indexing only (full indexing has additive constraints and "
            "gauge directions that need an engine)"
        )
    return None


def count_by_patterns(spec: LayerSpec) -> PatternCount:
    """Free parameters of an ordered Sₙ layer from its patterns, for any n (``n = 10⁶`` in milliseconds).

    Layers ``E → V``, ``E → 1`` and ``E → E`` too large to list (degree 6 to 8) are counted from
    rooted multigraphs up to isomorphism (:mod:`polyequiv.pattern_graphs`, engine ``multigraphs``).

    Raises
    ------
    SpecError
        For another group or full indexing (:func:`pattern_path_problem` says why).
    SizeLimitError
        For a layer too large for both (e.g. ``V2`` inputs of degree 6, or degree 9).

    Examples
    --------
    >>> count_by_patterns(LayerSpec(n=1_000_000, degree=3)).free_parameters
    7
    """
    problem = pattern_path_problem(spec)
    if problem:
        raise SpecError(problem)
    started = time.perf_counter()
    try:
        patterns = layer_patterns(spec.input, spec.output, spec.degree, bias=spec.bias)
    except SizeLimitError:
        from polyequiv.pattern_graphs import OUTPUTS, edge_blocks_histogram

        if str(spec.input) != "E" or str(spec.output) not in OUTPUTS:
            raise
        histogram: dict[int, int] = {}  # E → V, 1, E: rooted multigraphs instead of set partitions
        for degree in range(spec.degree + 1) if spec.bias else (spec.degree,):
            for blocks, count in edge_blocks_histogram(str(spec.output), degree).items():
                histogram[blocks] = histogram.get(blocks, 0) + count
        free = sum(count for blocks, count in histogram.items() if blocks <= spec.n)
        return PatternCount(spec, free, sum(histogram.values()), time.perf_counter() - started, "multigraphs")
    count = sum(1 for p in patterns if p.num_blocks <= spec.n)
    return PatternCount(spec, count, len(patterns), time.perf_counter() - started)


def check_pattern_count(spec: LayerSpec) -> None:
    """Refuse, before listing anything, a layer :func:`count_by_patterns` cannot count: one whose
    patterns would need more than :data:`MAX_PARTITIONS` set partitions for one (output term,
    composition), unless it is an edge layer the rooted multigraphs count (``E → V``, ``1`` or ``E`` up
    to degree ``pattern_graphs.MAX_EDGES``).  ``count`` checks every size of a range this way before it
    counts the first."""
    from polyequiv.pattern_graphs import MAX_EDGES, OUTPUTS

    edge_layer = str(spec.input) == "E" and str(spec.output) in OUTPUTS
    if edge_layer and spec.degree <= MAX_EDGES:
        return
    for out_term in spec.output.terms:
        for composition in _compositions(spec.input.terms, spec.degree, spec.bias):
            size = len(_layout(out_term, spec.input.terms, composition).names)
            estimate = limits.bell_number(size)
            if estimate > MAX_PARTITIONS:
                also = (f"; counting them as rooted multigraphs instead would need graphs of {spec.degree} "
                        f"edges, and the limit is {MAX_EDGES}") if edge_layer else ""
                raise SizeLimitError(
                    f"enumerating patterns would list Bell({size}) = {estimate:,} set partitions of {size} "
                    f"index positions; the limit is {MAX_PARTITIONS:,}{also}. Use a smaller degree",
                    estimate=estimate,
                    limit=MAX_PARTITIONS,
                )
