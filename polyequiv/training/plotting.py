"""Accuracy (or error) against set cardinality, one line per run: the lab's Task 7.

The figure is built without pyplot (a ``matplotlib.figure.Figure`` drawn by the Agg
canvas): no display is needed, no global backend is switched, and nothing is left
open.  It is returned so notebooks can show it, and written to a file when a path is given.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyequiv.fileio import atomic_write_bytes
from polyequiv.training.results import metric_by_cardinality

METRICS = {"accuracy": "accuracy (rounded prediction = target)", "mae": "mean absolute error",
           "relative_mae": "relative MAE (MAE / mean |y|)",
           "relative_mse": "relative MSE (MSE / variance of y)"}


def run_labels(runs: Sequence[dict[str, Any]], folders: Sequence[str | Path] | None = None) -> list[str]:
    """Model names; where several runs share one, the run folder's name (or the options and seed) is added."""
    names = [run["model"]["name"] for run in runs]
    labels = []
    for number, (name, run) in enumerate(zip(names, runs, strict=True)):
        if names.count(name) == 1:
            labels.append(name)
        elif folders is not None:
            labels.append(f"{name} ({Path(folders[number]).name})")
        else:
            options = run["config"].get("model_options") or {}
            extra = "".join(f"{k}={v}, " for k, v in sorted(options.items()))
            labels.append(f"{name} ({extra}seed {run['config']['seed']})")
    return labels


def plot_metric(runs: Sequence[dict[str, Any]], metric: str = "accuracy", path: str | Path | None = None,
                *, labels: Sequence[str] | None = None, title: str | None = None, log_y: bool | None = None):
    """Plot ``metric`` against test cardinality for each run; save to ``path`` if given.

    Parameters
    ----------
    runs : sequence of dict
        Results read with :func:`polyequiv.training.results.read_results`.
    metric : {"accuracy", "mae", "relative_mae", "relative_mse"}
        What to draw (``accuracy`` needs integer-valued targets).
    labels : sequence of str, optional
        Legend entries (default: :func:`run_labels`).
    path : path, optional
        Where to write the image (format from the suffix, e.g. ``.png``, ``.svg``), atomically.
    log_y : bool, optional
        Logarithmic y axis; by default on for the error metrics, off for accuracy.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    labels = list(labels) if labels is not None else run_labels(runs)
    figure = Figure(figsize=(6.4, 4.2))
    ax = figure.add_subplot()
    markers = "osD^v<>ph*"
    for number, run in enumerate(runs):
        values = {c: v for c, v in metric_by_cardinality(run, metric).items() if v is not None}
        if not values:
            raise ValueError(f"run of {run['model']['name']} on {run['task']['name']} has no {metric} values")
        xs = sorted(values)
        ys = [100 * values[c] if metric == "accuracy" else values[c] for c in xs]
        ax.plot(xs, ys, marker=markers[number % len(markers)], markersize=4, label=labels[number])
    ax.set_xlabel(_x_label({run["task"]["name"] for run in runs}))
    ax.set_ylabel(METRICS[metric] + (" [%]" if metric == "accuracy" else ""))
    if log_y if log_y is not None else metric != "accuracy":
        ax.set_yscale("log")
    tasks = sorted({run["task"]["name"] for run in runs})
    train = sorted({(run["task"]["sizes"]["min_train"], run["task"]["sizes"]["max_train"]) for run in runs})
    trained = ", ".join(f"{a}..{b}" for a, b in train)
    default_title = f"{', '.join(tasks)}: trained on cardinalities {trained}"
    ax.set_title(title or default_title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    if path is not None:
        buffer = io.BytesIO()
        suffix = Path(path).suffix.lstrip(".") or "png"
        figure.savefig(buffer, format=suffix, dpi=120)
        atomic_write_bytes(path, buffer.getvalue())
    return figure


#: What the test "cardinality" is in each task domain (the last part of its module name).
_X_LABELS = {
    "sets": "set cardinality c (test sets of exactly c elements)",
    "graphs": "nodes n (test graphs of exactly n nodes)",
    "images": "test image size",
}


def _x_label(tasks: set[str]) -> str:
    """The x-axis label for runs on ``tasks``: the domain's own word when they share one domain."""
    from polyequiv.tasks import TASKS, task_domain

    domains = {task_domain(name) for name in tasks if name in TASKS}
    if len(domains) == 1:
        return _X_LABELS.get(domains.pop(), "test size")
    return _X_LABELS["sets"] if not domains else "test size"
