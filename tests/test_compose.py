"""Networks of polynomial layers: specs, exact expansion, equations, variety ranks, the search off T.

Independent paths: sympy expansion and coefficient matching written here, exact rational ranks with
sympy against the modular ranks of the library, closed forms for linear networks, numeric
equivariance on random elements of the whole group.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

import numpy as np
import pytest
import sympy
from click.testing import CliRunner

from polyequiv import groups
from polyequiv.compose import NetworkLayer, NetworkSpec, parse_layer_flags
from polyequiv.compose.expansion import expand_network, network_constraints
from polyequiv.compose.parameters import NetworkParameters
from polyequiv.compose.variety import (
    PRIMES,
    VarietyProblem,
    evaluate_network,
    measure_variety,
    random_tied_point,
    rank_mod_p,
    search_outside_tied,
)
from polyequiv.errors import SizeLimitError, SpecError
from polyequiv_cli.main import cli

SMALL = [
    "S2 [linear free +bias -> 2, quadratic free -> 2]",
    "S3 [quadratic free -> 2, linear free +bias -> invariant]",
    "S2 [quadratic free full -> 2, linear free -> invariant]",
    "S3 [quadratic tied -> 3, linear free -> 3]",
    "C3 [linear free -> 3, quadratic free -> 3]",
]


# ---------------------------------------------------------------------- a sympy oracle written here


def sympy_network(spec: NetworkSpec) -> tuple[list[sympy.Expr], list[sympy.Symbol], list[sympy.Symbol]]:
    """The outputs as expanded sympy expressions in the parameters and x (tied layers by classes)."""
    parameters = NetworkParameters(spec)
    theta = sympy.symbols(f"t0:{parameters.num_params}")
    xs = list(sympy.symbols(f"x0:{spec.n}"))
    h: list[sympy.Expr] = list(xs)
    for number, layer in enumerate(spec.layers):
        inputs = [*h, sympy.Integer(1)] if layer.bias else h
        width_in = spec.input_width(number)
        arity = 1 + int(layer.bias)
        m = width_in + arity - 1
        if layer.indexing == "ordered":
            tuples = list(itertools.combinations_with_replacement(range(m), layer.degree))
        else:
            tuples = list(itertools.product(range(m), repeat=layer.degree))
        first = parameters.param_offsets[number]
        classes = parameters.schemes[number].class_of_weight.tolist() if layer.tied else None
        out = []
        for k in range(layer.num_outputs):
            total = sympy.Integer(0)
            for position, t in enumerate(tuples):
                local = k * len(tuples) + position
                weight = theta[first + (classes[local] if classes else local)]
                total += weight * sympy.Mul(*[inputs[i] for i in t])
            out.append(sympy.expand(total))
        h = out
    return h, list(theta), xs


def sympy_equations(spec: NetworkSpec) -> set[tuple]:
    """Coefficient matching y_k(σ·x) − y_{σ(k)}(x) written directly, each up to sign, as term sets."""
    ys, theta, xs = sympy_network(spec)
    found = set()
    for sigma in spec.group_generators:
        moved = {xs[i]: xs[sigma[i]] for i in range(spec.n)}
        for k, y in enumerate(ys):
            target = sigma[k] if spec.equivariant else k
            difference = sympy.expand(y.xreplace(moved) - ys[target])
            if difference == 0:
                continue
            for _, coefficient in sympy.Poly(difference, *xs).terms():
                terms = sympy.Poly(coefficient, *theta).terms()
                found.add(up_to_sign((tuple(m), int(c)) for m, c in terms))
    return found


def up_to_sign(terms) -> tuple:
    canon = tuple(sorted(terms))
    return canon if canon[0][1] > 0 else tuple((m, -c) for m, c in canon)


def dense_key(key: tuple[tuple[int, int], ...], size: int) -> tuple[int, ...]:
    exponents = [0] * size
    for i, e in key:
        exponents[i] = e
    return tuple(exponents)


# ---------------------------------------------------------------------- specs


@pytest.mark.parametrize(
    "text",
    [
        "S3 [quadratic free -> 3, quadratic free -> invariant]",
        "S4 [linear tied +bias -> 4, quadratic free full 4 -> 2, cubic free -> 4]",
        "C5 [quadratic free -> 1, linear tied -> invariant]",
        "D4 [linear free -> 4, linear free -> 4]",
        "G4[(0 1)(2 3),(0 2)] [quadratic free -> 4]",
        "S3/all [linear free -> invariant]",
    ],
)
def test_network_spec_string_and_json_round_trip(text: str) -> None:
    spec = NetworkSpec.parse(text)
    assert str(spec) == text
    assert NetworkSpec.parse(str(spec)) == spec
    assert NetworkSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_layer_flags_match_the_spec_string() -> None:
    layers = parse_layer_flags("2:free:3,2:free:invariant")
    assert str(NetworkSpec(n=3, layers=layers)) == "S3 [quadratic free -> 3, quadratic free -> invariant]"
    biased = parse_layer_flags("1:tied:3:full,2:free:3", bias=True)
    assert [str(layer) for layer in biased] == ["linear tied full +bias -> 3", "quadratic free +bias -> 3"]


def test_weight_counts_follow_widths_degrees_and_bias() -> None:
    spec = NetworkSpec.parse("S4 [quadratic free +bias -> 2, cubic free -> invariant]")
    # layer 1: 2 outputs × C(4+1+1, 2) = 2·15; layer 2: C(2+2, 3) = 4 cubic monomials in 2 units
    assert spec.num_weights == 2 * 15 + 4
    assert spec.degree == 6


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("S3 [quadratic free -> invariant, linear free -> 3]", "invariant but 1 more layer"),
        ("S3 [quadratic free -> 2]", "last layer must output"),
        ("S3 [quadratic tied -> 2, linear free -> 3]", "tied layer 1 has width 2"),
        ("S3 [linear free -> 2, linear free 3 -> 3]", "inconsistent layer chain: layer 2 expects 3"),
        ("S3 [quadratic free 4 -> 3]", "layer 1 expects 4 inputs but the input x gives 3"),
        ("S3 []", "at least one layer"),
        ("S3 [quadratic loose -> 3]", "unknown token 'loose'"),
        ("S3 [quadratic free -> many]", "width 'many'"),
    ],
)
def test_bad_network_specs_are_refused_with_the_reason(text: str, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        NetworkSpec.parse(text)


def test_huge_expansions_are_refused_up_front_with_the_estimate() -> None:
    spec = NetworkSpec.parse(
        "S4 [quadratic free +bias -> 8, quadratic free +bias -> 8, quadratic free +bias -> 4]"
    )
    with pytest.raises(SizeLimitError, match="would expand to about") as caught:
        expand_network(spec)
    assert caught.value.estimate == spec.estimate_terms() > caught.value.limit
    assert f"need about {spec.estimate_bytes() / 1e9:,.1f} GB" in str(caught.value)


def test_memory_limit_refuses_a_network_under_the_term_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from polyequiv.compose import network as module

    spec = NetworkSpec.parse("S3 [quadratic free +bias -> 3, quadratic free +bias -> 3]")
    monkeypatch.setattr(module, "MAX_EXPANSION_BYTES", spec.estimate_bytes() - 1)
    with pytest.raises(SizeLimitError, match="the limits are 60,000,000 terms and"):
        expand_network(spec)


@pytest.mark.parametrize(
    "text",
    [
        "S3 [quadratic free -> 3, quadratic free -> invariant]",
        "S3 [quadratic free +bias -> 2, cubic free +bias -> 3]",
        "S4 [linear free +bias -> 2, quadratic free full -> 4]",
        "S2 [quintic free +bias -> 1, cubic free -> 2]",
    ],
)
def test_term_estimate_is_exact_for_two_free_layers(text: str) -> None:
    """Products of a free layer's units share no term, so multisets of terms count them exactly."""
    spec = NetworkSpec.parse(text)
    assert expand_network(spec).num_terms == spec.estimate_terms()


