"""Data-parallel training in several processes: ``train(..., nproc=N)`` and runs under ``torchrun``.

Two ways in, one loop (:func:`polyequiv.training.loop.train_process`):

``nproc = N`` (``polyequiv train --nproc N``)
    This process is the *launcher*: it takes the run folder's lock, checks the folder
    (so a bad ``--resume`` is a usage error before anything starts), opens a
    ``TCPStore`` on a free localhost port (the kernel picks it: no race for a port)
    and starts ``N`` workers (``torch.multiprocessing``, start method ``forkserver``
    where there is one, else ``spawn``: never a plain ``fork`` of a process whose torch
    may hold threads or a CUDA context).  The fork server imports this module once,
    so workers start in milliseconds after the first launch; they get the launcher's
    environment as it is at each launch.
    It watches them: when one fails, the others are stopped at once and
    :class:`WorkerError` names the failed rank and the checkpoint that is kept.
``torchrun``
    Every process runs the same command; ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` give
    its place and the process group is initialised from ``MASTER_ADDR``/``MASTER_PORT``.
    Rank 0 takes the lock; ``torchrun`` stops the others when one fails.

Backend ``gloo`` on CPU, ``nccl`` on CUDA (rank ``r`` on ``cuda:LOCAL_RANK``).  Every
collective has a timeout (:data:`TIMEOUT_S`), so a rank that hangs cannot hang the
run for ever.  Each process builds the task from the seed itself (nothing is sent
but gradients and a few numbers); rank 0 reads the checkpoint when resuming and
broadcasts it, so the others need not see the run folder.

What is the same as with one process: the batches (the union of the shards of step
``s`` is the single-process batch ``s``), the loss (DDP averages the gradients of
``N · shard sum / global count``), the optimiser and schedule, the checkpoint format
(so ``--resume`` works with any process count) and the results.  What differs is
float rounding (sums in another order).  Evaluation runs on rank 0 alone.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from tqdm import tqdm

from polyequiv.locking import hold_lock
from polyequiv.training.checkpoint import (
    CHECKPOINT_NAME,
    PREVIOUS_NAME,
    CheckpointError,
    LoadedCheckpoint,
    load_checkpoint,
)
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.folder import open_run_folder
from polyequiv.training.loop import train_process
from polyequiv.training.results import read_results
from polyequiv.training.stopping import InterruptedRunError, StopFlag, stop_on_signals
from polyequiv.training.world import World, backend_for, rank_device

#: Seconds a collective (or the start-up rendezvous) may wait for the other processes.
TIMEOUT_S = 300.0
#: Environment variable overriding :data:`TIMEOUT_S`.
TIMEOUT_ENV = "POLYEQUIV_DIST_TIMEOUT"
LOCALHOST = "127.0.0.1"


class WorkerError(RuntimeError):
    """A process of a distributed run failed; the run stopped (the message says which, and how to go on)."""


@dataclass(frozen=True)
class _Job:
    """What every spawned worker needs (picklable)."""

    config: RunConfig
    folder: Path
    resume: bool
    overwrite: bool
    threads: int
    device: str
    progress: bool
    echo: Callable[[str], None] | None
    stop_after_epochs: int | None
    default_dtype: torch.dtype
    timeout_s: float
    environment: dict[str, str]


def timeout_seconds() -> float:
    """:data:`TIMEOUT_S`, or the number in ``POLYEQUIV_DIST_TIMEOUT``."""
    text = os.environ.get(TIMEOUT_ENV)
    if text is None:
        return TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {text!r}")
    return value


def train_distributed(config: RunConfig, out: str | Path, *, nproc: int, world: World | None, resume: bool,
                      overwrite: bool, threads: int, device: str, progress: bool,
                      echo: Callable[[str], None] | None,
                      stop_after_epochs: int | None) -> dict[str, Any] | None:
    """Launch ``nproc`` workers (``world is None``), or be one rank of ``world`` (under ``torchrun``).

    See :func:`polyequiv.training.run.train` for the parameters.  Returns the results on the
    launcher and on rank 0, ``None`` on other ranks or when stopped early.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc must be a positive integer, got {nproc!r}")
    if world is not None:
        if nproc not in (1, world.size):
            raise ConfigError(f"--nproc {nproc} under torchrun, which started {world.size} processes; "
                              "leave --nproc out (torchrun decides the process count)")
        return _train_as_rank(config, Path(out), world, resume=resume, overwrite=overwrite,
                              threads=threads, device=device, progress=progress, echo=echo,
                              stop_after_epochs=stop_after_epochs)
    return _launch(config, Path(out), nproc, resume=resume, overwrite=overwrite, threads=threads,
                   device=device, progress=progress, echo=echo, stop_after_epochs=stop_after_epochs)


