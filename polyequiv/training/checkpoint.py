"""Checkpoints with a digest: the state of a run, enough to continue bit for bit, refused when damaged.

A checkpoint holds the run config, the number of finished epochs (and, for a run stopped by a
signal, the steps finished in the next one), the model, optimiser and scheduler states, torch's RNG
state, the loss histories and the training seconds spent so far.

File format 2 is one header line and a payload::

    polyequiv-checkpoint 2 sha256=<64 hex digits> bytes=<payload length>\\n
    <payload: torch.save of the state>

:func:`load_checkpoint` checks the header, the length (a truncated file) and the digest (a flipped
bit) before torch reads a byte of the payload, then checks that the state is one a run wrote
(the keys, the epoch against the histories).  Format 1 files (a bare ``torch.save``, written before
digests) are still read, with a note that they could not be checked.

Two checkpoints are kept: writing a new ``checkpoint.pt`` first renames the old one to
``checkpoint.prev.pt`` (:func:`save_checkpoint`).  :func:`load_run_checkpoint` falls back to the
previous one when the latest is missing or damaged, moves the damaged file aside (``.damaged``) so
that the next save does not rotate it in, and says so.  Since a run's numbers are a function of its
config (:mod:`polyequiv.training.loop`), resuming from the previous checkpoint repeats an epoch and
reaches the same numbers.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from polyequiv.fileio import atomic_write_bytes, bytes_digest

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_NAME = "checkpoint.prev.pt"
DAMAGED_SUFFIX = ".damaged"
FORMAT = 2
#: The keys every checkpoint a run wrote holds.
REQUIRED = ("config", "epoch", "model", "optimizer", "scheduler", "torch_rng", "loss_history",
            "penalty_history", "valid_history", "train_seconds", "sessions")
_HEADER = re.compile(rb"polyequiv-checkpoint (\d+) sha256=([0-9a-f]{64}) bytes=(\d+)")
_MAX_HEADER = 200


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, unreadable, or of another format."""


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint read for resuming: its state, the file it came from, and what to tell the user."""

    state: dict[str, Any]
    path: Path
    notes: tuple[str, ...] = ()


def encode_checkpoint(state: dict[str, Any]) -> bytes:
    """The bytes of a format-2 checkpoint of ``state``: header line with digest and length, then payload."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    payload = buffer.getvalue()
    header = f"polyequiv-checkpoint {FORMAT} sha256={bytes_digest(payload)} bytes={len(payload)}\n"
    return header.encode("ascii") + payload


def save_checkpoint(path: str | Path, state: dict[str, Any], *, keep_previous: bool = True) -> Path:
    """Write ``state`` to ``path`` atomically; the checkpoint there before becomes ``checkpoint.prev.pt``."""
    path = Path(path)
    previous = path.with_name(PREVIOUS_NAME) if keep_previous else None
    return atomic_write_bytes(path, encode_checkpoint(state), keep_previous=previous)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and check a checkpoint written by :func:`save_checkpoint` (``weights_only``: no code unpickled).

    Raises
    ------
    CheckpointError
        Naming the file and what failed: missing, empty, truncated, digest mismatch, not a
        checkpoint, or a state no run writes.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error.strerror or error}") from None
    if not data:
        raise CheckpointError(f"cannot read checkpoint {path}: the file is empty")
    if data.startswith(b"polyequiv-checkpoint"):
        state = _torch_load(path, _checked_payload(path, data))
    elif data.startswith(b"PK"):  # format 1: a bare torch.save zip archive, without a digest
        state = _torch_load(path, data)
        if not isinstance(state, dict) or state.get("format") != 1:
            raise CheckpointError(f"{path} is not a polyequiv checkpoint")
    else:
        raise CheckpointError(f"{path} is not a polyequiv checkpoint (its first bytes are {data[:20]!r})")
    _check_state(path, state)
    return state


