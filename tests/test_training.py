"""Training runs: reproducibility, resuming, checkpoints, results.json, evaluation metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from polyequiv.models import ModelContext, build_model, count_parameters
from polyequiv.tasks import make_task
from polyequiv.training.checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint
from polyequiv.training.config import ConfigError, RunConfig
from polyequiv.training.evaluation import diagnostics, split_metrics
from polyequiv.training.folder import RunFolderError
from polyequiv.training.loop import batch_order
from polyequiv.training.results import (
    RESULTS_NAME,
    SCHEMA,
    ResultsError,
    comparison_rows,
    format_table,
    numbers_only,
    read_results,
)
from polyequiv.training.run import train

TINY = {"train": 400, "test": 40, "cardinalities": [5, 20]}


def tiny(model: str = "deepsets", task: str = "digit-sum", **settings) -> RunConfig:
    settings.setdefault("epochs", 2)
    return RunConfig.create(task, model, task_options=dict(TINY), **settings)


def test_same_seed_same_numbers(tmp_path: Path) -> None:
    first = train(tiny(), tmp_path / "a")
    second = train(tiny(), tmp_path / "b")
    assert numbers_only(first) == numbers_only(second)
    other = train(tiny(seed=1), tmp_path / "c")
    assert other["training"]["loss_history"] != first["training"]["loss_history"]


@pytest.mark.parametrize("model", ["deepsets", "lstm"])
def test_resume_reaches_the_numbers_of_an_uninterrupted_run(tmp_path: Path, model: str) -> None:
    config = tiny(model, epochs=3)
    straight = train(config, tmp_path / "straight")
    assert train(config, tmp_path / "cut", stop_after_epochs=1) is None
    assert (tmp_path / "cut" / CHECKPOINT_NAME).is_file() and not (tmp_path / "cut" / RESULTS_NAME).exists()
    assert load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)["epoch"] == 1
    resumed = train(config, tmp_path / "cut", resume=True)
    assert resumed["training"]["sessions"] == 2
    assert numbers_only(resumed) == numbers_only(straight)
    log = (tmp_path / "cut" / "train.log").read_text()
    assert "stopped after epoch 1/3" in log and "epoch 3/3" in log


def test_results_json_schema(tmp_path: Path) -> None:
    results = train(tiny(), tmp_path / "run")
    on_disk = read_results(tmp_path / "run")
    assert on_disk == json.loads(json.dumps(results))
    assert on_disk["schema"] == SCHEMA
    assert on_disk["config"]["seed"] == 0 and on_disk["config"]["lr"] == 1e-3
    assert on_disk["task"]["name"] == "digit-sum" and on_disk["task"]["sizes"]["cardinalities"] == [5, 20]
    task = make_task("digit-sum", **TINY)
    assert on_disk["model"]["parameters"] == count_parameters(build_model("deepsets", ModelContext.of(task)))
    training = on_disk["training"]
    assert training["epochs_completed"] == 2 and len(training["loss_history"]) == 2
    assert training["final_train_loss"] == training["loss_history"][-1] and training["wall_time_s"] > 0
    rows = on_disk["evaluation"]["per_cardinality"]
    assert [row["cardinality"] for row in rows] == [5, 20] and all(row["samples"] == 40 for row in rows)
    assert all(0 <= row["accuracy"] <= 1 and row["mae"] >= 0 for row in rows)
    assert {"permutation_shift", "padding_shift"} <= set(on_disk["diagnostics"])


def test_a_finished_folder_is_not_overwritten_by_accident(tmp_path: Path) -> None:
    train(tiny(epochs=1), tmp_path / "run")
    with pytest.raises(RunFolderError, match="--resume"):
        train(tiny(epochs=1), tmp_path / "run")
    with pytest.raises(ConfigError, match="seed: 0 != 1"):
        train(tiny(epochs=1, seed=1), tmp_path / "run", resume=True)
    fresh = train(tiny(epochs=2), tmp_path / "run", overwrite=True)
    assert fresh["training"]["epochs_completed"] == 2 and fresh["training"]["sessions"] == 1


def test_resume_without_a_checkpoint_and_a_damaged_checkpoint_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(tiny(), tmp_path / "none", resume=True)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a polyequiv checkpoint"):
        train(tiny(), tmp_path / "bad", resume=True)


def test_batch_order_depends_on_seed_and_epoch_only() -> None:
    assert (batch_order(0, 3, 50) == batch_order(0, 3, 50)).all()
    assert sorted(batch_order(0, 3, 50)) == list(range(50))
    assert (batch_order(0, 3, 50) != batch_order(0, 4, 50)).any()
    assert (batch_order(0, 3, 50) != batch_order(1, 3, 50)).any()


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        RunConfig.create("digit-sum", "transformer")
    with pytest.raises(ConfigError, match="unknown task"):
        RunConfig.create("digit-product", "mlp")
    with pytest.raises(ConfigError, match="takes no option 'pooling'"):
        RunConfig.create("digit-sum", "mlp", model_options={"pooling": "mean"})
    with pytest.raises(ConfigError, match="epochs"):
        RunConfig.create("digit-sum", "mlp", epochs=0)
    config = RunConfig.create("digit-sum", "lstm")
    assert (config.epochs, config.batch_size, config.lr, config.loss) == (20, 64, 1e-3, "l1")


def test_split_metrics_round_and_mask() -> None:
    predictions = torch.tensor([2.4, 2.6, 10.0, -0.4])
    targets = torch.tensor([2.0, 2.0, 10.0, 0.0])
    metrics = split_metrics(predictions, targets, torch.ones(4, 1, dtype=torch.bool), discrete=True)
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["mae"] == pytest.approx((0.4 + 0.6 + 0 + 0.4) / 4)
    assert metrics["relative_mae"] == pytest.approx(metrics["mae"] / 3.5)
    # per-element targets: padding positions are ignored, there is no accuracy
    per_element = split_metrics(torch.tensor([[9.0, 1.0, 2.0]]), torch.tensor([[0.0, 1.5, 2.0]]),
                                torch.tensor([[False, True, True]]), discrete=False)
    assert per_element["mae"] == pytest.approx(0.25) and per_element["accuracy"] is None


def test_diagnostics_tell_set_functions_from_position_dependent_models() -> None:
    task = make_task("real-sum", quick=True)
    context = ModelContext.of(task)
    torch.manual_seed(0)
    deepsets, mlp = build_model("deepsets", context), build_model("mlp", context)
    assert diagnostics(deepsets, task, seed=0)["permutation_shift"] < 1e-5
    assert diagnostics(deepsets, task, seed=0)["padding_shift"] < 1e-5  # reals: padding is masked
    assert diagnostics(mlp, task, seed=0)["permutation_shift"] > 1e-3
    assert diagnostics(mlp, task, seed=0)["padding_shift"] is None  # width 10: no room for more padding


def test_comparison_table_lines_up(tmp_path: Path) -> None:
    runs = [train(tiny(epochs=1), tmp_path / "a"), train(tiny("mlp", epochs=1), tmp_path / "b")]
    header, rows = comparison_rows(runs)
    assert header[:3] == ["model", "params", "train s"] and "acc@20" in header and "MAE@5" in header
    text = format_table(header, rows).splitlines()
    assert len(text) == 4 and len({len(line) for line in text}) == 1
    markdown = format_table(header, rows, markdown=True).splitlines()
    assert markdown[1].startswith("|--") and markdown[2].startswith("| deepsets")


def test_read_results_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"no results\.json"):
        read_results(tmp_path)
    (tmp_path / RESULTS_NAME).write_text('{"schema": "other"}')
    with pytest.raises(ResultsError, match="is not a"):
        read_results(tmp_path)


def test_training_benchmark_quick_mode_prints_its_tables(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training.py"
    spec = importlib.util.spec_from_file_location("bench_training", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--quick", "--sections", "real-sum", "--out", str(tmp_path),
                 "--json", str(tmp_path / "all.json")])
    text = capsys.readouterr().out
    assert "## real-sum" in text and "0.015 (DeepSets)" in text and text.count("\n| ") == 8
    assert len(json.loads((tmp_path / "all.json").read_text())["real-sum"]) == 7
