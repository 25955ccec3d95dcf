"""The run folder: which files a run keeps, and opening one to start, replace, resume or extend a run.

A run folder holds ``checkpoint.pt`` and ``checkpoint.prev.pt`` (the last two checkpoints,
:mod:`polyequiv.training.checkpoint`), ``train.log`` (one line per epoch) and, when finished,
``results.json`` (:mod:`polyequiv.training.results`).

Resuming needs the config the checkpoint was written with, with one exception: ``epochs`` may grow
(``polyequiv train --resume --epochs N``), which *extends* the run.  Every other difference is
refused, and so is an ``epochs`` smaller than the saved run's.  An extended run with the constant
schedule reaches exactly the numbers of a run trained for ``N`` epochs from the start; with the
cosine schedule, the schedule is redefined over the new total from the next step on, so the first
part of the run followed the shorter schedule (the results record the extension).
"""

from __future__ import annotations

from pathlib import Path

from polyequiv.training.checkpoint import (
    CHECKPOINT_NAME,
    PREVIOUS_NAME,
    CheckpointError,
    LoadedCheckpoint,
    checkpoint_files,
    load_checkpoint,
    load_run_checkpoint,
    remove_stale_temporaries,
)
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.results import RESULTS_NAME

LOG_NAME = "train.log"
#: Every file a run writes in its folder.
RUN_FILES = (CHECKPOINT_NAME, PREVIOUS_NAME, RESULTS_NAME, LOG_NAME)


class RunFolderError(ValueError):
    """An output folder that already holds a run (and neither resume nor overwrite was asked)."""


def open_run_folder(config: RunConfig, folder: Path, *, resume: bool, overwrite: bool,
                    dry_run: bool = False) -> LoadedCheckpoint | None:
    """Check ``folder`` for a run of ``config``; return its checkpoint when resuming (else ``None``).

    Unless ``dry_run``, creates the folder and, with ``overwrite`` (and not ``resume``), deletes the
    run in it; when resuming, removes temporary files a killed write left behind and may move a
    damaged latest checkpoint aside (see :func:`load_run_checkpoint`).

    Raises
    ------
    RunFolderError
        ``folder`` holds a run and neither ``resume`` nor ``overwrite`` is set.
    ConfigError
        The checkpoint was written by another config (``epochs`` may only grow).
    CheckpointError
        Resuming without a readable, undamaged checkpoint.
    """
    existing = [p for p in (*checkpoint_files(folder), folder / RESULTS_NAME) if p.exists()]
    if existing and not (resume or overwrite):
        raise RunFolderError(f"{folder} already holds a run ({existing[0].name}); "
                             "resume it with --resume or replace it with --overwrite")
    if not dry_run and overwrite and not resume:
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
    if not dry_run:
        folder.mkdir(parents=True, exist_ok=True)
    if not resume:
        return None
    if dry_run:  # the launcher of a distributed run: check, but leave the files to rank 0
        _check_config(peek_checkpoint(folder), config, folder / CHECKPOINT_NAME)
        return None
    remove_stale_temporaries(folder)
    loaded = load_run_checkpoint(folder)
    _check_config(loaded.state, config, loaded.path)
    return loaded


def extension_of(saved: dict, config: RunConfig) -> dict[str, int] | None:
    """``{"after_epoch", "from_epochs", "to_epochs"}`` when resuming ``saved`` with ``config`` extends it."""
    before = RunConfig.from_dict(saved["config"]).epochs
    if config.epochs == before:
        return None
    return {"after_epoch": int(saved["epoch"]), "from_epochs": before, "to_epochs": config.epochs}


def peek_checkpoint(folder: Path) -> dict:
    """The checkpoint state a resume would use, without moving a damaged file aside."""
    try:
        return load_checkpoint(folder / CHECKPOINT_NAME)
    except CheckpointError as latest:
        if not (folder / PREVIOUS_NAME).is_file():
            raise
        try:
            return load_checkpoint(folder / PREVIOUS_NAME)
        except CheckpointError as previous:
            raise CheckpointError(f"{latest}; and the previous one: {previous}") from None


def resume_conflict(saved: RunConfig, config: RunConfig) -> str | None:
    """Why a run of ``saved`` cannot be resumed as ``config`` (``None``: it can, maybe extended)."""
    differences = [line for line in saved.differences(config) if not line.startswith("epochs:")]
    if differences:
        return "it was written by another config (" + "; ".join(differences) + ")"
    if config.epochs < saved.epochs:
        return (f"it is a run of {saved.epochs} epochs; --epochs {config.epochs} would shorten it "
                f"(give --epochs {saved.epochs}, or more to extend it)")
    return None


def _check_config(saved: dict, config: RunConfig, path: Path) -> None:
    """Refuse a resume whose config differs from the checkpoint's in anything but a larger ``epochs``."""
    conflict = resume_conflict(RunConfig.from_dict(saved["config"]), config)
    if conflict is not None:
        raise ConfigError(f"{path}: {conflict}")
