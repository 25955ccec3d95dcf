"""`results.json`: what one run measured, and the aligned tables built from several.

Schema ``polyequiv-results/2``::

    {
      "schema": "polyequiv-results/2",
      "config":      RunConfig.to_dict() (task, model, seed, epochs, batch_size, lr, loss, schedule, …),
      "task":        {"name", "formula", "elements", "kind", "seed", "sizes"},
      "model":       {"name", "summary", "options", "parameters"},
      "training":    {"epochs_completed", "final_train_loss", "final_penalty", "final_valid_loss",
                      "loss_history", "valid_history", "wall_time_s", "threads", "device", "processes",
                      "sessions"},
      "evaluation":  {"wall_time_s", "per_cardinality": [{"cardinality", "samples", "accuracy",
                                                         "mae", "relative_mae"[, "mse",
                                                         "relative_mse"]}, ...]},
      "diagnostics": {"permutation_shift", "padding_shift", ["equivariance_residual", ...]},
      "environment": {"python", "torch", "numpy", "polyequiv"},
      "sha256":      SHA-256 of the canonical JSON of every other field
    }

The digest makes a damaged or edited file a refusal (:class:`ResultsError`, one line naming the
file) instead of a table with a wrong number in it.  Files of schema ``polyequiv-results/1``
(written before the digest) are still read as they are.

Everything outside ``wall_time_s``, ``threads``, ``device``, ``processes``, ``sessions`` and
``environment`` depends only on the config: same seed, same numbers (with another process
count, up to float rounding: the batch losses are summed in another order).  Files written
before ``processes`` was recorded lack it (they come from one process).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polyequiv.fileio import atomic_write_text, canonical_digest

SCHEMA = "polyequiv-results/2"
#: Schemas read: the current one (with a digest) and the first (without).
READABLE_SCHEMAS = ("polyequiv-results/1", SCHEMA)
RESULTS_NAME = "results.json"
REQUIRED = ("config", "task", "model", "training", "evaluation", "diagnostics", "environment")
#: Bytes of the largest results.json read (a real one is a few kB).
MAX_RESULTS_BYTES = 64_000_000
#: Cardinalities shown in tables of runs tested at many sizes (those a run has).
TABLE_CARDINALITIES = (5, 10, 20, 50, 100)
#: Runs tested at this many sizes or fewer show every one of them.
MAX_ALL_COLUMNS = 6


class ResultsError(ValueError):
    """A run folder without a readable ``results.json`` of the known schema."""


def write_results(folder: str | Path, results: dict[str, Any]) -> dict[str, Any]:
    """Write ``results`` (schema :data:`SCHEMA`) with its digest to ``folder/results.json`` atomically;
    return what was written (``results`` with ``schema`` and ``sha256``)."""
    content = {**results, "schema": SCHEMA}
    content["sha256"] = canonical_digest(content)
    atomic_write_text(Path(folder) / RESULTS_NAME, json.dumps(content, indent=2) + "\n")
    return content


def read_results(path: str | Path) -> dict[str, Any]:
    """Read ``results.json`` from a run folder (or the file itself) and check its schema."""
    path = Path(path)
    file = path / RESULTS_NAME if path.is_dir() else path
    if not file.is_file():
        raise ResultsError(f"no {RESULTS_NAME} in {path} (is it a finished run folder?)")
    try:
        size = file.stat().st_size
        if size > MAX_RESULTS_BYTES:
            raise ResultsError(f"{file} holds {size:,} bytes, more than any {RESULTS_NAME} "
                               f"(limit {MAX_RESULTS_BYTES:,})")
        text = file.read_text(encoding="utf-8")
        if not text.strip():
            raise ResultsError(f"{file} is empty (an interrupted copy?)")
        results = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsError(f"cannot read {file}: {error}") from None
    if not isinstance(results, dict) or results.get("schema") not in READABLE_SCHEMAS:
        raise ResultsError(f"{file} is not a {SCHEMA} file")
    if results["schema"] == SCHEMA and results.get("sha256") != canonical_digest(results):
        raise ResultsError(f"{file} is damaged: the SHA-256 of its content does not match its sha256 field "
                           "(the file changed after it was written)")
    missing = [key for key in REQUIRED if key not in results]
    if missing:
        raise ResultsError(f"{file} lacks {', '.join(missing)}")
    return results


def find_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders named by ``paths``: each is a run folder, or a folder of run folders (``compare``'s)."""
    runs: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / RESULTS_NAME).is_file() or path.is_file():
            runs.append(path)
        elif path.is_dir() and (found := sorted(p.parent for p in path.glob(f"*/{RESULTS_NAME}"))):
            runs.extend(found)
        else:
            raise ResultsError(f"{path} holds no {RESULTS_NAME} (not a finished run folder)")
    return runs


