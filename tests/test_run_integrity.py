"""Run-file integrity under injected faults: damaged files are refused or fallen back from, never used.

Every fault here is real: bytes flipped or cut in files a run wrote, processes killed with SIGKILL
in the middle of a checkpoint write, a full disk (injected ENOSPC, and a real tmpfs when this
machine lets a user namespace mount one), SIGTERM to a training process, and ranks of a
distributed run that disagree.  After each, the run is resumed and must reach the numbers of a
run that was never disturbed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from polyequiv import LayerSpec, derive
from polyequiv.fileio import FAULT_WRITE_ENV
from polyequiv.scheme import SchemeFileError, TyingScheme, load_scheme
from polyequiv.training.checkpoint import (
    CHECKPOINT_NAME,
    PREVIOUS_NAME,
    CheckpointError,
    load_checkpoint,
    load_run_checkpoint,
)
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.results import RESULTS_NAME, ResultsError, numbers_only, read_results
from polyequiv.training.run import train
from polyequiv_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
TINY = {"train": 300, "test": 30, "cardinalities": [5, 20]}
CLI_TINY = ["--task", "digit-sum", "--model", "deepsets", "--train-size", "300", "--test-size", "30",
            "--cardinalities", "5,20", "--batch-size", "25"]


def tiny(epochs: int = 3, **settings) -> RunConfig:
    return RunConfig.create("digit-sum", "deepsets", epochs=epochs, batch_size=25, task_options=dict(TINY),
                            **settings)


def same_numbers(a: dict, b: dict) -> bool:
    """Equal results apart from what varies between runs (times, sessions, the extension record)."""
    one, two = numbers_only(a), numbers_only(b)
    for data in (one, two):
        data["training"].pop("extensions", None)
    return one == two


@pytest.fixture(scope="module")
def reference_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An undisturbed 3-epoch run: what every resumed run below must reach."""
    folder = tmp_path_factory.mktemp("reference") / "run"
    train(tiny(), folder)
    return folder


@pytest.fixture
def reference(reference_folder: Path) -> dict:
    return read_results(reference_folder)


def flip_bit(path: Path, offset: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


def weight_offset(path: Path) -> int:
    """Where the first float of the model's first weight lies in a checkpoint file."""
    state = load_checkpoint(path)
    first = next(iter(state["model"].values())).reshape(-1)[:4].contiguous()
    offset = path.read_bytes().find(first.numpy().tobytes())
    assert offset > 0
    return offset


def polyequiv(*args: str, env: dict[str, str] | None = None,
              timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "polyequiv_cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)


# ---------------------------------------------------------------------- damaged checkpoints
def test_lowest_bit_of_one_weight_is_refused_not_resumed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=1)
    path = out / CHECKPOINT_NAME
    flip_bit(path, weight_offset(path), bit=0)
    with pytest.raises(CheckpointError, match=r"checkpoint.pt is damaged: the SHA-256 of its payload"):
        train(tiny(), out, resume=True)
    assert not (out / RESULTS_NAME).exists()


@pytest.mark.parametrize("where", ["header", "high bit of a weight", "last byte"])
def test_any_flipped_bit_is_refused(tmp_path: Path, where: str) -> None:
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=1)
    path = out / CHECKPOINT_NAME
    offset = {"header": 30, "high bit of a weight": weight_offset(path) + 3,
              "last byte": path.stat().st_size - 1}
    flip_bit(path, offset[where], bit=6)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused_with_its_length(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=1)
    path = out / CHECKPOINT_NAME
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="is truncated or padded: its payload holds"):
        load_checkpoint(path)
    result = CliRunner().invoke(cli, ["train", *CLI_TINY, "--epochs", "3", "--out", str(out), "--resume"])
    assert result.exit_code == 2 and "truncated" in result.output and "Traceback" not in result.output


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one_and_says_so(tmp_path: Path,
                                                                              reference: dict) -> None:
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=2)
    assert load_checkpoint(out / PREVIOUS_NAME)["epoch"] == 1
    latest = out / CHECKPOINT_NAME
    flip_bit(latest, weight_offset(latest))
    lines: list[str] = []
    resumed = train(tiny(), out, resume=True, echo=lines.append)
    assert any("is damaged" in line for line in lines)
    assert any("resuming from the previous checkpoint checkpoint.prev.pt (after epoch 1)" in line
               for line in lines)
    assert (out / (CHECKPOINT_NAME + ".damaged")).is_file()  # kept aside, never rotated in
    assert same_numbers(resumed, reference)


