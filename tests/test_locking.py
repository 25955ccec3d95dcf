"""One writer per run folder or scheme file, tested with real processes (refusal, kill -9, recovery)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyequiv.locking import LockedError, LockHolder, hold_lock, holder_path, lock_path, read_holder
from polyequiv.training.results import read_results
from polyequiv_cli.main import cli

POLYEQUIV = [sys.executable, "-m", "polyequiv_cli.main"]
SLOW_RUN = [
    "train",
    "--task",
    "digit-sum",
    "--model",
    "deepsets",
    "--train-size",
    "4000",
    "--batch-size",
    "8",
    "--test-size",
    "20",
    "--cardinalities",
    "5",
    "--epochs",
    "4",
    "--no-progress",
]


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def hold_in_another_process(target: Path, *, folder: bool) -> subprocess.Popen:
    """A python process that takes the lock on ``target`` and sleeps until killed."""
    code = textwrap.dedent(f"""
        import time
        from polyequiv.locking import hold_lock
        with hold_lock({str(target)!r}, folder={folder}, command="sleeper"):
            print("locked", flush=True)
            time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def test_a_second_holder_is_refused_with_the_first_named(tmp_path: Path) -> None:
    with hold_lock(tmp_path / "run", command="first") as me:
        assert read_holder(lock_path(tmp_path / "run")) == me and me.pid == os.getpid()
        with (
            pytest.raises(LockedError, match=rf"in use by pid {os.getpid()} on .*: first"),
            hold_lock(tmp_path / "run"),
        ):
            pass
    assert not holder_path(lock_path(tmp_path / "run")).exists()
    with hold_lock(tmp_path / "run"):  # released: free again
        pass


def test_a_file_is_not_a_run_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(LockedError, match="is a file, not a folder"), hold_lock(tmp_path / "file"):
        pass


def test_a_holder_killed_with_sigkill_leaves_no_lock_behind(tmp_path: Path) -> None:
    sleeper = hold_in_another_process(tmp_path / "run", folder=True)
    with pytest.raises(LockedError, match=f"pid {sleeper.pid} .*: sleeper"), hold_lock(tmp_path / "run"):
        pass
    sleeper.send_signal(signal.SIGKILL)
    sleeper.wait()
    stale = read_holder(lock_path(tmp_path / "run"))
    assert stale is not None and stale.pid == sleeper.pid  # the note outlives its writer ...
    with hold_lock(tmp_path / "run") as me:  # ... but only the kernel's lock decides
        assert read_holder(lock_path(tmp_path / "run")) == me


def test_a_note_without_a_lock_blocks_nobody(tmp_path: Path) -> None:
    lock = lock_path(tmp_path / "run")
    lock.parent.mkdir()
    lock.touch()
    holder_path(lock).write_text(json.dumps(LockHolder(1, "elsewhere", "then", "ghost").__dict__))
    with hold_lock(tmp_path / "run") as me:  # not refused: the ghost's note holds no kernel lock
        assert read_holder(lock) == me  # and its note is replaced by ours


def test_two_train_processes_on_one_folder_then_kill_9_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = subprocess.Popen(
        [*POLYEQUIV, *SLOW_RUN, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: (out / "checkpoint.pt").exists() or first.poll() is not None)
        first.send_signal(signal.SIGSTOP)  # frozen mid-run, still holding the lock
        for extra in ([], ["--overwrite"]):
            second = subprocess.run(
                [*POLYEQUIV, *SLOW_RUN, "--out", str(out), *extra],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert second.returncode == 2, second.stderr
            assert second.stderr.strip().splitlines() == [second.stderr.strip()]  # one line
            assert f"in use by pid {first.pid} on " in second.stderr and "polyequiv" in second.stderr
            assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert not (out / "results.json").exists()
    assert read_holder(lock_path(out)).pid == first.pid  # stale note of the dead holder
    resumed = subprocess.run(
        [*POLYEQUIV, *SLOW_RUN, "--out", str(out), "--resume"], capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    results = read_results(out)
    assert results["training"]["epochs_completed"] == 4 and results["training"]["sessions"] == 2
    assert not holder_path(lock_path(out)).exists()


def test_compare_is_refused_while_another_process_holds_its_folder(tmp_path: Path) -> None:
    sleeper = hold_in_another_process(tmp_path / "c", folder=True)
    try:
        result = CliRunner().invoke(
            cli,
            [
                "compare",
                "--task",
                "digit-sum",
                "--models",
                "mlp",
                "--train-size",
                "100",
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "c"),
            ],
        )
        assert result.exit_code == 2 and f"in use by pid {sleeper.pid}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "c" / "mlp").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_compile_is_refused_while_another_process_writes_the_scheme(tmp_path: Path) -> None:
    scheme = tmp_path / "s.json"
    sleeper = hold_in_another_process(scheme, folder=False)
    try:
        result = subprocess.run(
            [*POLYEQUIV, "compile", "-n", "3", "-o", str(scheme)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2 and f"in use by pid {sleeper.pid}" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not scheme.exists()
    finally:
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()
    result = subprocess.run(
        [*POLYEQUIV, "compile", "-n", "3", "-o", str(scheme)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(scheme.read_text())  # written after the killed holder's lock went away