# ---------------------------------------------------------------------- expansion and equations


@pytest.mark.parametrize("text", SMALL)
def test_sparse_expansion_equals_sympy_expand(text: str) -> None:
    spec = NetworkSpec.parse(text)
    expansion = expand_network(spec)
    ys, theta, xs = sympy_network(spec)
    size = expansion.num_params
    for k, y in enumerate(ys):
        expected = {tuple(m): int(c) for m, c in sympy.Poly(y, *theta, *xs).terms()} if y != 0 else {}
        got = {}
        for alpha, poly in expansion.coefficients(k).items():
            for key, value in poly.items():
                got[dense_key(key, size) + alpha] = value
        assert got == expected
    assert expansion.num_terms == sum(len(sympy.Poly(y, *theta, *xs).terms()) for y in ys if y != 0)
    assert expansion.num_terms <= spec.estimate_terms()


@pytest.mark.parametrize("text", SMALL)
def test_equations_equal_sympy_coefficient_matching(text: str) -> None:
    spec = NetworkSpec.parse(text)
    constraints = network_constraints(expand_network(spec))
    size = constraints.expansion.num_params
    got = {
        up_to_sign((dense_key(key, size), value) for key, value in e.polynomial)
        for e in constraints.equations
    }
    assert got == sympy_equations(spec)
    assert len(got) == len(constraints.equations)
    assert sum(constraints.by_degree().values()) == len(constraints.equations)


