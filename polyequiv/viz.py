"""Pictures of tied weight tensors with matplotlib (the seed's coloured matrices).

Each weight is a cell coloured by its class.  A linear layer is one ``n × N``
matrix (rows: outputs ``k``, columns: inputs); a quadratic layer is one
``N × N`` block per output (rows ``i``, columns ``j``); cells with no weight
(``i > j`` under ordered indexing) are left white.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from polyequiv.derivation import Derivation
from polyequiv.patterns import Pattern


def class_grids(result: Derivation) -> list[tuple[str, np.ndarray]]:
    """``(title, grid)`` pairs: grids of class ids (−1 where no weight), one per output block.

    >>> from polyequiv import LayerSpec, derive
    >>> [(title, grid.shape) for title, grid in class_grids(derive(LayerSpec(n=3, degree=1)))]
    [('W', (3, 3))]
    """
    index, spec = result.index, result.spec
    big_n, d = spec.num_inputs, spec.degree
    classes = result.graph.class_of_weight.reshape(index.num_outputs, index.num_tuples)
    position = {tuple(row): i for i, row in enumerate(index.tuples.tolist())}

    def lookup(output: int, indices: tuple[int, ...]) -> int:
        t = position.get(indices)
        return -1 if t is None else int(classes[output, t])

    if d <= 1:
        grid = np.array(
            [
                [lookup(k, (i,) if d else ()) for i in range(big_n if d else 1)]
                for k in range(index.num_outputs)
            ]
        )
        return [("W", grid)]
    grids = []
    for k in range(index.num_outputs):
        for lead in itertools.product(range(big_n), repeat=d - 2):
            grid = np.array([[lookup(k, (*lead, i, j)) for j in range(big_n)] for i in range(big_n)])
            title = f"y{k}" if spec.equivariant else "y"
            if lead:
                title += " · " + "".join(index.index_label(i) for i in lead)
            grids.append((title, grid))
    return grids


def plot_classes(result: Derivation, *, max_panels: int = 12, cmap: str = "tab20", ax_size: float = 2.2):
    """A matplotlib figure of the tied weight tensor, one panel per output block (at most ``max_panels``).

    Returns the ``matplotlib.figure.Figure``; the caller saves or shows it.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    grids = class_grids(result)[:max_panels]
    index = result.index
    labels = [index.index_label(i) for i in range(result.spec.num_inputs)]
    colours = plt.get_cmap(cmap)(np.arange(max(result.distinct_weights, 1)) % 20)
    palette = ListedColormap(np.vstack([[1, 1, 1, 1], colours]))
    columns = min(len(grids), 4)
    rows = -(-len(grids) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(ax_size * columns, ax_size * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (title, grid) in zip(axes.ravel(), grids, strict=False):
        ax.axis("on")
        ax.imshow(grid + 1, cmap=palette, vmin=0, vmax=len(colours), interpolation="nearest")
        for (i, j), value in np.ndenumerate(grid):
            if value >= 0 and grid.size <= 400:
                ax.text(j, i, _letter(int(value)), ha="center", va="center", fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(grid.shape[1]), labels[: grid.shape[1]] if grid.shape[1] == len(labels) else None)
        ax.set_yticks(range(grid.shape[0]))
        ax.tick_params(labelsize=7)
    figure.suptitle(
        f"{result.spec}: {result.distinct_weights} classes of {result.num_weights} weights", fontsize=10
    )
    figure.tight_layout()
    return figure


def _letter(number: int) -> str:
    from polyequiv.render import class_label

    return class_label(number)


def pattern_positions(pattern: Pattern) -> list[str]:
    """The pattern's position names in position order (outputs ``o…``, then every factor's ``i…``)."""
    seen = [0] * pattern.num_blocks
    names = []
    for block in pattern.kernel:
        names.append(pattern.blocks[block][seen[block]])
        seen[block] += 1
    return names


def plot_patterns(
    patterns: Sequence[Pattern], *, title: str | None = None, columns: int = 4, ax_size: float = 2.4
):
    """Partition diagrams of Sₙ patterns (Pearce-Crump's pictures), one panel per pattern.

    Top row: the output's index positions ``o₁, o₂, …``; bottom row: the input
    positions factor by factor, each factor's positions framed together (``i₁ i₁′``
    is one edge).  Positions of one block (equal indices) are joined: arcs between
    neighbours of the block in the same row, one straight line between the rows
    when the block holds positions of both.  Positions in different blocks take
    distinct elements.  Patterns without positions (bias only) show their suffix.

    Returns the ``matplotlib.figure.Figure``; the caller saves or shows it.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Arc, FancyBboxPatch

    if not patterns:
        raise ValueError("no patterns to draw")
    columns = max(1, min(columns, len(patterns)))
    rows = -(-len(patterns) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(ax_size * columns, 0.8 * ax_size * rows),
                                squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    colours = plt.get_cmap("tab10")
    for number, (ax, pattern) in enumerate(zip(axes.ravel(), patterns, strict=False)):
        names = pattern_positions(pattern)
        top = [p for p, name in enumerate(names) if name.startswith("o")]
        bottom = [p for p, name in enumerate(names) if not name.startswith("o")]
        width = max(len(top), len(bottom), 1)
        where: dict[int, tuple[float, float]] = {}
        for row, positions in ((1.0, top), (0.0, bottom)):
            offset = (width - len(positions)) / 2
            for slot, p in enumerate(positions):
                where[p] = (offset + slot, row)
        factors: dict[str, list[int]] = {}
        for p in bottom:
            factors.setdefault(names[p].rstrip("′″‴"), []).append(p)
        for members in factors.values():
            x0, x1 = where[members[0]][0], where[members[-1]][0]
            ax.add_patch(FancyBboxPatch((x0 - 0.3, -0.22), x1 - x0 + 0.6, 0.44, boxstyle="round,pad=0.02",
                                        fill=False, linewidth=0.6, edgecolor="0.6"))
        for b in range(pattern.num_blocks):
            colour = colours(b % 10)
            members = [p for p, block in enumerate(pattern.kernel) if block == b]
            for row, sign in ((1.0, -1), (0.0, 1)):
                in_row = sorted((p for p in members if where[p][1] == row), key=lambda p: where[p][0])
                for a, c in itertools.pairwise(in_row):
                    (xa, _), (xc, _) = where[a], where[c]
                    ax.add_patch(Arc(((xa + xc) / 2, row), xc - xa, 0.5 * (xc - xa) / width + 0.25,
                                     theta1=180 if sign < 0 else 0, theta2=360 if sign < 0 else 180,
                                     color=colour, linewidth=1.6))
            tops = [p for p in members if where[p][1] == 1.0]
            bottoms = [p for p in members if where[p][1] == 0.0]
            if tops and bottoms:
                (xt, yt), (xb, yb) = where[tops[0]], where[bottoms[0]]
                ax.plot([xt, xb], [yt, yb], color=colour, linewidth=1.6)
            for p in members:
                x, y = where[p]
                ax.plot([x], [y], "o", color=colour, markersize=6)
                ax.text(x, y + (0.17 if y else -0.3), names[p], ha="center", va="center", fontsize=7)
        ax.set_xlim(-0.7, width - 0.3)
        ax.set_ylim(-0.55, 1.4)
        label = f"{_letter(number)}: {pattern}"
        ax.set_title(label if len(label) < 38 else label[:36] + "…", fontsize=7)
    figure.suptitle(title or f"{len(patterns)} partition patterns", fontsize=10)
    figure.tight_layout()
    return figure
