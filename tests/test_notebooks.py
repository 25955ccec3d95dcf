"""The notebooks run end to end (small settings: POLYEQUIV_QUICK=1) and show what they promise."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def execute(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    os.environ["POLYEQUIV_QUICK"] = "1"  # the kernel inherits the environment
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        del os.environ["POLYEQUIV_QUICK"]
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> tuple[str, int]:
    """All text the cells printed, and how many images they showed."""
    text, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text.append(output.get("text", ""))
            text.append(output.get("data", {}).get("text/plain", ""))
            images += "image/png" in output.get("data", {})
    return "\n".join(text), images


def test_the_notebooks_are_the_expected_ones() -> None:
    assert [path.name for path in NOTEBOOKS] == [
        "01_deriving_constraints.ipynb", "02_seed_tables.ipynb", "03_digit_sum.ipynb", "04_graphs.ipynb",
        "05_composition.ipynb", "06_images.ipynb", "07_matrix_groups.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_end_to_end(path: Path) -> None:
    text, images = outputs(execute(path))
    expected = {
        "01_deriving_constraints": ["distinct weights      2", "distinct weights      4",
                                    "result               PASS", "same function: True"],
        "02_seed_tables": ["seed (22)", "exact classes"],
        "03_digit_sum": ["tied-linear", "tied-quadratic", "deepsets", "lstm", "penalty-mlp", "acc@100",
                         "equivariance residual"],
        "04_graphs": ["degree == row sums:       True", "triangles == (A³)_kk / 2: True",
                      "degree 3: 23 patterns", "tied-edge-cubic", "gin", "row-mlp", "57.69",
                      "quartic E → V patterns: 79 | degree 6, 7, 8: [1003, 3763, 14723]", "solver: lstsq",
                      "rounded, equal to the sparse-matrix count: True", "Σ_{j,l,m} A_kj A_kl A_jm A_lm"],
        "05_composition": ["243,243 terms", "equations by degree", "470 equations",
                           "V is the gauge orbits of T", "a singular point of V",
                           "the variety is the tied subspace",
                           "found an equivariant network", "projected", "equivariance residual",
                           "variety-projected"],
        "06_images": ["classes: 36", "depends only on the offset t − k: True",
                      "invariant linear layer: 1 class", "max |compiled − dense|", "tied-circular-quadratic",
                      "cnn", "  1  C10"],
        "07_matrix_groups": ["SO(3) quadratic ordered 2*V -> V         free parameters 1",
                             "(u × v) is one constant: True", "(x |x|²) is one constant: True",
                             "12 patterns, derive: 12 functions", "relMSE@50", "scalar-mlp",
                             "y_ab = Σ_i m_i |r_i|² δ_ab - Σ_i m_i r_ia r_ib", "55 invariants",
                             "y = 16 · |p1|² |p2|² - 12 · |p1|² (p2·p4)"],
    }[path.stem]
    for fragment in expected:
        assert fragment in text, f"{path.name} does not show {fragment!r}"
    assert images >= 1, f"{path.name} draws no picture"
