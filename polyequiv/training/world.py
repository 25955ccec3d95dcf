"""`World`: this process's place among the processes of one training run, and the few collectives it uses.

A run trains in ``size`` processes of ranks ``0 … size − 1``; rank 0 is the *main*
process: it writes the checkpoint, ``train.log`` and ``results.json``.  The
single-process run is ``World()`` (rank 0 of 1), whose collectives do nothing, so
the training loop has one code path.  Under ``torchrun`` the world comes from the
environment variables ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``
(:func:`world_from_environment`).

Fault injection for tests: ``POLYEQUIV_FAULT_EXIT=RANK:EPOCH`` makes rank ``RANK``
leave with ``os._exit(FAULT_EXIT_CODE)`` right after the checkpoint of epoch
``EPOCH`` (1-based) is on disk, as a crashed worker would; ``RANK:EPOCH:SIGKILL``
makes it send itself ``SIGKILL``, as ``kill -9`` or the out-of-memory killer would.
``POLYEQUIV_FAULT_STATE=RANK:EPOCH`` makes rank ``RANK`` change one weight of its model when it
starts training after epoch ``EPOCH`` (0: a fresh run), as a rank that read another checkpoint
would: :func:`check_same_state` must refuse to go on.
"""

from __future__ import annotations

import hashlib
import os
import signal
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

FAULT_ENV = "POLYEQUIV_FAULT_EXIT"
FAULT_STATE_ENV = "POLYEQUIV_FAULT_STATE"
FAULT_EXIT_CODE = 17


class RankStateError(RuntimeError):
    """The ranks of a distributed run hold different model or optimiser states; the run stops."""


@dataclass(frozen=True)
class World:
    """Rank, number of processes and rank on this machine (``torchrun``'s ``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``).  With ``size > 1`` the collectives need an initialised default process group."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    def __post_init__(self) -> None:
        if self.size < 1 or not 0 <= self.rank < self.size or self.local_rank < 0:
            raise ValueError(f"rank {self.rank} of {self.size} (local {self.local_rank}) is not a process")

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that writes files and logs."""
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (in float64), on every rank."""
        if self.size == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=_collective_device())
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.cpu().tolist()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object), on every rank."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, device=_collective_device())
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (any picklable object), in rank order, on every rank."""
        if self.size == 1:
            return [value]
        box: list[Any] = [None] * self.size
        dist.all_gather_object(box, value)
        return box

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.size > 1:
            dist.barrier()


def world_from_environment(environ: dict[str, str] | None = None) -> World | None:
    """The world ``torchrun`` (or any launcher using its variables) describes; ``None`` outside one.

    Raises ``ValueError`` for values that are not a rank of the world.
    """
    environ = dict(os.environ if environ is None else environ)
    if "RANK" not in environ or "WORLD_SIZE" not in environ:
        return None
    try:
        rank, size = int(environ["RANK"]), int(environ["WORLD_SIZE"])
        local_rank = int(environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise ValueError(f"RANK={environ['RANK']!r}, WORLD_SIZE={environ['WORLD_SIZE']!r} "
                         "are not integers") from None
    return World(rank, size, local_rank)


def backend_for(device: str) -> str:
    """``nccl`` for CUDA devices, ``gloo`` otherwise."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def rank_device(device: str, world: World) -> str:
    """The device of ``world``'s rank: ``cuda`` becomes ``cuda:LOCAL_RANK``; others are shared."""
    kind = torch.device(device)
    if kind.type == "cuda" and world.size > 1:
        if kind.index is not None:
            raise ValueError(f"device {device!r} names one GPU; with several processes give 'cuda' "
                             "(rank r uses cuda:LOCAL_RANK)")
        return f"cuda:{world.local_rank}"
    return device


def inject_fault(world: World, epochs_done: int, environ: dict[str, str] | None = None) -> None:
    """Leave at once (``os._exit``) when ``POLYEQUIV_FAULT_EXIT`` names this rank and epoch (tests only)."""
    wanted = (os.environ if environ is None else environ).get(FAULT_ENV, "")
    here = f"{world.rank}:{epochs_done}"
    if wanted == here:
        os._exit(FAULT_EXIT_CODE)
    if wanted == here + ":SIGKILL":
        os.kill(os.getpid(), signal.SIGKILL)


def state_digest(*modules: Any) -> str:
    """SHA-256 of the tensors and numbers in the ``state_dict()`` of each of ``modules`` (in key order)."""
    digest = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            digest.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                digest.update(str(key).encode())
                feed(value[key])
        elif isinstance(value, list | tuple):
            for item in value:
                feed(item)
        else:
            digest.update(repr(value).encode())

    for module in modules:
        feed(module.state_dict())
    return digest.hexdigest()


def check_same_state(world: World, model: Any, optimizer: Any, when: str) -> None:
    """Refuse to go on when a rank's model or optimiser state differs from rank 0's.

    Each rank hashes its states (:func:`state_digest`); rank 0's digest is broadcast and the ranks
    that differ are counted with one all-reduce, so every rank raises :class:`RankStateError` together.
    """
    if world.size == 1:
        return
    mine = state_digest(model, optimizer)
    reference = world.broadcast(mine)
    flags = [0.0] * world.size
    flags[world.rank] = float(mine != reference)
    ranks = [rank for rank, flag in enumerate(world.sum(flags)) if flag]
    if ranks:
        raise RankStateError(f"rank{'s' if len(ranks) > 1 else ''} {', '.join(map(str, ranks))} "
                             f"hold{'' if len(ranks) > 1 else 's'} a model or optimiser state different from "
                             f"rank 0's {when}; nothing was written from it")


def inject_state_fault(world: World, model: Any, epochs_done: int, environ: dict[str, str] | None = None
                       ) -> None:
    """Change one weight of this rank's model when ``POLYEQUIV_FAULT_STATE`` names it (tests only)."""
    wanted = (os.environ if environ is None else environ).get(FAULT_STATE_ENV, "")
    if wanted == f"{world.rank}:{epochs_done}":
        with torch.no_grad():
            next(iter(model.parameters())).view(-1)[0] += 1.0


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
