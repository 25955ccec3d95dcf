"""What `discover` shows people: the ranked candidates, the discovered group, heatmaps to draw."""

from __future__ import annotations

import math

import numpy as np

from polyequiv.discovery.ranking import Discovery
from polyequiv.discovery.symmetry import SymmetryGroup, class_means


def format_table(result: Discovery) -> str:
    """The ranked candidates as an aligned text table."""
    header = ("rank", "group", "classes", "ARI", "matching", "residual", "note")
    rows = [header]
    for rank, c in enumerate(result.candidates, start=1):
        note = f"same classes as {c.same_as}" if c.same_as else ""
        matching = "—" if math.isnan(c.matching) else f"{c.matching:.3f}"
        rows.append((str(rank), c.name, str(c.num_classes), f"{c.ari:.3f}", matching,
                     f"{c.residual:.3f}", note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i in (1, 6) else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    return "\n".join(lines)


def heatmap_grids(result: Discovery) -> list[tuple[str, np.ndarray]]:
    """``(title, 2-D grid)`` pairs to draw side by side: the learned weights, the clustered classes
    and the best candidate's classes (each class drawn as its mean weight).

    Rows are outputs (channels stacked one below the other), columns are inputs (monomials
    ``i ≤ j`` in lexicographic order for a quadratic layer).

    >>> import numpy as np
    >>> from polyequiv.discovery import discover
    >>> [(title.split(" ")[0], grid.shape) for title, grid in heatmap_grids(discover(np.eye(4)))]
    [('learned', (4, 4)), ('clustered', (4, 4)), ('S4', (4, 4))]
    """
    layout = result.layout
    rows = layout.channels * (layout.n if layout.mode == "equivariant" else 1)
    best = result.best

    def grid(values: np.ndarray) -> np.ndarray:
        return values.reshape(rows, -1)

    return [
        ("learned weights", grid(layout.values)),
        (f"clustered classes ({result.num_clusters})", grid(class_means(layout.values, result.labels))),
        (f"{best.name} classes ({best.num_classes}, ARI {best.ari:.2f})",
         grid(class_means(layout.values, result.candidate_classes(best.name)))),
    ]


def format_group(result: Discovery) -> list[str]:
    """Lines describing the discovered group and its robustness (none when it was not computed)."""
    found = result.symmetry
    if found is None:
        return []
    lines = [f"group: {_summary(found)}"]
    if found.residual > result.max_residual:
        lines.append(f"  (residual {found.residual:.3f} > {result.max_residual:g}: the weights are far from "
                     "these ties; the clustering lumped values that differ)")
    lines += [
              f"  generators: {found.cycles()}",
              f"  orbits: {_orbits(found)}"]
    checks = result.robustness
    if checks is not None and checks.draws:
        orders = ", ".join(f"order {order:,} × {count}" for order, count in sorted(checks.orders.items()))
        lines.append(f"  bootstrap: the same group in {checks.agreeing} of {checks.draws} draws ({orders})")
    if checks is not None and checks.largest is not None:
        lines.append(f"  largest group within residual {checks.tolerance:g}: {_summary(checks.largest)}")
    return lines


def _summary(found: SymmetryGroup) -> str:
    return (f"{found.name}, order {found.order:,} ({found.num_classes} classes per channel, "
            f"residual {found.residual:.3f})")


def _orbits(found: SymmetryGroup, limit: int = 12) -> str:
    moved = [orbit for orbit in found.orbits if len(orbit) > 1]
    fixed = found.n - sum(len(orbit) for orbit in moved)
    shown = ["{" + " ".join(map(str, orbit)) + "}" for orbit in moved[:limit]]
    if len(moved) > limit:
        shown.append(f"… {len(moved) - limit} more")
    if fixed:
        shown.append(f"{fixed} fixed point{'s' if fixed > 1 else ''}")
    return " ".join(shown) or "none (trivial group)"
