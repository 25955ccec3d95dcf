"""Atomic checkpoints: the state after a whole epoch, enough to continue bit for bit.

A checkpoint holds the run config, the number of finished epochs, the model,
optimiser and scheduler states, torch's RNG state, the loss history and the
training seconds spent so far.  It is written with
:func:`polyequiv.fileio.atomic_write_bytes`, so a run killed while saving keeps
the previous checkpoint intact.  The batch order of epoch ``e`` is a function of
``(seed, e)`` alone (see :func:`polyequiv.training.loop.batch_order`), so nothing
else is needed to resume.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from polyequiv.fileio import atomic_write_bytes

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or of another format."""


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only``: no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"cannot read checkpoint {path}: the file is empty")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[0] if lines else type(error).__name__  # torch's messages run over many lines
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a polyequiv checkpoint of format {FORMAT}")
    return state
