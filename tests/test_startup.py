"""Fast start-up: what a fresh process imports, the exact-rank shortcut that avoids sympy, `auto` = sparse.

The wall times are measured in ``benchmarks/bench_startup.py``; here only what is imported.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import sympy as sp

from polyequiv import LayerSpec, derive
from polyequiv.exact import exact_nullspace, exact_rank, peel_unit_rows

HEAVY = ("torch", "sympy", "scipy", "networkx", "matplotlib")


def imported_after(code: str, *argv: str) -> set[str]:
    """The heavy packages in ``sys.modules`` when a fresh interpreter has run ``code``."""
    probe = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: print('MODULES', json.dumps([m for m in {HEAVY!r} if m in sys.modules])))\n"
        + code
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return set(json.loads(completed.stdout.rsplit("MODULES ", 1)[1]))


CLI = "import sys; sys.argv[0] = 'polyequiv'; from polyequiv_cli.main import main; main()"


@pytest.mark.parametrize(
    ("code", "argv", "absent"),
    [
        ("import polyequiv", (), HEAVY),
        ("from polyequiv import LayerSpec, derive, verify, load_scheme", (), HEAVY),
        ("import polyequiv_cli.main", (), HEAVY),
        ("import polyequiv.training, polyequiv.tasks", (), ("torch", "matplotlib", "sympy")),
        (CLI, ("--help",), HEAVY),
        (CLI, ("derive", "-n", "10", "--degree", "1"), HEAVY),
        (CLI, ("derive", "-n", "6", "--degree", "2", "--bias", "--format", "json"), HEAVY),
        (CLI, ("count", "-n", "1-6", "--degree", "3"), HEAVY),
        (CLI, ("train", "--help"), ("torch", "matplotlib", "sympy")),
    ],
)
def test_fresh_processes_do_not_import_what_they_do_not_need(code: str, argv: tuple, absent: tuple) -> None:
    assert imported_after(code, *argv).isdisjoint(absent)


def test_the_symbolic_engine_and_additive_constraints_still_import_what_they_need() -> None:
    """The import checks above could not pass by accident: the symbolic engine needs sympy, and
    additive constraints (full indexing) are counted block by block with scipy's components."""
    assert "sympy" in imported_after(CLI, "derive", "-n", "3", "--degree", "1", "--engine", "symbolic")
    assert "scipy" in imported_after(CLI, "derive", "-n", "3", "--degree", "2", "--indexing", "full")


def test_auto_is_the_sparse_engine() -> None:
    for spec in (LayerSpec(n=3, degree=1), LayerSpec(n=3, degree=2, indexing="full")):
        assert derive(spec).engine == "sparse"
        assert derive(spec, engine="symbolic").engine == "symbolic"


def _dense_rank(rows: list[dict[int, int]], columns: int) -> int:
    matrix = sp.zeros(len(rows), columns)
    for r, row in enumerate(rows):
        for c, v in row.items():
            matrix[r, c] = v
    return matrix.rank() if rows else 0


@pytest.mark.parametrize("seed", range(40))
def test_exact_rank_with_unit_rows_taken_out_matches_dense_sympy(seed: int) -> None:
    rng = random.Random(seed)
    columns = rng.randint(1, 9)
    rows = []
    for _ in range(rng.randint(0, 12)):
        width = rng.choice([1, 1, 2, 2, 3, columns])
        chosen = rng.sample(range(columns), min(width, columns))
        rows.append({c: rng.choice([-2, -1, 1, 1, 3]) for c in chosen})
    assert exact_rank(rows, columns) == _dense_rank(rows, columns)
    basis = exact_nullspace(rows, columns)
    assert len(basis) == columns - _dense_rank(rows, columns)
    for vector in basis:  # every basis vector solves every row exactly
        assert all(sum(v * vector.get(c, 0) for c, v in row.items()) == 0 for row in rows)


def test_peeling_a_chain_of_unit_rows_is_complete() -> None:
    """{x0}, {x0 − x1}, {x1 − x2}, …: each peeled pivot makes the next row a unit row."""
    rows = [{0: 1}] + [{i: 1, i + 1: -1} for i in range(60)]
    pivots, rest = peel_unit_rows(rows)
    assert pivots == set(range(61)) and rest == []
    assert exact_rank(rows[1:], 61) == _dense_rank(rows[1:], 61) == 60
