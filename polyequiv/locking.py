"""One writer per run folder or scheme file: an OS-level lock, and a note saying who holds it.

A run folder ``runs/x`` is locked through ``runs/x/.polyequiv.lock``; a file
``s.json`` through ``.s.json.lock`` beside it.  The lock is :mod:`filelock`'s
``flock(2)`` lock, so the kernel drops it when the holding process ends, however
it ends (``kill -9`` included): a stale lock cannot block the next run.  The
holder also writes ``<lock>.holder.json`` (pid, host, start time, command) so that
a refused process can say who is in the way; the note is only read for that
message, never to decide anything, so a note left behind by a killed holder
is simply overwritten by the next one.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with hold_lock(folder, command="polyequiv train") as holder:
    ...     holder.command
    'polyequiv train'

Locks on network file systems without ``flock`` fall back to :mod:`filelock`'s
soft locks, which a killed process can leave behind (delete the ``.lock`` file then).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from polyequiv.fileio import atomic_write_text

FOLDER_LOCK_NAME = ".polyequiv.lock"


class LockedError(ValueError):
    """The folder or file is locked by another process (which the message names)."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock: process id, host name, start time (UTC, ISO 8601) and command line."""

    pid: int
    host: str
    started: str
    command: str

    @classmethod
    def of_this_process(cls, command: str | None = None) -> LockHolder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            command=command if command is not None else this_command(),
        )

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, started {self.started}: {self.command}"


def this_command() -> str:
    """This process's command line, the interpreter shortened to its name (``python -m polyequiv_cli …``)."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    return shlex.join([Path(argv[0]).name, *argv[1:]]) if argv else "python"


def lock_path(target: str | Path, *, folder: bool = True) -> Path:
    """The lock file of ``target``: inside it when a (run) folder, beside it when a file."""
    target = Path(target)
    return target / FOLDER_LOCK_NAME if folder else target.parent / f".{target.name}.lock"


def holder_path(lock: Path) -> Path:
    return lock.with_name(lock.name + ".holder.json")


def read_holder(lock: str | Path) -> LockHolder | None:
    """The holder noted beside ``lock`` (``None`` when there is no readable note)."""
    try:
        data = json.loads(holder_path(Path(lock)).read_text(encoding="utf-8"))
        return LockHolder(**{key: data[key] for key in ("pid", "host", "started", "command")})
    except (OSError, ValueError, TypeError, KeyError):
        return None


@contextmanager
def hold_lock(target: str | Path, *, folder: bool = True, command: str | None = None) -> Iterator[LockHolder]:
    """Lock ``target`` (a run folder, created if missing, or a file path) for this process, or refuse.

    Parameters
    ----------
    target : path
        A run folder (locked through ``target/.polyequiv.lock``) or a file (``.NAME.lock`` beside it).
    folder : bool
        Whether ``target`` is a folder (the default) or a file.
    command : str, optional
        What to record as the holder's command (default: this process's command line).

    Yields
    ------
    LockHolder
        This process, as recorded in the holder note.

    Raises
    ------
    LockedError
        When another process holds the lock; the message names it (pid, host, start, command).
    """
    lock = lock_path(target, folder=folder)
    if folder and Path(target).exists() and not Path(target).is_dir():
        raise LockedError(f"{Path(target)} is a file, not a folder")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LockedError(f"cannot create {lock.parent}: {error.strerror or error}") from None
    file_lock = FileLock(lock, timeout=0)
    try:
        file_lock.acquire()
    except Timeout:
        holder = read_holder(lock)
        who = holder.describe() if holder is not None else "another process (not yet noted)"
        raise LockedError(f"{Path(target)} is in use by {who}; wait for it to finish or stop it") from None
    except OSError as error:
        raise LockedError(f"cannot lock {Path(target)}: {error.strerror or error}") from None
    me = LockHolder.of_this_process(command)
    try:
        atomic_write_text(holder_path(lock), json.dumps(asdict(me)) + "\n")
        yield me
    finally:
        if read_holder(lock) == me:
            holder_path(lock).unlink(missing_ok=True)
        file_lock.release()
