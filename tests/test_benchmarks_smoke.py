"""The benchmark scripts still run (tiny cases); their timings are measured there, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``benchmarks/<script> ARGS`` in a fresh interpreter; a non-zero exit fails the test."""
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, check=True, timeout=timeout)


def test_engine_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = run_benchmark("bench_engine.py", "--quick", "--repeats", "1")
    document = json.loads(completed.stdout.split("\n\n")[0])
    rows = [row for series in document["series"].values() for row in series]
    assert rows and all(row["distinct_weights"] == 4 for row in rows)
    assert "time grows like n^" in completed.stdout


def test_layer_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = run_benchmark("bench_layers.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    layers = {row["layer"]: row for row in document["cases"]}
    assert set(layers) == {"dense", "set", "deepsets"}
    assert layers["dense"]["parameters"] == layers["set"]["parameters"]  # the same tied layer
    assert all(row["seconds"] > 0 for row in layers.values())


def test_graph_benchmark_quick_mode_trains_every_graph_model(tmp_path: Path) -> None:
    completed = run_benchmark("bench_graphs.py", "--quick", "--out", str(tmp_path / "runs"),
                              "--json", str(tmp_path / "graphs.json"), timeout=600)
    document = json.loads((tmp_path / "graphs.json").read_text())
    assert set(document) == {"graph-degree/by-graph", "graph-degree/random", "triangles/by-graph"}
    assert {run["model"]["name"] for run in document["triangles/by-graph"]} >= {"gcn", "gin", "row-mlp"}
    assert "57.69 %" in completed.stdout and "acc n=50" in completed.stdout


def test_tensor_layer_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = run_benchmark("bench_tensor_layers.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    fit = document["fit"]  # the hand-written IGN layer spans the same maps as TensorPolyLayer
    assert fit["rank"]["tensor"] == fit["rank"]["ign"] == fit["parameters"]["ign"]
    assert fit["residual_tensor_in_ign"] < 1e-9 and fit["residual_ign_in_tensor"] < 1e-9
    sections = {row["section"] for row in document["cases"]}
    assert sections == {"dense", "ign", "large"}
    dense = [row for row in document["cases"] if row["section"] == "dense"]
    assert dense and all(row["tensor_s"] > 0 and row["dense_s"] > 0 for row in dense)
    assert "tensor / IGN" in completed.stdout and "fwd+bwd s" in completed.stdout


def test_compose_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = run_benchmark("bench_compose.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    (expansion,) = document["expansion"]
    assert 0 < expansion["terms"] <= expansion["estimated_terms"] and expansion["seconds"] > 0
    assert expansion["flint_terms"] == expansion["terms"] and expansion["flint_seconds"] > 0
    (variety,) = document["variety"]
    assert variety["primes_agree"] and variety["tied_dim"] <= variety["tangent_dim"]
    assert "equations by degree" in completed.stdout


def test_counts_benchmark_quick_mode_compares_both_methods() -> None:
    completed = run_benchmark("bench_counts.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    cases = {(row["degree"], row["n"]): row for row in document["cases"]}
    assert all(row["agree"] == "same" for row in cases.values())  # counts and basis digests
    quadratic = cases[(2, 5)]["blockwise"]
    assert (quadratic["classes"], quadratic["free_parameters"]) == (2 + 25 * 4, 4 + 25 * 4 // 2)
    assert "blockwise count s" in completed.stdout


def test_distributed_benchmark_quick_mode_trains_with_one_and_two_processes() -> None:
    completed = run_benchmark("bench_distributed.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    assert [row["processes"] for row in document["rows"]] == [1, 2]
    assert all(row["train_s"] > 0 and row["speed_up"] > 0 for row in document["rows"])
    assert document["rows"][1]["max_relative_loss_difference"] < 1e-4  # float32: the same loss curve
    assert "speed-up" in completed.stdout and "max Δloss" in completed.stdout


def test_grid_layer_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = run_benchmark("bench_grid_layers.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    rows = document["cases"]
    assert {row["layer"] for row in rows} == {"dense", "circular"}
    pairs = [(r["shape"], r["degree"], r["support"]) for r in rows if r["support"] == "full"]
    for key in set(pairs):  # the compiled layer has the dense layer's parameters
        params = {r["layer"]: r["parameters"] for r in rows if (r["shape"], r["degree"], r["support"]) == key}
        assert params["dense"] == params["circular"]
    assert all(row["seconds"] > 0 for row in rows) and "speed-up" in completed.stdout


def test_startup_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = run_benchmark("bench_startup.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    processes = {row["command"]: row["after"] for row in document["processes"]}
    assert processes["polyequiv --help"]["heavy_imports"] == []
    assert all(row["median_s"] > 0 for row in processes.values())
    assert [row["auto"] for row in document["engines"]] == ["sparse", "sparse"]
    assert "-X importtime" in completed.stdout


def test_variety_training_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = run_benchmark("bench_variety_training.py", "--quick")
    rows = json.loads(completed.stdout.split("\n\n")[0])["rows"]
    assert [row["method"] for row in rows] == ["tied", "penalty", "projected"]
    by_method = {row["method"]: row for row in rows}
    assert by_method["tied"]["params"] < by_method["projected"]["params"]
    assert by_method["projected"]["equation_residual"] <= 1e-12
    assert "| projected |" in completed.stdout


def test_matrix_group_benchmark_quick_mode_times_the_grid_and_a_task() -> None:
    completed = run_benchmark("bench_matrix_groups.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    grid = {row["layer"]: row for row in document["grid"]}
    assert grid["O(3) quadratic ordered 2*V -> 1"]["free_parameters"] == 3  # |x1|², x1·x2, |x2|²
    (task,) = document["tasks"]
    assert task["free_parameters"] == task["basis_printed"] == 6 and task["process_wall_seconds"] > 0
    assert "load average" in completed.stdout


def test_point_layer_benchmark_quick_mode_compares_with_the_dense_layer() -> None:
    completed = run_benchmark("bench_point_layers.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    (row,) = document["rows"]
    assert row["n"] == 5 and row["patterns"] == 12 and row["dense_weights"] == 9 * 1540
    assert row["max_relative_difference"] < 1e-10
    assert "load average" in completed.stdout


def test_sparse_graph_benchmark_quick_mode_times_the_cubic_layer_against_gin() -> None:
    completed = run_benchmark("bench_sparse_graphs.py", "--quick")
    document = json.loads(completed.stdout.split("\n\n")[0])
    assert set(document["graphs"]) == {"erdos-renyi", "barabasi-albert"}
    for graph in document["graphs"].values():
        assert {case["method"] for case in graph["cases"]} == {"cubic", "cubic, edge grads", "gin"}
        assert len(graph["patterns"]) == 24 and graph["sizes"]["triangles"] > 0
    assert "load average" in completed.stdout and "× GIN" in completed.stdout


def test_substructure_benchmark_quick_mode_scores_every_test_set(tmp_path: Path) -> None:
    completed = run_benchmark("bench_substructures.py", "--quick", "--counts", "3-stars", "--families", "er",
                              "--models", "tied-edge-cubic,gin", "--out", str(tmp_path / "runs"))
    document = json.loads(completed.stdout.split("\n\n")[0])
    assert set(document["sections"]) == {"3-stars/er"}
    tied, gin = document["sections"]["3-stars/er"]
    assert gin["model"] == "gin" and set(gin["scores"]) == set(tied["scores"])
    assert set(tied["scores"]) == {"12", "60", "240", "dense", "regular", "perturbed"}
    assert all(score["accuracy"] == 1.0 for score in tied["scores"].values())  # exact everywhere
    assert "## 3-stars/er" in completed.stdout
