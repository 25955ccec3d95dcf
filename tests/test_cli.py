"""The `polyequiv` command: outputs, exit codes, and clean errors for bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from polyequiv_cli.main import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_derive_json_reports_four_distinct_weights_for_n5_quadratic() -> None:
    code, output = run("derive", "-n", "5", "--degree", "2", "--format", "json")
    assert code == 0
    data = json.loads(output)
    required = {
        "spec",
        "group_order",
        "weights",
        "equality_constraints",
        "additive_constraints",
        "distinct_weights",
        "free_parameters",
        "function_dim",
        "engine",
        "seconds",
    }
    assert required <= set(data)
    assert data["distinct_weights"] == 4 and data["weights"] == 75 and data["group_order"] == 120
    assert data["spec"]["label"] == "S5 quadratic ordered equivariant"
    assert "classes" not in data and "equations" not in data


def test_derive_json_lists_classes_and_equations_on_request() -> None:
    code, output = run(
        "derive", "-n", "3", "--degree", "1", "--format", "json", "--show-classes", "--show-constraints"
    )
    data = json.loads(output)
    assert code == 0
    assert sorted(map(len, data["classes"])) == [3, 6]
    assert len(data["equations"]) == data["equality_constraints"] + data["additive_constraints"]
    assert "W^0_0 = W^1_1" in data["equations"]


def test_derive_text_shows_counts_equations_and_the_class_picture() -> None:
    code, output = run("derive", "-n", "4", "--degree", "2", "--indexing", "full", "--show-classes")
    assert code == 0
    assert "distinct weights      50" in output
    assert "function dim          4 (+24 gauge)" in output
    assert "additive constraints (" in output and " = " in output
    assert "tied weight tensor" in output and "y3:" in output
    assert "classes (50):" in output


def test_derive_latex_is_an_align_block() -> None:
    code, output = run("derive", "-n", "3", "--degree", "2", "--indexing", "full", "--format", "latex")
    assert code == 0
    assert "\\begin{align*}" in output and "\\end{align*}" in output
    assert "W^{0}_{01} + W^{0}_{10} &=" in output


def test_engines_report_the_same_counts_through_the_cli() -> None:
    outputs = []
    for engine in ("symbolic", "sparse"):
        _, output = run(
            "derive", "-n", "4", "--degree", "3", "--bias", "--engine", engine, "--format", "json"
        )
        data = json.loads(output)
        assert data["engine"] == engine
        outputs.append({k: data[k] for k in ("distinct_weights", "equality_constraints", "free_parameters")})
    assert outputs[0] == outputs[1]


def test_count_prints_a_table_over_n_and_json_objects() -> None:
    code, output = run("count", "--degree", "2", "--n", "1-6")
    assert code == 0
    lines = output.strip().splitlines()
    assert lines[1].split()[:3] == ["n", "distinct", "weights"]
    assert [line.split()[1] for line in lines[2:]] == ["1", "3", "4", "4", "4", "4"]
    code, output = run("count", "--degree", "2", "--n", "2,4", "--indexing", "full", "--format", "json")
    data = json.loads(output)
    assert [d["spec"]["n"] for d in data] == [2, 4]
    assert [d["function_dim"] for d in data] == [3, 4]


def test_verify_passes_for_n7_quadratic() -> None:
    code, output = run("verify", "-n", "7", "--degree", "2")
    assert code == 0
    assert "PASS" in output


def test_verify_json_and_custom_generators() -> None:
    code, output = run(
        "verify", "-n", "6", "--degree", "2", "--generators", "(0 1)(2 3),(0 2 4)", "--format", "json"
    )
    data = json.loads(output)
    assert code == 0 and data["passed"] and data["group_order"] == 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["derive", "-n", "0"], "0 is not in the range"),
        (["derive", "-n", "3", "--degree", "-1"], "-1 is not in the range"),
        (["derive", "-n", "3", "--group", "alternating"], "'alternating' is not one of"),
        (["derive", "-n", "5", "--generators", "(0 7)"], "point 7 is not in 0..4"),
        (["derive", "-n", "5", "--generators", "(0 1)(1 2)"], "appears twice"),
        (["derive", "-n", "5", "--gauge", "symmetric"], "needs --indexing full"),
        (["derive", "-n", "5", "--group", "cyclic", "--generators", "(0 1)"], "not both"),
        (["count", "--n", "3-x"], "is not a size or a range"),
        (["count", "--n", "0-3"], "every n must be ≥ 1"),
    ],
)
def test_bad_input_is_a_usage_error_without_traceback(args: list[str], message: str) -> None:
    code, output = run(*args)
    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_huge_requests_are_refused_up_front_with_the_estimate() -> None:
    code, output = run("derive", "-n", "100000", "--degree", "3")
    assert code == 2
    assert "16,667,166,670,000,000,000 weights" in output and "refused" in output
    code, output = run("derive", "-n", "300", "--degree", "2", "--transpositions", "all")
    assert code == 2 and "moved slots" in output and "--transpositions adjacent" in output
    code, output = run("derive", "-n", "40", "--degree", "3", "--engine", "symbolic")
    assert code == 2 and "--engine sparse" in output


def test_version_and_help() -> None:
    code, output = run("--version")
    assert code == 0 and "polyequiv" in output
    code, output = run("derive", "--help")
    assert code == 0 and "--transpositions" in output
