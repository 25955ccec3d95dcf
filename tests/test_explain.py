"""`polyequiv explain`: trained models read back as exact formulas, checked against laws written here.

Each case trains a model, explains it, and compares the formula with the task's law written
independently in the test (a brute-force triangle count, Σx, x_k − mean, …) on data the explainer
never saw; the simplification steps are checked on planted formulas.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from click.testing import CliRunner

from polyequiv.explain import ExplainError, explain_run, simplify
from polyequiv.models.features import Feature, pattern_dictionary, set_dictionary
from polyequiv.nn.tensor_layers import TensorPolyLayer
from polyequiv.training.config import RunConfig
from polyequiv.training.run import train
from polyequiv_cli.main import cli


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Quick runs of the issue's examples (least squares where the model is linear, Adam otherwise)."""
    root = tmp_path_factory.mktemp("explain")
    cases = {"triangles": ("triangles", "tied-edge-cubic", {}),
             "degree": ("graph-degree", "tied-edge-linear", {}),
             "digit-sum": ("digit-sum", "tied-linear", {}), "center": ("center", "tied-quadratic", {}),
             "sum-of-squares": ("sum-of-squares", "tied-quadratic", {})}
    for name, (task, model, settings) in cases.items():
        train(RunConfig.create(task, model, task_options={"quick": True}, **settings), root / name)
    return {name: root / name for name in cases}


def sympy_of(explanation) -> sympy.Expr:
    return sympy.simplify(explanation.sympy())


def test_triangles_read_back_as_half_the_closed_3_walks(runs: dict[str, Path]) -> None:
    explanation = explain_run(runs["triangles"])
    assert len(explanation.terms) <= 4
    (term,) = explanation.terms
    assert term.coefficient == Fraction(1, 2)
    assert term.feature.key == "{o₁,i₁,i₂}{i₁′,i₃}{i₂′,i₃′}" and term.feature.text == "Σ_{j,l} A_kj A_kl A_jl"
    scaled = explanation.checks["scaled"]
    assert scaled["size"] == 100 and scaled["max_error_vs_target"] == 0
    assert explanation.simplified.merged >= 2  # A_ij² = A_ij: patterns equal on a 0/1 adjacency


def test_the_pattern_sum_text_is_what_the_pattern_computes() -> None:
    """Each pattern's written-out sum, evaluated by brute force here, equals the layer's feature."""
    import torch

    dictionary = pattern_dictionary(TensorPolyLayer("E", "V", 2, 1, 1, dtype=torch.float64))
    rng = np.random.default_rng(0)
    n = 6
    upper = np.triu(rng.random((n, n)) < 0.5, 1)
    adjacency = (upper | upper.T).astype(float)
    everyone = torch.ones(1, n, dtype=torch.bool)
    features = dictionary.evaluate(torch.from_numpy(adjacency)[None], everyone).numpy()
    for number, feature in enumerate(dictionary.features):
        brute = [_brute_pattern(feature.text, adjacency, k) for k in range(n)]
        assert np.allclose(features[:, number], brute), feature.text


def _brute_pattern(text: str, adjacency: np.ndarray, k: int) -> float:
    """Evaluate ``Σ_{j,l} A_kj A_jl`` by enumeration (each summed index over all nodes: the diagram basis)."""
    import itertools
    import re

    free, body = (re.fullmatch(r"Σ_\{([^}]*)\} (.*)", text).groups() if text.startswith("Σ") else ("", text))
    letters = [v for v in free.split(",") if v]
    total = 0.0
    for values in itertools.product(range(len(adjacency)), repeat=len(letters)):
        index = dict(zip(letters, values, strict=True), k=k)
        product = 1.0
        for factor in body.split():
            match = re.fullmatch(r"A_(\w)(\w)([²³⁴]?)", factor)
            power = {"": 1, "²": 2, "³": 3, "⁴": 4}[match.group(3)]
            product *= adjacency[index[match.group(1)], index[match.group(2)]] ** power
        total += product
    return total


@pytest.mark.parametrize(("run", "law"), [("degree", "Σ_{j} A_kj"), ("digit-sum", "p₁"),
                                          ("sum-of-squares", "p₂"), ("center", "x_k - p₁ n⁻¹")])
def test_one_line_laws(runs: dict[str, Path], run: str, law: str) -> None:
    explanation = explain_run(runs[run])
    assert explanation.formula().split(" = ")[1] == law
    assert explanation.simplified.rational


def test_the_sympy_form_is_the_law_written_here(runs: dict[str, Path]) -> None:
    x_k, p1, n = sympy.symbols("x_k p_1 n", positive=True)
    center = sympy_of(explain_run(runs["center"]))
    assert sympy.simplify(center.subs({"x_k": x_k, "p_1": p1, "n": n}) - (x_k - p1 / n)) == 0


