"""`polyequiv` on matrix groups: the commands of the issue, and one-line refusals (exit 2) of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from polyequiv import load_scheme
from polyequiv_cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(("output", "free"), [("V2", 18), ("1", 10)])
def test_the_issues_derive_commands(output: str, free: int) -> None:
    code, stdout, _ = run(
        "derive",
        "--group",
        "O(3)",
        "--input",
        "2*1 + 2*V",
        "--output",
        output,
        "--degree",
        "3",
        "--format",
        "json",
    )
    assert code == 0
    data = json.loads(stdout)
    assert data["spec"]["label"] == f"O(3) cubic ordered 2*1 + 2*V -> {output}"
    assert data["free_parameters"] == data["function_dim"] == free == len(data["basis"])
    assert data["group_order"] is None and data["lie_algebra_dim"] == 3
    assert set(data["constraint_kinds"]) == {"equality", "zero", "additive", "general linear"}
    # the basis is exact: every value an integer or a fraction p/q
    assert all(
        value.lstrip("-").replace("/", "").isdigit() for vector in data["basis"] for value in vector.values()
    )


def test_derive_text_lists_the_exact_basis() -> None:
    code, stdout, _ = run("derive", "--group", "O(1,3)", "--input", "V", "--output", "1", "--degree", "2")
    assert code == 0
    assert "O(1,3), continuous, generators: 2 finite + 6 Lie" in stdout
    assert "B1: W_tt = -1, W_xx = 1, W_yy = 1, W_zz = 1" in stdout


def test_count_verify_and_compile_on_a_point_cloud(tmp_path: Path) -> None:
    group = ["--group", "S(3) x O(3)", "--input", "V(x)1 + V(x)V", "--output", "1(x)V2", "--degree", "3"]
    code, stdout, _ = run("count", *group)
    assert code == 0 and "S(3) x O(3)" in stdout.splitlines()[2]
    code, stdout, _ = run("verify", *group, "--elements", "5", "--format", "json")
    assert code == 0 and json.loads(stdout)["passed"]
    code, stdout, _ = run(
        "compile", *[a if a != "--output" else "--output-rep" for a in group], "-o", str(tmp_path / "s.json")
    )
    assert code == 0, stdout
    scheme = load_scheme(tmp_path / "s.json")
    assert str(scheme.spec) == "S(3) x O(3) cubic ordered V⊗1 + V⊗V -> 1⊗V2" and scheme.num_free == 12


def test_custom_generators_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c4.json"
    path.write_text(json.dumps({"finite": [[[0, -1], [1, 0]]], "lie": []}))
    code, stdout, _ = run("verify", "--matrix-generators", str(path), "--degree", "2", "--format", "json")
    assert code == 0
    data = json.loads(stdout)
    assert data["group_order"] == 4 and data["independent_count"] == data["derived_count"]
    code, stdout, _ = run(
        "derive",
        "--group",
        "S(2) x custom",
        "--matrix-generators",
        str(path),
        "--input",
        "V",
        "--output",
        "1",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(stdout)["group_order"] == 8


BAD_FILES = {
    "singular.json": {"finite": [[[1, 2], [2, 4]]], "lie": []},
    "irrational.json": {"finite": [[[0.7071067811865476, -0.7071067811865476], [0.7071067811865476, 0.5]]]},
    "sizes.json": {"finite": [[[1, 0], [0, -1]]], "lie": [[[0, 1, 0], [-1, 0, 0], [0, 0, 0]]]},
    "fields.json": {"finite": [[[1]]], "generators": []},
    "list.json": [[[1]]],
}
CASES = [
    (["derive", "--matrix-generators", "{tmp}/singular.json"], "finite generator 1 is singular"),
    (["derive", "--matrix-generators", "{tmp}/irrational.json"], "cannot be made exact"),
    (["derive", "--matrix-generators", "{tmp}/sizes.json"], "different sizes (finite 1: 2, lie 1: 3)"),
    (["derive", "--matrix-generators", "{tmp}/fields.json"], "unknown fields ['generators']"),
    (["derive", "--matrix-generators", "{tmp}/list.json"], "must be a JSON object"),
    (["derive", "--group", "O(3)", "--matrix-generators", "{tmp}/list.json"], "must be a JSON object"),
    (["derive", "--group", "O(3)", "--input", "E"], "pairs of points"),
    (["derive", "--group", "S(4) x O(3)", "--input", "V2"], "ambiguous for a product group"),
    (["derive", "--group", "O(3)", "--input", "V(x)V"], "needs a product group"),
    (["derive", "--group", "Q(3)"], "unknown matrix group 'Q(3)'"),
    (["derive", "--group", "O(x)"], "unknown matrix group 'O(x)'"),
    (["derive", "--group", "O(0)"], "needs d ≥ 1"),
    (["derive", "--group", "O(2,3)"], "only O(1,q), SO(1,q), SO+(1,q)"),
    (["derive", "--group", "custom"], "needs its generators"),
    (["derive", "--group", "O(3)", "-n", "5"], "-n 5 does not apply to O(3)"),
    (["derive", "--group", "S(4) x O(3)", "-n", "5"], "it permutes 4 points"),
    (["derive", "--group", "O(3)", "--shape", "3x3"], "does not apply to matrix group O(3)"),
    (["derive", "--group", "O(3)", "--generators", "(0 1)"], "does not apply to matrix group O(3)"),
    (["derive", "--group", "O(3)", "--transpositions", "all"], "does not apply to matrix group O(3)"),
    (["derive", "--group", "O(3)", "--mode", "invariant", "--output", "V"], "contradicts output"),
    (["count", "--group", "O(3)", "--n", "1-3"], "O(3) takes no -n range"),
    (["derive", "--group", "O(6)", "--input", "3*V2", "--output", "V2", "--degree", "4"], "refused:"),
    (
        ["derive", "--group", "O(3)", "--input", "4*V", "--degree", "4", "--engine", "symbolic"],
        "--engine sparse",
    ),
]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("matrix-files")
    for name, content in BAD_FILES.items():
        (root / name).write_text(json.dumps(content))
    return root


@pytest.mark.parametrize(
    ("args", "message"), CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_bad_matrix_input_is_refused_in_one_line(args: list[str], message: str, tmp: Path) -> None:
    code, stdout, stderr = run(*[a.format(tmp=tmp) for a in args])
    errors = [line for line in stderr.splitlines() if line.startswith("Error")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in stdout + stderr, stderr
    assert stderr.rstrip().splitlines()[-1] == errors[0]
    assert message in errors[0], errors[0]
