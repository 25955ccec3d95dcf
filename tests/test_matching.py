"""Packed coefficient matching and the exported expansion, against brute force written here.

Independent paths: the outputs as Python dictionaries (``term_dict``, checked against FLINT in
test_block_expansion), grouped by monomial and matched with dictionaries in this file; sympy
for the exported script; ``sorted`` for the canonical order.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
import sympy
from click.testing import CliRunner

from polyequiv.compose import NetworkSpec, expand_network, network_constraints
from polyequiv.compose.export import FORMATS, expansion_chunks
from polyequiv.compose.matching import canonical_order, match_coefficients, sparse_rows
from polyequiv_cli.main import cli

NETWORKS = [
    "S3 [quadratic free +bias -> 3, quadratic free +bias -> 3]",  # disjoint, equivariant, bias
    "S3 [quadratic free -> 2, linear free +bias -> invariant]",  # disjoint, invariant
    "S2 [quadratic free full -> 2, linear free -> invariant]",  # full indexing
    "S3 [quadratic tied -> 3, linear free -> 3]",  # tied first layer: merge
    "S3 [linear free -> 3, quadratic tied +bias -> 3]",  # tied last layer: merge
    "S3 [quadratic tied +bias -> 3, quadratic tied -> 3]",  # all tied: no equations
    "C4 [linear free +bias -> 2, quadratic free -> 4]",  # cyclic group
    "S3 [linear tied -> 3, quadratic free +bias -> 1, linear free -> invariant]",  # three layers
    "D4 [quadratic free -> 1, linear tied -> 4]",
    "S3 [quadratic free +bias -> 3, quadratic tied +bias -> 3, linear free -> 3]",  # tied middle: disjoint
]


def brute_equations(spec: NetworkSpec) -> list[tuple[int, int, tuple[int, ...], tuple]]:
    """Coefficient matching with dictionaries: (generator, output, β, terms up to sign), first kept."""
    expansion = expand_network(spec)
    params = expansion.num_params
    grouped = []
    for k in range(expansion.num_outputs):
        coefficients: dict[tuple[int, ...], dict[tuple[int, ...], int]] = defaultdict(dict)
        for exponents, value in expansion.term_dict(k).items():
            sparse = tuple((j, e) for j, e in enumerate(exponents[:params]) if e)
            coefficients[exponents[params:]][sparse] = value
        grouped.append(coefficients)
    found, seen = [], set()
    for g, sigma in enumerate(spec.group_generators):
        for k, own in enumerate(grouped):
            target = sigma[k] if spec.equivariant else k
            moved = {tuple(alpha[sigma.index(j)] for j in range(spec.n)) for alpha in own}
            for beta in sorted(moved | set(grouped[target])):
                alpha = tuple(beta[sigma[i]] for i in range(spec.n))
                difference = dict(own.get(alpha, {}))
                for key, value in grouped[target].get(beta, {}).items():
                    difference[key] = difference.get(key, 0) - value
                terms = tuple(sorted((key, v) for key, v in difference.items() if v))
                if not terms:
                    continue
                if terms[0][1] < 0:
                    terms = tuple((key, -v) for key, v in terms)
                if terms not in seen:
                    seen.add(terms)
                    found.append((g, k, beta, terms))
    return found


def dense(key: tuple[tuple[int, int], ...], size: int) -> tuple[int, ...]:
    row = [0] * size
    for j, e in key:
        row[j] = e
    return tuple(row)


def library_equations(spec: NetworkSpec, method: str) -> list[tuple[int, int, tuple[int, ...], tuple]]:
    constraints = network_constraints(expand_network(spec), method)
    return [(e.generator, e.output, e.monomial, e.polynomial) for e in constraints.equations]


@pytest.mark.parametrize("text", NETWORKS)
def test_packed_matching_equals_dictionary_matching(text: str) -> None:
    spec = NetworkSpec.parse(text)
    expected = brute_equations(spec)
    methods = ["merge"] + (["disjoint"] if not spec.layers[0].tied and not spec.layers[-1].tied else [])
    for method in methods:
        assert library_equations(spec, method) == expected, method
    constraints = network_constraints(expand_network(spec))
    degrees = [max(sum(e for _, e in key) for key, _ in terms) for *_, terms in expected]
    assert constraints.by_degree() == {d: degrees.count(d) for d in sorted(set(degrees))}
    assert constraints.num_equation_terms == sum(len(terms) for *_, terms in expected)


@pytest.mark.parametrize("dtype", ["int64", "object"])
def test_wide_coefficients_match_the_same(monkeypatch: pytest.MonkeyPatch, dtype: str) -> None:
    """int64 and Python-int coefficients (chosen for large coefficient sums) give the same equations."""
    from polyequiv.compose import block_expansion

    monkeypatch.setattr(block_expansion, "INT32_COEFFICIENT_LIMIT", 0)
    if dtype == "object":
        monkeypatch.setattr(block_expansion, "INT64_COEFFICIENT_LIMIT", 0)
    for text in (NETWORKS[0], NETWORKS[3]):
        spec = NetworkSpec.parse(text)
        assert expand_network(spec).terms[0].coeffs.dtype == np.dtype(dtype)
        expected = brute_equations(spec)
        for method in ("merge", "auto"):
            assert library_equations(spec, method) == expected


def test_disjoint_matching_is_refused_where_coefficients_may_overlap() -> None:
    tied = expand_network(NetworkSpec.parse("S3 [quadratic tied -> 3, linear free -> 3]"))
    with pytest.raises(ValueError, match="first and last layers are free"):
        match_coefficients(tied, "disjoint")
    with pytest.raises(ValueError, match="unknown matching method 'fast'"):
        match_coefficients(tied, "fast")


def test_coefficient_table_counts_degrees_and_images() -> None:
    spec = NetworkSpec.parse("S3 [quadratic free +bias -> 2, quadratic free +bias -> 3]")
    expansion = expand_network(spec)
    table = expansion.coefficient_table
    params = expansion.num_params
    monomials = [tuple(m) for m in table.monomials.tolist()]
    assert monomials == sorted(monomials)
    for k in range(expansion.num_outputs):
        counts: dict[tuple[int, ...], int] = defaultdict(int)
        degree: dict[tuple[int, ...], int] = defaultdict(lambda: -1)
        for exponents in expansion.term_dict(k):
            alpha = exponents[params:]
            counts[alpha] += 1
            degree[alpha] = max(degree[alpha], sum(exponents[:params]))
        assert {m: int(c) for m, c in zip(monomials, table.counts[k], strict=True) if c} == dict(counts)
        assert [degree[m] for m in monomials] == table.max_degree[k].tolist()
    for g, sigma in enumerate(spec.group_generators):
        for m, alpha in enumerate(monomials):
            image = [0] * spec.n
            for i, a in enumerate(alpha):
                image[sigma[i]] = a
            assert monomials[table.images[g, m]] == tuple(image)
    assert (
        table.num_coefficients
        == expansion.num_coefficients
        == sum(len(expansion.coefficients(k)) for k in range(expansion.num_outputs))
    )


def test_canonical_order_is_sorted_on_sparse_keys() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        size, rows = int(rng.integers(1, 9)), int(rng.integers(1, 50))
        exponents = rng.integers(0, 4, size=(rows, size)) * (rng.random((rows, size)) < 0.4)
        exponents = np.unique(exponents, axis=0)
        rng.shuffle(exponents)
        keys = sparse_rows(exponents)
        assert [keys[i] for i in canonical_order(exponents)] == sorted(keys)


@pytest.mark.parametrize("text", NETWORKS[:5])
def test_equation_text_from_arrays_equals_the_equations_text(text: str) -> None:
    listed = network_constraints(expand_network(NetworkSpec.parse(text))).equations
    for i in range(len(listed)):
        assert listed.text(i) == str(listed[i])
        assert listed.text(i, latex=True) == listed[i].latex()


def test_abbreviated_equations_show_the_first_terms_and_count_the_rest() -> None:
    constraints = network_constraints(expand_network(NetworkSpec.parse(NETWORKS[0])))
    for i in range(len(constraints.equations)):
        full = constraints.equations[i]
        short = constraints.equations.abbreviated(i, 2)
        assert short == full.abbreviated(2)
        left = [v for _, v in full.polynomial if v > 0]
        if len(left) > 2:
            assert f"… ({len(left) - 2:,} more terms)" in short.split(" = ")[0]
        else:
            assert short.split(" = ")[0] == str(full).split(" = ")[0]


@pytest.mark.slow
def test_seed_network_disjoint_matching_equals_merging() -> None:
    """The seed's three biased quadratic layers: 2,000,325 terms, 470 equations both ways."""
    text = ", ".join(["quadratic free +bias -> 3"] * 3)
    expansion = expand_network(NetworkSpec.parse(f"S3 [{text}]"))
    fast, merged = (match_coefficients(expansion, m) for m in ("disjoint", "merge"))
    assert len(fast) == len(merged) == 470
    for name in ("generator", "output", "monomial", "degree", "size"):
        assert np.array_equal(getattr(fast, name), getattr(merged, name)), name
    for i in range(0, 470, 47):
        (a, ca), (b, cb) = fast.terms(i), merged.terms(i)
        oa, ob = canonical_order(a), canonical_order(b)
        sa, sb = np.sign(ca[oa][0]), np.sign(cb[ob][0])
        assert np.array_equal(a[oa], b[ob]) and np.array_equal(sa * ca[oa], sb * cb[ob])