# ---------------------------------------------------------------------- the launcher (--nproc N)
def _launch(config: RunConfig, folder: Path, nproc: int, *, resume: bool, overwrite: bool, threads: int,
            device: str, progress: bool, echo: Callable[[str], None] | None,
            stop_after_epochs: int | None) -> dict[str, Any] | None:
    _check_devices(device, nproc)
    timeout_s = timeout_seconds()
    job = _Job(config, folder, resume, overwrite, threads, device, progress, _picklable(echo),
               stop_after_epochs, torch.get_default_dtype(), timeout_s, dict(os.environ))
    with hold_lock(folder), stop_on_signals() as stop:
        open_run_folder(config, folder, resume=resume, overwrite=overwrite, dry_run=True)
        store = dist.TCPStore(LOCALHOST, 0, None, True, datetime.timedelta(seconds=timeout_s),
                              wait_for_workers=False)
        context = mp.start_processes(_spawned_worker, args=(store.port, nproc, job), nprocs=nproc, join=False,
                                     start_method=_start_method())
        stop.forwards.append(lambda number: _signal_workers(context.processes))
        try:
            _watch(context, config, folder)
        finally:
            for process in context.processes:
                if process.is_alive():
                    process.terminate()
                process.join()
            del store
    if stop.requested:
        raise InterruptedRunError(_interrupted(config, folder, stop), stop.signal_number)
    if stop_after_epochs is not None and _epochs_done(folder) < config.epochs:
        return None
    return read_results(folder)


def _watch(context: Any, config: RunConfig, folder: Path) -> None:
    """Wait for the workers; the first failure becomes a :class:`WorkerError` naming its rank."""
    try:
        with _quiet_logger("torch.multiprocessing.spawn"):  # its "Terminating process …" lines
            while not context.join():
                pass
    except mp.ProcessExitedException as error:
        raise WorkerError(_stopped(config, folder, _exit_cause(error.error_index, error.exit_code))) from None
    except mp.ProcessRaisedException as error:
        # a rank that died (rather than raised) is the cause; the raise is then usually a
        # peer's "connection closed" seen by a rank waiting in a collective
        died = [(rank, process.exitcode) for rank, process in enumerate(context.processes)
                if process.exitcode not in (None, 0, 1, -signal.SIGTERM)]
        if died:
            raise WorkerError(_stopped(config, folder, _exit_cause(*died[0]))) from None
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise WorkerError(_stopped(config, folder, f"rank {error.error_index} raised "
                                   + (lines[-1].strip() if lines else "an error"))) from None


