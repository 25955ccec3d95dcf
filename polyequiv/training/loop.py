"""Training one run: data, model, Adam, a checkpoint after every epoch, evaluation, ``results.json``.

A run folder holds ``checkpoint.pt`` (after every epoch, atomic), ``train.log``
(one line per epoch) and, when finished, ``results.json``.  One process at a time
trains in a folder: :func:`train` holds its lock (:mod:`polyequiv.locking`) throughout.

Several processes: ``train(..., nproc=N)`` (``polyequiv train --nproc N``), or the same
call in every process ``torchrun`` starts, trains data-parallel
(:mod:`polyequiv.training.distributed`).  Each step's global batch is cut into one
shard per process (:mod:`polyequiv.training.sampling`), so the loss curve is the
single-process one up to float rounding, and a checkpoint resumes on any process count.

Reproducibility: the data come from :func:`polyequiv.tasks.make_task` with the
run's seed; the initial weights from ``torch.manual_seed(seed)``; the batch order
of epoch ``e`` from :func:`batch_order` ``(seed, e)``.  So the same config gives the
same numbers, and a run resumed from its checkpoint reaches the same final
weights as one that was never interrupted (on the same device, thread and process count).

Threads: the models here are small, and torch's intra-op threads then cost more
than they give (on a 2-core machine, 2 threads made small models up to 100×
slower, nearly all in system time).  The default is 1 thread.
"""

from __future__ import annotations

import contextlib
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

import polyequiv
from polyequiv.locking import hold_lock
from polyequiv.models import ModelContext, SetModel, build_model, count_parameters, get_model_definition
from polyequiv.tasks import SetTask, make_task
from polyequiv.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.evaluation import diagnostics, evaluate, to_tensors
from polyequiv.training.results import RESULTS_NAME, SCHEMA, write_results
from polyequiv.training.sampling import GlobalBatchSampler, batch_order, shard_bounds
from polyequiv.training.world import World, inject_fault, world_from_environment

__all__ = ["LOG_NAME", "RunFolderError", "batch_order", "build", "loss_value", "open_run_folder", "train",
           "train_process"]

LOG_NAME = "train.log"


class RunFolderError(ValueError):
    """An output folder that already holds a run (and neither resume nor overwrite was asked)."""


