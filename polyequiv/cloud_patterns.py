"""n-free patterns of a polynomial layer on point clouds under ``Sₙ × O(d)`` (or ``O(d)``, ``O(1,q)`` alone).

A layer of :mod:`polyequiv.matrix_spec` under ``S(n) x O(d)`` maps points, each
carrying scalars and tensors (``V⊗1``, ``V⊗V``, …), and global tensors
(``1⊗V2``) to an output of the same kinds.  Its equivariant polynomial maps of
degree ``D`` are spanned by products of two diagrams, one per factor of the group:

* **Sₙ** (the partition-algebra / diagram basis, as in :mod:`polyequiv.patterns`):
  a set partition of the *point slots* — the output's point (for ``V⊗…``
  outputs) and the point of every factor of the monomial that lives on points.
  Slots in one block carry one point index; each block other than the output's
  is summed over all points (indices of different blocks may coincide).
* **O(d)** (Brauer diagrams, the first fundamental theorem of invariant theory
  for the orthogonal group): a perfect matching of the *axis slots* — the
  output's tensor indices and every tensor index of every factor.  Two factor
  slots matched are contracted with the metric ``η`` (an inner product, an
  entry of a Gram matrix), a factor slot matched to an output slot is copied to
  it, two output slots matched carry ``η⁻¹`` (``δ_ab`` for O(d)).

For ``O(1,q)`` the metric is ``η = diag(1, −1, …, −1)`` and the same diagrams span
(the groups have the same invariant theory over ℂ).  Because ``Sₙ × O(d)`` is a
product acting on a tensor product, ``Hom_{Sₙ×O(d)}(A⊗B, C⊗D) = Hom_{Sₙ}(A, C) ⊗
Hom_{O(d)}(B, D)``, so these products span every equivariant map from the
``D``-fold tensor power of the input, and evaluating on ``x ⊗ … ⊗ x`` spans every
equivariant polynomial of degree ``D``.  A **pattern** is one such product up
to reordering identical factors of the monomial: one weight each.  Patterns do
not depend on ``n`` (nor on ``d``); for small ``n`` or ``d`` some of them
become linearly dependent (``(Σ_i x_i)² = Σ_i x_i²`` when ``n = 1``; Gram
determinants of ``d + 1`` vectors vanish), which lowers the function dimension
but never the span.

Not covered (refused with the reason): rotations only (``SO(d)``, whose
invariants add determinants), finite matrix groups, custom generators, cyclic or
dihedral point factors, point terms other than ``1`` and ``V``.

    >>> patterns = cloud_patterns("S(5) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2")
    >>> len(patterns), patterns[4].describe(("m", "r"), ("V", "V"), (0, 1))
    (12, 'Σ_i m_i r_ia r_ib')
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

from polyequiv import limits
from polyequiv.errors import SizeLimitError, SpecError
from polyequiv.matrix_spec import MatrixLayerSpec

#: Raw (factor order × partition × matching) diagrams enumerated at most per layer.
MAX_DIAGRAMS = 2_000_000
#: The bias factor's term number in :attr:`CloudPattern.factors`.
BIAS = -1
_INDEX_LETTERS = "ijlmpqrstuvw"
_AXIS_LETTERS = "abcdefgh"
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class CloudPattern:
    """One weight of a point-cloud layer: a monomial's factors, a point partition, an axis matching.

    Attributes
    ----------
    output : tuple of int
        ``(output term, copy)`` the pattern feeds.
    factors : tuple of (int, int)
        ``(input term, copy)`` of each factor, sorted; bias factors are ``(BIAS, 0)``.
    blocks : tuple of int
        Block label of every point slot: the output's first (when it lives on points), then the
        point of each factor on points, in factor order; labels in order of first appearance.
    pairs : tuple of (int, int)
        The perfect matching of the axis slots: output axes ``0 … q−1`` first, then each
        factor's axes in factor order.
    out_points, out_power : bool, int
        Whether the output term lives on points, and its tensor power ``q``.
    """

    output: tuple[int, int]
    factors: tuple[tuple[int, int], ...]
    blocks: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...]
    out_points: bool = False
    out_power: int = 0

    @property
    def degree(self) -> int:
        """Factors other than the bias."""
        return sum(1 for term, _ in self.factors if term != BIAS)

    @property
    def num_blocks(self) -> int:
        return len(set(self.blocks))

    def describe(self, names: tuple[str, ...], points: tuple[str, ...], powers: tuple[int, ...]) -> str:
        """The sum the pattern computes, e.g. ``Σ_i m_i r_ia r_ib`` (see :func:`pattern_text`)."""
        return pattern_text(self, names, points, powers)[0]


def cloud_patterns(spec: MatrixLayerSpec | str) -> list[CloudPattern]:
    """Every pattern of ``spec``'s layer, output term by output term (see the module docstring).

    Raises
    ------
    SpecError
        For a group or representation the patterns do not cover (the message says why).
    SizeLimitError
        When the enumeration would exceed :data:`MAX_DIAGRAMS` diagrams (with the estimate).
    """
    spec = MatrixLayerSpec.parse(spec) if isinstance(spec, str) else spec
    check_cloud_spec(spec)
    inputs = [(t, c) for t, term in enumerate(spec.input.terms) for c in range(term.multiplicity)]
    variables = inputs + ([(BIAS, 0)] if spec.bias else [])
    monomials = list(itertools.combinations_with_replacement(variables, spec.degree))
    if not spec.bias:
        monomials = [m for m in monomials if all(t != BIAS for t, _ in m)]
    _check_size(spec, monomials)
    out: list[CloudPattern] = []
    for o, term in enumerate(spec.output.terms):
        for copy in range(term.multiplicity):
            for monomial in monomials:
                out += _monomial_patterns(spec, (o, copy), monomial)
    return out


def check_cloud_spec(spec: MatrixLayerSpec) -> None:
    """Refuse layers the patterns do not span (see the module docstring)."""
    group = spec.group
    label = group.matrix.label
    if not re.fullmatch(r"O\(\d+\)|O\(1,\d+\)", label):
        raise SpecError(
            f"the point-cloud layer covers O(d) and O(1,q) (inner products span their invariants); "
            f"{label} is not one of them: use TiedPolynomialLayer (the exact basis) for it"
        )
    if group.points not in (None, "S"):
        raise SpecError(f"the point-cloud layer needs the symmetric group on the points, not {group.label}")
    for side in ("input", "output"):
        for term in getattr(spec, side).terms:
            if term.points not in ("1", "V"):
                raise SpecError(f"{side} term {term.points}⊗… is not on single points or global; the "
                                "point-cloud layer reads 1⊗… and V⊗… terms")


def metric_signs(spec: MatrixLayerSpec) -> tuple[int, ...]:
    """The diagonal of the metric ``η``: all ``+1`` for O(d), ``(1, −1, …, −1)`` for O(1,q)."""
    d = spec.dim
    return (1,) * d if "," not in spec.group.matrix.label else (1,) + (-1,) * (d - 1)


def _check_size(spec: MatrixLayerSpec, monomials: list) -> None:
    total = 0
    for monomial in monomials:
        slots = sum(1 for t, _ in monomial if t != BIAS and spec.input.terms[t].points == "V") + 1
        axes = sum(spec.input.terms[t].power for t, _ in monomial if t != BIAS) + spec.output.max_power
        orders = math.prod(math.factorial(monomial.count(v)) for v in set(monomial))
        total += limits.bell_number(slots) * _double_factorial(axes - 1 if axes % 2 == 0 else 0) * orders
    total *= sum(t.multiplicity for t in spec.output.terms)
    if total > MAX_DIAGRAMS:
        raise SizeLimitError(
            f"{spec}: the point-cloud patterns need about {total:,} diagrams enumerated; the limit is "
            f"{MAX_DIAGRAMS:,} (a lower degree or fewer input terms)",
            estimate=total, limit=MAX_DIAGRAMS,
        )


def _double_factorial(k: int) -> int:
    return math.prod(range(k, 0, -2)) if k > 0 else 1


def _monomial_patterns(spec: MatrixLayerSpec, output: tuple[int, int], monomial: tuple) -> list[CloudPattern]:
    """The patterns of one monomial feeding one output copy: partitions × matchings, up to reordering."""
    out_term = spec.output.terms[output[0]]
    real = [(t, c) for t, c in monomial if t != BIAS]
    powers = [spec.input.terms[t].power for t, _ in real]
    on_points = [spec.input.terms[t].points == "V" for t, _ in real]
    axes = out_term.power + sum(powers)
    if axes % 2:
        return []
    point_slots = int(out_term.points == "V") + sum(on_points)
    orders = _factor_orders(real)
    seen: dict[tuple, CloudPattern] = {}
    for blocks in _restricted_growth(point_slots):
        for pairs in _matchings(list(range(axes))):
            key = min(_reordered(blocks, pairs, order, out_term, powers, on_points) for order in orders)
            if key not in seen:
                seen[key] = CloudPattern(output, tuple(monomial), key[0], key[1],
                                         out_term.points == "V", out_term.power)
    return list(seen.values())


def _factor_orders(real: list[tuple[int, int]]) -> list[tuple[int, ...]]:
    """Reorderings of the factors that keep every factor's variable: products of permutations within
    runs of equal factors (the monomial is sorted)."""
    runs = [list(group) for _, group in itertools.groupby(range(len(real)), key=lambda i: real[i])]
    orders = []
    for choice in itertools.product(*(itertools.permutations(run) for run in runs)):
        orders.append(tuple(i for run in choice for i in run))
    return orders


def _reordered(blocks: tuple[int, ...], pairs: tuple[tuple[int, int], ...], order: tuple[int, ...],
               out_term, powers: list[int], on_points: list[bool]) -> tuple:
    """``(blocks, pairs)`` with factor ``order[i]`` moved to position ``i``, relabelled canonically."""
    out_pts = int(out_term.points == "V")
    point_of = [None] * len(powers)
    slot = out_pts
    for factor, has in enumerate(on_points):
        if has:
            point_of[factor] = slot
            slot += 1
    new_blocks = list(blocks[:out_pts]) + [blocks[point_of[f]] for f in order if on_points[f]]
    axis_map: dict[int, int] = {a: a for a in range(out_term.power)}
    position = out_term.power
    for f in order:
        for e in range(powers[f]):
            axis_map[_axis_start(out_term.power, powers, f) + e] = position
            position += 1
    relabel: dict[int, int] = {}
    canonical_blocks = tuple(relabel.setdefault(b, len(relabel)) for b in new_blocks)
    canonical_pairs = tuple(sorted(tuple(sorted((axis_map[a], axis_map[b]))) for a, b in pairs))
    return canonical_blocks, canonical_pairs


def _axis_start(out_power: int, powers: list[int], factor: int) -> int:
    return out_power + sum(powers[:factor])


def _restricted_growth(k: int):
    """Set partitions of ``k`` slots as restricted growth strings (block labels by first appearance)."""
    if k == 0:
        yield ()
        return
    def extend(prefix: tuple[int, ...], top: int):
        if len(prefix) == k:
            yield prefix
            return
        for label in range(top + 2):
            yield from extend((*prefix, label), max(top, label))
    yield from extend((0,), 0)


def _matchings(slots: list[int]):
    """Perfect matchings of ``slots`` (an even number of them), pairs sorted."""
    if not slots:
        yield ()
        return
    first, rest = slots[0], slots[1:]
    for i, partner in enumerate(rest):
        for tail in _matchings(rest[:i] + rest[i + 1:]):
            yield ((first, partner), *tail)


# ---------------------------------------------------------------------- text
def pattern_text(pattern: CloudPattern, names: tuple[str, ...], points: tuple[str, ...],
                 powers: tuple[int, ...]) -> tuple[str, str]:
    """``("Σ_i m_i r_ia r_ib", LaTeX)``: the sum a pattern computes.

    ``names[t]`` names input term ``t`` (with the copy number appended when it has several copies:
    pass names with ``{}`` for it, e.g. ``"p{}"``), ``points[t]`` is ``"V"`` or ``"1"``, ``powers[t]``
    its tensor power.  Point blocks are ``k`` (the output's point), then ``i, j, l, …``, each summed
    over all points; output axes are ``a, b, …``, contracted axes ``c, e, …`` are written as inner
    products ``u·v`` (with the metric) where two factors meet, ``δ_ab`` (``η_ab``) for two output axes.
    """
    out_pts, q = pattern.out_points, pattern.out_power
    real = [(t, c) for t, c in pattern.factors if t != BIAS]
    point_label: dict[int, str] = {}
    letters = iter(_INDEX_LETTERS)
    for position, block in enumerate(pattern.blocks):
        if block not in point_label:
            point_label[block] = "k" if (out_pts and position == 0) else next(letters)
    slot_point, slot = {}, int(out_pts)
    for f, (t, _) in enumerate(real):
        if points[t] == "V":
            slot_point[f] = point_label[pattern.blocks[slot]]
            slot += 1
    owner = _axis_owner(q, [powers[t] for t, _ in real])
    text, latex = _factor_texts(pattern, real, names, powers, slot_point, owner, q)
    summed = sorted({point_label[b] for b in pattern.blocks} - {"k"}, key=_INDEX_LETTERS.index)
    body = " ".join(_collect(text)) or "1"
    latex_body = " ".join(_collect(latex, latex=True)) or "1"
    if not summed:
        return body, latex_body
    under = summed[0] if len(summed) == 1 else "{" + ",".join(summed) + "}"
    return f"Σ_{under} {body}", f"\\sum_{{{','.join(summed)}}} {latex_body}"


def _axis_owner(q: int, powers: list[int]) -> list[tuple[int, int]]:
    """``(factor or −1 for the output, axis number)`` of every axis slot."""
    owner = [(-1, a) for a in range(q)]
    for f, power in enumerate(powers):
        owner += [(f, e) for e in range(power)]
    return owner


def _factor_texts(pattern: CloudPattern, real: list, names: tuple[str, ...], powers: tuple[int, ...],
                  slot_point: dict[int, str], owner: list, q: int) -> tuple[list[str], list[str]]:
    """The factors of a pattern as text and LaTeX: scalars, inner products, components, deltas."""
    def symbol(f: int) -> str:
        t, c = real[f]
        name = names[t].format(c + 1) if "{}" in names[t] else names[t]
        return name + (f"_{slot_point[f]}" if f in slot_point else "")

    partner = {}
    for a, b in pattern.pairs:
        partner[a], partner[b] = b, a
    # scalars, inner products, components, deltas: (text, latex) per kind
    kinds: list[list[tuple[str, str]]] = [[], [], [], []]
    for f in range(len(real)):
        if powers[real[f][0]] == 0:
            kinds[0].append((symbol(f), _latex_symbol(symbol(f))))
    used: set[int] = set()
    for slot in range(len(owner)):
        if slot in used:
            continue
        other = partner[slot]
        used.update((slot, other))
        (f, _), (g, _) = owner[slot], owner[other]
        if f < 0 and g < 0:
            a, b = _AXIS_LETTERS[slot], _AXIS_LETTERS[other]
            kinds[3].append((f"δ_{a}{b}", f"\\delta_{{{a}{b}}}"))
        elif f < 0 or g < 0:
            factor, axis = (g, _AXIS_LETTERS[slot]) if f < 0 else (f, _AXIS_LETTERS[other])
            name = symbol(factor)
            component = f"{name}{axis}" if "_" in name else f"{name}_{axis}"
            kinds[2].append((component, _latex_symbol(component)))
        elif symbol(f) == symbol(g):
            kinds[1].append((f"|{symbol(f)}|²", f"|{_latex_symbol(symbol(f))}|^{{2}}"))
        else:
            first, second = sorted((symbol(f), symbol(g)))
            kinds[1].append((f"({first}·{second})",
                             f"({_latex_symbol(first)} \\cdot {_latex_symbol(second)})"))
    text = [t for kind in kinds for t, _ in kind]
    latex = [x for kind in kinds for _, x in kind]
    return text, latex


def _latex_symbol(text: str) -> str:
    head, sep, tail = text.partition("_")
    return f"{head}_{{{tail}}}" if sep else head


def _collect(factors: list[str], latex: bool = False) -> list[str]:
    """Equal factors as powers: ``m_i m_i`` → ``m_i²``."""
    out = []
    for factor in sorted(set(factors), key=factors.index):
        count = factors.count(factor)
        if count == 1:
            out.append(factor)
        elif factor.endswith("|²") or factor.endswith("|^{2}"):  # |r|² |r|² → |r|⁴
            base = factor[: factor.rindex("|") + 1]
            out.append(f"{base}^{{{2 * count}}}" if latex else base + str(2 * count).translate(_SUPERSCRIPTS))
        else:
            out.append(f"{factor}^{{{count}}}" if latex else f"{factor}{str(count).translate(_SUPERSCRIPTS)}")
    return out
