"""`train`: the launcher of a run — one process, or data-parallel workers — around one per-process loop.

    config = RunConfig.create("digit-sum", "tied-linear", seed=0)
    results = train(config, "runs/tied-linear")      # checkpoint per epoch, then results.json
    results = train(config, "runs/two", nproc=2)     # data-parallel: the same numbers, two processes

One way through: this module decides between one process and several, and both end in
:func:`polyequiv.training.loop.train_process`; :mod:`polyequiv.training.distributed` starts and
watches the workers.  Neither of those imports this module.

One process at a time trains in a folder: :func:`train` holds its lock (:mod:`polyequiv.locking`)
throughout.  SIGTERM or Ctrl-C stop the run after the current step with a checkpoint
(:mod:`polyequiv.training.stopping`); a damaged checkpoint is never resumed from
(:mod:`polyequiv.training.checkpoint`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyequiv.locking import hold_lock
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.distributed import train_distributed
from polyequiv.training.folder import open_run_folder
from polyequiv.training.loop import set_threads, train_process
from polyequiv.training.stopping import stop_on_signals
from polyequiv.training.world import World, world_from_environment

__all__ = ["train"]


def train(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    threads: int = 1,
    device: str = "cpu",
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
    stop_after_epochs: int | None = None,
    nproc: int = 1,
) -> dict[str, Any] | None:
    """Train ``config`` into the folder ``out`` and return the results (also written to ``results.json``).

    Parameters
    ----------
    config : RunConfig
        What to train.
    out : path
        Run folder; created if missing.
    resume : bool
        Continue from the run's checkpoint (the latest good one of the two kept); its config must
        equal ``config``, except that ``config.epochs`` may be larger (the run is then extended).
        The process count that wrote it does not matter.
    overwrite : bool
        Discard a run already in ``out`` (its checkpoints, log and results).
    threads, device : int, str
        Torch threads (per process) and device; they do not enter the config.
    progress : bool
        Show a tqdm progress bar per epoch on stderr.
    echo : callable, optional
        Receives each log line (the CLI passes ``click.echo``).  With ``nproc > 1`` it runs in
        rank 0's process, so it must be picklable (a module-level function); otherwise rank 0
        prints the lines to stderr.
    stop_after_epochs : int, optional
        Stop after this many epochs *in this call*, leaving the checkpoint and no
        results (to time-box a session, and to test resuming).  Returns ``None`` then.
    nproc : int
        Train data-parallel in this many processes (spawned here; see
        :mod:`polyequiv.training.distributed`).  Under ``torchrun`` leave it at 1: the world
        then comes from ``RANK``/``WORLD_SIZE``, and ranks other than 0 return ``None``.

    Raises
    ------
    RunFolderError
        When ``out`` already holds a run and neither ``resume`` nor ``overwrite`` is set.
    ConfigError
        When resuming a checkpoint whose config differs from ``config`` (beyond more epochs).
    CheckpointError
        When ``resume`` is set and neither kept checkpoint is readable and undamaged.
    LockedError
        When another process is training in ``out`` (the message names it).
    InterruptedRunError
        When SIGTERM or SIGINT stopped the run (after writing a checkpoint; the message says where).
    WorkerError
        When a process of a distributed run fails (the message names it and the checkpoint kept).
    """
    set_threads(threads)  # checks threads before anything is touched
    try:
        world = world_from_environment()
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if nproc != 1 or (world is not None and world.size > 1):
        return train_distributed(config, out, nproc=nproc, world=world, resume=resume, overwrite=overwrite,
                                 threads=threads, device=device, progress=progress, echo=echo,
                                 stop_after_epochs=stop_after_epochs)
    with hold_lock(out), stop_on_signals() as stop:
        saved = open_run_folder(config, Path(out), resume=resume, overwrite=overwrite)
        return train_process(config, Path(out), saved, World(), threads=threads, device=device,
                             progress=progress, echo=echo, stop_after_epochs=stop_after_epochs, stop=stop)