def set_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads in torch (1 is fastest for small models)."""
    if threads < 1:
        raise ConfigError(f"threads must be ≥ 1, got {threads}")
    torch.set_num_threads(threads)


def loss_value(kind: str, predictions: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """Mean ``|ŷ − y|`` (``l1``) or ``(ŷ − y)²`` (``mse``): per set, or per real element when per-element;
    ``cross-entropy``: mean ``−log softmax(ŷ)_y`` of logits ``(batch, classes)`` and labels ``(batch,)``."""
    if kind == "cross-entropy":
        return torch.nn.functional.cross_entropy(predictions, targets)
    error = predictions - targets
    error = error.abs() if kind == "l1" else error.square()
    if targets.dim() == 2:
        weight = mask.to(error.dtype)
        return (error * weight).sum() / weight.sum().clamp_min(1)
    return error.mean()


def loss_terms(kind: str, predictions: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """The sum of the per-set (or per real element) errors whose mean :func:`loss_value` takes."""
    error = predictions - targets
    error = error.abs() if kind == "l1" else error.square()
    if targets.dim() == 2:
        return (error * mask.to(error.dtype)).sum()
    return error.sum()


def loss_count(targets: Tensor, mask: Tensor) -> Tensor:
    """How many terms :func:`loss_value` averages: sets, or real elements (at least 1)."""
    if targets.dim() == 2:
        return mask.sum().clamp_min(1)
    return torch.tensor(len(targets), device=targets.device)


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int
                   ) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step multiplier: 1 (``constant``) or ``(1 + cos(π t / T)) / 2`` (``cosine``, to 0 at the end)."""
    if schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def build(config: RunConfig, device: str = "cpu") -> tuple[SetTask, SetModel]:
    """The task (from the seed) and the freshly initialised model (from the seed)."""
    task = make_task(config.task, seed=config.seed, **config.task_options)
    torch.manual_seed(config.seed)
    model = build_model(config.model, ModelContext.of(task), **config.model_options)
    return task, model.to(device)


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
        Continue from ``out/checkpoint.pt``; its config must equal ``config`` (the process
        count that wrote it does not matter).
    overwrite : bool
        Discard a run already in ``out`` (its checkpoint, log and results).
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
        When resuming a checkpoint whose config differs from ``config``.
    CheckpointError
        When ``resume`` is set and there is no readable checkpoint.
    LockedError
        When another process is training in ``out`` (the message names it).
    WorkerError
        When a process of a distributed run fails (the message names it and the checkpoint kept).
    """
    set_threads(threads)  # checks threads before anything is touched
    try:
        world = world_from_environment()
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if nproc != 1 or (world is not None and world.size > 1):
        from polyequiv.training.distributed import train_distributed

        return train_distributed(config, out, nproc=nproc, world=world, resume=resume, overwrite=overwrite,
                                 threads=threads, device=device, progress=progress, echo=echo,
                                 stop_after_epochs=stop_after_epochs)
    with hold_lock(out):
        saved = open_run_folder(config, Path(out), resume=resume, overwrite=overwrite)
        return train_process(config, Path(out), saved, World(), threads=threads, device=device,
                             progress=progress, echo=echo, stop_after_epochs=stop_after_epochs)


def open_run_folder(config: RunConfig, folder: Path, *, resume: bool, overwrite: bool,
                    dry_run: bool = False) -> dict[str, Any] | None:
    """Check ``folder`` for a run of ``config``; return its checkpoint when resuming (else ``None``).

    Unless ``dry_run``, creates the folder and, with ``overwrite`` (and not ``resume``), deletes the
    run in it.  Raises :class:`RunFolderError`, :class:`ConfigError` or ``CheckpointError``.
    """
    checkpoint_path = folder / CHECKPOINT_NAME
    existing = [p for p in (checkpoint_path, folder / RESULTS_NAME) if p.exists()]
    if existing and not (resume or overwrite):
        raise RunFolderError(f"{folder} already holds a run ({existing[0].name}); "
                             "resume it with --resume or replace it with --overwrite")
    if not dry_run and overwrite and not resume:
        for name in (CHECKPOINT_NAME, RESULTS_NAME, LOG_NAME):
            (folder / name).unlink(missing_ok=True)
    if not dry_run:
        folder.mkdir(parents=True, exist_ok=True)
    if not resume:
        return None
    saved = load_checkpoint(checkpoint_path)
    saved_config = RunConfig.from_dict(saved["config"])
    if saved_config != config:
        raise ConfigError(f"{checkpoint_path} was written by another config ("
                          + "; ".join(saved_config.differences(config)) + ")")
    return saved


def train_process(config: RunConfig, folder: Path, saved: dict[str, Any] | None, world: World, *,
                  threads: int, device: str, progress: bool, echo: Callable[[str], None] | None,
                  stop_after_epochs: int | None) -> dict[str, Any] | None:
    """This process's part of a run in the (locked, opened) ``folder``, from ``saved`` or from scratch.

    With ``world.size > 1`` (an initialised process group) the model is wrapped in
    ``DistributedDataParallel``: rank ``r`` trains on its shard of each global batch with the loss
    ``N · Σ_shard errors / (terms in the global batch)``, so DDP's gradient average is the gradient
    of the global batch loss.  Only rank 0 writes, logs and evaluates; the others return ``None``.
    """
    set_threads(threads)
    say = echo or (lambda line: None)
    checkpoint_path, log_path = folder / CHECKPOINT_NAME, folder / LOG_NAME
    task, model = build(config, device)
    values, mask, targets = to_tensors(task.train, device)
    valid = to_tensors(task.valid, device) if task.valid is not None else None
    sampler = GlobalBatchSampler(len(task.train), config.batch_size, seed=config.seed,
                                 num_replicas=world.size, rank=world.rank)
    batches = len(sampler)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = make_scheduler(optimizer, config.schedule, config.epochs * batches)
    state: dict[str, Any] = {"epoch": 0, "loss_history": [], "penalty_history": [], "valid_history": [],
                             "train_seconds": 0.0, "sessions": 0}

    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"])
        state = {key: saved[key] for key in state}
        say(f"resuming {folder} after epoch {state['epoch']}/{config.epochs}")
    state["sessions"] += 1
    network: torch.nn.Module = model
    if world.size > 1:
        from torch.nn.parallel import DistributedDataParallel

        on_gpu = torch.device(device).type == "cuda"
        network = DistributedDataParallel(model, device_ids=[torch.device(device)] if on_gpu else None,
                                          **_no_buffer_sync())

    with contextlib.ExitStack() as files:
        log = files.enter_context(log_path.open("a", encoding="utf-8")) if world.is_main else None

        def note(line: str) -> None:
            if log is not None:
                log.write(line + "\n")
                log.flush()
                say(line)

        if state["epoch"] == 0:
            note(f"task {config.task} model {config.model} seed {config.seed}: "
                 f"{count_parameters(model):,} parameters, {len(task.train):,} training sets, "
                 f"{config.epochs} epochs of {batches} batches, threads {threads}, device {device}"
                 + (f", {world.size} processes" if world.size > 1 else ""))
        done_now = 0
        while state["epoch"] < config.epochs and (stop_after_epochs is None or done_now < stop_after_epochs):
            epoch = state["epoch"]
            started = time.perf_counter()
            sampler.set_epoch(epoch)
            order = torch.from_numpy(sampler.order()).to(device)
            model.train()
            total_loss, total_penalty = 0.0, 0.0
            bar = tqdm(sampler.slices(), total=batches, desc=f"epoch {epoch + 1}/{config.epochs}",
                       leave=False, disable=not (progress and world.is_main), file=sys.stderr,
                       dynamic_ncols=True)
            for step, (whole, mine) in enumerate(bar):
                rows = order[mine]
                optimizer.zero_grad(set_to_none=True)
                if world.size == 1:
                    predictions = network(values[rows], mask[rows])
                    loss = loss_value(config.loss, predictions, targets[rows], mask[rows])
                    objective = loss
                else:
                    loss, objective = _shard_loss(network, config.loss, values, mask, targets, order[whole],
                                                  rows, world.size)
                penalty = model.penalty()
                if penalty is not None:
                    objective = objective + penalty
                objective.backward()
                model.before_step()
                optimizer.step()
                model.after_step()
                scheduler.step()
                total_loss += float(loss.detach())
                total_penalty += 0.0 if penalty is None else float(penalty.detach())
                if step % 50 == 0 and world.size == 1:
                    bar.set_postfix(loss=f"{total_loss / (step + 1):.4g}")
            bar.close()
            (total_loss,) = world.sum([total_loss])  # the shards' parts of each batch loss add up
            state["loss_history"].append(total_loss / batches)
            state["penalty_history"].append(total_penalty / batches)
            if valid is not None:
                state["valid_history"].append(_split_loss(model, config.loss, *valid, world=world))
            state["epoch"] = epoch + 1
            state["train_seconds"] += time.perf_counter() - started
            if world.is_main:
                save_checkpoint(checkpoint_path, {
                    "config": config.to_dict(), **state, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                })
            world.barrier()  # checkpoint e is on disk before any rank starts epoch e + 1
            inject_fault(world, state["epoch"])
            done_now += 1
            note(f"epoch {epoch + 1}/{config.epochs}  train {config.loss} {state['loss_history'][-1]:.6g}"
                 + (f"  penalty {state['penalty_history'][-1]:.3g}" if total_penalty else "")
                 + (f"  valid {config.loss} {state['valid_history'][-1]:.6g}" if valid is not None else "")
                 + f"  lr {scheduler.get_last_lr()[0]:.3g}  {time.perf_counter() - started:.1f} s")
        if state["epoch"] < config.epochs:
            note(f"stopped after epoch {state['epoch']}/{config.epochs}; continue with --resume")
            return None
        if not world.is_main:
            return None

        started = time.perf_counter()
        per_cardinality = evaluate(model, task, device=device)
        checks = diagnostics(model, task, seed=config.seed, device=device)
        eval_seconds = time.perf_counter() - started
        results = _results(config, task, model, state, per_cardinality, checks, eval_seconds, threads, device,
                           world.size)
        write_results(folder, results)
        note(f"evaluated in {eval_seconds:.1f} s; results in {folder / RESULTS_NAME}")
    return results


def _no_buffer_sync() -> dict[str, bool]:
    """DDP's flag to skip the buffer broadcast before each forward (the models' buffers are fixed tables)."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    names = inspect.signature(DistributedDataParallel).parameters
    flag = "forward_sync_buffers" if "forward_sync_buffers" in names else "broadcast_buffers"  # torch ≥ 2.12
    return {flag: False}


