"""Data-parallel training: shards, the loss split, 2-process runs against 1-process ones, a killed rank.

The process tests run real workers on this CPU (gloo).  The runs that compare numbers to 1e-10 train
in float64 (the workers inherit the launcher's default dtype); float32 runs are compared to float32
tolerance.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.distributed import WorkerError
from polyequiv.training.evaluation import to_tensors
from polyequiv.training.loop import _shard_loss, build, loss_value
from polyequiv.training.results import numbers_only, read_results
from polyequiv.training.run import train
from polyequiv.training.sampling import GlobalBatchSampler, batch_order, shard_bounds
from polyequiv.training.world import (
    FAULT_ENV,
    FAULT_EXIT_CODE,
    World,
    backend_for,
    rank_device,
    world_from_environment,
)
from polyequiv_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
# 301 sets in batches of 25: shards of 13 and 12, and a last batch of one set (rank 1's shard is empty)
ODD = {"train": 301, "test": 30, "cardinalities": [5, 20]}


def flat(results: dict) -> list[float]:
    """Every number of a run that depends on its config, in a fixed order."""
    data = numbers_only(results)
    numbers: list[float] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key in sorted(value):
                walk(value[key])
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, float | int) and not isinstance(value, bool):
            numbers.append(float(value))

    walk({key: data[key] for key in ("training", "evaluation", "diagnostics", "model")})
    return numbers


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


# ---------------------------------------------------------------------- no processes
@pytest.mark.parametrize(("size", "batch", "parts"), [(301, 25, 2), (10, 4, 3), (7, 7, 4), (100, 64, 5)])
def test_the_shards_of_each_step_make_up_the_single_process_batch(size: int, batch: int, parts: int) -> None:
    for epoch in (0, 3):
        order = np.random.default_rng([5, 2, epoch]).permutation(size)  # batch_order's definition
        assert np.array_equal(batch_order(5, epoch, size), order)
        samplers = [GlobalBatchSampler(size, batch, seed=5, num_replicas=parts, rank=r) for r in range(parts)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        steps = list(zip(*samplers, strict=True))
        assert len(steps) == -(-size // batch)
        for step, shards in enumerate(steps):
            union = [row for shard in shards for row in shard]
            assert union == order[step * batch:(step + 1) * batch].tolist()
            assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_shard_bounds_are_array_split() -> None:
    for length in range(0, 12):
        for parts in range(1, 5):
            pieces = np.array_split(np.arange(length), parts)
            for part, piece in enumerate(pieces):
                low, high = shard_bounds(length, parts, part)
                assert list(range(low, high)) == piece.tolist()
    with pytest.raises(ValueError, match="shard 2 of 2"):
        shard_bounds(5, 2, 2)


def test_distributed_sampler_would_not_reproduce_the_single_process_batches() -> None:
    """Why GlobalBatchSampler exists: DistributedSampler's rank batches are not pieces of the global ones."""
    from torch.utils.data import DistributedSampler

    order = [list(DistributedSampler(range(40), num_replicas=2, rank=r, seed=0)) for r in (0, 1)]
    theirs = sorted(order[0][:4] + order[1][:4])
    single = sorted(next(iter(GlobalBatchSampler(40, 8, seed=0))))
    ours = sorted(next(iter(GlobalBatchSampler(40, 8, seed=0, num_replicas=2, rank=0)))
                  + next(iter(GlobalBatchSampler(40, 8, seed=0, num_replicas=2, rank=1))))
    assert ours == single and theirs != single


