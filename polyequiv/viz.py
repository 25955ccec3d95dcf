"""Pictures of tied weight tensors with matplotlib (the seed's coloured matrices).

Each weight is a cell coloured by its class.  A linear layer is one ``n × N``
matrix (rows: outputs ``k``, columns: inputs); a quadratic layer is one
``N × N`` block per output (rows ``i``, columns ``j``); cells with no weight
(``i > j`` under ordered indexing) are left white.
"""

from __future__ import annotations

import itertools

import numpy as np

from polyequiv.derivation import Derivation


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
