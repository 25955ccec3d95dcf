"""Atomic file writes and digests: a reader sees the old file or the new one, never half of one.

Every file polyequiv writes goes through :func:`atomic_write`: the bytes go to a temporary file
beside the target, are flushed to disk (``fsync``), and the temporary file is renamed over the
target.  A process killed at any moment leaves the old file or the new one; a full disk leaves the
old one and raises ``OSError``.  Files that are read back later carry a SHA-256 digest of their
payload (:func:`canonical_digest` for JSON, :func:`bytes_digest` for bytes), so a damaged copy is
refused instead of being used.

Fault injection (tests only): ``POLYEQUIV_FAULT_WRITE=NAME:COUNT:KIND`` makes the ``COUNT``-th
atomic write (1-based, counted in this process) of a file named ``NAME`` fail half-way through
writing its temporary file: ``KIND`` ``enospc`` raises ``OSError(ENOSPC)`` as a full disk would,
``kill`` sends the process ``SIGKILL`` (``kill -9``), ``kill-after-rotate`` sends it after the
previous file was moved aside (see ``keep_previous``) and before the new one is in place.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

FAULT_WRITE_ENV = "POLYEQUIV_FAULT_WRITE"
FAULT_KINDS = ("enospc", "kill", "kill-after-rotate")
_writes: Counter[str] = Counter()


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None], *,
                 keep_previous: str | os.PathLike | None = None) -> Path:
    """Call ``write(stream)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    The rename is atomic on POSIX file systems; on any error the temporary file is removed and
    ``path`` is left as it was.  With ``keep_previous``, the file at ``path`` (if any) is first
    renamed to ``keep_previous``, so the last two versions survive; a process killed between the
    two renames leaves only ``keep_previous``, which readers fall back to.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fault = _injected_fault(target.name)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(_FaultyStream(stream, fault) if fault in ("enospc", "kill") else stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; use the usual mode
        if keep_previous is not None and target.exists():
            os.replace(target, keep_previous)
            if fault == "kill-after-rotate":
                os.kill(os.getpid(), signal.SIGKILL)
        os.replace(temporary, target)
        _sync_folder(target.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *,
                       keep_previous: str | os.PathLike | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write` for ``keep_previous``)."""
    return atomic_write(path, lambda stream: stream.write(data), keep_previous=keep_previous)


def bytes_digest(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_digest(content: dict[str, Any], *, skip: str = "sha256") -> str:
    """Hex SHA-256 of the canonical JSON (sorted keys, no spaces) of every field of ``content`` but ``skip``.

    Whitespace and key order of the file do not enter it, only the values: a file re-indented by
    hand keeps its digest, a changed number does not.

    >>> same = {"a": [1.5, "x"], "b": 1, "sha256": "?"}
    >>> canonical_digest({"b": 1, "a": [1.5, "x"]}) == canonical_digest(same)
    True
    """
    body = {key: value for key, value in content.items() if key != skip}
    return bytes_digest(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def describe_os_error(error: OSError) -> str:
    """``"No space left on device"``-style text of an ``OSError`` (its strerror, else its message)."""
    return error.strerror or str(error) or type(error).__name__


def _sync_folder(folder: Path) -> None:
    """fsync the folder, so the rename itself survives a power cut (where the platform allows it)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _injected_fault(name: str) -> str | None:
    """The fault ``POLYEQUIV_FAULT_WRITE`` asks for on this write of ``name`` (counting the write)."""
    wanted = os.environ.get(FAULT_WRITE_ENV)
    if not wanted:
        return None
    _writes[name] += 1
    target, _, rest = wanted.partition(":")
    count, _, kind = rest.partition(":")
    if target != name or not count.isdigit() or int(count) != _writes[name] or kind not in FAULT_KINDS:
        return None
    return kind


class _FaultyStream:
    """A stream that writes half of the first chunk, then fails as a full disk or a ``kill -9`` would."""

    def __init__(self, stream: BinaryIO, kind: str) -> None:
        self.stream, self.kind = stream, kind

    def write(self, data: bytes) -> int:
        self.stream.write(data[: len(data) // 2])
        self.stream.flush()
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
