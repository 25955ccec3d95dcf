"""Exact certificates of dim V against independent paths.

Independent paths: sympy's ``groebner`` (pure Python Buchberger/F5B) for the Gröbner dimension,
subsets enumerated here for the dimension of a monomial ideal, closed forms for two linear
layers, the equations evaluated at points of the claimed subspaces, and the Jacobians of
:mod:`polyequiv.compose.variety` for the gauge directions.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import sympy
from click.testing import CliRunner

from polyequiv.compose import NetworkSpec, expand_network, network_constraints
from polyequiv.compose.certificate import (
    certify_dimension,
    gauge_directions,
    local_certificate,
    zero_layer_subspaces,
)
from polyequiv.compose.groebner import groebner_dimension, monomial_dimension
from polyequiv.compose.variety import PRIMES, VarietyProblem, random_tied_point
from polyequiv_cli.main import cli


def brute_monomial_dimension(monomials: list[tuple[int, ...]], size: int) -> int:
    """Largest set of variables containing no monomial's support, by enumeration."""
    supports = [{i for i, e in enumerate(m) if e} for m in monomials]
    for k in range(size, -1, -1):
        for chosen in itertools.combinations(range(size), k):
            if not any(s <= set(chosen) for s in supports):
                return k
    return -1


def test_monomial_dimension_equals_enumeration() -> None:
    rng = np.random.default_rng(5)
    for _ in range(150):
        size = int(rng.integers(1, 9))
        monomials = [
            tuple(int(v) for v in row) for row in rng.integers(0, 3, size=(rng.integers(1, 7), size))
        ]
        monomials = [m for m in monomials if any(m)] or [(1,) + (0,) * (size - 1)]
        assert monomial_dimension(monomials, size) == brute_monomial_dimension(monomials, size)
    assert monomial_dimension([(0, 0)], 2) == -1  # the unit ideal: V is empty


def polynomials_of(text: str) -> tuple[list[dict[tuple[int, ...], int]], int]:
    constraints = network_constraints(expand_network(NetworkSpec.parse(text)))
    size = constraints.expansion.num_params
    polys = []
    for equation in constraints.equations:
        poly = {}
        for key, value in equation.polynomial:
            row = [0] * size
            for j, e in key:
                row[j] = e
            poly[tuple(row)] = value
        polys.append(poly)
    return polys, size


@pytest.mark.parametrize(
    "text",
    [
        "S2 [linear free -> 2, linear free -> 2]",
        "S2 [quadratic free -> 1, quadratic free -> 2]",
        "S3 [linear free -> 1, linear free -> 3]",
        "S3 [linear free -> 2, linear free -> invariant]",
        "S2 [linear free +bias -> 1, quadratic free -> invariant]",
    ],
)
def test_groebner_dimension_equals_sympy(text: str) -> None:
    polys, size = polynomials_of(text)
    symbols = sympy.symbols(f"t0:{size}")
    exprs = [
        sum(c * sympy.Mul(*[s**e for s, e in zip(symbols, m, strict=True)]) for m, c in p.items())
        for p in polys
    ]
    basis = sympy.groebner(exprs, *symbols, order="grevlex")
    leading = [sympy.Poly(g, *symbols).monoms(order="grevlex")[0] for g in basis.exprs]
    expected = brute_monomial_dimension(leading, size)
    for seconds in (None, 30.0):  # in this process and in a child process
        found = groebner_dimension(polys, size, seconds=seconds)
        assert found.complete and found.dimension == expected


@pytest.mark.parametrize("n", [2, 3])
def test_two_linear_layers_match_the_closed_forms(n: int) -> None:
    """W₂W₁ = aI + bJ: dim V = n² + 2 (equivariant), n² + 1 (invariant), and V near T is T's gauge orbits."""
    for output, expected in ((str(n), n * n + 2), ("invariant", n * n + 1)):
        certificate = certify_dimension(
            NetworkSpec.parse(f"S{n} [linear free -> {n}, linear free -> {output}]")
        )
        assert certificate.local.certified and certificate.local.dimension == expected
        assert certificate.groebner.complete and certificate.groebner.dimension == expected
        assert "gauge orbits of T" in certificate.verdict