def test_simplify_merges_prunes_and_rationalises_a_planted_formula() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(500, 3))
    matrix = np.column_stack([base[:, 0], base[:, 1], base[:, 0], base[:, 2] * 1e-3, base[:, 2]])
    features = [Feature(name, name, sympy.Symbol(name), complexity, key=name)
                for name, complexity in (("a", 1), ("b", 1), ("a-twin", 3), ("tiny", 1), ("c", 1))]
    predictions = 0.5 * base[:, 0] - 3 * base[:, 1] + 1e-12 * base[:, 2]
    result = simplify(features, matrix, predictions, tolerance=1e-9)
    found = [(t.feature.key, t.coefficient) for t in result.terms]
    assert found == [("a", Fraction(1, 2)), ("b", Fraction(-3))]
    assert [a.key for a in result.terms[0].aliases] == ["a-twin"] and result.rational


def test_a_model_outside_the_features_is_an_error_not_a_formula() -> None:
    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(200, 2))
    features = [Feature(n, n, sympy.Symbol(n), 1, key=n) for n in "ab"]
    with pytest.raises(ExplainError, match="not a polynomial in these 2 features"):
        simplify(features, matrix, np.sin(matrix[:, 0]) * 3, tolerance=1e-6)


def test_set_dictionary_spans_mean_and_sum_pooling() -> None:
    import torch

    dictionary = set_dictionary(2, equivariant=True)
    values = torch.tensor([[0.0, 1.0, 2.0, 4.0]], dtype=torch.float64)
    mask = torch.tensor([[False, True, True, True]])
    columns = {f.key: j for j, f in enumerate(dictionary.features)}
    table = dictionary.evaluate(values, mask).numpy()
    assert table.shape == (3, len(dictionary))
    np.testing.assert_allclose(table[:, columns["x1pn0"]], [1, 2, 4])
    np.testing.assert_allclose(table[:, columns["x0p1n-1"]], [7 / 3] * 3)  # the mean
    np.testing.assert_allclose(table[:, columns["x0p2n0"]], [21] * 3)


def test_cli_formats_refit_and_plot(runs: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["explain", str(runs["triangles"]), "--format", "json", "--refit",
                                 str(tmp_path / "exact"), "--plot", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [t["coefficient"] for t in data["terms"]] == ["1/2"] and data["rational"]
    refit = data["refit"]["per_cardinality"]
    assert max(row["cardinality"] for row in refit) >= 100 and all(row["accuracy"] == 1.0 for row in refit)
    assert (tmp_path / "t.png").stat().st_size > 1000
    again = runner.invoke(cli, ["explain", str(tmp_path / "exact")])  # a formula run explains as itself
    assert again.exit_code == 0 and again.output.startswith("y_k = 1/2 · Σ_{j,l} A_kj A_kl A_jl")
    latex = runner.invoke(cli, ["explain", str(runs["center"]), "--format", "latex"])
    assert latex.output.strip() == "y_{k} = x_k - p_{1} n^{-1}"


def test_non_polynomial_models_are_refused_in_one_line(tmp_path: Path) -> None:
    train(RunConfig.create("digit-sum", "mlp", epochs=1, task_options={"quick": True, "train": 50}),
          tmp_path / "mlp")
    result = CliRunner().invoke(cli, ["explain", str(tmp_path / "mlp")])
    assert result.exit_code == 2 and "is not a polynomial" in result.output
    assert "Traceback" not in result.output
    empty = CliRunner().invoke(cli, ["explain", str(tmp_path)])
    assert empty.exit_code == 2 and "holds no run to explain" in empty.output


def test_a_composed_network_is_explained_whole_and_layer_by_layer(tmp_path: Path) -> None:
    train(RunConfig.create("sum-of-squares", "variety-tied", task_options={"quick": True}), tmp_path / "v")
    explanation = explain_run(tmp_path / "v")
    assert explanation.formula() == "y = p₂"  # sets of exactly 3 elements, read as the n-free law
    scaled = explanation.checks["scaled"]
    assert scaled["size"] == 30 and scaled["max_error_vs_target"] < 1e-9
    first, second = explanation.layers
    assert first["formula"].startswith("h_k = ") and second["formula"].startswith("h = ")
    assert "layer by layer:" in explanation.text() and explanation.to_dict()["layers"] == explanation.layers


def test_subset_fits_through_one_qr_equal_direct_least_squares() -> None:
    """The pruning's refits (one QR of all columns, then small solves) against numpy on each subset,
    including dependent columns (the minimum-norm solution)."""
    import numpy as np

    from polyequiv.explain.simplify import _fit, _Reduced

    rng = np.random.default_rng(0)
    columns = rng.standard_normal((300, 8)) * np.logspace(0, 6, 8)
    columns[:, 3] = 2 * columns[:, 1]
    y = rng.standard_normal(300)
    reduced = _Reduced(columns, y)
    for subset in ([0, 1, 2, 3], [1, 3, 5], [0, 4, 7], list(range(8)), []):
        direct = _fit(columns[:, subset], y)
        assert np.allclose(reduced.fit(subset), direct, rtol=1e-9, atol=1e-12 * np.abs(direct).max(initial=1))