def _shard_loss(network: torch.nn.Module, kind: str, values: Tensor, mask: Tensor, targets: Tensor,
                whole: Tensor, rows: Tensor, processes: int) -> tuple[Tensor, Tensor]:
    """This shard's part of the global batch loss, and the objective whose DDP average has its gradient.

    An empty shard (a last batch with fewer sets than processes) runs one set with weight 0, so
    that every rank still takes part in the gradient average.
    """
    weight = 1.0
    if len(rows) == 0:
        rows, weight = whole[:1], 0.0
    count = loss_count(targets[whole], mask[whole])
    part = weight * loss_terms(kind, network(values[rows], mask[rows]), targets[rows], mask[rows]) / count
    return part, part * processes


@torch.no_grad()
def _split_loss(model: SetModel, kind: str, values: Tensor, mask: Tensor, targets: Tensor, *,
                world: World) -> float:
    """The loss on a whole split; with several processes each takes a contiguous slice and the sums add."""
    model.eval()
    try:
        if world.size == 1:
            return float(loss_value(kind, model(values, mask), targets, mask))
        low, high = shard_bounds(len(values), world.size, world.rank)
        part = loss_terms(kind, model(values[low:high], mask[low:high]), targets[low:high], mask[low:high])
        count = mask[low:high].sum() if targets.dim() == 2 else high - low
        total, terms = world.sum([float(part), float(count)])
        return total / max(terms, 1.0)
    finally:
        model.train()


def _results(config: RunConfig, task: SetTask, model: SetModel, state: dict[str, Any],
             per_cardinality: list[dict[str, Any]], checks: dict[str, Any], eval_seconds: float,
             threads: int, device: str, processes: int = 1) -> dict[str, Any]:
    definition = get_model_definition(config.model)
    return {
        "schema": SCHEMA,
        "config": config.to_dict(),
        "task": task.to_dict(),
        "model": {"name": config.model, "summary": definition.summary,
                  "options": {**definition.options, **config.model_options},
                  "parameters": count_parameters(model)},
        "training": {
            "epochs_completed": state["epoch"],
            "final_train_loss": state["loss_history"][-1],
            "final_penalty": state["penalty_history"][-1],
            "final_valid_loss": state["valid_history"][-1] if state["valid_history"] else None,
            "loss_history": state["loss_history"],
            "valid_history": state["valid_history"],
            "wall_time_s": round(state["train_seconds"], 3),
            "threads": threads,
            "device": device,
            "processes": processes,
            "sessions": state["sessions"],
        },
        "evaluation": {"wall_time_s": round(eval_seconds, 3), "per_cardinality": per_cardinality},
        "diagnostics": checks,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "numpy": np.__version__, "polyequiv": polyequiv.__version__},
    }

