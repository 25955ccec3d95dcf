"""n-free partition patterns (polyequiv.patterns): a third count, independent of both engines."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import stirling2
from test_cli import run

from polyequiv import LayerSpec, derive
from polyequiv.errors import SizeLimitError, SpecError
from polyequiv.orbits import symmetric_closed_form
from polyequiv.patterns import blocks_histogram, count_by_patterns, count_patterns, layer_patterns
from polyequiv.render import slot_pattern

REPS_IN = ["V", "E", "V2", "1", "V + E", "1 + V"]
REPS_OUT = ["V", "1", "E", "V2", "V + 1"]


@pytest.mark.parametrize(
    ("kwargs", "n", "expected"),
    [
        ({"degree": 2}, 5, 4),
        ({"degree": 2}, 2, 3),
        ({"degree": 2}, 1, 1),
        ({"degree": 3}, 4, 7),
        ({"degree": 2, "bias": True}, 5, 7),
        ({"degree": 1, "bias": True}, 5, 3),
        ({"degree": 2, "output": "1"}, 5, 2),
    ],
)
def test_set_layers_reproduce_the_known_answers(kwargs: dict, n: int, expected: int) -> None:
    assert count_patterns(kwargs.pop("input", "V"), kwargs.pop("output", "V"), n=n, **kwargs) == expected


@pytest.mark.parametrize("degree", range(6))
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("output", ["V", "1"])
def test_set_patterns_match_the_partition_closed_form(degree: int, bias: bool, output: str) -> None:
    """Σ_m p_{≤n−1}(d − m) (orbits.py) against set partitions up to factor reordering, n = 1..12."""
    for n in range(1, 13):
        closed = symmetric_closed_form(n, degree, bias=bias, equivariant=output == "V")
        assert count_patterns("V", output, degree, bias=bias, n=n) == closed


@pytest.mark.parametrize(("k", "out"), [(k, out) for k in range(1, 7) for out in range(7 - k)])
def test_linear_tensor_patterns_are_set_partitions(k: int, out: int) -> None:
    rep_in, rep_out = ("V" if k == 1 else f"V{k}"), {0: "1", 1: "V"}.get(out, f"V{out}")
    histogram = blocks_histogram(rep_in, rep_out, 1)
    assert histogram == {j: stirling2(k + out, j) for j in range(1, k + out + 1)}
    bell = sum(histogram.values())
    assert count_patterns(rep_in, rep_out, 1) == bell == count_patterns(rep_in, rep_out, 1, n=10**6)


def test_graph_patterns_read_as_the_known_maps() -> None:
    assert [str(p) for p in layer_patterns("E", "V", 1)] == ["{o₁,i₁}{i₁′}", "{o₁}{i₁}{i₁′}"]
    assert count_patterns("E", "1", 1) == 1
    assert count_patterns("E", "E", 1) == 3  # same edge, one shared node, disjoint
    assert [str(p) for p in layer_patterns("V", "V", 1, bias=True)][-1] == "{o₁} · b"
    assert str(layer_patterns("V", "1", 0)[0]) == "∅"


def _small_spec(draw: st.DrawFn, max_n: int, max_degree: int, max_weights: int) -> LayerSpec:
    spec = LayerSpec(
        n=draw(st.integers(2, max_n)),
        degree=draw(st.integers(1, max_degree)),
        bias=draw(st.booleans()),
        input=draw(st.sampled_from(REPS_IN)),
        output=draw(st.sampled_from(REPS_OUT)),
        transpositions=draw(st.sampled_from(["adjacent", "minimal"])),
    )
    assume(spec.num_outputs * math.comb(spec.num_inputs + spec.degree - 1, spec.degree) <= max_weights)
    return spec


@st.composite
def pattern_specs(
    draw: st.DrawFn, max_n: int = 7, max_degree: int = 4, max_weights: int = 3_000
) -> LayerSpec:
    return _small_spec(draw, max_n, max_degree, max_weights)


@given(pattern_specs())
def test_pattern_counts_equal_engine_counts(spec: LayerSpec) -> None:
    result = derive(spec, engine="sparse")
    assert count_by_patterns(spec).free_parameters == result.free_parameters == result.distinct_weights


@pytest.mark.slow
@pytest.mark.parametrize("degree", [1, 2, 3, 4])
@pytest.mark.parametrize(("rep_in", "rep_out"), [(a, b) for a in REPS_IN for b in REPS_OUT])
def test_pattern_counts_equal_engine_counts_sweep(degree: int, rep_in: str, rep_out: str) -> None:
    """Degrees 1–4, n = 1…7, every pair of representations, with and without bias."""
    for n in range(1, 8):
        for bias in (False, True):
            if n < 2 and "E" in rep_in + rep_out:
                continue
            spec = LayerSpec(n=n, degree=degree, bias=bias, input=rep_in, output=rep_out)
            if spec.num_outputs * math.comb(spec.num_inputs + degree - 1, degree) > 400_000:
                continue
            assert count_by_patterns(spec).free_parameters == derive(spec, engine="sparse").free_parameters


@pytest.mark.parametrize(
    "label",
    ["S5 quadratic ordered E -> V +bias", "S4 cubic ordered equivariant", "S4 quadratic ordered V + E -> E"],
)
def test_every_class_has_its_own_pattern(label: str) -> None:
    """The engine's classes map one-to-one onto the patterns with at most n blocks."""
    spec = LayerSpec.parse(label)
    result = derive(spec)
    names = [str(slot_pattern(result, members[0])) for members in result.graph.class_members]
    expected = sorted(
        str(p)
        for p in layer_patterns(spec.input, spec.output, spec.degree, bias=spec.bias)
        if p.num_blocks <= spec.n
    )
    assert sorted(names) == expected
    for number, members in enumerate(result.graph.class_members[:3]):  # every weight shows its class's
        assert {str(slot_pattern(result, w)) for w in members} == {names[number]}