@pytest.mark.parametrize(
    "text",
    [
        "S3 [quadratic free -> 3, linear free -> 3]",
        "S3 [quadratic free +bias -> 2, quadratic free +bias -> invariant]",
        "S2 [linear free +bias -> 2, cubic free full +bias -> 2]",
        "S3 [linear free -> 3, quadratic tied -> 3, linear free -> invariant]",
    ],
)
def test_gauge_directions_change_no_function(text: str) -> None:
    """Each gauge vector is in the kernel of J_c (so of J_E) at a tied point, modulo p."""
    spec = NetworkSpec.parse(text)
    problem = VarietyProblem(spec)
    p = PRIMES[1]
    theta = random_tied_point(problem.parameters, np.random.default_rng(3))
    theta_p = np.array(
        [int(v.numerator % p * pow(v.denominator, p - 2, p) % p) for v in theta], dtype=np.int64
    )
    gauge = gauge_directions(spec, problem.parameters, theta_p, p)
    free_pairs = sum(not (a.tied or b.tied) for a, b in zip(spec.layers, spec.layers[1:], strict=False))
    assert gauge.shape[1] > 0 or free_pairs == 0
    _, _, _, jc = problem.equations_and_jacobian(theta_p, p)
    product = np.zeros((jc.shape[0], gauge.shape[1]), dtype=object)
    product[:] = (jc.astype(object) @ gauge.astype(object)) % p
    assert not product.any()
    certificate = local_certificate(spec)
    assert certificate.tied_dim <= certificate.lower <= certificate.upper


@pytest.mark.parametrize(
    "text",
    [
        "S3 [linear free -> 2, linear free -> 3]",
        "S3 [quadratic free +bias -> 2, quadratic free +bias -> 3]",
        "S3 [linear free -> 3, linear free +bias -> invariant]",
    ],
)
def test_zero_layer_subspaces_solve_the_equations(text: str) -> None:
    spec = NetworkSpec.parse(text)
    problem = VarietyProblem(spec)
    offsets = problem.parameters.param_offsets
    listed = {name for name, _ in zero_layer_subspaces(spec, problem.parameters)}
    rng = np.random.default_rng(0)
    for number in range(len(spec.layers)):
        theta = rng.integers(-9, 10, size=problem.parameters.num_params)
        theta[offsets[number] : offsets[number + 1]] = 0
        e, *_ = problem.equations_and_jacobian(theta, PRIMES[0])
        if f"layer {number + 1} zero" in listed:
            assert not e.any()
    assert f"layer {len(spec.layers)} zero" in listed


def test_singular_tied_point_is_detected_and_global_dimension_can_exceed_the_local_one() -> None:
    singular = certify_dimension(NetworkSpec.parse("S3 [linear free -> 2, linear free -> 3]"))
    assert singular.groebner.complete and singular.groebner.dimension < singular.local.upper
    assert singular.singular and "singular point" in singular.verdict
    degenerate = certify_dimension(NetworkSpec.parse("S3 [linear free -> 1, linear free -> 3]"))
    assert degenerate.local.certified and degenerate.groebner.dimension > degenerate.local.dimension
    assert degenerate.groebner.dimension == max(d for _, d in degenerate.subspaces)
    rows = {row["name"]: row for row in degenerate.components()}
    assert rows["gauge orbits of T"]["component"] is True and rows["gauge orbits of T"]["dimension"] == 2
    assert rows["layer 2 zero"]["component"] is True and rows["layer 2 zero"]["dimension"] == 3


def test_groebner_time_limit_stops_the_child_process() -> None:
    polys, size = polynomials_of("S3 [quadratic free -> 2, quadratic free -> 3]")
    found = groebner_dimension(polys, size, seconds=0.2)
    assert not found.complete and found.dimension is None and "stopped after 0.2 s" in found.message


def test_cli_certify_in_text_and_json() -> None:
    args = [
        "compose",
        "--spec",
        "S2 [linear free -> 2, linear free -> invariant]",
        "--no-variety",
        "--certify",
    ]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0 and "V is the gauge orbits of T, of dimension 5" in text.output
    data = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).output)["certificate"]
    assert data["groebner_dim"] == data["local_upper"] == data["local_lower"] == 5
    assert data["components"][0]["component"] is True