def test_explain_refuses_a_damaged_checkpoint_instead_of_using_the_previous_one(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=2)
    flip_bit(out / CHECKPOINT_NAME, weight_offset(out / CHECKPOINT_NAME))
    result = CliRunner().invoke(cli, ["explain", str(out)])
    assert result.exit_code == 2 and "checkpoint.pt is damaged" in result.output
    assert "Usage:" not in result.output


def test_both_checkpoints_damaged_is_refused_naming_both(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=2)
    for name in (CHECKPOINT_NAME, PREVIOUS_NAME):
        flip_bit(out / name, weight_offset(out / name))
    with pytest.raises(CheckpointError, match=r"checkpoint.pt is damaged.*; and the previous one: .*prev.pt"):
        load_run_checkpoint(out)


def test_format_1_checkpoints_still_resume_with_a_note(tmp_path: Path, reference: dict) -> None:
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=1)
    state = load_checkpoint(out / CHECKPOINT_NAME)
    state["format"] = 1
    for key in ("step", "epoch_loss", "epoch_penalty", "extensions"):  # format 1 had none of these
        state.pop(key)
    torch.save(state, out / CHECKPOINT_NAME)  # the old writer: a bare torch.save
    (out / PREVIOUS_NAME).unlink(missing_ok=True)
    lines: list[str] = []
    resumed = train(tiny(), out, resume=True, echo=lines.append)
    assert any("format 1" in line and "could not be checked" in line for line in lines)
    assert same_numbers(resumed, reference)


