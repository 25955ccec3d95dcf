"""Set tasks: the lab's digit-sum layout, the targets' formulas, symmetry, sizes and seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyequiv.tasks import TASKS, TaskError, make_task, sets


def test_digit_sum_follows_the_lab_layout() -> None:
    task = make_task("digit-sum", seed=0, quick=True)
    train = task.train
    assert train.values.shape == (5_000, 10) and train.values.dtype == np.int64
    cardinalities = train.cardinalities
    assert cardinalities.min() == 1 and cardinalities.max() == 10
    # digits 1..10 on the right, zeros (padding) on the left, mask exactly where the digits are
    assert set(np.unique(train.values[train.mask])) == set(range(1, 11))
    assert (train.values[~train.mask] == 0).all()
    assert (train.mask == (train.values != 0)).all()
    assert (np.diff(train.mask.astype(int), axis=1) >= 0).all(), "padding must be on the left"
    assert (train.targets == train.values.sum(axis=1)).all()
    for c, split in task.test.items():
        assert split.values.shape == (500, c) and split.mask.all()
        assert (split.targets == split.values.sum(axis=1)).all()


def test_digit_sum_full_sizes_are_the_labs() -> None:
    sizes = TASKS["digit-sum"].full
    assert (sizes.train, sizes.test, sizes.min_train, sizes.max_train) == (100_000, 10_000, 1, 10)
    assert sizes.cardinalities == tuple(range(5, 101, 5))
    real = TASKS["real-sum"].full
    assert (real.train, real.valid, real.test, real.cardinalities) == (8_000, 1_000, 1_000, (10,))


def test_cardinalities_and_digits_are_uniform() -> None:
    train = make_task("digit-sum", seed=1, train=50_000, test=1, cardinalities=[5]).train
    counts = np.bincount(train.cardinalities, minlength=11)[1:]
    assert counts.min() > 4_500 and counts.max() < 5_500
    digits = np.bincount(train.values[train.mask], minlength=11)[1:]
    assert digits.min() > 0.9 * digits.mean() and digits.max() < 1.1 * digits.mean()


def _brute(name: str, x: list[float]) -> float | list[float]:
    n, total = len(x), sum(x)
    return {
        "real-sum": total,
        "sum-of-squares": sum(v * v for v in x),
        "square-of-sum": total * total,
        "pairwise-products": sum(a * b for a, b in itertools.combinations(x, 2)),
        "center": [v - total / n for v in x],
        "times-sum": [v * total for v in x],
        "two-sets": [v - sum(x[: n // 2]) / (n // 2) for v in x[: n // 2]]
        + [sum(x[n // 2:]) / (n - n // 2)] * (n - n // 2),
    }[name]


@pytest.mark.parametrize("name", ["real-sum", "sum-of-squares", "square-of-sum", "pairwise-products",
                                  "center", "times-sum", "two-sets"])
def test_targets_match_their_formulas(name: str) -> None:
    task = make_task(name, seed=2, train=30, valid=0, test=3, cardinalities=[4, 7])
    for split in [task.train, *task.test.values()]:
        for values, mask, target in zip(split.values, split.mask, split.targets, strict=True):
            x = [float(v) for v in values[mask]]
            expected = _brute(name, x)
            got = target[mask] if task.equivariant else target
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
            if task.equivariant:
                assert (target[~mask] == 0).all()


@pytest.mark.parametrize("name", list(sets.TASKS))
def test_targets_respect_the_symmetry(name: str) -> None:
    """Invariant targets do not move under a permutation of the elements; equivariant ones move with it.
    A task of ``blocks`` > 1 is only symmetric under permutations inside each block (two-sets: S₃ × S₃
    on 6 elements), and a permutation that mixes the blocks moves its targets."""
    task = make_task(name, seed=3, train=20, valid=0, test=5, cardinalities=[6])
    split = task.test[6]
    rng = np.random.default_rng(0)
    blocks = TASKS[name].blocks
    sigma = np.concatenate([b * (6 // blocks) + rng.permutation(6 // blocks) for b in range(blocks)])
    permuted = TASKS[name].target(split.values[:, sigma], split.mask[:, sigma])
    expected = split.targets[:, sigma] if task.equivariant else split.targets
    np.testing.assert_allclose(permuted, expected, rtol=1e-5, atol=1e-5)
    if blocks > 1:
        mixing = np.array([3, 1, 2, 0, 4, 5])
        moved = TASKS[name].target(split.values[:, mixing], split.mask[:, mixing])
        assert not np.allclose(moved, split.targets[:, mixing], atol=1e-3)


@given(seed=st.integers(0, 2**31), name=st.sampled_from(list(sets.TASKS)))
def test_same_seed_same_arrays_and_splits_are_independent(seed: int, name: str) -> None:
    a = make_task(name, seed=seed, train=16, valid=4, test=3, cardinalities=[2, 12])
    b = make_task(name, seed=seed, train=16, valid=4, test=3, cardinalities=[2, 12])
    c = make_task(name, seed=seed, train=16, valid=4, test=7, cardinalities=[2, 12, 30])
    np.testing.assert_array_equal(a.train.values, b.train.values)
    np.testing.assert_array_equal(a.test[12].targets, b.test[12].targets)
    # more test sets, more cardinalities: the training set is unchanged
    np.testing.assert_array_equal(a.train.values, c.train.values)
    np.testing.assert_array_equal(a.test[12].values, c.test[12].values[:3])


def test_different_seeds_give_different_data() -> None:
    a, b = make_task("real-sum", seed=0, quick=True), make_task("real-sum", seed=1, quick=True)
    assert not np.array_equal(a.train.values, b.train.values)


def test_real_tasks_draw_from_their_interval() -> None:
    task = make_task("sum-of-squares", seed=0, quick=True)
    x = task.train.values[task.train.mask]
    assert x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1 and x.min() < -0.9 and x.max() > 0.9
    assert task.max_cardinality == 100


@pytest.mark.parametrize("kwargs", [{"train": 0}, {"test": 0}, {"valid": -1}, {"cardinalities": [0, 5]},
                                    {"cardinalities": []}, {"seed": -1}])
def test_bad_sizes_are_refused_with_the_value(kwargs: dict) -> None:
    with pytest.raises(TaskError):
        make_task("digit-sum", **kwargs)


def test_unknown_task_names_the_choices() -> None:
    with pytest.raises(TaskError, match="digit-sum"):
        make_task("digit-product")