def test_equations_need_neither_scipy_nor_flint() -> None:
    """The whole-process time of the seed's equations depends on it (scipy alone is ~0.25 s)."""
    import subprocess
    import sys

    code = (
        "import sys; from polyequiv.compose import NetworkSpec, expand_network, network_constraints; "
        "c = network_constraints(expand_network(NetworkSpec.parse('S3 [quadratic free +bias -> 3, "
        "quadratic free -> invariant]'))); "
        "print(len(c.equations), 'scipy' in sys.modules, 'flint' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = done.stdout.split()
    assert int(out[0]) > 0 and out[1:] == ["False", "False"]


# ---------------------------------------------------------------------- export


def test_json_export_holds_every_term_exactly() -> None:
    expansion = expand_network(NetworkSpec.parse("S3 [quadratic free +bias -> 2, linear tied -> 3]"))
    data = json.loads("".join(expansion_chunks(expansion, "json")))
    assert data["format"] == "polyequiv-expansion" and data["terms"] == expansion.num_terms
    assert len(data["parameters"]) == expansion.num_params and data["inputs"] == ["x_0", "x_1", "x_2"]
    for k, output in enumerate(data["outputs"]):
        rebuilt = {}
        for coefficient in output["coefficients"]:
            alpha = tuple(coefficient["monomial"])
            for key, value in coefficient["terms"]:
                rebuilt[dense(tuple(map(tuple, key)), expansion.num_params) + alpha] = value
        assert output["output"] == k and rebuilt == expansion.term_dict(k)


def test_sympy_export_evaluates_to_the_network() -> None:
    spec = NetworkSpec.parse("S2 [quadratic free +bias -> 2, quadratic free -> invariant]")
    expansion = expand_network(spec)
    namespace: dict = {}
    exec("".join(expansion_chunks(expansion, "sympy")), namespace)
    (y,) = namespace["y"]
    rng = np.random.default_rng(0)
    names = [expansion.parameters.param_name(j) for j in range(expansion.num_params)]
    weights = [sympy.Integer(int(v)) for v in rng.integers(-5, 6, size=len(names))]
    x = [sympy.Integer(int(v)) for v in rng.integers(-4, 5, size=spec.n)]
    value = y.subs(
        {
            **{namespace[n]: w for n, w in zip(names, weights, strict=True)},
            **{namespace[f"x_{i}"]: x[i] for i in range(spec.n)},
        }
    )
    # the network written out in the test: h = W1·(x, 1) quadratic, y = quadratic form of h
    inputs = [*x, sympy.Integer(1)]
    pairs = [(i, j) for i in range(3) for j in range(i, 3)]
    h = [sum(weights[k * 6 + p] * inputs[i] * inputs[j] for p, (i, j) in enumerate(pairs)) for k in range(2)]
    out_pairs = [(0, 0), (0, 1), (1, 1)]
    expected = sum(weights[12 + p] * h[i] * h[j] for p, (i, j) in enumerate(out_pairs))
    assert value == expected


def test_text_and_latex_exports_group_one_coefficient_per_monomial() -> None:
    expansion = expand_network(NetworkSpec.parse("S2 [linear free +bias -> 2, quadratic free -> 2]"))
    text = "".join(expansion_chunks(expansion, "text"))
    assert text.count("{") == expansion.num_coefficients
    assert text.splitlines()[0].startswith("y_0 = {") and "+ {" in text and "}·x_0·x_1" in text
    latex = "".join(expansion_chunks(expansion, "latex"))
    assert latex.count("\\left(") == latex.count("\\right)") == expansion.num_coefficients
    assert latex.count("{") == latex.count("}") and "}^{2}" in latex and "^{2}^" not in latex
    with pytest.raises(ValueError, match="unknown expansion format 'xml'"):
        expansion_chunks(expansion, "xml")


@pytest.mark.parametrize("output_format", FORMATS)
def test_cli_expand_only_prints_or_writes_each_format(output_format: str, tmp_path) -> None:
    args = [
        "compose",
        "--spec",
        "S2 [linear free +bias -> 2, linear free -> 2]",
        "--expand-only",
        "--format",
        output_format,
    ]
    printed = CliRunner().invoke(cli, args)
    assert printed.exit_code == 0, printed.output
    target = tmp_path / "y.out"
    written = CliRunner().invoke(cli, [*args, "-o", str(target)])
    assert written.exit_code == 0 and target.read_text() == printed.output
    if output_format == "json":
        assert json.loads(printed.output)["terms"] == 12


def test_cli_equations_report_abbreviates_the_sample_and_writes_files(tmp_path) -> None:
    spec = "S3 [quadratic free +bias -> 3, quadratic free +bias -> 3]"
    result = CliRunner().invoke(cli, ["compose", "--spec", spec, "--no-variety"])
    assert result.exit_code == 0 and "more terms)" in result.output
    assert "(use --show-constraints)" in result.output
    target = tmp_path / "report.json"
    args = ["compose", "--spec", spec, "--no-variety", "--format", "json", "-o", str(target)]
    result = CliRunner().invoke(cli, args)
    data = json.loads(target.read_text())
    expected = len(network_constraints(expand_network(NetworkSpec.parse(spec))).equations)
    assert result.exit_code == 0 and data["equations"] == expected > 10 and data["matching"] == "disjoint"
    assert len(data["equations_shown"]) == 10 and "more terms" not in data["equations_shown"][0]


@pytest.mark.parametrize(
    ("n", "x_degree", "bounds"),
    [(3, 4, (2, 1, 1, 3)), (2, 2, (1,) * 70), (3, 2**21, (1, 2, 1))],  # the last: the head spans words
)
def test_layout_heads_and_parameter_keys_against_decoding(n: int, x_degree: int, bounds: tuple) -> None:
    from polyequiv.compose.layout import ExpansionLayout

    layout = ExpansionLayout(n, x_degree, bounds, sum(bounds))
    rng = np.random.default_rng(7)
    params = np.column_stack([rng.integers(0, b + 1, size=300) for b in bounds])
    xs = rng.integers(0, x_degree + 1, size=(300, n))
    keys = params.astype(np.uint64) @ layout.param_units + xs.astype(np.uint64) @ layout.x_units
    assert np.array_equal(layout.decode(keys), np.concatenate([params, xs], axis=1))
    codes, degrees = layout.head(keys)
    assert np.array_equal(codes, layout.codes(xs)) and np.array_equal(degrees, params.sum(axis=1))
    assert np.array_equal(layout.exponents_of_codes(codes), xs)
    order = np.argsort(codes, kind="stable")
    assert [tuple(r) for r in xs[order]] == sorted(tuple(r) for r in xs)  # codes order like sorted()
    pkeys = layout.parameter_keys(keys)
    same = (pkeys[:, None, :] == pkeys[None, :, :]).all(axis=2)
    assert np.array_equal(same, (params[:, None, :] == params[None, :, :]).all(axis=2))
    assert layout.head_in_word0 == (x_degree < 2**20)
