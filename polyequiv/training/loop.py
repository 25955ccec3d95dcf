"""One process's part of a run: data, model, Adam, a checkpoint after every epoch, evaluation, results.

:func:`train_process` trains the run in an opened, locked run folder
(:mod:`polyequiv.training.folder`), from its checkpoint or from scratch.  The launcher
(:func:`polyequiv.training.run.train`) calls it once, or each worker of a distributed run
(:mod:`polyequiv.training.distributed`) calls it once: one loop, one way in.

Reproducibility: the data come from :func:`polyequiv.tasks.make_task` with the run's seed; the
initial weights from ``torch.manual_seed(seed)``; the batch order of epoch ``e`` from
:func:`batch_order` ``(seed, e)``.  So the same config gives the same numbers, and a run resumed
from its checkpoint (after an epoch, or after the step a signal stopped it at) reaches the same
final weights as one that was never interrupted (on the same device, thread and process count).

Threads: the models here are small, and torch's intra-op threads then cost more than they give
(on a 2-core machine, 2 threads made small models up to 100× slower, nearly all in system time).
The default is 1 thread.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from polyequiv.models import ModelContext, SetModel, build_model, count_parameters, get_model_definition
from polyequiv.tasks import SetTask, make_task
from polyequiv.training.checkpoint import CHECKPOINT_NAME, LoadedCheckpoint, save_checkpoint
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.evaluation import diagnostics, evaluate, to_tensors
from polyequiv.training.folder import LOG_NAME, extension_of
from polyequiv.training.least_squares import (
    StreamedLeastSquares,
    feature_rows,
    linear_parameters,
    load_solution,
    model_features,
)
from polyequiv.training.results import RESULTS_NAME, write_results
from polyequiv.training.run_record import results_record
from polyequiv.training.sampling import GlobalBatchSampler, batch_order, shard_bounds
from polyequiv.training.stopping import InterruptedRunError, StopFlag
from polyequiv.training.world import World, check_same_state, inject_fault, inject_state_fault

__all__ = ["batch_order", "build", "loss_value", "train_process"]

#: With several processes, the ranks agree on a stop request every this many steps (and at epoch ends).
STOP_CHECK_STEPS = 16


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


def schedule_factor(schedule: str, total_steps: int) -> Callable[[int], float]:
    """Per-step multiplier: 1 (``constant``) or ``(1 + cos(π t / T)) / 2`` (``cosine``, to 0 at the end)."""
    if schedule == "cosine":
        return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    return lambda step: 1.0


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int
                   ) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` with :func:`schedule_factor` over ``total_steps`` optimiser steps."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule_factor(schedule, total_steps))


def build(config: RunConfig, device: str = "cpu") -> tuple[SetTask, SetModel]:
    """The task (from the seed) and the freshly initialised model (from the seed)."""
    task = make_task(config.task, seed=config.seed, **config.task_options)
    torch.manual_seed(config.seed)
    model = build_model(config.model, ModelContext.of(task), **config.model_options)
    return task, model.to(device)


@dataclass
class RunState:
    """What a checkpoint records besides the torch states: progress, histories, seconds.

    ``step`` counts the optimiser steps done in epoch ``epoch`` (0 at an epoch boundary; more only
    in a checkpoint written when a signal stopped the run), with that epoch's partial sums.
    """

    epoch: int = 0
    loss_history: list[float] = field(default_factory=list)
    penalty_history: list[float] = field(default_factory=list)
    valid_history: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    sessions: int = 0
    step: int = 0
    epoch_loss: float = 0.0
    epoch_penalty: float = 0.0
    extensions: list[dict[str, int]] = field(default_factory=list)
    least_squares: dict[str, Any] | None = None
    solution: dict[str, Any] | None = None

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> RunState:
        return cls(**{name: saved[name] for name in cls.__dataclass_fields__ if name in saved})

    def to_checkpoint(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class Trainer:
    """The torch side of one process's run: model, optimiser, schedule, batches, and their checkpoint."""

    def __init__(self, config: RunConfig, folder: Path, world: World, device: str) -> None:
        self.config, self.folder, self.world, self.device = config, folder, world, device
        if not get_model_definition(config.model).trainable:
            raise ConfigError(f"model {config.model!r} has nothing to train (an exact formula: "
                              "polyequiv explain --refit writes such runs)")
        self.task, self.model = build(config, device)
        self.values, self.mask, self.targets = to_tensors(self.task.train, device)
        self.valid = to_tensors(self.task.valid, device) if self.task.valid is not None else None
        self.sampler = GlobalBatchSampler(len(self.task.train), config.batch_size, seed=config.seed,
                                          num_replicas=world.size, rank=world.rank)
        self.batches = len(self.sampler)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.scheduler = make_scheduler(self.optimizer, config.schedule, config.epochs * self.batches)
        self.state = RunState()
        self.network: torch.nn.Module = self.model

    def restore(self, loaded: LoadedCheckpoint) -> list[str]:
        """Load the checkpoint's states; the lines to log (fallbacks, extension)."""
        saved = loaded.state
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"])
        self.state = RunState.from_checkpoint(saved)
        lines = list(loaded.notes)
        extension = extension_of(saved, self.config)
        if extension is not None:
            self.state.extensions.append(extension)
            self._redefine_schedule()
            lines.append(f"extending the run from {extension['from_epochs']} to {extension['to_epochs']} "
                         "epochs"
                         + (" (the cosine schedule now runs over the new total)"
                            if self.config.schedule == "cosine" else ""))
        within = f", step {self.state.step}/{self.batches}" if self.state.step else ""
        lines.append(f"resuming {self.folder} after epoch {self.state.epoch}/{self.config.epochs}{within}")
        return lines

    def _redefine_schedule(self) -> None:
        """Set the learning rate of the next step from the schedule over the (new) total steps."""
        factor = schedule_factor(self.config.schedule, self.config.epochs * self.batches)
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs, strict=True):
            group["lr"] = base * factor(self.scheduler.last_epoch)

    def wrap(self) -> None:
        """Check the ranks hold one state, then wrap the model in DDP (several processes)."""
        if self.world.size == 1:
            return
        inject_state_fault(self.world, self.model, self.state.epoch)
        check_same_state(self.world, self.model, self.optimizer, f"after epoch {self.state.epoch}")
        from torch.nn.parallel import DistributedDataParallel

        on_gpu = torch.device(self.device).type == "cuda"
        self.network = DistributedDataParallel(self.model, device_ids=[torch.device(self.device)] if on_gpu
                                               else None, **_no_buffer_sync())

    def checkpoint(self) -> None:
        """Rank 0 writes the state (latest and previous kept); every rank waits for it."""
        if self.world.is_main:
            path = self.folder / CHECKPOINT_NAME
            try:
                save_checkpoint(path, {
                    "config": self.config.to_dict(), **self.state.to_checkpoint(),
                    "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                })
            except OSError as error:
                raise RunFileWriteError(path, error) from None
        self.world.barrier()

    def step(self, whole: slice, mine: slice, order: Tensor) -> tuple[float, float]:
        """One optimiser step on this rank's shard of a global batch: (batch loss part, penalty)."""
        rows = order[mine]
        self.optimizer.zero_grad(set_to_none=True)
        if self.world.size == 1:
            loss = loss_value(self.config.loss, self.network(self.values[rows], self.mask[rows]),
                              self.targets[rows], self.mask[rows])
            objective = loss
        else:
            loss, objective = _shard_loss(self.network, self.config.loss, self.values, self.mask,
                                          self.targets, order[whole], rows, self.world.size)
        penalty = self.model.penalty()
        if penalty is not None:
            objective = objective + penalty
        objective.backward()
        self.model.before_step()
        self.optimizer.step()
        self.model.after_step()
        self.scheduler.step()
        return float(loss.detach()), 0.0 if penalty is None else float(penalty.detach())

    def train_epoch(self, stop: StopFlag, progress: bool) -> None:
        """Train the rest of epoch ``state.epoch`` (from ``state.step``); at a stop signal, checkpoint and
        raise :class:`InterruptedRunError`; at the end, record the epoch (not yet checkpointed)."""
        if self.config.solver == "lstsq":
            LeastSquaresPass(self).run(stop, progress)
            return
        state, started = self.state, time.perf_counter()
        self.sampler.set_epoch(state.epoch)
        order = torch.from_numpy(self.sampler.order()).to(self.device)
        self.model.train()
        bar = tqdm(total=self.batches, initial=state.step,
                   desc=f"epoch {state.epoch + 1}/{self.config.epochs}", leave=False,
                   disable=not (progress and self.world.is_main), file=sys.stderr,
                   dynamic_ncols=True)
        with bar:
            for step, (whole, mine) in enumerate(self.sampler.slices()):
                if step < state.step:
                    continue
                loss, penalty = self.step(whole, mine, order)
                state.epoch_loss, state.epoch_penalty = state.epoch_loss + loss, state.epoch_penalty + penalty
                state.step = step + 1
                bar.update()
                if step % 50 == 0 and self.world.size == 1:
                    bar.set_postfix(loss=f"{state.epoch_loss / state.step:.4g}")
                if state.step < self.batches and self.stop_agreed(stop, state.step):
                    state.train_seconds += time.perf_counter() - started
                    self.checkpoint()
                    raise InterruptedRunError(self.interrupted_message(stop), stop.signal_number)
        self._end_epoch(started)

    def stop_agreed(self, stop: StopFlag, step: int | None = None) -> bool:
        """Whether to stop now: the flag itself with one process; with several, the ranks' flags summed by
        one all-reduce (about 0.1–0.5 ms on gloo), taken every :data:`STOP_CHECK_STEPS` steps of an
        epoch (``step``) and at every epoch's end (``step`` left out)."""
        if self.world.size == 1:
            return stop.requested
        if step is not None and step % STOP_CHECK_STEPS:
            return False
        return self.world.sum([float(stop.requested)])[0] > 0

    def interrupted_message(self, stop: StopFlag) -> str:
        name = stop.signal_name or "a signal on another rank"
        where = (f"in epoch {self.state.epoch + 1}/{self.config.epochs} after step "
                 f"{self.state.step}/{self.batches}" if self.state.step
                 else f"after epoch {self.state.epoch}/{self.config.epochs}")
        return (f"stopped by {name} {where}; checkpoint written to {self.folder / CHECKPOINT_NAME}: "
                "continue with --resume")

    def _end_epoch(self, started: float) -> None:
        state = self.state
        (total_loss,) = self.world.sum([state.epoch_loss])  # the shards' parts of each batch loss add up
        state.loss_history.append(total_loss / self.batches)
        state.penalty_history.append(state.epoch_penalty / self.batches)
        if self.valid is not None:
            loss = _split_loss(self.model, self.config.loss, *self.valid, world=self.world)
            state.valid_history.append(loss)
        state.epoch, state.step, state.epoch_loss, state.epoch_penalty = state.epoch + 1, 0, 0.0, 0.0
        state.train_seconds += time.perf_counter() - started

    def epoch_line(self, seconds: float) -> str:
        state, config = self.state, self.config
        if state.solution is not None:
            solved = state.solution
            exact = (f", exact rationals (denominators ≤ {solved['max_denominator']})" if solved["rational"]
                     else "")
            return (f"least squares on {solved['rows']:,} outputs: rank {solved['rank']}/"
                    f"{solved['parameters']}, condition {solved['condition']:.3g}, residual rms "
                    f"{solved['residual_rms']:.3g}{exact}  "
                    f"train {config.loss} {state.loss_history[-1]:.6g}  {seconds:.1f} s")
        return (f"epoch {state.epoch}/{config.epochs}  train {config.loss} {state.loss_history[-1]:.6g}"
                + (f"  penalty {state.penalty_history[-1]:.3g}" if state.penalty_history[-1] else "")
                + (f"  valid {config.loss} {state.valid_history[-1]:.6g}" if self.valid is not None else "")
                + f"  lr {self.scheduler.get_last_lr()[0]:.3g}  {seconds:.1f} s")

    def first_line(self, threads: int) -> str:
        plan = (f"least squares in float64 over {self.batches} batches" if self.config.solver == "lstsq"
                else f"{self.config.epochs} epochs of {self.batches} batches")
        return (f"task {self.config.task} model {self.config.model} seed {self.config.seed}: "
                f"{count_parameters(self.model):,} parameters, {len(self.task.train):,} training sets, "
                f"{plan}, threads {threads}, device {self.device}"
                + (f", {self.world.size} processes" if self.world.size > 1 else ""))


class LeastSquaresPass:
    """The ``lstsq`` solver's one epoch: features batch by batch into a streamed QR, solve, load ``θ``.

    Each rank takes in its shards of the global batches; the ranks' R factors are gathered and
    merged (on every rank alike) before the solve, and rank 0's ``θ`` is broadcast.  A stop signal
    mid-pass checkpoints the merged factor; on resume rank 0 starts from it and the others from
    nothing, so every row still enters once.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        size = sum(p.numel() for p in linear_parameters(trainer.model))
        saved = trainer.state.least_squares
        if saved is not None and trainer.world.is_main:
            self.solver = StreamedLeastSquares(size, saved["r"], saved["rows"])
        else:
            self.solver = StreamedLeastSquares(size)

    def run(self, stop: StopFlag, progress: bool) -> None:
        trainer, state, started = self.trainer, self.trainer.state, time.perf_counter()
        trainer.sampler.set_epoch(state.epoch)
        order = torch.from_numpy(trainer.sampler.order()).to(trainer.device)
        trainer.model.eval()
        show = progress and trainer.world.is_main
        with tqdm(total=trainer.batches, initial=state.step, desc="least squares", leave=False,
                  disable=not show, file=sys.stderr, dynamic_ncols=True) as bar:
            for step, (_, mine) in enumerate(trainer.sampler.slices()):
                if step < state.step:
                    continue
                rows = order[mine]
                features = model_features(trainer.model, trainer.values[rows], trainer.mask[rows])
                self.solver.add(*feature_rows(features, trainer.targets[rows], trainer.mask[rows]))
                state.step = step + 1
                bar.update()
                if state.step < trainer.batches and trainer.stop_agreed(stop, state.step):
                    merged = self.merged()
                    state.least_squares = {"r": merged.r, "rows": merged.rows}
                    state.train_seconds += time.perf_counter() - started
                    trainer.checkpoint()
                    raise InterruptedRunError(trainer.interrupted_message(stop), stop.signal_number)
        self.finish(started)

    def merged(self) -> StreamedLeastSquares:
        """One solver holding every rank's rows."""
        world = self.trainer.world
        if world.size == 1:
            return self.solver
        merged = StreamedLeastSquares(self.solver.parameters)
        for r, rows in world.gather((self.solver.r, self.solver.rows)):
            merged.merge(r, rows)
        return merged

    def finish(self, started: float) -> None:
        trainer, state = self.trainer, self.trainer.state
        merged = self.merged()
        solution = merged.solve(trainer.config.ridge)
        if not trainer.config.ridge:
            solution = merged.rationalised(solution)
        load_solution(trainer.model, trainer.world.broadcast(solution.theta))
        train = (trainer.values, trainer.mask, trainer.targets)
        loss = _split_loss(trainer.model, trainer.config.loss, *train, world=trainer.world)
        state.loss_history.append(loss)
        state.penalty_history.append(0.0)
        if trainer.valid is not None:
            state.valid_history.append(_split_loss(trainer.model, trainer.config.loss, *trainer.valid,
                                                   world=trainer.world))
        state.solution, state.least_squares = solution.summary(), None
        state.epoch, state.step = state.epoch + 1, 0
        state.train_seconds += time.perf_counter() - started


class RunFileWriteError(OSError):
    """A run file could not be written (a full disk, …); the file there before, if any, is kept."""

    def __init__(self, path: Path, error: OSError) -> None:
        from polyequiv.fileio import describe_os_error

        kept = "the file there before is kept" if path.exists() else "none was written before"
        super().__init__(error.errno, f"cannot write {path}: {describe_os_error(error)}; {kept}")


def train_process(config: RunConfig, folder: Path, saved: LoadedCheckpoint | None, world: World, *,
                  threads: int, device: str, progress: bool, echo: Callable[[str], None] | None,
                  stop_after_epochs: int | None, stop: StopFlag | None = None) -> dict[str, Any] | None:
    """This process's part of a run in the (locked, opened) ``folder``, from ``saved`` or from scratch.

    With ``world.size > 1`` (an initialised process group) the model is wrapped in
    ``DistributedDataParallel``: rank ``r`` trains on its shard of each global batch with the loss
    ``N · Σ_shard errors / (terms in the global batch)``, so DDP's gradient average is the gradient
    of the global batch loss.  Only rank 0 writes, logs and evaluates; the others return ``None``.
    ``stop`` is the flag of :func:`polyequiv.training.stopping.stop_on_signals` (none: never set).
    """
    set_threads(threads)
    with contextlib.ExitStack() as files:
        files.enter_context(default_dtype(torch.float64 if config.solver == "lstsq" else None))
        trainer = Trainer(config, folder, world, device)
        log = files.enter_context((folder / LOG_NAME).open("a", encoding="utf-8")) if world.is_main else None

        def note(line: str) -> None:
            if log is not None:
                try:
                    log.write(line + "\n")
                    log.flush()
                except OSError as error:
                    raise RunFileWriteError(folder / LOG_NAME, error) from None
                (echo or (lambda text: None))(line)

        for line in trainer.restore(saved) if saved is not None else [trainer.first_line(threads)]:
            note(line)
        trainer.state.sessions += 1
        trainer.wrap()
        done_now, stop = 0, stop or StopFlag()
        while trainer.state.epoch < config.epochs and (stop_after_epochs is None
                                                        or done_now < stop_after_epochs):
            started = time.perf_counter()
            trainer.train_epoch(stop, progress)
            if world.size > 1:
                check_same_state(world, trainer.model, trainer.optimizer,
                                 f"after epoch {trainer.state.epoch}")
            trainer.checkpoint()  # checkpoint e is on disk before any rank starts epoch e + 1
            inject_fault(world, trainer.state.epoch)
            done_now += 1
            note(trainer.epoch_line(time.perf_counter() - started))
            if trainer.state.epoch < config.epochs and trainer.stop_agreed(stop):
                raise InterruptedRunError(trainer.interrupted_message(stop), stop.signal_number)
        if trainer.state.epoch < config.epochs:
            note(f"stopped after epoch {trainer.state.epoch}/{config.epochs}; continue with --resume")
            return None
        return _finish(trainer, threads, note) if world.is_main else None


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype | None) -> Iterator[None]:
    """Torch's default dtype set to ``dtype`` for the duration (``None``: left as it is)."""
    previous = torch.get_default_dtype()
    if dtype is not None:
        torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _finish(trainer: Trainer, threads: int, note: Callable[[str], None]) -> dict[str, Any]:
    """Evaluate (rank 0), write ``results.json`` and return what was written."""
    started = time.perf_counter()
    per_cardinality = evaluate(trainer.model, trainer.task, device=trainer.device)
    checks = diagnostics(trainer.model, trainer.task, seed=trainer.config.seed, device=trainer.device)
    seconds = time.perf_counter() - started
    record = results_record(trainer.config, trainer.task, trainer.model, trainer.state, per_cardinality,
                            checks, seconds, threads, trainer.device, trainer.world.size)
    try:
        results = write_results(trainer.folder, record)
    except OSError as error:
        raise RunFileWriteError(trainer.folder / RESULTS_NAME, error) from None
    note(f"evaluated in {seconds:.1f} s; results in {trainer.folder / RESULTS_NAME}")
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