def test_all_tied_network_has_no_equations_and_tied_points_solve_the_free_ones() -> None:
    tied = NetworkSpec.parse("S3 [quadratic tied +bias -> 3, quadratic tied -> 3]")
    assert network_constraints(expand_network(tied)).equations == []
    free = NetworkSpec.parse("S3 [quadratic free +bias -> 3, quadratic free -> invariant]")
    constraints = network_constraints(expand_network(free))
    assert constraints.equations
    theta = random_tied_point(NetworkParameters(free), np.random.default_rng(3))
    for equation in constraints.equations:
        value = sum(
            (Fraction(c) * np.prod([theta[i] ** e for i, e in key]) for key, c in equation.polynomial),
            Fraction(0),
        )
        assert value == 0
    # and a generic (untied) point does not
    rng = np.random.default_rng(4)
    generic = [Fraction(int(v)) for v in rng.integers(-9, 10, size=free.num_weights)]
    values = [
        sum((c * np.prod([generic[i] ** e for i, e in key]) for key, c in eq.polynomial), Fraction(0))
        for eq in constraints.equations
    ]
    assert any(v != 0 for v in values)


def test_equation_text_puts_positive_terms_left() -> None:
    expansion = expand_network(NetworkSpec.parse("S2 [linear free -> 2, linear free -> invariant]"))
    (equation,) = network_constraints(expansion).equations
    assert str(equation) == "w1_0_0·w2_0 + w1_1_0·w2_1 = w1_0_1·w2_0 + w1_1_1·w2_1"
    assert equation.degree == 2
    assert equation.latex().startswith("w^{(1)}_{0,0} w^{(2)}_{0}")


# ---------------------------------------------------------------------- variety


@pytest.mark.parametrize(
    "text",
    ["S2 [linear free +bias -> 2, quadratic free -> 2]", "S3 [linear free -> 2, linear free -> invariant]"],
)
def test_modular_ranks_equal_exact_rational_ranks(text: str) -> None:
    spec = NetworkSpec.parse(text)
    parameters = NetworkParameters(spec)
    theta_point = random_tied_point(parameters, np.random.default_rng(0))  # the point measure_variety uses
    measurement = measure_variety(spec, seed=0, search=False)
    assert measurement.primes_agree and len(measurement.points) == 2
    # exact: sympy Jacobian of the equations (written in this file) at the same rational point
    ys, theta, xs = sympy_network(spec)
    eqs = []
    for sigma in spec.group_generators:
        moved = {xs[i]: xs[sigma[i]] for i in range(spec.n)}
        for k, y in enumerate(ys):
            target = sigma[k] if spec.equivariant else k
            difference = sympy.expand(y.xreplace(moved) - ys[target])
            if difference != 0:
                eqs += [c for _, c in sympy.Poly(difference, *xs).terms()]
    point = {t: sympy.Rational(v.numerator, v.denominator) for t, v in zip(theta, theta_point, strict=True)}
    jacobian = sympy.Matrix([[sympy.diff(e, t).xreplace(point) for t in theta] for e in eqs])
    assert measurement.tangent_dim == len(theta) - jacobian.rank()
    coefficient_rows = [c for y in ys for _, c in sympy.Poly(y, *xs).terms()]
    jc = sympy.Matrix([[sympy.diff(c, t).xreplace(point) for t in theta] for c in coefficient_rows])
    assert measurement.function_dim == jc.rank()


