"""The packed block expansion against FLINT term by term, and its pieces against brute force.

Independent paths: FLINT ``fmpz_mpoly`` products and sums (``expand_network_flint``), Python
dictionaries for merging and multinomials, ``itertools`` for multisets.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from polyequiv.compose import NetworkSpec, block_expansion, packed
from polyequiv.compose.block_expansion import coefficient_dtype, coefficient_sum_bound
from polyequiv.compose.expansion import expand_network, expand_network_flint
from polyequiv.compose.packed import MonomialPacking, has_repeated_rows, merge_terms
from polyequiv.compose.parameters import NetworkParameters
from polyequiv.errors import SpecError

NETWORKS = [
    "S3 [quadratic free -> 3, quadratic free -> 3]",  # no bias
    "S3 [quadratic free +bias -> 3, quadratic free +bias -> invariant]",  # bias, invariant output
    "S2 [quadratic free +bias -> 2, quadratic free +bias -> 2, quadratic free +bias -> 2]",  # three layers
    "S3 [quadratic tied +bias -> 3, quadratic tied +bias -> 3]",  # tied: class parameters repeat
    "S3 [quadratic free +bias -> 3, quadratic tied +bias -> 3, linear free -> 3]",  # tied in the middle
    "S3 [linear tied -> 3, cubic tied +bias -> invariant]",
    "S3 [quadratic tied +bias -> 1, cubic free +bias -> 3]",  # tied to one unit, then width 1 read
    "S4 [cubic free +bias -> 2, quadratic free full +bias -> 4]",  # full indexing, hidden width ≠ n
    "S3 [linear tied full -> 3, quadratic free full -> invariant]",  # full indexing, tied (equalities)
    "C4 [cubic tied +bias -> 1, quadratic free +bias -> 4]",  # cyclic group
    "S2 [quintic free +bias -> 1, quadratic free -> 2]",  # high powers of one unit
    "S2 [linear free -> 1, cubic free +bias -> 1, cubic free -> invariant]",  # width-1 chain
]


def assert_same_as_flint(text: str) -> None:
    spec = NetworkSpec.parse(text)
    new, old = expand_network(spec), expand_network_flint(spec)
    assert new.num_outputs == len(old.outputs)
    for k in range(new.num_outputs):
        got = new.term_dict(k)
        assert len(got) == len(new.terms[k])  # keys pairwise distinct
        assert got == old.term_dict(k)
    assert new.num_terms == old.num_terms


@pytest.mark.parametrize("text", NETWORKS)
def test_block_expansion_equals_flint_term_by_term(text: str) -> None:
    assert_same_as_flint(text)


def random_networks(count: int, seed: int) -> list[str]:
    """Small random networks: groups, degrees, widths, tied/free, bias, ordered/full indexing."""
    rng = np.random.default_rng(seed)
    names = {1: "linear", 2: "quadratic", 3: "cubic"}
    found: list[str] = []
    while len(found) < count:
        n = int(rng.integers(2, 5))
        group = str(rng.choice([f"S{n}", f"C{n}", "D4" if n == 4 else f"S{n}"]))
        depth = int(rng.integers(1, 4))
        layers = []
        for number in range(depth):
            last = number == depth - 1
            tied = bool(rng.random() < 0.4)
            width = (
                str(rng.choice([str(n), "invariant"]))
                if last
                else str(rng.choice([str(n), "1"] if tied else [str(n), "1", "2"]))
            )
            words = [names[int(rng.integers(1, 4))], "tied" if tied else "free"]
            if rng.random() < 0.25:
                words.append("full")
            if rng.random() < 0.5:
                words.append("+bias")
            layers.append(" ".join(words) + f" -> {width}")
        try:
            spec = NetworkSpec.parse(f"{group} [{', '.join(layers)}]")
            parameters = NetworkParameters(spec)
            if spec.estimate_terms() > 3000 or any(
                layer.tied and not parameters.equalities_only(i) for i, layer in enumerate(spec.layers)
            ):
                continue
        except SpecError:
            continue
        found.append(str(spec))
    return found


@pytest.mark.parametrize("text", random_networks(24, seed=9))
def test_random_networks_equal_flint_term_by_term(text: str) -> None:
    assert_same_as_flint(text)


def test_additive_ties_are_refused_by_both_paths() -> None:
    spec = NetworkSpec.parse("S3 [linear tied full -> 3, quadratic tied full +bias -> invariant]")
    for expand in (expand_network, expand_network_flint):
        with pytest.raises(SpecError, match="additive ties"):
            expand(spec)


def test_lazy_flint_outputs_equal_the_flint_path() -> None:
    spec = NetworkSpec.parse("S3 [quadratic tied +bias -> 3, linear free -> invariant]")
    new, old = expand_network(spec), expand_network_flint(spec)
    assert new.outputs == old.outputs
    assert str(new.context) == str(old.context)


@pytest.mark.parametrize("limits", [(0, 2**63 - 1), (0, 0)])
def test_wider_coefficient_types_give_the_same_expansion(monkeypatch, limits) -> None:
    monkeypatch.setattr(block_expansion, "INT32_COEFFICIENT_LIMIT", limits[0])
    monkeypatch.setattr(block_expansion, "INT64_COEFFICIENT_LIMIT", limits[1])
    for text in NETWORKS[1:5]:
        expansion = expand_network(NetworkSpec.parse(text))
        expected = np.int64 if limits[1] else object
        assert all(p.coeffs.dtype == expected for p in expansion.terms)
        assert_same_as_flint(text)


def test_coefficient_dtype_thresholds() -> None:
    assert coefficient_dtype(2**31 - 1) is np.int32
    assert coefficient_dtype(2**31) is np.int64
    assert coefficient_dtype(2**63) is object


@pytest.mark.parametrize("text", NETWORKS[:6])
def test_coefficient_sum_bound_is_the_largest_output_coefficient_sum(text: str) -> None:
    old = expand_network_flint(NetworkSpec.parse(text))
    sums = [sum(old.term_dict(k).values()) for k in range(len(old.outputs))]
    assert coefficient_sum_bound(old.spec) == max(sums)


def test_free_layers_never_compare_terms_and_tied_layers_merge(monkeypatch) -> None:
    calls: list[int] = []

    def counting_merge(keys, coeffs):
        calls.append(len(keys))
        return merge_terms(keys, coeffs)

    monkeypatch.setattr(block_expansion, "merge_terms", counting_merge)
    expand_network(
        NetworkSpec.parse("S3 [quadratic free +bias -> 3, quadratic free +bias -> 3, linear free -> 3]")
    )
    assert calls == []
    expand_network(NetworkSpec.parse("S3 [quadratic tied +bias -> 3, quadratic free -> 3]"))
    assert calls


@pytest.mark.slow
@pytest.mark.parametrize(
    "text",
    [
        "S3 [quadratic free -> 3, quadratic free -> 3, quadratic free -> 3]",  # 243,243 terms
        "S3 [quadratic free +bias -> 3, quadratic free +bias -> 3, quadratic free +bias -> 3]",  # 2,000,325
    ],
)
def test_benchmark_networks_equal_flint_term_by_term(text: str) -> None:
    assert_same_as_flint(text)


# ---------------------------------------------------------------------- packed keys


def test_packing_round_trips_and_adds_exponents() -> None:
    rng = np.random.default_rng(0)
    bounds = tuple(int(b) for b in rng.integers(0, 9, size=70))
    packing = MonomialPacking(bounds)
    bits = sum(math.log2(b + 1) for b in bounds)
    assert math.ceil(bits / 64) <= packing.num_words <= math.ceil(bits / 64) + 1
    top = np.array(bounds)
    a = rng.integers(0, top + 1, size=(200, len(bounds)))
    b = (rng.random((200, len(bounds))) * (top - a + 1)).astype(np.int64)  # a + b within the bounds
    assert np.array_equal(packing.decode(packing.encode(a)), a)
    assert np.array_equal(packing.decode(packing.encode(a) + packing.encode(b)), a + b)
    # equal keys exactly for equal exponent rows
    keys = packing.encode(np.vstack([a, a[:5]]))
    assert has_repeated_rows(keys)
    assert not has_repeated_rows(packing.encode(np.unique(a, axis=0)))


def test_packing_word_counts_and_bad_bounds() -> None:
    assert MonomialPacking((1,) * 64).num_words == 1
    assert MonomialPacking((1,) * 65).num_words == 2
    assert MonomialPacking((2**64 - 2,)).num_words == 1
    with pytest.raises(ValueError, match="bound"):
        MonomialPacking((2**64 - 1,))
    with pytest.raises(ValueError, match="outside its bound"):
        MonomialPacking((1, 1)).encode(np.array([[2, 0]]))


@pytest.mark.parametrize("dtype", [np.int64, object])
def test_merge_terms_equals_a_dictionary_merge(dtype) -> None:
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 4, size=(300, 3)).astype(np.uint64)
    coeffs = rng.integers(-3, 4, size=300).astype(dtype)
    expected: Counter = Counter()
    for row, c in zip(map(tuple, keys.tolist()), coeffs.tolist(), strict=True):
        expected[row] += c
    merged_keys, merged = merge_terms(keys, coeffs)
    got = {tuple(row): int(c) for row, c in zip(merged_keys.tolist(), merged.tolist(), strict=True)}
    assert got == {row: c for row, c in expected.items() if c}
    assert len(got) == len(merged)  # distinct keys, zero sums dropped


@pytest.mark.parametrize(("size", "m"), [(1, 1), (4, 3), (7, 2), (3, 5), (2, 22)])
def test_multisets_and_multinomials_equal_itertools(size: int, m: int) -> None:
    rows, multinomial = block_expansion._multisets(size, m)
    expected = list(itertools.combinations_with_replacement(range(size), m))
    assert [tuple(r) for r in rows.tolist()] == expected
    counts = [
        math.factorial(m) // math.prod(math.factorial(c) for c in Counter(r).values()) for r in expected
    ]
    assert [int(v) for v in multinomial.tolist()] == counts


def test_packed_module_doctest_example() -> None:
    packing = packed.MonomialPacking((2, 1))
    assert packing.num_words == 1
    assert packing.unit_keys.tolist() == [[1], [3]]


@pytest.mark.parametrize("dtype", [np.int32, np.int64, object])
def test_choices_expand_products_of_items_like_brute_force(dtype) -> None:
    """``M(S)``'s choices (μ, count, U) summed equal the product of the items' sums expanded by hand,
    with repeated parameters and multiplicities > 1 (a tied layer's classes)."""
    packing = MonomialPacking((4, 4, 4))
    outputs = [
        block_expansion._Items(np.array([0, 1, 0]), np.array([[1, 0], [0, 2], [1, 1]]), np.array([1, 2, 3])),
        block_expansion._Items(np.array([2, 0]), np.array([[0, 1], [2, 0]]), np.array([1, 1])),
    ]
    for multiset in [(2, 0), (1, 1), (3, 1), (0, 0)]:
        choices = block_expansion._choices(multiset, outputs, packing.unit_keys, dtype, 2)
        got: Counter = Counter()
        for mu, count, lower in zip(
            packing.decode(choices.keys).tolist(),
            choices.counts.tolist(),
            choices.lower.tolist(),
            strict=True,
        ):
            got[(tuple(mu), tuple(lower))] += int(count)
        # brute force: ordered choices of one item per factor
        factors = [k for k, m in enumerate(multiset) for _ in range(m)]
        expected: Counter = Counter()
        for picks in itertools.product(*[range(len(outputs[k].params)) for k in factors]):
            mu, lower, count = [0, 0, 0], [0, 0], 1
            for k, i in zip(factors, picks, strict=True):
                mu[int(outputs[k].params[i])] += 1
                lower = [a + int(b) for a, b in zip(lower, outputs[k].counts[i], strict=True)]
                count *= int(outputs[k].multiplicity[i])
            expected[(tuple(mu), tuple(lower))] += count
        assert got == expected


@pytest.mark.parametrize("words", [1, 3])
def test_repeated_rows_marks_exactly_the_rows_with_a_twin(words: int) -> None:
    keys = np.random.default_rng(words).integers(0, 3, size=(60, words)).astype(np.uint64)
    counts = Counter(map(tuple, keys.tolist()))
    expected = [counts[tuple(row)] > 1 for row in keys.tolist()]
    assert packed.repeated_rows(keys).tolist() == expected
    assert packed.repeated_rows(keys[:1]).tolist() == [False]
