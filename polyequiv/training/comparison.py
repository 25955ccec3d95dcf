"""Train several models on one task with the same seed and put their results side by side.

Each model trains into ``out/<model>``.  A model whose folder already holds
finished results of the same config is reused; one with a checkpoint of the
same config is resumed; a folder holding another config is an error (pick
another ``out``, or pass ``overwrite``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from polyequiv.locking import hold_lock
from polyequiv.models import ModelContext, ModelError, build_model, get_model_definition, model_names
from polyequiv.tasks import get_definition
from polyequiv.training.checkpoint import checkpoint_files
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.folder import peek_checkpoint, resume_conflict
from polyequiv.training.results import RESULTS_NAME, ResultsError, read_results
from polyequiv.training.run import train


def supported_models(task: str, models: Sequence[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The models that can do ``task``, and ``{model: reason}`` for those that cannot.

    The default is every model of the task's domain that trains on the task's own sizes: the
    fixed-size networks (``variety-*``, which set the cardinalities to their network's n) only when
    named; models of other domains are not tried (named, they are reported as unable).
    """
    context = ModelContext.of_definition(get_definition(task))
    able, unable = [], {}
    default = [name for name in model_names(context.domain)
               if get_model_definition(name).task_requirements is None]
    for name in models or default:
        problem = get_model_definition(name).fit_problem(context)
        if problem is None:
            able.append(name)
        else:
            unable[name] = problem
    return able, unable


def check_buildable(config: RunConfig) -> None:
    """Build ``config``'s model with its options (then discard it); :class:`ConfigError` if it fails."""
    context = ModelContext.of_definition(get_definition(config.task))
    try:
        build_model(config.model, context, **config.model_options)
    except ModelError as error:
        raise ConfigError(f"{config.model}: {error}") from None


def compare(configs: Sequence[RunConfig], out: str | Path, *, overwrite: bool = False, threads: int = 1,
            device: str = "cpu", progress: bool = False,
            echo: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Train (or reuse, or resume) each config into ``out/<model>`` and return the results in order.

    ``out`` is locked for the whole comparison (and each ``out/<model>`` while it trains), so a second
    comparison into the same folder is refused with :class:`~polyequiv.locking.LockedError`.  Every
    model is built with its options first, so a model that cannot be built is refused
    (:class:`ConfigError`) before any other trains.
    """
    for config in configs:
        check_buildable(config)
    with hold_lock(out):
        return _compare_in_locked_folder(configs, Path(out), overwrite=overwrite, threads=threads,
                                         device=device, progress=progress, echo=echo)


def _compare_in_locked_folder(configs: Sequence[RunConfig], out: Path, *, overwrite: bool, threads: int,
                              device: str, progress: bool,
                              echo: Callable[[str], None] | None) -> list[dict[str, Any]]:
    say = echo or (lambda line: None)
    results = []
    for config in configs:
        folder = Path(out) / config.model
        if not overwrite and (folder / RESULTS_NAME).is_file():
            try:
                finished = read_results(folder)
            except ResultsError as error:
                say(f"{config.model}: not reusing {folder}: {error}")
                finished = None
            if finished is not None and RunConfig.from_dict(finished["config"]) == config:
                say(f"{config.model}: reusing the finished run in {folder}")
                results.append(finished)
                continue
        resume = False
        if not overwrite and checkpoint_files(folder):
            conflict = resume_conflict(RunConfig.from_dict(peek_checkpoint(folder)["config"]), config)
            if conflict is not None:
                raise ConfigError(f"{folder} holds a run that cannot be resumed: {conflict}; "
                                  "use another --out or --overwrite")
            resume = True
        elif not overwrite and (folder / RESULTS_NAME).is_file():
            raise ConfigError(f"{folder} holds results of another config; use another --out or --overwrite")
        say(f"{config.model}: training into {folder}")
        run = train(config, folder, resume=resume, overwrite=overwrite, threads=threads, device=device,
                    progress=progress, echo=echo)
        results.append(cast(dict[str, Any], run))  # None only with stop_after_epochs, not used here
    return results
