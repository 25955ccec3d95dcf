"""Batch order and its sharding over processes: each step trains on the same sets at any process count.

The order of the training sets in epoch ``e`` is :func:`batch_order` ``(seed, e)``;
step ``s`` trains on positions ``[s·B, (s + 1)·B)`` of that order (``B`` the global
batch, the last batch shorter).  With ``N`` processes each global batch is cut into
``N`` contiguous shards (:func:`shard_bounds`, sizes differing by at most one), so

    shard₀ ∪ shard₁ ∪ … ∪ shard_{N−1} = the single-process batch of step s, in order,

and the averaged gradient is the gradient of the single-process batch loss.

Why not ``torch.utils.data.DistributedSampler``: it deals out the *epoch*
permutation round-robin (rank ``r`` takes positions ``r, r + N, …``) and repeats
sets to pad the epoch to a multiple of ``N``, so rank ``r``'s ``k``-th batch is
not a piece of the single-process ``k``-th batch: the run would follow another
trajectory and ``--resume`` with another process count would change the numbers.
:class:`GlobalBatchSampler` keeps its interface (``num_replicas``, ``rank``,
``set_epoch``; iterating yields this rank's index lists, so it also serves as a
``DataLoader`` ``batch_sampler``) and shards each batch instead.

    >>> sampler = GlobalBatchSampler(10, 4, seed=0, num_replicas=2, rank=1)
    >>> [len(rows) for rows in sampler]          # batches of 4, 4, 2: rank 1 gets the second halves
    [2, 2, 1]
    >>> whole = [sorted(r0 + r1) for r0, r1 in zip(GlobalBatchSampler(10, 4, seed=0, num_replicas=2, rank=0),
    ...                                            sampler)]
    >>> whole == [sorted(rows) for rows in GlobalBatchSampler(10, 4, seed=0)]
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


def batch_order(seed: int, epoch: int, size: int) -> np.ndarray:
    """The order of the training sets in epoch ``epoch`` (0-based): a function of ``(seed, epoch)`` only."""
    return np.random.default_rng([seed, 2, epoch]).permutation(size)


def shard_bounds(length: int, parts: int, part: int) -> tuple[int, int]:
    """``[start, stop)`` of shard ``part`` when ``length`` items are cut into ``parts`` contiguous shards.

    The first ``length mod parts`` shards have one item more (``numpy.array_split``'s rule);
    a shard is empty when ``length < parts``.
    """
    if parts < 1 or not 0 <= part < parts:
        raise ValueError(f"shard {part} of {parts} does not exist")
    small, extra = divmod(length, parts)
    start = part * small + min(part, extra)
    return start, start + small + (part < extra)


class GlobalBatchSampler(Sampler[list[int]]):
    """This rank's shard of every global batch of an epoch (see the module docstring).

    Parameters
    ----------
    dataset_size, batch_size : int
        Training sets, and sets per optimiser step over *all* processes (the global batch).
    seed : int
        The run's seed: the epoch order is :func:`batch_order` ``(seed, epoch)``.
    num_replicas, rank : int
        Process count and this process's rank (``DistributedSampler``'s names).
    """

    def __init__(self, dataset_size: int, batch_size: int, *, seed: int, num_replicas: int = 1,
                 rank: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        shard_bounds(batch_size, num_replicas, rank)  # checks rank and num_replicas
        self.dataset_size, self.batch_size, self.seed = dataset_size, batch_size, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the order of epoch ``epoch`` (0-based) from now on."""
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.dataset_size / self.batch_size)

    def order(self) -> np.ndarray:
        """The epoch's order of all training sets (the same on every rank)."""
        return batch_order(self.seed, self.epoch, self.dataset_size)

    def slices(self) -> Iterator[tuple[slice, slice]]:
        """Per step: the positions in :meth:`order` of the global batch, and of this rank's shard of it."""
        for step in range(len(self)):
            start = step * self.batch_size
            stop = min(start + self.batch_size, self.dataset_size)
            low, high = shard_bounds(stop - start, self.num_replicas, self.rank)
            yield slice(start, stop), slice(start + low, start + high)

    def __iter__(self) -> Iterator[list[int]]:
        order = self.order()
        for _, mine in self.slices():
            yield order[mine].tolist()
