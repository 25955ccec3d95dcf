"""The record of a finished run, as ``results.json`` stores it (:mod:`polyequiv.training.results`)."""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import torch

import polyequiv
from polyequiv.models import SetModel, count_parameters, get_model_definition
from polyequiv.tasks import SetTask
from polyequiv.training.config import RunConfig
from polyequiv.training.results import SCHEMA


def results_record(config: RunConfig, task: SetTask, model: SetModel, state: Any,
                   per_cardinality: list[dict[str, Any]], checks: dict[str, Any], eval_seconds: float,
                   threads: int, device: str, processes: int = 1) -> dict[str, Any]:
    """The results of a run whose training ended in ``state`` (a :class:`~polyequiv.training.loop.RunState`).

    ``training.solver`` is ``{"name": "adam"}`` or the least-squares fit's summary (``rank``,
    ``parameters``, ``rows``, ``condition``, ``residual_rms``); ``training.dtype`` the torch dtype
    of the run.  ``training.extensions`` appears only for a run extended with ``--resume --epochs N``:
    one ``{"after_epoch", "from_epochs", "to_epochs"}`` per extension.
    """
    definition = get_model_definition(config.model)
    training = {
        "epochs_completed": state.epoch,
        "final_train_loss": state.loss_history[-1] if state.loss_history else None,
        "final_penalty": state.penalty_history[-1] if state.penalty_history else None,
        "final_valid_loss": state.valid_history[-1] if state.valid_history else None,
        "loss_history": state.loss_history,
        "valid_history": state.valid_history,
        "wall_time_s": round(state.train_seconds, 3),
        "threads": threads,
        "device": device,
        "processes": processes,
        "sessions": state.sessions,
    }
    training["solver"] = state.solution or {"name": "adam"}
    training["dtype"] = str(torch.get_default_dtype()).removeprefix("torch.")
    if state.extensions:
        training["extensions"] = state.extensions
    return {
        "schema": SCHEMA,
        "config": config.to_dict(),
        "task": task.to_dict(),
        "model": {"name": config.model, "summary": definition.summary,
                  "options": {**definition.options, **config.model_options},
                  "parameters": count_parameters(model)},
        "training": training,
        "evaluation": {"wall_time_s": round(eval_seconds, 3), "per_cardinality": per_cardinality},
        "diagnostics": checks,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "numpy": np.__version__, "polyequiv": polyequiv.__version__},
    }