def metric_by_cardinality(results: dict[str, Any], metric: str) -> dict[int, float | None]:
    """``{cardinality: value}`` of ``metric`` (``accuracy``, ``mae``, ``relative_mae``; physics tasks also
    ``mse``, ``relative_mse``)."""
    return {row["cardinality"]: row.get(metric) for row in results["evaluation"]["per_cardinality"]}


def numbers_only(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` without the parts that vary between identical runs (times, threads, environment)."""
    data = json.loads(json.dumps(results))
    data.pop("environment", None)
    data.pop("sha256", None)
    for key in ("wall_time_s", "threads", "device", "processes", "sessions"):
        data["training"].pop(key, None)
    data["evaluation"].pop("wall_time_s", None)
    return data


# ---------------------------------------------------------------------- tables
def _format(value: float | None, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "accuracy":
        return f"{100 * value:.2f}%"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "seconds":
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def comparison_rows(runs: Sequence[dict[str, Any]], cardinalities: Sequence[int] | None = None,
                    metrics: Sequence[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a comparison table (model, parameters, train time, metrics at each cardinality).

    The columns are the cardinalities every run was tested at (all of them when there are at most
    :data:`MAX_ALL_COLUMNS`, else those of :data:`TABLE_CARDINALITIES`); runs tested at disjoint
    sizes (a fixed-size ``variety-*`` network beside a set model) get the union, "—" where a run has
    none.
    """
    if not runs:
        return [], []
    tested = [set(metric_by_cardinality(r, "mae")) for r in runs]
    available = sorted(set.intersection(*tested))
    if available:
        default = available if len(available) <= MAX_ALL_COLUMNS else TABLE_CARDINALITIES
        wanted = [c for c in (cardinalities or default) if c in available] or available
    else:
        union = sorted(set.union(*tested))
        wanted = [c for c in union if cardinalities is None or c in cardinalities] or union
    if metrics is None:
        rows_of = [row for r in runs for row in r["evaluation"]["per_cardinality"]]
        discrete = any(row.get("accuracy") is not None for row in rows_of)
        errors = any(row.get("mae") is not None for row in rows_of)
        squared = any(row.get("relative_mse") is not None for row in rows_of)
        metrics = (("accuracy", "mae") if errors else ("accuracy",)) if discrete else (
            ("relative_mse", "mse") if squared else ("mae", "relative_mae"))
    short = {"accuracy": "acc", "mae": "MAE", "relative_mae": "rel", "mse": "MSE", "relative_mse": "relMSE"}
    header = ["model", "params", "train s"] + [f"{short[m]}@{c}" for m in metrics for c in wanted]
    rows = []
    for run in runs:
        row = [run["model"]["name"] + _variant(run), _format(run["model"]["parameters"], "count"),
               _format(run["training"]["wall_time_s"], "seconds")]
        for metric in metrics:
            values = metric_by_cardinality(run, metric)
            row += [_format(values.get(c), metric) for c in wanted]
        rows.append(row)
    return header, rows


def _variant(run: dict[str, Any]) -> str:
    options = run["config"].get("model_options") or {}
    return "" if not options else " (" + ", ".join(f"{k}={v}" for k, v in sorted(options.items())) + ")"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool = False) -> str:
    """An aligned plain-text table (numbers right-aligned), or a Markdown table."""
    if not header:
        return ""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                strict=True))]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts)

    lines = [line(header)]
    if markdown:
        lines.append("|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2))
                                    for i, w in enumerate(widths)) + "|")
    else:
        lines.append("  ".join("-" * w for w in widths))
    lines += [line(row) for row in rows]
    return "\n".join(lines)