@pytest.mark.parametrize("n", [2, 3])
def test_linear_networks_match_closed_forms(n: int) -> None:
    # W2 W1 must commute with Sₙ: a 2-dim space (aI + bJ); the product map is a submersion at
    # invertible W1, so dim V = 2n² − n² + 2, functions n², V-functions 2, dim T = 2 + 2.
    m = measure_variety(NetworkSpec.parse(f"S{n} [linear free -> {n}, linear free -> {n}]"), search=False)
    assert (m.tied_dim, m.tangent_dim, m.function_dim, m.variety_function_dim) == (4, n * n + 2, n * n, 2)
    # invariant output: w2ᵀ W1 = c·1ᵀ, dim V = n² + n − n + 1
    m = measure_variety(
        NetworkSpec.parse(f"S{n} [linear free -> {n}, linear free -> invariant]"), search=False
    )
    assert (m.tied_dim, m.tangent_dim, m.variety_function_dim) == (3, n * n + 1, 1)


def test_rank_mod_p_agrees_with_sympy_on_random_matrices() -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        a = rng.integers(-3, 4, size=(6, 5)) @ rng.integers(-3, 4, size=(5, 7))
        a[:, 0] = a[:, 1] * 2 - a[:, 2]
        assert rank_mod_p(a, PRIMES[0]) == sympy.Matrix(a.tolist()).rank()


def test_tied_subspace_verdict_when_the_tangent_space_is_T() -> None:
    m = measure_variety(NetworkSpec.parse("S3 [quadratic free -> 2, quadratic free -> 3]"), search=False)
    assert m.tangent_dim == m.tied_dim
    assert m.verdict == "near generic tied points the variety is the tied subspace"
    assert all(pt.residual_zero for pt in m.points)


def test_found_point_outside_T_is_equivariant_on_the_whole_group() -> None:
    spec = NetworkSpec.parse("S3 [quadratic free -> 3, quadratic free -> invariant]")
    m = measure_variety(spec, seed=1)
    assert m.tangent_dim > m.tied_dim and m.search is not None and m.search.found
    assert m.search.distance_to_tied > 1e-3
    problem = VarietyProblem(spec)
    weights = problem.embedding_float @ m.search.theta
    rng = np.random.default_rng(11)
    x = rng.standard_normal((20, 3))
    sigmas = groups.random_group_elements(3, spec.group_generators, 12, rng)
    for sigma in sigmas:
        np.testing.assert_allclose(
            evaluate_network(spec, weights, x[:, sigma]),
            evaluate_network(spec, weights, x),
            atol=1e-10 * np.abs(evaluate_network(spec, weights, x)).max(),
        )
    # the first layer alone is not equivariant (σ acting on its 3 outputs as on V)
    first = NetworkSpec(n=3, layers=(NetworkLayer(degree=2, width=3),))
    h = evaluate_network(first, weights[: first.num_weights], x)
    errors = [
        np.abs(evaluate_network(first, weights[: first.num_weights], x[:, s]) - h[:, s]).max() for s in sigmas
    ]
    assert max(errors) > 1e-3
    assert m.search.layers_equivariant == [False, False]
    assert m.search.new_function is False  # a gauge transform of a tied network


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_search_converges_at_singular_tied_points(seed: int) -> None:
    """Hidden width 3 on S4: the tied hidden units are linearly dependent (all linear invariants are
    multiples of Σxᵢ), a singular point of V with tangent dim 30 ≫ dim T 9; undamped Gauss–Newton
    from one start point did not converge there.  The found point must satisfy the equations on
    random elements of the whole group (checked here numerically, not by the search's own residual)."""
    spec = NetworkSpec.parse("S4 [linear free -> 3, quadratic free -> 4]")
    problem = VarietyProblem(spec)
    result = search_outside_tied(problem, seed=seed)
    assert result.found and result.distance_to_tied > 1e-3, result.message
    weights = problem.embedding_float @ result.theta
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 4))
    y = evaluate_network(spec, weights, x)
    for sigma in groups.random_group_elements(4, spec.group_generators, 12, rng):
        np.testing.assert_allclose(evaluate_network(spec, weights, x[:, sigma]), y[:, sigma],
                                   atol=1e-9 * np.abs(y).max())


