"""Image tasks (a domain of :mod:`polyequiv.tasks`): classify shapes and digits wherever they sit.

Seed 003 §3.2 tests whether a network learns translation invariance.  Every image is
``(H, W)`` ``float32`` with pixels numbered row-major (``p = r·W + c``, as in
:mod:`polyequiv.groups`); the label is an ``int64`` class.  A batch holds ``values``
``(m, H, W)``, ``targets`` ``(m,)``, ``mask`` ``(m,)`` (all ``True``: images are not
padded) and ``source`` ``(m,)`` (the original image a placement comes from).

==================  ========  =======  ======================================================
task                grid      classes  content
==================  ========  =======  ======================================================
``shift-1d``        10 × 1    5        1 bright pixel, 2 consecutive, 3 scattered, 4 consecutive,
                                       5 scattered (the seed's five classes)
``shift-2d``        10 × 10   3        a line segment, a right triangle (outline), a square (outline)
``shifted-digits``  24 × 24   10       scikit-learn's 8 × 8 handwritten digits at random positions
==================  ========  =======  ======================================================

Synthetic images (``shift-1d``, ``shift-2d``): the bright pixels are uniform in
``[0.7, 1]`` and the background uniform in ``[0, 0.3]`` (the seed gives no
intensities; the noise keeps the task from being "count the non-zero pixels").
The shape is placed at a uniformly random offset **on the torus** (it wraps
around the edges), so every class is invariant under the cyclic translations of
:func:`polyequiv.groups.torus_generators`.  "Consecutive" is cyclic
(positions ``p, p+1, … mod 10``); "scattered" means no two bright pixels are
cyclic neighbours (for five pixels on ten positions: every other pixel).  Line
segments have length 3–6 and are horizontal, vertical or diagonal; triangles have
legs 3–5 in one of four orientations; squares have sides 3–5.  Sizes as in the seed:
35k/10k/5k and 21k/6k/3k (train/valid/test).

``shifted-digits`` stands in for the seed's MNIST padded at random to 56 × 56 (no
download is possible here and no package bundles MNIST): each of the 1,797 images of
:func:`sklearn.datasets.load_digits` (values 0..16, scaled to ``[0, 1]``) is pasted at a
uniformly random position of a 24 × 24 zero canvas (no wrapping).  The split is **by
original image** and fixed (the same for every seed): 1,197 originals train, 300
validate, 300 test; only the placements depend on the seed.  12,000 / 3,000 / 3,000
placements by default.

    >>> task = make(TASKS["shift-2d"], seed=0, quick=True)
    >>> task.train.values.shape, task.num_classes, sorted(task.test)
    ((2100, 10, 10), 3, [100])

Numpy (and scikit-learn's bundled data) only; the models live in :mod:`polyequiv.models.images`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from polyequiv.tasks.base import TaskError, TaskSizes

#: Intensity ranges of bright (shape) and background pixels of the synthetic tasks.
BRIGHT = (0.7, 1.0)
BACKGROUND = (0.0, 0.3)
#: Originals of load_digits per split (train, valid, test), and the seed of the fixed split.
DIGIT_SPLIT = (1_197, 300, 300)
DIGIT_SPLIT_SEED = 8_8_24


@dataclass(frozen=True)
class ImageBatch:
    """Images of one split.

    Attributes
    ----------
    values : numpy.ndarray
        ``(m, H, W)`` ``float32``.
    mask : numpy.ndarray
        ``(m,)`` bool, all ``True`` (kept so every domain's batches look alike to the training loop).
    targets : numpy.ndarray
        ``(m,)`` ``int64`` class labels.
    source : numpy.ndarray
        ``(m,)`` ``int64``: the original image (digits) or the image itself (synthetic tasks).
    """

    values: np.ndarray
    mask: np.ndarray
    targets: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.values.shape[1]), int(self.values.shape[2])

    def take(self, rows: np.ndarray | slice) -> ImageBatch:
        """The images at ``rows``."""
        return ImageBatch(self.values[rows], self.mask[rows], self.targets[rows], self.source[rows])

    def permuted(self, rng: np.random.Generator) -> tuple[ImageBatch, np.ndarray]:
        """Every image translated cyclically by its own random offset ``(dr, dc)`` (returned, ``(m, 2)``).

        Image ``i`` of the result is ``σ·x`` for the translation ``σ(r, c) = (r + dr, c + dc)``:
        its pixel ``(r, c)`` holds the old pixel ``(r + dr, c + dc)`` (``np.roll`` by ``−dr, −dc``).
        The labels do not change: the tasks are translation-invariant.
        """
        height, width = self.shape
        count = len(self)
        offsets = np.stack([rng.integers(height, size=count), rng.integers(width, size=count)], axis=1)
        rows = (np.arange(height)[None, :] + offsets[:, :1]) % height
        cols = (np.arange(width)[None, :] + offsets[:, 1:]) % width
        moved = self.values[np.arange(len(self))[:, None, None], rows[:, :, None], cols[:, None, :]]
        return ImageBatch(moved, self.mask, self.targets, self.source), offsets

    def padded(self, extra: int) -> None:
        """Images have no padding to add (the diagnostics then report ``padding_shift`` as ``None``)."""
        return None


Generator = Callable[[np.random.Generator, int, tuple[int, int]], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ImageTaskDefinition:
    """One named image task: grid, classes, default sizes (train/valid/test images) and generator."""

    name: str
    formula: str
    shape: tuple[int, int]
    class_names: tuple[str, ...]
    full: TaskSizes
    quick: TaskSizes
    #: Synthetic images and labels; ``None`` for the digits, placed split by split (:func:`placed_digits`).
    generate: Generator | None
    reference: str = ""
    #: The seed's single-layer CNN baseline for this task: kernel (kh, kw) and stride.
    baseline_kernel: tuple[int, int] = (3, 3)
    baseline_stride: int = 1
    elements: str = "image"
    equivariant: bool = False
    classification: bool = True

    @property
    def discrete(self) -> bool:
        return True

    @property
    def classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class ImageTask:
    """A generated image task: definition, sizes, seed and the splits (test keyed by ``H·W``)."""

    definition: ImageTaskDefinition
    sizes: TaskSizes
    seed: int
    train: ImageBatch
    valid: ImageBatch | None
    test: dict[int, ImageBatch] = field(repr=False)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def equivariant(self) -> bool:
        return False

    @property
    def discrete(self) -> bool:
        return True

    @property
    def classification(self) -> bool:
        return True

    @property
    def shape(self) -> tuple[int, int]:
        return self.definition.shape

    @property
    def num_classes(self) -> int:
        return self.definition.classes

    @property
    def max_cardinality(self) -> int:
        """Pixels per image, ``H·W``."""
        return self.shape[0] * self.shape[1]

    def to_dict(self) -> dict[str, Any]:
        d = self.definition
        return {
            "name": d.name,
            "formula": d.formula,
            "elements": f"{d.shape[0]}x{d.shape[1]} images",
            "kind": "classification",
            "classes": list(d.class_names),
            "seed": self.seed,
            "sizes": self.sizes.to_dict(),
        }


# ---------------------------------------------------------------------- synthetic images
def _noisy(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """Bright pixels where ``masks`` is set, background elsewhere (intensities as documented)."""
    bright = rng.uniform(*BRIGHT, size=masks.shape)
    background = rng.uniform(*BACKGROUND, size=masks.shape)
    return np.where(masks, bright, background).astype(np.float32)


def _translated(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """Every mask rolled by a uniformly random cyclic offset."""
    count, height, width = masks.shape
    dr, dc = rng.integers(height, size=count), rng.integers(width, size=count)
    rows = (np.arange(height)[None, :] - dr[:, None]) % height
    cols = (np.arange(width)[None, :] - dc[:, None]) % width
    return masks[np.arange(count)[:, None, None], rows[:, :, None], cols[:, None, :]]


@lru_cache(maxsize=8)
def _scattered_sets(length: int, size: int) -> np.ndarray:
    """Every set of ``size`` positions on a cycle of ``length`` with no two cyclic neighbours."""
    valid = [
        c for c in itertools.combinations(range(length), size)
        if all((b - a) % length not in (1, length - 1) for a, b in itertools.combinations(c, 2))
    ]
    return np.array(valid, dtype=np.int64)


def shift_1d_images(
    rng: np.random.Generator, count: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images of the five 1D classes (uniform labels): one pixel, two consecutive, three
    scattered, four consecutive, five scattered."""
    length = shape[0]
    labels = rng.integers(5, size=count)
    masks = np.zeros((count, length), dtype=bool)
    for label, (size, kind) in enumerate([(1, "run"), (2, "run"), (3, "scattered"), (4, "run"),
                                          (5, "scattered")]):
        rows = np.nonzero(labels == label)[0]
        if kind == "run":
            masks[rows[:, None], np.arange(size)[None, :]] = True
        else:
            sets = _scattered_sets(length, size)
            if len(sets) == 0:
                raise TaskError(f"no {size} scattered pixels fit on a 1D grid of {length}")
            masks[rows[:, None], sets[rng.integers(len(sets), size=len(rows))]] = True
    masks = _translated(rng, masks.reshape(count, length, 1))
    return _noisy(rng, masks), labels.astype(np.int64)


def _shape_mask(label: int, size: int, orientation: int, grid: tuple[int, int]) -> np.ndarray:
    """A line segment (0), right-triangle outline (1) or square outline (2) at the origin."""
    mask = np.zeros(grid, dtype=bool)
    if label == 0:  # horizontal, vertical, diagonal, anti-diagonal
        step = [(0, 1), (1, 0), (1, 1), (1, -1)][orientation]
        for i in range(size):
            mask[(i * step[0]) % grid[0], (i * step[1]) % grid[1]] = True
    elif label == 1:  # legs along two sides of a size×size box, hypotenuse its diagonal
        box = np.zeros((size, size), dtype=bool)
        box[:, 0] = box[size - 1, :] = True
        box[np.arange(size), np.arange(size)] = True
        box = np.rot90(box, orientation)
        mask[:size, :size] = box
    else:
        mask[:size, :size] = True
        mask[1 : size - 1, 1 : size - 1] = False
    return mask


def shift_2d_images(
    rng: np.random.Generator, count: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` images of a line segment, a triangle or a square (uniform labels) on the torus."""
    labels = rng.integers(3, size=count)
    sizes = np.where(labels == 0, rng.integers(3, 7, size=count), rng.integers(3, 6, size=count))
    orientations = rng.integers(4, size=count)
    masks = np.stack([_shape_mask(int(a), int(s), int(o), shape)
                      for a, s, o in zip(labels, sizes, orientations, strict=True)])
    return _noisy(rng, _translated(rng, masks)), labels.astype(np.int64)


# ---------------------------------------------------------------------- digits
@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32), data.target.astype(np.int64)


def digit_split() -> dict[str, np.ndarray]:
    """The fixed split of the 1,797 originals by image: ``{"train", "valid", "test"}`` → indices."""
    images, _ = _digits()
    order = np.random.default_rng(DIGIT_SPLIT_SEED).permutation(len(images))
    train, valid, _test = DIGIT_SPLIT
    return {"train": np.sort(order[:train]), "valid": np.sort(order[train:train + valid]),
            "test": np.sort(order[train + valid:])}


def placed_digits(rng: np.random.Generator, originals: np.ndarray, count: int,
                  shape: tuple[int, int]) -> ImageBatch:
    """``count`` placements of the digits ``originals`` (cycled through in order) on a zero canvas."""
    images, labels = _digits()
    height, width = shape
    if height < 8 or width < 8:
        raise TaskError(f"an 8x8 digit does not fit on a {height}x{width} canvas")
    chosen = originals[np.arange(count) % len(originals)]
    dr, dc = rng.integers(height - 7, size=count), rng.integers(width - 7, size=count)
    canvas = np.zeros((count, height, width), dtype=np.float32)
    rows = dr[:, None, None] + np.arange(8)[None, :, None]
    cols = dc[:, None, None] + np.arange(8)[None, None, :]
    canvas[np.arange(count)[:, None, None], rows, cols] = images[chosen]
    return ImageBatch(canvas, np.ones(count, dtype=bool), labels[chosen], chosen.astype(np.int64))


# ---------------------------------------------------------------------- registry
def _sizes(train: int, valid: int, test: int, shape: tuple[int, int]) -> TaskSizes:
    pixels = shape[0] * shape[1]
    return TaskSizes(train=train, valid=valid, test=test, cardinalities=(pixels,), min_train=pixels,
                     max_train=pixels)


TASKS: dict[str, ImageTaskDefinition] = {
    "shift-1d": ImageTaskDefinition(
        name="shift-1d",
        formula="1 bright pixel / 2 consecutive / 3 scattered / 4 consecutive / 5 scattered (10x1)",
        shape=(10, 1),
        class_names=("one", "two consecutive", "three scattered", "four consecutive", "five scattered"),
        full=_sizes(35_000, 10_000, 5_000, (10, 1)),
        quick=_sizes(3_500, 1_000, 500, (10, 1)),
        generate=shift_1d_images,
        reference="Agarwal et al., 'Save your priors for another day', §3.2: 1D CNN 65 %, "
        "generic sharing architecture 57.26–81 %",
        baseline_kernel=(4, 1),
    ),
    "shift-2d": ImageTaskDefinition(
        name="shift-2d",
        formula="line segment / triangle / square outline on a 10x10 torus",
        shape=(10, 10),
        class_names=("line segment", "triangle", "square"),
        full=_sizes(21_000, 6_000, 3_000, (10, 10)),
        quick=_sizes(2_100, 600, 300, (10, 10)),
        generate=shift_2d_images,
        reference="Agarwal et al., §3.2: generic sharing architecture 100 %",
        baseline_kernel=(5, 5),
    ),
    "shifted-digits": ImageTaskDefinition(
        name="shifted-digits",
        formula="scikit-learn 8x8 digits at random positions of a 24x24 canvas (stands in for padded MNIST)",
        shape=(24, 24),
        class_names=tuple(str(d) for d in range(10)),
        full=_sizes(12_000, 3_000, 3_000, (24, 24)),
        quick=_sizes(1_200, 300, 600, (24, 24)),
        generate=None,
        reference="Agarwal et al., §3.2 on MNIST padded to 56x56: single-layer CNN 88.04 %, "
        "generic sharing architecture 66–83.68 %",
        baseline_kernel=(8, 8),
        baseline_stride=2,
    ),
}

# stream ids of numpy.random.default_rng([seed, 11, stream])
_STREAMS = {"train": 0, "valid": 1, "test": 2}


def make(
    definition: ImageTaskDefinition,
    *,
    seed: int = 0,
    quick: bool = False,
    train: int | None = None,
    valid: int | None = None,
    test: int | None = None,
) -> ImageTask:
    """Generate the image task ``definition`` from ``seed`` (called by :func:`polyequiv.tasks.make_task`).

    Parameters
    ----------
    definition : ImageTaskDefinition
        One of :data:`TASKS`.
    seed : int
        Seed of every split; the same seed gives the same arrays (digits: the same placements).
    quick : bool
        A tenth of the images (CI, notebooks); digits: 1,200 / 300 / 600.
    train, valid, test : int, optional
        Images per split (``valid`` may be 0: no validation split).

    Raises
    ------
    TaskError
        For non-positive sizes or a negative seed.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise TaskError(f"seed must be a non-negative integer, got {seed!r}")
    base = definition.quick if quick else definition.full
    sizes = _sizes(
        base.train if train is None else int(train),
        base.valid if valid is None else int(valid),
        base.test if test is None else int(test),
        definition.shape,
    )
    splits: dict[str, ImageBatch | None] = {}
    split_of = digit_split() if definition.generate is None else {}
    for split, count in (("train", sizes.train), ("valid", sizes.valid), ("test", sizes.test)):
        if count == 0:
            splits[split] = None
            continue
        rng = np.random.default_rng([int(seed), 11, _STREAMS[split]])
        if definition.generate is None:
            splits[split] = placed_digits(rng, split_of[split], count, definition.shape)
        else:
            values, labels = definition.generate(rng, count, definition.shape)
            splits[split] = ImageBatch(values, np.ones(count, dtype=bool), labels, np.arange(count))
    pixels = definition.shape[0] * definition.shape[1]
    return ImageTask(definition=definition, sizes=sizes, seed=int(seed), train=splits["train"],
                     valid=splits["valid"], test={pixels: splits["test"]})
