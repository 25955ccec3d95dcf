"""The benchmark scripts still run (tiny cases); their timings are measured there, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_engine_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_engine.py"), "--quick", "--repeats", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    document = json.loads(completed.stdout.split("\n\n")[0])
    rows = [row for series in document["series"].values() for row in series]
    assert rows and all(row["distinct_weights"] == 4 for row in rows)
    assert "time grows like n^" in completed.stdout


def test_layer_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_layers.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    document = json.loads(completed.stdout.split("\n\n")[0])
    layers = {row["layer"]: row for row in document["cases"]}
    assert set(layers) == {"dense", "set", "deepsets"}
    assert layers["dense"]["parameters"] == layers["set"]["parameters"]  # the same tied layer
    assert all(row["seconds"] > 0 for row in layers.values())


def test_graph_benchmark_quick_mode_trains_every_graph_model(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_graphs.py"), "--quick",
         "--out", str(tmp_path / "runs"), "--json", str(tmp_path / "graphs.json")],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    document = json.loads((tmp_path / "graphs.json").read_text())
    assert set(document) == {"graph-degree/by-graph", "graph-degree/random", "triangles/by-graph"}
    assert {run["model"]["name"] for run in document["triangles/by-graph"]} >= {"gcn", "gin", "row-mlp"}
    assert "57.69 %" in completed.stdout and "acc n=50" in completed.stdout


def test_startup_benchmark_quick_mode_runs_and_reports_json() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_startup.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    document = json.loads(completed.stdout.split("\n\n")[0])
    processes = {row["command"]: row["after"] for row in document["processes"]}
    assert processes["polyequiv --help"]["heavy_imports"] == []
    assert all(row["median_s"] > 0 for row in processes.values())
    assert [row["auto"] for row in document["engines"]] == ["sparse", "sparse"]
    assert "-X importtime" in completed.stdout