# ---------------------------------------------------------------------- CLI


def test_cli_compose_reports_counts_in_text_and_json() -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["compose", "-n", "3", "--layers", "2:free:3,2:free:invariant", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (
        data["weights"] == 24
        and data["spec"]["label"] == "S3 [quadratic free -> 3, quadratic free -> invariant]"
    )
    assert sum(data["equations_by_degree"].values()) == data["equations"] > 0
    assert data["variety"]["tied_dim"] <= data["variety"]["tangent_dim"]
    text = runner.invoke(cli, ["compose", "--spec", "S2 [linear free -> 2, linear free -> invariant]"])
    assert text.exit_code == 0 and "w1_0_0·w2_0 + w1_1_0·w2_1 = w1_0_1·w2_0 + w1_1_1·w2_1" in text.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-n", "3", "--layers", "2:free:invariant,2:free:3"], "invariant but 1 more layer"),
        (["-n", "3", "--layers", "2:free:9:bias,2:free:9:bias,2:free:3:bias"], "would expand to about"),
        (["-n", "3", "--layers", "2:tied:2,2:free:3"], "tied layer 1 has width 2"),
        (["-n", "3", "--layers", "2:free"], "DEGREE:tied|free:WIDTH"),
        (["--layers", "2:free:3"], "give -n and --layers"),
    ],
)
def test_cli_compose_bad_input_exits_2_with_one_error_line(args: list[str], fragment: str) -> None:
    result = CliRunner().invoke(cli, ["compose", *args])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and fragment in errors[0]
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------- training inside V


def test_training_three_ways_keeps_tied_and_projected_runs_equivariant() -> None:
    from polyequiv.compose.training import compare_methods

    spec = NetworkSpec.parse("S3 [quadratic free -> 3, linear free -> invariant]")
    runs = {run.method: run for run in compare_methods(spec, "sum-of-squares", steps=60, samples=128)}
    assert set(runs) == {"tied", "penalty", "projected"}
    assert runs["tied"].trained_parameters == NetworkParameters(spec).tied_dim
    assert runs["projected"].trained_parameters == runs["penalty"].trained_parameters == spec.num_weights
    # the tied run is equivariant by construction, the projected one by retraction onto V
    assert runs["tied"].equivariance_residual < 1e-10
    assert runs["projected"].equivariance_residual < 1e-8 and runs["projected"].equation_residual < 1e-10
    # Σ x_i² is in the function space: training lowers the loss from the tied start
    start = compare_methods(spec, "sum-of-squares", steps=1, samples=128)[0]
    assert runs["tied"].train_mse < start.train_mse


def test_training_refuses_a_task_of_the_other_kind() -> None:
    from polyequiv.compose.training import train_in_variety

    with pytest.raises(SpecError, match="task 'center' is equivariant, the network is invariant"):
        train_in_variety(NetworkSpec.parse("S3 [linear free -> invariant]"), "center", "tied")


def test_merged_matching_is_refused_over_its_limit_before_sorting(monkeypatch: pytest.MonkeyPatch) -> None:
    from polyequiv.compose import expansion as module

    monkeypatch.setattr(module, "MAX_MERGE_TERMS", 10)
    tied = expand_network(NetworkSpec.parse("S3 [quadratic tied -> 3, quadratic free -> invariant]"))
    read = 2 * 2 * tied.num_terms  # two generators, both sides of each equation
    with pytest.raises(SizeLimitError, match=f"would sort about {read:,} terms") as caught:
        network_constraints(tied)
    assert caught.value.estimate == read
    # free first and last layers need no sorting: the same limit does not apply
    free = expand_network(NetworkSpec.parse("S3 [quadratic free -> 3, quadratic free -> invariant]"))
    assert len(network_constraints(free).equations) > 0
