"""The command line on tensor layers: derive, verify, compile and load, count."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from test_cli import run

from polyequiv import LayerSpec, derive, load_scheme
from polyequiv_cli.main import cli


def test_derive_prints_counts_patterns_and_the_edge_picture() -> None:
    code, output = run("derive", "-n", "4", "--input", "E", "--output", "V", "--degree", "1")
    assert code == 0
    assert "layer                 S4 linear ordered E -> V" in output
    assert "free parameters       2" in output
    assert "A: {o₁,i₁}{i₁′}" in output and "B: {o₁}{i₁}{i₁′}" in output
    picture = output.split("tied weight tensor")[1].splitlines()
    assert picture[1].split() == ["01", "02", "03", "12", "13", "23"]
    assert picture[2].split() == ["y0", "A", "A", "A", "B", "B", "B"]  # node 0 lies on edges 01, 02, 03


def test_derive_json_carries_the_representations_and_class_patterns() -> None:
    code, output = run(
        "derive",
        "-n",
        "5",
        "--input",
        "E",
        "--output",
        "1",
        "--degree",
        "2",
        "--format",
        "json",
        "--show-classes",
    )
    data = json.loads(output)
    assert code == 0 and data["spec"]["input"] == "E" and data["spec"]["output"] == "1"
    assert data["spec"]["mode"] == "invariant" and data["free_parameters"] == 3
    assert sorted(data["class_patterns"]) == ["{i₁,i₂}{i₁′,i₂′}", "{i₁,i₂}{i₁′}{i₂′}", "{i₁}{i₁′}{i₂}{i₂′}"]


def test_mode_invariant_is_output_one() -> None:
    _, by_mode = run("derive", "-n", "4", "--degree", "2", "--mode", "invariant", "--format", "json")
    _, by_output = run("derive", "-n", "4", "--degree", "2", "--output", "1", "--format", "json")
    assert json.loads(by_mode)["spec"] == json.loads(by_output)["spec"]
    assert "input" not in json.loads(by_mode)["spec"]  # a set layer keeps today's JSON


def test_verify_checks_tensor_layers_on_the_whole_group() -> None:
    code, output = run("verify", "-n", "5", "--input", "V + E", "--output", "E", "--degree", "2", "--bias")
    assert code == 0 and "PASS" in output and "by Burnside's lemma" in output


def test_compile_writes_a_tensor_scheme_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "edges.json"
    result = CliRunner().invoke(
        cli, ["compile", "-n", "5", "--input", "E", "--output-rep", "V", "--degree", "2", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    scheme = load_scheme(target)
    spec = LayerSpec(n=5, degree=2, input="E", output="V")
    assert scheme.spec == spec and scheme.num_free == derive(spec).free_parameters == 7


def test_count_over_n_names_the_representations() -> None:
    code, output = run("count", "-n", "2-6", "--input", "E", "--output", "E", "--degree", "1")
    lines = output.splitlines()
    assert code == 0 and lines[0].startswith("linear ordered E -> E")
    assert [line.split()[4] for line in lines[2:]] == ["1", "2", "3", "3", "3"]