def test_refusals() -> None:
    with pytest.raises(SpecError, match="symmetric group only"):
        count_by_patterns(LayerSpec(n=5, degree=2, group="cyclic"))
    with pytest.raises(SpecError, match="ordered indexing only"):
        count_by_patterns(LayerSpec(n=5, degree=2, indexing="full"))
    with pytest.raises(SizeLimitError, match="Bell"):
        count_patterns("E", "E", 7)


def test_count_takes_the_pattern_path_beyond_the_engines() -> None:
    code, output = run("count", "-n", "1000000", "--degree", "3", "--format", "json")
    data = json.loads(output)[0]
    assert code == 0 and data["free_parameters"] == 7 and data["engine"] == "patterns"
    code, output = run("count", "-n", "7,1000000", "--input", "E", "--output", "V", "--degree", "3")
    rows = [line.split() for line in output.splitlines()[2:4]]
    assert code == 0 and rows[0][1] == rows[1][1] == "23"  # the engine at n = 7 and patterns at 10⁶
    assert rows[0][-1] in {"symbolic", "sparse"} and rows[1][-1] == "patterns"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["count", "-n", "1000000", "--degree", "3", "--group", "cyclic"], "symmetric group only"),
        (["count", "-n", "1000000", "--degree", "3", "--indexing", "full"], "ordered indexing only"),
        (["count", "-n", "1000000", "--degree", "3", "--engine", "sparse"], "--engine auto counts"),
        (["derive", "-n", "4", "--input", "W"], "unknown representation term 'W'"),
        (["derive", "-n", "1", "--input", "E"], "needs n ≥ 2"),
        (["derive", "-n", "4", "--mode", "invariant", "--output", "V"], "contradicts"),
        (["derive", "-n", "4", "--mode", "equivariant", "--output", "1"], "contradicts"),
        (["verify", "-n", "4", "--output", "E2"], "unknown representation term 'E2'"),
    ],
)
def test_bad_tensor_input_is_a_one_line_usage_error(args: list[str], message: str) -> None:
    code, output = run(*args)
    assert code == 2 and message in output and "Traceback" not in output


def test_pattern_benchmark_quick_mode_runs_and_reports_json() -> None:
    """The benchmark still runs (its timings are measured there, never asserted here)."""
    root = Path(__file__).resolve().parents[1]
    completed = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "bench_patterns.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    document = json.loads(completed.stdout.split("\n\n")[0])
    assert [row["free_parameters"] for row in document["count"]] == [7, 23]
    table = {(row["layer"], row["degree"]): row["n_free"] for row in document["table"]}
    assert table[("V2 -> V2", 1)] == 15 and table[("E -> V", 1)] == 2
