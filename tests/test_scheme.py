"""Tying schemes: round trip, atomic save, and refusal of malformed or altered files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from polyequiv import LayerSpec, SchemeFileError, TyingScheme, derive, load_scheme
from polyequiv.scheme import content_hash
from polyequiv_cli.main import cli


@pytest.mark.parametrize(
    "spec",
    [
        LayerSpec(n=6, degree=2),
        LayerSpec(n=4, degree=2, indexing="full", bias=True),
        LayerSpec(n=5, degree=3, group="dihedral", mode="invariant"),
    ],
)
def test_scheme_round_trips_through_a_file(tmp_path: Path, spec: LayerSpec) -> None:
    scheme = TyingScheme.from_spec(spec)
    path = scheme.save(tmp_path / "scheme.json")
    loaded = load_scheme(path)
    assert loaded.spec == spec
    np.testing.assert_array_equal(loaded.class_of_weight, scheme.class_of_weight)
    assert loaded.basis == scheme.basis
    assert loaded.num_free == derive(spec).free_parameters
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_weight_basis_spans_the_derived_solutions() -> None:
    result = derive(LayerSpec(n=4, degree=2, indexing="full"))
    basis = TyingScheme.from_derivation(result).weight_basis()
    assert np.linalg.matrix_rank(basis) == result.free_parameters
    for terms in result.system.additive_rows():
        row = np.zeros(result.num_weights)
        for w, c in terms:
            row[w] = c
        np.testing.assert_allclose(row @ basis, 0, atol=1e-12)


def _mutations(data: dict) -> list[tuple[str, dict, str]]:
    def changed(**fields) -> dict:
        return {**json.loads(json.dumps(data)), **fields}

    rehashed = changed(class_of_weight=[1, *data["class_of_weight"][1:]])  # valid shape, wrong tie
    rehashed["sha256"] = content_hash(rehashed)
    wrong_version = changed(version=2)
    out_of_range = changed(class_of_weight=[99, *data["class_of_weight"][1:]])
    out_of_range["sha256"] = content_hash(out_of_range)
    bad_spec = changed(spec={**data["spec"], "n": 0})
    bad_spec["sha256"] = content_hash(bad_spec)
    return [
        ("edited", changed(num_free=data["num_free"] + 1), "content hash does not match"),
        ("version", wrong_version, "version 2 is not supported"),
        ("format", changed(format="something-else"), "format is"),
        ("missing", {k: v for k, v in data.items() if k != "basis"}, "missing ['basis']"),
        ("rehashed", rehashed, "differ from a fresh derivation"),
        ("range", out_of_range, "class ids must lie in"),
        ("spec", bad_spec, "invalid spec"),
    ]


def test_malformed_or_tampered_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    data = TyingScheme.from_spec(LayerSpec(n=5, degree=2)).to_dict()
    for name, document, message in _mutations(data):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document))
        with pytest.raises(SchemeFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_scheme(path)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(data)[:-10])
    with pytest.raises(SchemeFileError, match="not valid JSON"):
        load_scheme(truncated)
    with pytest.raises(SchemeFileError, match="cannot read"):
        load_scheme(tmp_path / "absent.json")


def test_compile_command_writes_a_loadable_scheme(tmp_path: Path) -> None:
    from polyequiv.nn import TiedPolynomialLayer

    target = tmp_path / "s.json"
    result = CliRunner().invoke(cli, ["compile", "-n", "6", "--degree", "2", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "4 free parameters" in result.output
    layer = TiedPolynomialLayer.from_scheme(load_scheme(target))
    assert layer.num_parameters == 4


def test_compile_refuses_bad_input_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["compile", "-n", "6", "--gauge", "symmetric", "-o", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["compile", "-n", "6"])
    assert result.exit_code == 2 and "Missing option" in result.output


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    import os
    import stat

    from polyequiv.fileio import atomic_write_text

    previous = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "x.txt", "hello")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == "hello"