def _signal_workers(processes: list[Any]) -> None:
    """Pass a stop request on to every live worker (each stops after the step the ranks agree on)."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)


def _spawned_worker(rank: int, port: int, size: int, job: _Job) -> None:
    """One spawned rank: join the process group through the launcher's store, train, leave.

    A stop request (SIGTERM from the launcher) ends the worker normally once the checkpoint is
    written; the launcher then reports it.
    """
    os.environ.clear()  # a fork server's child starts with the server's environment: use the launcher's
    os.environ.update(job.environment)
    torch.set_default_dtype(job.default_dtype)
    # tqdm's default lock is a multiprocessing semaphore, which a worker stopped by SIGTERM (when a
    # peer fails) would leave to the resource tracker's "leaked semaphore" warning
    tqdm.set_lock(threading.RLock())
    world = World(rank, size, rank)
    device = rank_device(job.device, world)
    if torch.device(device).type == "cuda":
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=job.timeout_s)
    store = dist.TCPStore(LOCALHOST, port, None, False, timeout)
    dist.init_process_group(backend_for(device), store=store, rank=rank, world_size=size, timeout=timeout)
    try:
        with stop_on_signals() as stop:
            saved = _broadcast_opened(job.config, job.folder, world, lock=None, resume=job.resume,
                                      overwrite=job.overwrite)
            train_process(job.config, job.folder, saved, world, threads=job.threads, device=device,
                          progress=job.progress, echo=job.echo if rank == 0 else None,
                          stop_after_epochs=job.stop_after_epochs, stop=stop)
    except InterruptedRunError:
        pass
    finally:
        dist.destroy_process_group()


# ---------------------------------------------------------------------- one rank under torchrun
def _train_as_rank(config: RunConfig, folder: Path, world: World, *, resume: bool, overwrite: bool,
                   threads: int, device: str, progress: bool, echo: Callable[[str], None] | None,
                   stop_after_epochs: int | None) -> dict[str, Any] | None:
    if torch.device(device).type == "cuda" and torch.cuda.device_count() <= world.local_rank:
        raise ConfigError(f"LOCAL_RANK {world.local_rank} has no GPU: {torch.cuda.device_count()} visible")
    try:
        device = rank_device(device, world)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if torch.device(device).type == "cuda":
        torch.cuda.set_device(device)
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group(backend_for(device), init_method="env://", rank=world.rank,
                                world_size=world.size, timeout=datetime.timedelta(seconds=timeout_seconds()))
    try:
        with contextlib.ExitStack() as lock, stop_on_signals() as stop:
            saved = _broadcast_opened(config, folder, world, lock=lock, resume=resume, overwrite=overwrite)
            return train_process(config, folder, saved, world, threads=threads, device=device,
                                 progress=progress, echo=echo if world.is_main else None,
                                 stop_after_epochs=stop_after_epochs, stop=stop)
    finally:
        if owned:
            dist.destroy_process_group()


def _broadcast_opened(config: RunConfig, folder: Path, world: World, *, lock: contextlib.ExitStack | None,
                      resume: bool, overwrite: bool) -> LoadedCheckpoint | None:
    """Rank 0 (locks, when ``lock`` is given, and) opens the run folder; every rank gets its checkpoint.

    An error on rank 0 (occupied folder, config mismatch, damaged checkpoint, …) is raised on every rank.
    """
    opened: tuple[LoadedCheckpoint | None, ValueError | None] = (None, None)
    if world.is_main:
        try:
            if lock is not None:
                lock.enter_context(hold_lock(folder))
            opened = (open_run_folder(config, folder, resume=resume, overwrite=overwrite), None)
        except ValueError as error:
            opened = (None, error)
    saved, error = world.broadcast(opened)
    if error is not None:
        raise error
    return saved


# ---------------------------------------------------------------------- helpers
def _check_devices(device: str, nproc: int) -> None:
    kind = torch.device(device)
    if kind.type == "cuda":
        if kind.index is not None and nproc > 1:
            raise ConfigError(f"device {device!r} names one GPU; with --nproc {nproc} give 'cuda' "
                              "(rank r uses cuda:r)")
        if nproc > torch.cuda.device_count():
            raise ConfigError(f"--nproc {nproc} needs {nproc} GPUs, {torch.cuda.device_count()} visible "
                              "(one process per GPU)")
    elif kind.type != "cpu":
        raise ConfigError(f"distributed training runs on cpu (gloo) or cuda (nccl), not {device!r}")


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _start_method() -> str:
    """``forkserver`` (preloading this module) where the platform has it, else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return "spawn"
    # DistributedDataParallel's constructor imports torch._dynamo (seconds): once, in the server
    multiprocessing.get_context("forkserver").set_forkserver_preload([__name__, "torch._dynamo"])
    return "forkserver"


def _picklable(echo: Callable[[str], None] | None) -> Callable[[str], None] | None:
    """``echo`` if it can be sent to a spawned process, else a printer to stderr."""
    if echo is None:
        return None
    try:
        pickle.dumps(echo)
    except (pickle.PicklingError, AttributeError, TypeError):
        return _stderr
    return echo


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _exit_cause(rank: int, exit_code: int) -> str:
    if exit_code < 0:
        try:
            return f"rank {rank} was killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            pass
    return f"rank {rank} exited with code {exit_code}"


def _progress(folder: Path) -> tuple[int, int]:
    """(epochs, steps into the next epoch) of the newest good checkpoint in ``folder``; (0, 0) if none."""
    for name in (CHECKPOINT_NAME, PREVIOUS_NAME):
        try:
            state = load_checkpoint(folder / name)
        except CheckpointError:
            continue
        return int(state["epoch"]), int(state.get("step", 0))
    return 0, 0


def _epochs_done(folder: Path) -> int:
    return _progress(folder)[0]


def _interrupted(config: RunConfig, folder: Path, stop: StopFlag) -> str:
    epoch, step = _progress(folder)
    if not epoch and not step:
        return f"stopped by {stop.signal_name} before the first checkpoint; nothing to resume in {folder}"
    where = (f"in epoch {epoch + 1}/{config.epochs} after step {step}" if step
             else f"after epoch {epoch}/{config.epochs}")
    return (f"stopped by {stop.signal_name} {where}; checkpoint in {folder / CHECKPOINT_NAME}: continue with "
            "--resume (with any --nproc)")


def _stopped(config: RunConfig, folder: Path, what: str) -> str:
    done = _epochs_done(folder)
    kept = (f"{folder} keeps the checkpoint after epoch {done}/{config.epochs}: continue with --resume "
            "(with any --nproc)") if done else "no checkpoint was written yet"
    return f"distributed training stopped: {what}; {kept}"