def load_run_checkpoint(folder: str | Path) -> LoadedCheckpoint:
    """The checkpoint to resume the run in ``folder`` from: the latest good one of the two kept.

    When ``checkpoint.pt`` is missing or damaged and ``checkpoint.prev.pt`` is good, the previous
    one is used; a damaged latest file is renamed to ``checkpoint.pt.damaged`` and the notes say so.
    """
    folder = Path(folder)
    latest, previous = folder / CHECKPOINT_NAME, folder / PREVIOUS_NAME
    try:
        state = load_checkpoint(latest)
        notes = (f"{latest} has format 1 (written before checkpoints carried a digest): it could not be "
                 "checked",) if state.get("format") == 1 else ()
        return LoadedCheckpoint(state, latest, notes)
    except CheckpointError as latest_error:
        if not previous.is_file():
            raise
        try:
            state = load_checkpoint(previous)
        except CheckpointError as previous_error:
            raise CheckpointError(f"{latest_error}; and the previous one: {previous_error}") from None
        notes = [str(latest_error)] if latest.exists() else [f"{latest} is missing (killed while saving?)"]
        if latest.exists():
            latest.replace(latest.with_name(latest.name + DAMAGED_SUFFIX))
            notes.append(f"moved it aside to {latest.name + DAMAGED_SUFFIX}")
        notes.append(f"resuming from the previous checkpoint {previous.name} (after epoch {state['epoch']})")
        return LoadedCheckpoint(state, previous, tuple(notes))


def checkpoint_files(folder: str | Path) -> list[Path]:
    """The checkpoint files a run keeps in ``folder`` (latest and previous) that exist."""
    folder = Path(folder)
    return [p for p in (folder / CHECKPOINT_NAME, folder / PREVIOUS_NAME) if p.exists()]


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete temporary files of checkpoint writes that a killed process left in ``folder``; how many."""
    stale = list(Path(folder).glob(f".{CHECKPOINT_NAME}.*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _checked_payload(path: Path, data: bytes) -> bytes:
    """The payload of a format-2 file, after checking its header, length and digest."""
    end = data.find(b"\n", 0, _MAX_HEADER)
    match = _HEADER.fullmatch(data[:end]) if end > 0 else None
    if match is None:
        raise CheckpointError(f"{path} has a damaged header line (not 'polyequiv-checkpoint {FORMAT} "
                              "sha256=… bytes=…')")
    version, digest, length = int(match.group(1)), match.group(2).decode(), int(match.group(3))
    if version != FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {version}; this polyequiv reads formats 1 and "
                              f"{FORMAT}")
    payload = data[end + 1:]
    if len(payload) != length:
        raise CheckpointError(f"{path} is truncated or padded: its payload holds {len(payload):,} bytes, "
                              f"its header says {length:,}")
    if bytes_digest(payload) != digest:
        raise CheckpointError(f"{path} is damaged: the SHA-256 of its payload does not match its header "
                              "(the file changed after it was written)")
    return payload


def _torch_load(path: Path, payload: bytes) -> Any:
    try:
        return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged archive
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[0] if lines else type(error).__name__  # torch's messages run over many lines
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}") from None


def _check_state(path: Path, state: Any) -> None:
    """A state some run wrote: the keys, a whole epoch count that the histories agree with."""
    if not isinstance(state, dict) or state.get("format") not in (1, FORMAT):
        raise CheckpointError(f"{path} is not a polyequiv checkpoint")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise CheckpointError(f"{path} is not a checkpoint of a run: it lacks {', '.join(missing)}")
    epoch = state["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise CheckpointError(f"{path} holds epoch {epoch!r}, not a count of epochs")
    if len(state["loss_history"]) != epoch:
        raise CheckpointError(f"{path} holds {len(state['loss_history'])} epoch losses for {epoch} epochs")
    seconds = state["train_seconds"]
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        raise CheckpointError(f"{path} holds training seconds {seconds!r}")
