"""`polyequiv train`, `compare` and `plot`: outputs, files, reuse, and one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyequiv.training.results import numbers_only, read_results
from polyequiv_cli.main import cli

TINY = ["--train-size", "300", "--test-size", "20", "--cardinalities", "5,30", "--epochs", "1"]


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_train_writes_a_run_folder_and_prints_its_table(tmp_path: Path) -> None:
    code, out, err = run("train", "--task", "digit-sum", "--model", "deepsets", *TINY,
                         "--out", tmp_path / "r")
    assert code == 0, err
    assert out.splitlines()[0].split()[:5] == ["model", "params", "train", "s", "acc@5"]
    assert "deepsets" in out and "epoch 1/1" in err
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"checkpoint.pt", "train.log", "results.json",
                                                          ".polyequiv.lock"}  # the holder note is gone
    assert read_results(tmp_path / "r")["config"]["task_options"]["cardinalities"] == [5, 30]


def test_train_json_and_resume_of_a_finished_run(tmp_path: Path) -> None:
    args = ["train", "--task", "sum-of-squares", "--model", "mlp", *TINY, "--out", tmp_path / "r",
            "--format", "json"]
    code, out, _ = run(*args)
    first = json.loads(out)
    assert code == 0 and first["training"]["epochs_completed"] == 1 and first["model"]["name"] == "mlp"
    code, out, err = run(*args, "--resume")
    assert code == 0 and "resuming" in err
    assert numbers_only(json.loads(out)) | {"training": None} == numbers_only(first) | {"training": None}


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "digit-product", "--model", "mlp"], "'digit-product' is not one of"),
    (["--task", "digit-sum", "--model", "gru"], "'gru' is not one of"),
    (["--task", "digit-sum", "--model", "mlp", "--cardinalities", "5-x"], "'--cardinalities'"),
    (["--task", "digit-sum", "--model", "mlp", "--train-size", "0"], "--train-size"),
    (["--task", "digit-sum", "--model", "mlp", "--option", "hidden"], "KEY=VALUE"),
    (["--task", "digit-sum", "--model", "mlp", "--option", "pooling=sum"], "takes no option 'pooling'"),
    (["--task", "center", "--model", "lstm"], "no per-element output"),
    (["--task", "digit-sum", "--model", "mlp", "--device", "cuda:7"], "cannot be used here"),
    (["--task", "digit-sum", "--model", "mlp", "--resume"], "no checkpoint"),
])
def test_train_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = run("train", *TINY[:4], *args, "--out", tmp_path / "r")
    assert code == 2 and message in err and "Traceback" not in err + out


def test_train_refuses_an_occupied_folder(tmp_path: Path) -> None:
    base = ["train", "--task", "digit-sum", "--model", "mlp", *TINY, "--out", tmp_path / "r"]
    assert run(*base)[0] == 0
    code, _, err = run(*base)
    assert code == 2 and "already holds a run" in err
    code, _, err = run(*base[:-2], "--seed", "3", "--out", tmp_path / "r", "--resume")
    assert code == 2 and "seed: 0 != 3" in err
    assert run(*base, "--overwrite")[0] == 0


def test_compare_prints_one_table_and_reuses_finished_runs(tmp_path: Path) -> None:
    args = ["compare", "--task", "digit-sum", "--models", "deepsets,mlp", *TINY, "--out", tmp_path / "c",
            "--json", tmp_path / "all.json"]
    code, out, err = run(*args)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 4 and lines[2].startswith("deepsets") and lines[3].startswith("mlp")
    written = json.loads((tmp_path / "all.json").read_text())
    assert [r["model"]["name"] for r in written] == ["deepsets", "mlp"]
    code, again, err = run(*args[:-2], "--format", "markdown")
    assert code == 0 and err.count("reusing the finished run") == 2
    assert again.startswith("| model") and again.count("\n") == 4


def test_compare_skips_models_that_cannot_do_the_task(tmp_path: Path) -> None:
    code, out, err = run("compare", "--task", "center", "--models", "lstm,mlp", *TINY,
                         "--out", tmp_path / "c")
    assert code == 0 and "skipping lstm" in err and "mlp" in out and "lstm" not in out
    code, _, err = run("compare", "--task", "center", "--models", "lstm", *TINY, "--out", tmp_path / "c")
    assert code == 2 and "none of the models" in err
    code, _, err = run("compare", "--task", "center", "--models", "mlp,gru", *TINY)
    assert code == 2 and "unknown model 'gru'" in err


def test_plot_draws_runs_and_refuses_missing_folders(tmp_path: Path) -> None:
    code, _, err = run("compare", "--task", "digit-sum", "--models", "deepsets,mlp", *TINY,
                       "--out", tmp_path / "c")
    assert code == 0, err
    code, out, _ = run("plot", tmp_path / "c", "-o", tmp_path / "accuracy.png")
    assert code == 0 and "2 runs, accuracy" in out
    assert (tmp_path / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run("plot", tmp_path / "c" / "mlp", "-o", tmp_path / "mae.svg", "--metric", "mae")
    assert code == 0 and (tmp_path / "mae.svg").read_text().lstrip().startswith("<?xml")
    code, _, err = run("plot", tmp_path / "missing", "-o", tmp_path / "x.png")
    assert code == 2 and "holds no results.json" in err and not (tmp_path / "x.png").exists()


def test_the_table_shows_every_size_a_run_was_tested_at(tmp_path: Path) -> None:
    code, out, err = run("train", "--task", "graph-degree", "--model", "tied-edge-linear", "--quick",
                         "--cardinalities", "10,200", "--test-size", "2", "--out", tmp_path / "r")
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert {"acc@10", "acc@200", "MAE@200"} <= set(header), header
