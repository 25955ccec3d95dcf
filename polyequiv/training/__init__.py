"""Training and evaluation on set tasks: runs, checkpoints, results, comparisons and plots.

    from polyequiv.training import RunConfig, train, compare, read_results, plot_metric

    config = RunConfig.create("digit-sum", "tied-linear", seed=0)
    results = train(config, "runs/tied-linear")      # checkpoint per epoch, then results.json
    results = train(config, "runs/two", nproc=2)     # data-parallel: the same numbers, two processes

================  ==================================================================
module            job
================  ==================================================================
``config``        :class:`RunConfig`: what decides a run's numbers
``run``           :func:`train`: the launcher (one process or several), around one loop
``loop``          one process's part of a run: batches, Adam, checkpoints, evaluation
``folder``        the run folder: its files; opening it to start, replace, resume or extend
``stopping``      SIGTERM / Ctrl-C: a checkpoint after the current step, then a clear exit
``sampling``      the batch order, and its shards over processes (:class:`GlobalBatchSampler`)
``world``         rank, world size and the few collectives a data-parallel run uses
``distributed``   ``train(..., nproc=N)`` and ``torchrun``: workers, process group, failures
``checkpoint``    checkpoints with a digest, the last two kept
``run_record``    what ``results.json`` records of a finished run
``evaluation``    per-cardinality accuracy / MAE, permutation and padding diagnostics
``results``       ``results.json`` schema, reading, aligned and Markdown tables
``comparison``    several models, one task, one seed
``plotting``      metric against cardinality, one line per run (matplotlib, Agg)
================  ==================================================================

The names below are imported lazily, so reading results does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunConfig": "config",
    "ConfigError": "config",
    "train": "run",
    "RunFolderError": "folder",
    "InterruptedRunError": "stopping",
    "evaluate": "evaluation",
    "compare": "comparison",
    "read_results": "results",
    "find_runs": "results",
    "comparison_rows": "results",
    "format_table": "results",
    "plot_metric": "plotting",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
