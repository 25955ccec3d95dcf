"""Image tasks (seed 003 §3.2) and image models: data, splits, translation invariance, training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sklearn.datasets import load_digits

from polyequiv import groups
from polyequiv.models import ModelContext, ModelError, build_model, model_names
from polyequiv.tasks import TaskError, get_definition, make_task
from polyequiv.tasks.images import digit_split
from polyequiv.training import RunConfig, train
from polyequiv.training.config import ConfigError
from polyequiv_cli.main import cli

IMAGE_MODELS = ["tied-circular-linear", "tied-circular-quadratic", "cnn", "image-mlp", "seed-sharing"]
INVARIANT_MODELS = ["tied-circular-linear", "tied-circular-quadratic"]
TASKS = ["shift-1d", "shift-2d", "shifted-digits"]


def bright(values: np.ndarray) -> np.ndarray:
    """Bright pixels: above the background range [0, 0.3], below the bright range [0.7, 1]."""
    return values > 0.5


# ----------------------------------------------------------------------------- data
@pytest.mark.parametrize("name", TASKS)
def test_tasks_are_deterministic_with_a_seed(name: str) -> None:
    first, again, other = (make_task(name, seed=s, quick=True) for s in (3, 3, 4))
    for split in ("train", "valid"):
        np.testing.assert_array_equal(getattr(first, split).values, getattr(again, split).values)
        np.testing.assert_array_equal(getattr(first, split).targets, getattr(again, split).targets)
    assert not np.array_equal(first.train.values, other.train.values)


@pytest.mark.parametrize(
    ("name", "shape", "classes", "sizes"),
    [
        ("shift-1d", (10, 1), 5, (35_000, 10_000, 5_000)),
        pytest.param("shift-2d", (10, 10), 3, (21_000, 6_000, 3_000), marks=pytest.mark.slow),
    ],
)
def test_seed_sizes_shapes_and_classes(name: str, shape: tuple, classes: int, sizes: tuple) -> None:
    task = make_task(name, seed=0)
    test = task.test[shape[0] * shape[1]]
    assert (len(task.train), len(task.valid), len(test)) == sizes
    assert task.train.values.shape[1:] == shape and task.train.values.dtype == np.float32
    assert task.num_classes == classes and set(np.unique(task.train.targets)) == set(range(classes))
    counts = np.bincount(task.train.targets)
    assert counts.min() > 0.9 * counts.mean()  # uniform labels


def test_shift_1d_classes_are_the_seeds_five_patterns() -> None:
    task = make_task("shift-1d", seed=1, quick=True)
    masks = bright(task.train.values[:, :, 0])
    for mask, label in zip(masks, task.train.targets, strict=True):
        positions = np.nonzero(mask)[0]
        assert len(positions) == label + 1
        gaps = {(b - a) % 10 for a in positions for b in positions if a != b}
        if label in (1, 3):  # consecutive, cyclically: some rotation is a run
            assert any(set(positions) == {(s + i) % 10 for i in range(label + 1)} for s in range(10))
        if label in (2, 4):  # scattered: no two cyclic neighbours
            assert not gaps & {1, 9}


def test_shift_2d_shapes_have_their_pixel_counts() -> None:
    task = make_task("shift-2d", seed=2, quick=True)
    counts = bright(task.train.values).sum(axis=(1, 2))
    allowed = {0: {3, 4, 5, 6}, 1: {6, 9, 12}, 2: {8, 12, 16}}  # segment; 3s − 3; 4(s − 1)
    for count, label in zip(counts, task.train.targets, strict=True):
        assert count in allowed[int(label)]


def test_shifted_digits_are_the_bundled_digits_split_by_original() -> None:
    task = make_task("shifted-digits", seed=0, quick=True)
    split = digit_split()
    sources = {name: set(getattr(task, name).source.tolist()) for name in ("train", "valid")}
    sources["test"] = set(task.test[576].source.tolist())
    for name, seen in sources.items():
        assert seen <= set(split[name].tolist())
    assert not (sources["train"] & sources["test"]) and not (sources["train"] & sources["valid"])
    assert sorted(np.concatenate(list(split.values())).tolist()) == list(range(1797))
    digits = load_digits()
    for row in range(20):  # the original 8x8 image sits somewhere on the zero canvas, unchanged
        image, source = task.train.values[row], task.train.source[row]
        assert task.train.targets[row] == digits.target[source]
        original = digits.images[source] / 16.0
        assert np.isclose(image.sum(), original.sum(), rtol=1e-5)  # nothing else on the canvas
        assert any(
            np.allclose(image[i : i + 8, j : j + 8], original) for i in range(17) for j in range(17)
        )


def test_permuted_images_are_translations_of_the_torus() -> None:
    """ImageBatch.permuted applies σ·x with σ a translation, in the convention of polyequiv.groups."""
    batch = make_task("shift-2d", seed=0, quick=True).train.take(slice(0, 5))
    moved, offsets = batch.permuted(np.random.default_rng(0))
    down, right = (np.array(g) for g in groups.torus_generators((10, 10)))
    for image, shifted, (dr, dc) in zip(batch.values, moved.values, offsets, strict=True):
        sigma = np.arange(100)
        for _ in range(dr):
            sigma = sigma[down]
        for _ in range(dc):
            sigma = sigma[right]
        np.testing.assert_array_equal(shifted.reshape(-1), image.reshape(-1)[sigma])
    np.testing.assert_array_equal(moved.targets, batch.targets)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(TaskError, match="train size must be ≥ 1"):
        make_task("shift-1d", train=0)
    with pytest.raises(TaskError, match="takes no option 'cardinalities'"):
        make_task("shift-1d", cardinalities=[5])
    with pytest.raises(TaskError, match="seed"):
        make_task("shift-2d", seed=-1)


# ----------------------------------------------------------------------------- models
def context(name: str) -> ModelContext:
    return ModelContext.of_definition(get_definition(name))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_models_give_logits_and_only_tied_ones_are_translation_invariant(task: str, name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, context(task)).double()
    images = make_task(task, seed=0, quick=True).valid.take(slice(0, 16))
    moved, _ = images.permuted(np.random.default_rng(1))
    x, y = torch.from_numpy(images.values).double(), torch.from_numpy(moved.values).double()
    with torch.no_grad():
        logits, shifted = model(x, None), model(y, None)
    assert logits.shape == (16, get_definition(task).classes)
    error = float((logits - shifted).abs().max() / logits.abs().max())
    if name in INVARIANT_MODELS:
        assert error < 1e-10
    else:
        assert error > 1e-6  # the baselines see where things are


def test_models_refuse_images_of_another_size_and_other_domains() -> None:
    model = build_model("tied-circular-quadratic", context("shift-2d"))
    with pytest.raises(ModelError, match="10x10"):
        model(torch.rand(2, 12, 12), None)
    for name in IMAGE_MODELS:
        with pytest.raises(ModelError, match="reads images"):
            build_model(name, ModelContext("reals", equivariant=False, max_cardinality=10))
    for name in model_names("sets"):
        with pytest.raises(ModelError, match="reads sets"):
            build_model(name, context("shift-1d"))
    with pytest.raises(ModelError, match="kernel_support 11x1 is larger than the 10x1 grid"):
        build_model("tied-circular-quadratic", context("shift-1d"), kernel_support=11)


@pytest.mark.parametrize("task", ["shift-1d", "shift-2d"])
def test_seed_sharing_weights_tied_by_translation_make_an_invariant_model(task: str) -> None:
    """Averaging W over the joint shifts gives a convolution: residual 0 and translation-invariant logits."""
    torch.manual_seed(0)
    model = build_model("seed-sharing", context(task)).double()
    assert model.diagnostics()["sharing_residual"] > 0.5
    assert float(model.penalty().detach()) > 0
    with torch.no_grad():
        rows, cols = model.translations
        tied = sum(model._shifted(u, v) for u in range(rows) for v in range(cols)) / (rows * cols)
        model.weight.copy_(tied)
    assert model.diagnostics()["sharing_residual"] < 1e-12 and float(model.penalty().detach()) < 1e-12
    images = make_task(task, seed=0, quick=True).valid.take(slice(0, 8))
    moved, _ = images.permuted(np.random.default_rng(2))
    with torch.no_grad():
        a = model(torch.from_numpy(images.values).double(), None)
        b = model(torch.from_numpy(moved.values).double(), None)
    assert float((a - b).abs().max() / a.abs().max()) < 1e-10


def test_seed_sharing_axis_ties_vanish_exactly_on_convolutions_and_the_diagonal_tie_does_not() -> None:
    """The default penalty (unit shifts of both axes) is 0 only on translation-tied weights; the seed's one
    diagonal shift (1, 1) is also 0 on weights invariant under the diagonal alone (no convolution)."""
    torch.manual_seed(1)
    axes = build_model("seed-sharing", context("shift-2d")).double()
    diagonal = build_model("seed-sharing", context("shift-2d"), ties="diagonal").double()
    assert axes.shifts == [(1, 0), (0, 1)] and diagonal.shifts == [(1, 1)]
    assert build_model("seed-sharing", context("shift-1d")).shifts == [(1, 0)]
    # weights invariant under the joint diagonal shift only: average a random W over (u, u), u = 0..9
    kernel = torch.randn(3, 10, 10, 10, 10, dtype=torch.float64)
    rolled = [torch.roll(kernel, shifts=(-u, -u, -u, -u), dims=(1, 2, 3, 4)) for u in range(10)]
    diagonal_tied = sum(rolled) / 10
    # a convolution written out: W[k, i, j, m, n] = K[k, (m − i) mod 10, (n − j) mod 10]
    small = torch.randn(3, 10, 10, dtype=torch.float64)
    grid = torch.arange(10)
    offsets_r = (grid[None, :] - grid[:, None]) % 10  # [i, m] -> (m - i) mod 10
    convolution = small[:, offsets_r[:, None, :, None], offsets_r[None, :, None, :]]
    with torch.no_grad():
        for model in (axes, diagonal):
            model.weight.copy_(convolution)
            assert float(model.penalty()) < 1e-10 and model.diagnostics()["sharing_residual"] < 1e-12
            model.weight.copy_(diagonal_tied)
        assert float(diagonal.penalty()) < 1e-10
        assert float(axes.penalty()) > 1e-2 and axes.diagnostics()["sharing_residual"] > 0.5
    with pytest.raises(ModelError, match="ties must be one of axes, diagonal, got 'rows'"):
        build_model("seed-sharing", context("shift-2d"), ties="rows")
    with pytest.raises(ModelError, match=r"init must be a positive number, got 0\.0"):
        build_model("seed-sharing", context("shift-2d"), init=0.0)


def test_seed_sharing_learns_shift_2d_well_above_chance() -> None:
    """A short training (6,000 images, 5 epochs of batch 16, Adam 1e-2, the default penalty) beats the
    1/3 chance level by a clear margin and ends close to a convolution (the penalty did its job)."""
    task = make_task("shift-2d", seed=0, train=6_000, valid=0, test=1_000)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads make this small model many times slower
    try:
        accuracy, residual = _train_seed_sharing(task)
    finally:
        torch.set_num_threads(threads)
    (test,) = task.test.values()
    assert np.bincount(test.targets, minlength=3).max() < 0.36 * len(test)  # chance is about 1/3
    assert accuracy > 0.45
    assert residual < 0.1


def _train_seed_sharing(task) -> tuple[float, float]:
    """Test accuracy and sharing residual of ``seed-sharing`` after 5 epochs of batch 16, Adam 1e-2."""
    torch.manual_seed(0)
    model = build_model("seed-sharing", context("shift-2d"))
    images, labels = torch.from_numpy(task.train.values), torch.from_numpy(task.train.targets)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        for rows in torch.randperm(len(images), generator=generator).split(16):
            logits = model(images[rows], None)
            loss = torch.nn.functional.cross_entropy(logits, labels[rows]) + model.penalty()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    (test,) = task.test.values()
    with torch.no_grad():
        predicted = model(torch.from_numpy(test.values), None).argmax(dim=1).numpy()
    return float((predicted == test.targets).mean()), model.diagnostics()["sharing_residual"]


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_every_image_model_trains_in_quick_mode(name: str, tmp_path) -> None:
    config = RunConfig.create("shift-2d", name, epochs=1, task_options={"quick": True, "train": 256,
                                                                          "valid": 64, "test": 128})
    results = train(config, tmp_path / name)
    (record,) = results["evaluation"]["per_cardinality"]
    assert record["cardinality"] == 100 and record["samples"] == 128
    assert 0 <= record["accuracy"] <= 1 and record["cross_entropy"] > 0 and record["mae"] is None
    assert results["config"]["loss"] == "cross-entropy" and results["task"]["kind"] == "classification"
    assert results["diagnostics"]["padding_shift"] is None
    if name in INVARIANT_MODELS:
        assert results["diagnostics"]["permutation_shift"] < 1e-4  # random translations, float32


def test_classification_needs_cross_entropy() -> None:
    with pytest.raises(ConfigError, match="needs loss 'cross-entropy'"):
        RunConfig.create("shift-1d", "cnn", loss="l1")
    with pytest.raises(ConfigError, match="for classification tasks"):
        RunConfig.create("digit-sum", "deepsets", loss="cross-entropy")


def test_cli_trains_an_image_model(tmp_path) -> None:
    out = tmp_path / "run"
    args = ["train", "--task", "shift-1d", "--model", "tied-circular-quadratic", "--quick", "--epochs", "1",
            "--train-size", "500", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "results.json").read_text())
    assert saved["model"]["parameters"] == 8 * (1 + 3 + 6) + 8 * 5 + 5  # layer 3x1 support, bias; classifier
    assert "acc@10" in result.output
    bad = CliRunner().invoke(cli, ["train", "--task", "shift-1d", "--model", "gcn", "--quick",
                                   "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "reads graphs" in bad.output and "Traceback" not in bad.output


def test_size_options_with_task_defaults_can_be_set(tmp_path) -> None:
    """Options whose default is None (the task's own size) take integers and lists of integers."""
    cnn = build_model("cnn", context("shift-2d"), kernel=[3, 2], stride=2)
    assert cnn.conv.kernel_size == (3, 2) and cnn.conv.stride == (2, 2)
    quadratic = build_model("tied-circular-quadratic", context("shift-2d"), kernel_support=3)
    assert quadratic.layer.dense_weight().shape[-1] > 0
    sharing = build_model("seed-sharing", context("shift-2d"), offsets=[1, 0], ties="diagonal")
    assert sharing.offsets == (1, 0)
    for options, fragment in (({"kernel": "wide"}, "an integer in ±100000, a list of them, or null"),
                              ({"kernel": [3]}, "kernel must be two positive integers"),
                              ({"stride": True}, "an integer in ±100000"),
                              ({"stride": [1.5]}, "an integer in ±100000")):
        with pytest.raises(ModelError, match=fragment):
            build_model("cnn", context("shift-2d"), **options)
    arguments = ["train", "--task", "shift-1d", "--model", "cnn", "--option", "kernel=[3,1]",
                 "--train-size", "64", "--valid-size", "0", "--test-size", "16", "--epochs", "1",
                 "--out", str(tmp_path / "cnn"), "--format", "json"]
    run = CliRunner().invoke(cli, arguments)
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["config"]["model_options"] == {"kernel": [3, 1]}


def test_seed_sharing_variants_activation_and_the_sigmoid_regulariser() -> None:
    """The seed's variants: the class score is the mean over translations of act(Σ W x), and the §3.1
    regulariser adds c·Σ 1/(1 + e^{−100 W}); both written out here from the weight tensor."""
    torch.manual_seed(2)
    images = torch.rand(4, 10, 10, dtype=torch.float64)
    for name, function in (("sigmoid", lambda s: 1 / (1 + torch.exp(-s))), ("tanh", torch.tanh),
                           ("elu", lambda s: torch.where(s > 0, s, torch.exp(s) - 1))):
        model = build_model("seed-sharing", context("shift-2d"), activation=name,
                            sigmoid_sparsity=0.01, sharing=0.0).double()
        scores = (model.weight[None] * images[:, None, None, None]).sum(dim=(-2, -1))
        torch.testing.assert_close(model(images), function(scores).mean(dim=(2, 3)))
        expected = 0.01 * (1 / (1 + torch.exp(-100 * model.weight))).sum()
        torch.testing.assert_close(model.penalty(), expected)
    with pytest.raises(ModelError, match="activation must be one of elu, tanh, sigmoid, got 'relu'"):
        build_model("seed-sharing", context("shift-2d"), activation="relu")
    with pytest.raises(ModelError, match="sigmoid_sparsity must be ≥ 0"):
        build_model("seed-sharing", context("shift-2d"), sigmoid_sparsity=-1.0)


def test_stride_and_offsets_are_checked() -> None:
    for name, options, fragment in (
            ("cnn", {"stride": [1, 2]}, "stride must be a positive integer, got \\[1, 2\\]"),
            ("cnn", {"stride": 0}, "stride must be a positive integer, got 0"),
            ("seed-sharing", {"stride": [1, 2]}, "stride must be a positive integer"),
            ("seed-sharing", {"offsets": [1, 0]}, "with ties='axes' the penalty ties both unit shifts"),
            ("seed-sharing", {"offsets": 1, "ties": "diagonal"}, "offsets must be two integers"),
            ("seed-sharing", {"offsets": [0, 0], "ties": "diagonal"}, "not both 0")):
        with pytest.raises(ModelError, match=fragment):
            build_model(name, context("shift-2d"), **options)