# ---------------------------------------------------------------------- damaged results and schemes
def test_a_changed_number_in_results_is_refused(tmp_path: Path, reference: dict,
                                                reference_folder: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(reference_folder, out)
    text = (out / RESULTS_NAME).read_text()
    row = reference["evaluation"]["per_cardinality"][0]
    edited = text.replace(f'"mae": {json.dumps(row["mae"])}', f'"mae": {json.dumps(row["mae"] / 2)}', 1)
    assert edited != text
    (out / RESULTS_NAME).write_text(edited)
    with pytest.raises(ResultsError, match="is damaged: the SHA-256 of its content"):
        read_results(out)
    commands = (["plot", str(out), "-o", str(tmp_path / "p.png")], ["check", str(out)], ["explain", str(out)])
    for command in commands:
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2 and "is damaged" in result.output and "Traceback" not in result.output
        assert "Usage:" not in result.output  # a damaged file is not a usage error


def test_results_whitespace_changes_keep_the_digest_and_old_schema_reads(tmp_path: Path,
                                                                        reference_folder: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    data = json.loads((reference_folder / RESULTS_NAME).read_text())
    (out / RESULTS_NAME).write_text(json.dumps(data, indent=4, sort_keys=True))  # re-indented: same values
    assert read_results(out)["sha256"] == data["sha256"]
    old = {k: v for k, v in data.items() if k != "sha256"} | {"schema": "polyequiv-results/1"}
    (out / RESULTS_NAME).write_text(json.dumps(old))
    assert read_results(out)["schema"] == "polyequiv-results/1"


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_results_and_scheme_files_are_one_line_errors(tmp_path: Path, reference_folder: Path,
                                                              damage: str) -> None:
    results = tmp_path / RESULTS_NAME
    shutil.copy(reference_folder / RESULTS_NAME, results)
    scheme = tmp_path / "s.json"
    TyingScheme.from_derivation(derive(LayerSpec(n=4, degree=2))).save(scheme)
    for path in (results, scheme):
        data = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(data[: len(data) * 2 // 3])
        else:
            digit = next(i for i in range(len(data) - 1, 0, -1)
                         if chr(data[i]).isdigit() and data[i] != ord("9"))
            path.write_bytes(data[:digit] + bytes([data[digit] + 1]) + data[digit + 1:])
    with pytest.raises(ResultsError, match=str(results)):
        read_results(results)
    with pytest.raises(SchemeFileError, match=str(scheme)):
        load_scheme(scheme)
    for path in (results, scheme):
        result = CliRunner().invoke(cli, ["check", str(path)])
        assert result.exit_code == 2 and str(path) in result.output and "Traceback" not in result.output
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith("Error: ") and not any(line.startswith("Error") for line in lines[:-1])


def test_check_reports_intact_files(tmp_path: Path, reference_folder: Path) -> None:
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=2)
    scheme = tmp_path / "s.json"
    TyingScheme.from_derivation(derive(LayerSpec(n=4, degree=1))).save(scheme)
    result = CliRunner().invoke(cli, ["check", str(out), str(scheme), str(reference_folder)])
    assert result.exit_code == 0, result.output
    assert "checkpoint after epoch 2 (sha256 ok)" in result.output
    assert "checkpoint after epoch 1 (sha256 ok)" in result.output  # the previous one
    assert "results of deepsets on digit-sum (sha256 ok)" in result.output
    assert "tying scheme of S4 linear ordered equivariant" in result.output


# ---------------------------------------------------------------------- killed writes, full disks
@pytest.mark.parametrize("fault", ["kill", "kill-after-rotate"])
def test_kill_9_during_the_checkpoint_write_resumes_to_the_same_numbers(tmp_path: Path, reference: dict,
                                                                        fault: str) -> None:
    out = tmp_path / "run"
    killed = polyequiv("train", *CLI_TINY, "--epochs", "3", "--out", str(out),
                       env={FAULT_WRITE_ENV: f"{CHECKPOINT_NAME}:3:{fault}"})
    assert killed.returncode == -signal.SIGKILL
    if fault == "kill":  # the old checkpoint is intact, the half-written one is a stale temporary
        assert load_checkpoint(out / CHECKPOINT_NAME)["epoch"] == 2
        assert list(out.glob(f".{CHECKPOINT_NAME}.*.tmp"))
    else:  # killed between the two renames: only the previous one is left
        assert not (out / CHECKPOINT_NAME).exists() and load_checkpoint(out / PREVIOUS_NAME)["epoch"] == 2
    resumed = polyequiv("train", *CLI_TINY, "--epochs", "3", "--out", str(out), "--resume",
                        "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert "after epoch 2/3" in resumed.stderr and not list(out.glob(".*.tmp"))
    assert same_numbers(json.loads(resumed.stdout), reference)


def test_a_full_disk_during_a_checkpoint_write_is_one_line_and_keeps_the_old_one(tmp_path: Path,
                                                                                  reference: dict) -> None:
    out = tmp_path / "run"
    full = polyequiv("train", *CLI_TINY, "--epochs", "3", "--out", str(out),
                     env={FAULT_WRITE_ENV: f"{CHECKPOINT_NAME}:2:enospc"})
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert "No space left on device; the file there before is kept" in full.stderr.strip().splitlines()[-1]
    assert load_checkpoint(out / CHECKPOINT_NAME)["epoch"] == 1 and not list(out.glob(".*.tmp"))
    resumed = polyequiv("train", *CLI_TINY, "--epochs", "3", "--out", str(out), "--resume",
                        "--format", "json")
    assert resumed.returncode == 0 and same_numbers(json.loads(resumed.stdout), reference)


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount a tmpfs in a user namespace here")
def test_a_real_full_tmpfs_stops_the_run_cleanly(tmp_path: Path, reference: dict) -> None:
    probe = tmp_path / "probe"
    train(tiny(), probe, stop_after_epochs=1)
    size = (probe / CHECKPOINT_NAME).stat().st_size
    pages = -(-int(size * 2.5) // 4096)  # room for two checkpoints, not for the third being written
    disk, keep = tmp_path / "disk", tmp_path / "kept"
    disk.mkdir()
    command = (f"mount -t tmpfs -o size={pages * 4}k tmpfs {disk} && "
               f"{sys.executable} -m polyequiv_cli.main train {' '.join(CLI_TINY)} --epochs 3 "
               f"--out {disk}/run; "
               f"status=$?; cp -r {disk}/run {keep}; exit $status")
    full = subprocess.run(["unshare", "-rm", "sh", "-c", command], capture_output=True, text=True, cwd=ROOT,
                          timeout=240)
    assert full.returncode == 1, full.stderr
    assert "No space left on device" in full.stderr and "Traceback" not in full.stderr
    assert load_checkpoint(keep / CHECKPOINT_NAME)["epoch"] == 2
    assert same_numbers(train(tiny(), keep, resume=True), reference)


# ---------------------------------------------------------------------- signals
def _wait_for(path: Path, text: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_a_signal_mid_epoch_checkpoints_that_step_and_resumes_to_the_same_numbers(
        tmp_path: Path, reference: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from polyequiv.training.loop import Trainer
    from polyequiv.training.stopping import InterruptedRunError

    calls = []
    step = Trainer.step

    def step_then_signal(self, *args):
        calls.append(1)
        if len(calls) == 17:  # step 5 of epoch 2 (12 steps per epoch)
            os.kill(os.getpid(), signal.SIGTERM)
        return step(self, *args)

    monkeypatch.setattr(Trainer, "step", step_then_signal)
    out = tmp_path / "run"
    message = r"stopped by SIGTERM in epoch 2/3 after step 5/12"
    with pytest.raises(InterruptedRunError, match=message) as caught:
        train(tiny(), out)
    assert caught.value.exit_code == 143
    state = load_checkpoint(out / CHECKPOINT_NAME)
    assert (state["epoch"], state["step"]) == (1, 5) and state["epoch_loss"] > 0
    monkeypatch.setattr(Trainer, "step", step)
    lines: list[str] = []
    assert same_numbers(train(tiny(), out, resume=True, echo=lines.append), reference)
    assert any("after epoch 1/3, step 5/12" in line for line in lines)


@pytest.mark.parametrize("nproc", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_sigterm_to_a_training_process_exits_clearly_and_resumes(tmp_path: Path, nproc: int) -> None:
    out = tmp_path / "run"
    args = ["train", "--task", "digit-sum", "--model", "deepsets", "--train-size", "20000",
            "--test-size", "30", "--cardinalities", "5,20", "--batch-size", "8", "--epochs", "3",
            "--out", str(out), "--nproc", str(nproc)]
    process = subprocess.Popen([sys.executable, "-m", "polyequiv_cli.main", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT)
    _wait_for(out / "train.log", "epoch 1/3", process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    last = stderr.strip().splitlines()[-1]
    assert "stopped by SIGTERM" in last and "continue with --resume" in last and "Traceback" not in stderr
    state = load_checkpoint(out / CHECKPOINT_NAME)
    assert state["epoch"] >= 1
    resumed = polyequiv(*args, "--resume", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    where = f"after epoch {state['epoch']}/3" + (f", step {state['step']}/2500" if state["step"] else "")
    assert where in resumed.stderr
    assert json.loads(resumed.stdout)["training"]["epochs_completed"] == 3


# ---------------------------------------------------------------------- extending a run
def test_resume_with_more_epochs_extends_to_the_numbers_of_the_longer_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(epochs=2), out)
    extended = train(tiny(epochs=4), out, resume=True)
    assert extended["training"]["epochs_completed"] == 4
    assert extended["training"]["extensions"] == [{"after_epoch": 2, "from_epochs": 2, "to_epochs": 4}]
    assert same_numbers(extended, train(tiny(epochs=4), tmp_path / "whole"))
    with pytest.raises(ConfigError, match="would shorten it"):
        train(tiny(epochs=3), out, resume=True)
    with pytest.raises(ConfigError, match=r"lr: 0\.001 != 0\.002"):
        train(tiny(epochs=5, lr=2e-3), out, resume=True)


def test_extending_a_cosine_run_redefines_the_schedule_over_the_new_total(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(tiny(epochs=2, schedule="cosine"), out)
    assert load_checkpoint(out / CHECKPOINT_NAME)["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0)
    train(tiny(epochs=4, schedule="cosine"), out, resume=True, stop_after_epochs=1)
    steps = 12 * 3  # 300 sets in batches of 25: 12 steps per epoch; 3 epochs done
    lr = load_checkpoint(out / CHECKPOINT_NAME)["optimizer"]["param_groups"][0]["lr"]
    import math

    assert lr == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * steps / 48)), rel=1e-12)
    result = CliRunner().invoke(cli, ["train", *CLI_TINY, "--schedule", "cosine", "--epochs", "3", "--out",
                                      str(out), "--resume"])
    assert result.exit_code == 2 and "would shorten it" in result.output


# ---------------------------------------------------------------------- distributed
@pytest.mark.slow
def test_ranks_that_disagree_stop_the_run_before_anything_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from polyequiv.training.distributed import WorkerError
    from polyequiv.training.world import FAULT_STATE_ENV

    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=1)
    before = (out / CHECKPOINT_NAME).read_bytes()
    monkeypatch.setenv(FAULT_STATE_ENV, "1:1")  # rank 1 starts from another state after epoch 1
    with pytest.raises(WorkerError, match="rank 1 holds a model or optimiser state different from rank 0's"):
        train(tiny(), out, resume=True, nproc=2)
    assert (out / CHECKPOINT_NAME).read_bytes() == before


def test_resume_alone_continues_the_run_with_its_own_settings(tmp_path: Path, reference: dict) -> None:
    """`train --resume` (what a stopped run says to do) takes what is left out from the checkpoint: it
    finishes the run's own 3 epochs, not the model's default 20."""
    out = tmp_path / "run"
    train(tiny(), out, stop_after_epochs=1)
    result = CliRunner().invoke(cli, ["train", "--task", "digit-sum", "--model", "deepsets",
                                      "--out", str(out), "--resume", "--format", "json"])
    assert result.exit_code == 0, result.output
    resumed = json.loads(result.stdout)
    assert resumed["training"]["epochs_completed"] == 3 and "extensions" not in resumed["training"]
    assert same_numbers(resumed, reference)