def test_world_from_the_torchrun_environment() -> None:
    assert world_from_environment({}) is None
    assert world_from_environment({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == World(1, 4, 1)
    assert world_from_environment({"RANK": "0", "WORLD_SIZE": "2"}).is_main
    with pytest.raises(ValueError, match="rank 4 of 4"):
        world_from_environment({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="not integers"):
        world_from_environment({"RANK": "x", "WORLD_SIZE": "2"})


def test_each_rank_gets_its_gpu_and_the_backend_follows_the_device(tmp_path: Path) -> None:
    assert rank_device("cuda", World(1, 2, 1)) == "cuda:1" and rank_device("cpu", World(1, 2, 1)) == "cpu"
    assert rank_device("cuda:3", World(0, 1)) == "cuda:3"
    with pytest.raises(ValueError, match="names one GPU"):
        rank_device("cuda:0", World(0, 2))
    assert (backend_for("cpu"), backend_for("cuda"), backend_for("cuda:1")) == ("gloo", "nccl", "nccl")
    if torch.cuda.device_count() < 2:
        with pytest.raises(ConfigError, match="--nproc 2 needs 2 GPUs"):
            train(RunConfig.create("digit-sum", "mlp"), tmp_path / "r", nproc=2, device="cuda")


@pytest.mark.parametrize(("task", "model", "loss"), [("digit-sum", "deepsets", "l1"),
                                                      ("center", "tied-quadratic", "mse")])
def test_the_average_of_the_shard_gradients_is_the_batch_gradient(float64, task: str, model: str,
                                                                   loss: str) -> None:
    """DDP averages ∇(N · shard sum / global count) over ranks: it must be ∇ of the batch mean (masks too)."""
    config = RunConfig.create(task, model, task_options={"train": 40, "test": 4, "cardinalities": [5]})
    data, network = build(config)
    values, mask, targets = to_tensors(data.train)
    for rows in (torch.arange(11), torch.arange(1)):  # an odd batch, and a batch with an empty shard
        network.zero_grad()
        expected = loss_value(loss, network(values[rows], mask[rows]), targets[rows], mask[rows])
        expected.backward()
        wanted = [p.grad.clone() for p in network.parameters()]
        total, grads = 0.0, [torch.zeros_like(p) for p in network.parameters()]
        for rank in range(3):
            low, high = shard_bounds(len(rows), 3, rank)
            network.zero_grad()
            part, objective = _shard_loss(network, loss, values, mask, targets, rows, rows[low:high], 3)
            objective.backward()
            total += float(part.detach())
            grads = [g + p.grad / 3 for g, p in zip(grads, network.parameters(), strict=True)]
        assert total == pytest.approx(float(expected.detach()), rel=1e-12)
        for got, want in zip(grads, wanted, strict=True):
            assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_nproc_usage_errors_are_one_line_before_any_worker_starts(tmp_path: Path) -> None:
    base = ["train", "--task", "digit-sum", "--model", "mlp", "--train-size", "50", "--test-size", "5",
            "--cardinalities", "5", "--epochs", "1", "--out", str(tmp_path / "r")]
    runner = CliRunner()
    result = runner.invoke(cli, [*base, "--nproc", "0"])
    assert result.exit_code == 2 and "--nproc" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(cli, [*base, "--nproc", "2", "--resume"])
    assert result.exit_code == 2 and "no checkpoint" in result.stderr
    (tmp_path / "r").mkdir(exist_ok=True)
    (tmp_path / "r" / "results.json").write_text("{}")
    result = runner.invoke(cli, [*base, "--nproc", "2"])
    assert result.exit_code == 2 and "already holds a run" in result.stderr
    with pytest.raises(ValueError, match="nproc must be a positive integer"):
        train(RunConfig.create("digit-sum", "mlp"), tmp_path / "s", nproc=-1)


# ---------------------------------------------------------------------- real processes
def test_two_processes_reach_the_single_process_numbers(tmp_path: Path, float64) -> None:
    config = RunConfig.create("digit-sum", "deepsets", epochs=2, batch_size=25, task_options=dict(ODD))
    single = train(config, tmp_path / "one")
    double = train(config, tmp_path / "two", nproc=2)
    assert double["training"]["processes"] == 2 and single["training"]["processes"] == 1
    assert double == read_results(tmp_path / "two")
    assert numbers_only(double).keys() == numbers_only(single).keys()
    assert np.allclose(flat(double), flat(single), rtol=1e-10, atol=1e-12)
    assert flat(double) != flat(train(RunConfig.create("digit-sum", "deepsets", epochs=2, batch_size=24,
                                                        task_options=dict(ODD)), tmp_path / "other"))
    log = (tmp_path / "two" / "train.log").read_text()
    assert "2 processes" in log and "epoch 2/2" in log and log.count("epoch 1/2") == 1  # rank 0 writes alone


@pytest.mark.slow
@pytest.mark.parametrize(("task", "model", "settings"), [
    ("center", "penalty-mlp", {"loss": "mse", "schedule": "cosine"}),  # masks, a penalty, cosine steps
    ("real-sum", "tied-linear", {}),                                   # a validation split, sharded
    ("graph-degree", "gin", {}),
])
def test_two_and_three_processes_on_other_tasks(tmp_path: Path, float64, task: str, model: str,
                                                settings: dict) -> None:
    options = {"train": 203, "test": 20, "valid": 31} if task != "graph-degree" else {"quick": True}
    config = RunConfig.create(task, model, epochs=2, batch_size=20, task_options=options, **settings)
    single = train(config, tmp_path / "one")
    for nproc in (2, 3):
        assert np.allclose(flat(train(config, tmp_path / f"n{nproc}", nproc=nproc)), flat(single),
                           rtol=1e-9, atol=1e-12)


def _polyequiv(*args: str, env: dict[str, str] | None = None, timeout: float = 240,
               launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *launcher, "-m", "polyequiv_cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)


CLI_RUN = ["--task", "digit-sum", "--model", "deepsets", "--train-size", "301", "--test-size", "30",
           "--cardinalities", "5,20", "--batch-size", "25", "--epochs", "3", "--format", "json"]


@pytest.mark.slow
def test_a_killed_rank_stops_the_run_and_resume_with_one_process_finishes_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    killed = _polyequiv("train", *CLI_RUN, "--out", str(out), "--nproc", "2", env={FAULT_ENV: "1:1"})
    lines = killed.stderr.strip().splitlines()
    assert killed.returncode == 1, killed.stderr
    assert lines[-1].startswith("Error: distributed training stopped: rank 1 exited with code "
                                f"{FAULT_EXIT_CODE}")
    assert "checkpoint after epoch 1/3" in lines[-1] and "Traceback" not in killed.stderr
    assert not (out / "results.json").exists() and not (out / ".polyequiv.lock.holder.json").exists()
    resumed = _polyequiv("train", *CLI_RUN, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "after epoch 1/3" in resumed.stderr
    finished = json.loads(resumed.stdout)
    assert finished["training"]["sessions"] == 2 and finished["training"]["processes"] == 1
    config = RunConfig.create("digit-sum", "deepsets", epochs=3, batch_size=25, task_options=dict(ODD))
    straight = train(config, tmp_path / "straight")
    assert np.allclose(flat(finished), flat(straight), rtol=1e-4, atol=1e-5)  # float32 rounding


@pytest.mark.slow
def test_torchrun_runs_the_same_command_to_the_same_numbers(tmp_path: Path) -> None:
    launched = _polyequiv("train", *CLI_RUN, "--out", str(tmp_path / "spawned"), "--nproc", "2")
    assert launched.returncode == 0, launched.stderr
    with socket.socket() as probe:  # a free port for torchrun's rendezvous (it cannot take 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torchrun = ("-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
                "--master-port", str(port))
    ran = _polyequiv("train", *CLI_RUN, "--out", str(tmp_path / "torchrun"), launcher=torchrun)
    assert ran.returncode == 0, ran.stderr
    assert numbers_only(json.loads(ran.stdout)) == numbers_only(json.loads(launched.stdout))
    refused = _polyequiv("train", *CLI_RUN, "--out", str(tmp_path / "torchrun"), launcher=torchrun)
    assert refused.returncode != 0 and refused.stderr.count("already holds a run") == 1


@pytest.mark.parametrize(("fault", "message"), [("0:1", "rank 0 exited with code 17"),
                                                ("1:1:SIGKILL", "rank 1 was killed by SIGKILL")])
def test_a_failing_worker_is_a_worker_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str,
                                            message: str) -> None:
    monkeypatch.setenv(FAULT_ENV, fault)  # that rank dies right after the first checkpoint
    config = RunConfig.create("digit-sum", "mlp", epochs=2, task_options={"train": 64, "test": 5,
                                                                          "cardinalities": [5]})
    with pytest.raises(WorkerError, match=message + r"; .* keeps the checkpoint after epoch 1/2"):
        train(config, tmp_path / "r", nproc=2)
    assert train(config, tmp_path / "r", resume=True)["training"]["epochs_completed"] == 2
