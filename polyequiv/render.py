"""Human-readable renderings of a :class:`Derivation`: text report, class picture, LaTeX, JSON.

The class picture is the text version of the seed's coloured matrices: every
weight shows the letter of its class (``A``, ``B``, …, ``AA``, …).  A linear
layer is one matrix (rows = outputs ``k``, columns = inputs ``i``); a quadratic
layer is one ``N × N`` block per output (rows ``i``, columns ``j``; with ordered
indexing only ``i ≤ j`` carries a weight, shown ``·`` otherwise); higher degrees
are one block per (output, leading indices).
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable
from typing import Any

from polyequiv import limits
from polyequiv.constraints import CONSTRAINT_KINDS, AdditiveConstraint, Equality, constraint_kind
from polyequiv.derivation import Derivation
from polyequiv.patterns import Pattern, PatternCount, layer_patterns, pattern_of_slot

#: Above this many weights the picture is replaced by a one-line note.
MAX_PICTURE_WEIGHTS = 4_000
#: Equations printed by LaTeX output unless all are asked for.
DEFAULT_EQUATION_LIMIT = 200
#: Equations shown in the text report unless all are asked for.
SAMPLE_EQUATIONS = 16


def class_label(number: int) -> str:
    """``0 → A``, ``25 → Z``, ``26 → AA``, … (spreadsheet column letters)."""
    letters = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = string.ascii_uppercase[rest] + letters
    return letters


def counts_lines(result: Derivation) -> list[str]:
    """The headline numbers, aligned."""
    s = result.summary()
    total = s["weights"]
    share = 100.0 * s["distinct_weights"] / total if total else 0.0
    rows = [("layer", str(result.spec)), ("group", _group_line(result)), ("weights", f"{total:,}")]
    if "constraint_kinds" in s:  # a matrix group: equations of every kind
        kinds = s["constraint_kinds"]
        rows += [(_KIND_HEADINGS[kind], f"{kinds[kind]:,}") for kind in CONSTRAINT_KINDS if kinds[kind]]
    else:
        rows += [
            ("equalities", f"{s['equality_constraints']:,}"),
            ("additive constraints", f"{s['additive_constraints']:,}"),
        ]
    if s["gauge_ties"]:
        rows.append(("gauge ties", f"{s['gauge_ties']:,}"))
    if s["merged_by_additive"]:
        rows.append(("classes merged by additive", f"{s['merged_by_additive']:,}"))
    rows += [
        ("distinct weights", f"{s['distinct_weights']:,} ({share:.3g}% of the weights)"),
        ("free parameters", f"{s['free_parameters']:,}"),
        (
            "function dim",
            f"{s['function_dim']:,}" + (f" (+{s['gauge_dim']:,} gauge)" if s["gauge_dim"] else ""),
        ),
        ("engine", f"{s['engine']} ({s['seconds']:.3f} s)"),
    ]
    width = max(len(name) for name, _ in rows)
    return [f"{name.ljust(width)}  {value}" for name, value in rows]


#: Headings of the equation kinds of :func:`polyequiv.constraints.constraint_kind`.
_KIND_HEADINGS = {
    "equality": "equalities",
    "zero": "zero constraints",
    "additive": "additive constraints",
    "general linear": "general linear constraints",
}


def _group_line(result: Derivation) -> str:
    s = result.summary()
    if "lie_algebra_dim" not in s:
        return f"{result.spec.group_label}, order {s['group_order']:,}, {len(s['generators'])} generators"
    gens = s["generators"]
    order = "continuous" if s["group_order"] is None else f"order {s['group_order']:,}"
    parts = [f"{len(gens['permutation'])} permutation"] if gens["permutation"] else []
    parts += [f"{len(gens['finite'])} finite", f"{len(gens['lie'])} Lie"]
    return f"{result.spec.group_label}, {order}, generators: {' + '.join(parts)}"


def _heading(equation: Equality | AdditiveConstraint) -> str:
    if isinstance(equation, AdditiveConstraint):
        return _KIND_HEADINGS[constraint_kind(equation.terms)]
    return "gauge ties" if equation.kind == "gauge" else "equalities"


def _sample_by_kind(result: Derivation, per_kind: int) -> list[Equality | AdditiveConstraint]:
    """The first ``per_kind`` equations under every heading (a matrix group's sample: every kind shows)."""
    taken: dict[str, int] = {}
    out = []
    for equation in result.equations():
        heading = _heading(equation)
        if taken.get(heading, 0) < per_kind:
            taken[heading] = taken.get(heading, 0) + 1
            out.append(equation)
    return out


def equation_lines(
    result: Derivation, limit: int | None = DEFAULT_EQUATION_LIMIT, *, per_kind: bool = False
) -> list[str]:
    """Equalities, the other equations by kind (zero, additive, general linear) and gauge ties, grouped
    under headings: the first ``limit`` equations, or with ``per_kind`` the first ``limit // 4`` of each
    kind."""
    index = result.index
    groups: dict[str, list[str]] = {heading: [] for heading in (*_KIND_HEADINGS.values(), "gauge ties")}
    sample = _sample_by_kind(result, limit // 4) if per_kind and limit else result.equations(limit)
    for equation in sample:
        groups[_heading(equation)].append(equation.text(index))
    kinds = result.system.kind_counts()
    totals = {_KIND_HEADINGS[kind]: count for kind, count in kinds.items()}
    totals["gauge ties"] = int(result.system.gauge_ties.shape[0])
    lines = []
    for heading, items in groups.items():
        if not totals[heading]:
            continue
        lines.append(f"{heading} ({totals[heading]:,}):")
        lines += [f"  {item}" for item in items]
        if len(items) < totals[heading]:
            lines.append(f"  … {totals[heading] - len(items):,} more")
    return lines


def class_lines(result: Derivation, limit: int | None = 40) -> list[str]:
    """Each class with its letter, size and first members."""
    lines = []
    for number, members in enumerate(result.graph.class_members):
        names = [result.index.weight_name(w) for w in members[:6]]
        more = f", … ({len(members)} weights)" if len(members) > 6 else ""
        lines.append(f"  {class_label(number):>3}: {', '.join(names)}{more}")
        if limit is not None and number + 1 >= limit and result.distinct_weights > limit:
            lines.append(f"  … {result.distinct_weights - limit:,} more classes")
            break
    return lines


def slot_pattern(result: Derivation, weight_id: int) -> Pattern:
    """The n-free partition pattern (:mod:`polyequiv.patterns`) of the slot of one weight (Sₙ only)."""
    index, spec = result.index, result.spec
    output, tuple_id = divmod(int(weight_id), index.num_tuples)
    out_coordinates, out_terms = spec.output.coordinates(spec.n), spec.output.coordinate_terms(spec.n)
    in_coordinates, in_terms = spec.input.coordinates(spec.n), spec.input.coordinate_terms(spec.n)
    monomial = sorted(int(i) for i in index.tuples[tuple_id])
    factors = [(int(in_terms[i]), in_coordinates[i]) for i in monomial if i < spec.num_coordinates]
    return pattern_of_slot(
        spec.input,
        spec.output,
        spec.n,
        out_coordinates[output],
        int(out_terms[output]),
        factors,
        len(monomial) - len(factors),
    )


def pattern_lines(result: Derivation, limit: int | None = 40) -> list[str]:
    """For Sₙ: the n-free pattern of every class (ordered indexing), or the classes of every slot
    pattern (full indexing), and how many patterns need more than n elements."""
    spec = result.spec
    lines = []
    if spec.indexing == "ordered":
        for number, members in enumerate(result.graph.class_members):
            if limit is not None and number >= limit:
                lines.append(f"  … {result.distinct_weights - limit:,} more")
                break
            lines.append(f"  {class_label(number):>3}: {slot_pattern(result, members[0])}")
    else:
        by_pattern: dict[str, list[str]] = {}
        for number, members in enumerate(result.graph.class_members):
            by_pattern.setdefault(str(slot_pattern(result, members[0])), []).append(class_label(number))
        for number, (pattern, labels) in enumerate(by_pattern.items()):
            if limit is not None and number >= limit:
                lines.append(f"  … {len(by_pattern) - limit:,} more")
                break
            lines.append(f"  {pattern}: classes {', '.join(labels)}")
    missing = sum(
        1
        for p in layer_patterns(spec.input, spec.output, spec.degree, bias=spec.bias)
        if p.num_blocks > spec.n
    )
    if missing:
        lines.append(f"  ({missing} more n-free patterns need more than {spec.n} elements)")
    return lines


def picture_lines(result: Derivation, style: Callable[[str, int], str] | None = None) -> list[str]:
    """The tied weight tensor as blocks of class letters (``style(label, class)`` may colour them)."""
    index, spec = result.index, result.spec
    if result.num_weights > MAX_PICTURE_WEIGHTS:
        return [
            f"(picture omitted: {result.num_weights:,} weights; it is drawn up to {MAX_PICTURE_WEIGHTS:,})"
        ]
    classes = result.graph.class_of_weight.tolist()
    labels = [class_label(c) for c in range(result.distinct_weights)]
    tuple_id = {tuple(row): i for i, row in enumerate(index.tuples.tolist())}
    big_n = spec.num_inputs
    names = [index.index_label(i) for i in range(big_n)]
    width = max(len(x) for x in labels + names)

    def cell(output: int, indices: tuple[int, ...]) -> str:
        t = tuple_id.get(indices)
        if t is None:
            return "·".rjust(width)
        number = classes[output * index.num_tuples + t]
        padded = labels[number].rjust(width)
        return style(padded, number) if style else padded

    outputs = range(index.num_outputs)
    d = spec.degree
    lines: list[str] = []
    if d == 0:
        return ["  " + " ".join(cell(k, ()) for k in outputs)]
    if d == 1:
        header = " " * (width + 3) + " ".join(n.rjust(width) for n in names)
        lines.append(header)
        for k in outputs:
            row_name = f"y{index.output_label(k)}" if spec.equivariant else "y"
            lines.append(f"{row_name.rjust(width + 2)} " + " ".join(cell(k, (i,)) for i in range(big_n)))
        return lines
    for k in outputs:
        for lead in itertools.product(range(big_n), repeat=d - 2):
            title = f"y{index.output_label(k)}" if spec.equivariant else "y"
            if lead:
                title += f", leading indices {''.join(names[i] for i in lead)}"
            lines.append(f"{title}:")
            lines.append(" " * (width + 1) + " ".join(n.rjust(width) for n in names))
            for i in range(big_n):
                cells = " ".join(cell(k, (*lead, i, j)) for j in range(big_n))
                lines.append(f"{names[i].rjust(width)} {cells}")
    return lines


def text_report(
    result: Derivation,
    *,
    show_constraints: bool,
    show_classes: bool,
    style: Callable[[str, int], str] | None = None,
    show_basis: bool = False,
) -> str:
    """The ``polyequiv derive`` text output: counts, equations (a sample unless
    ``show_constraints``), classes (if asked) and the picture of the tied tensor."""
    lines = counts_lines(result)
    limit = None if show_constraints else SAMPLE_EQUATIONS
    matrix = "lie_algebra_dim" in result.summary()
    lines += ["", *equation_lines(result, limit, per_kind=matrix)]
    if not show_constraints and len(result.equations(SAMPLE_EQUATIONS + 1)) > SAMPLE_EQUATIONS:
        lines.append("  (--show-constraints lists them all)")
    if show_classes:
        lines += ["", f"classes ({result.distinct_weights:,}):", *class_lines(result, limit=None)]
    if result.spec.group == "symmetric":
        lines += ["", "patterns (indices in one block equal, in different blocks distinct):"]
        lines += pattern_lines(result, limit=None if show_classes else 40)
    if "lie_algebra_dim" in result.summary() or show_basis:
        shown = None if show_basis else SAMPLE_BASIS
        lines += ["", f"exact basis ({result.free_parameters:,} free parameters, W = Σ θ_j B_j):"]
        lines += basis_lines(result, shown)
    if "lie_algebra_dim" not in result.summary():
        lines += ["", "tied weight tensor (one letter per class):", *picture_lines(result, style)]
    return "\n".join(lines)


#: Basis vectors the text report shows unless all are asked for.
SAMPLE_BASIS = 8


def basis_vectors(result: Derivation) -> list[dict[str, str]]:
    """The exact basis on weights: for each free parameter ``j``, ``{weight name: value}`` of ``B_j``
    (values as ``"p/q"`` strings or integers written as strings), weights in id order."""
    members = result.graph.class_members
    out = []
    for vector in result.free_basis:
        entries = {int(w): value for c, value in vector.items() for w in members[c]}
        out.append({result.index.weight_name(w): str(entries[w]) for w in sorted(entries)})
    return out


def basis_lines(result: Derivation, limit: int | None = SAMPLE_BASIS) -> list[str]:
    """``B_j: W^.. = 1, W^.. = −1/2, …`` per free parameter (at most ``limit`` vectors)."""
    vectors = basis_vectors(result) if limit is None else basis_vectors(result)[:limit]
    lines = [f"  B{j + 1}: " + ", ".join(f"{name} = {value}" for name, value in vector.items())
             for j, vector in enumerate(vectors)]
    if limit is not None and result.free_parameters > limit:
        lines.append(f"  … {result.free_parameters - limit:,} more (--show-basis lists them all)")
    return lines


def latex_report(result: Derivation, limit: int | None = DEFAULT_EQUATION_LIMIT) -> str:
    """Counts as a comment, equations in an ``align*`` environment."""
    s = result.summary()
    lines = [
        f"% {result.spec}: {s['weights']} weights, {s['distinct_weights']} distinct, "
        f"{s['free_parameters']} free, function dim {s['function_dim']}",
        "\\begin{align*}",
    ]
    equations = result.equations(limit)
    body = [eq.latex(result.index) for eq in equations]
    lines += [line + (" \\\\" if i < len(body) - 1 else "") for i, line in enumerate(body)]
    lines.append("\\end{align*}")
    total = s["equality_constraints"] + s["additive_constraints"] + s["gauge_ties"]
    if len(equations) < total:
        lines.append(f"% … {total - len(equations)} more equations")
    return "\n".join(lines)


def json_object(
    result: Derivation | PatternCount,
    *,
    show_constraints: bool,
    show_classes: bool,
    equation_limit: int | None = None,
    show_basis: bool = False,
) -> dict[str, Any]:
    """The ``polyequiv derive --format json`` object (a pattern count gives its summary); a matrix group's
    (or, with ``show_basis``, any) object carries the exact basis on weights under ``"basis"``."""
    data = result.summary()
    if isinstance(result, PatternCount):
        return data
    if show_classes:
        data["classes"] = result.class_names()
        if result.spec.group == "symmetric":
            data["class_patterns"] = [str(slot_pattern(result, m[0])) for m in result.graph.class_members]
    if show_constraints:
        data["equations"] = [eq.text(result.index) for eq in result.equations(equation_limit)]
    if show_basis or "lie_algebra_dim" in data:
        data["basis"] = basis_vectors(result)
    return data


COUNT_HEADER = ("n", "distinct", "weights", "%", "free", "function dim", "seconds", "path")


def count_header(widths: list[int], first: str = "n") -> str:
    """The header line of a count table whose columns have ``widths``."""
    return "  ".join(h.rjust(w) for h, w in zip((first, *COUNT_HEADER[1:]), widths, strict=True))


def weights_text(count: int) -> str:
    """A weight count as the count table writes it: with separators, or ``9.69e+94`` beyond 10¹⁵."""
    return f"{count:,}" if count < 10**15 else limits.approx(count)


def count_row(r: Derivation | PatternCount, widths: list[int]) -> str:
    """One row of a count table (see :func:`count_table`), right-aligned in ``widths``."""
    pct = 100.0 * r.distinct_weights / r.num_weights if r.num_weights else 0.0
    weights = weights_text(r.num_weights)
    cells = (size_label(r.spec), f"{r.distinct_weights:,}", weights, f"{pct:.1f}", f"{r.free_parameters:,}",
             f"{r.function_dim:,}", f"{r.seconds:.3f}", r.engine)
    return "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))


def count_first_column(spec: Any) -> str:
    """``group`` for a matrix group's row, else ``n``."""
    return "group" if spec.shape is None and not isinstance(spec.group, str) else "n"


def count_table(results: list[Derivation | PatternCount]) -> str:
    """The seed's table (22) layout: n, distinct weights, total weights, percentage, free, function dim,
    seconds, and the path that counted (``symbolic``, ``sparse`` or ``patterns``)."""
    matrix = any(r.spec.shape is None and not isinstance(r.spec.group, str) for r in results)
    first = "group" if matrix else "n"
    header = (first, "distinct", "weights", "%", "free", "function dim", "seconds", "path")
    rows = []
    for r in results:
        pct = 100.0 * r.distinct_weights / r.num_weights if r.num_weights else 0.0
        weights = f"{r.num_weights:,}" if r.num_weights < 10**15 else f"{r.num_weights:.3e}"
        rows.append(
            (
                size_label(r.spec),
                f"{r.distinct_weights:,}",
                weights,
                f"{pct:.1f}",
                f"{r.free_parameters:,}",
                f"{r.function_dim:,}",
                f"{r.seconds:.3f}",
                r.engine,
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    fmt = "  ".join("{:>" + str(w) + "}" for w in widths)
    return "\n".join([fmt.format(*header), *(fmt.format(*row) for row in rows)])


def size_label(spec: Any) -> str:
    """The first column of the count table: n, the grid shape, or a matrix group's name."""
    if spec.shape is not None:
        return f"{spec.shape[0]}x{spec.shape[1]}"
    return str(spec.n) if isinstance(spec.group, str) else spec.group_label
