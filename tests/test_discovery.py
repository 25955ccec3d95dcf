"""Symmetry discovery: clustering, partition distances, candidate ranking, the `discover` command.

Planted weights are built from closed forms written here (circulant offsets, torus offsets, the
Sₙ diagonal/off-diagonal split, explicit D₄ orbits), not from the derivation under test.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from polyequiv import discovery, groups
from polyequiv.errors import SizeLimitError
from polyequiv.spec import LayerSpec
from polyequiv_cli.main import cli

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- brute-force references
def pair_counting_ari(a: np.ndarray, b: np.ndarray) -> float:
    """Hubert–Arabie ARI from the four pair counts, every pair enumerated."""
    n11 = n10 = n01 = n00 = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        same_a, same_b = a[i] == a[j], b[i] == b[j]
        n11 += same_a and same_b
        n10 += same_a and not same_b
        n01 += same_b and not same_a
        n00 += not same_a and not same_b
    denominator = (n00 + n01) * (n01 + n11) + (n00 + n10) * (n10 + n11)
    return 1.0 if denominator == 0 else 2 * (n00 * n11 - n01 * n10) / denominator


def brute_matching_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 − best one-to-one matching of classes / m, over every injective map of the classes."""
    classes_a, classes_b = sorted(set(a.tolist())), sorted(set(b.tolist()))
    if len(classes_a) > len(classes_b):
        classes_a, classes_b, a, b = classes_b, classes_a, b, a
    best = 0
    for image in itertools.permutations(classes_b, len(classes_a)):
        best = max(best, sum(int(np.sum((a == x) & (b == y))) for x, y in zip(classes_a, image, strict=True)))
    return 1 - best / len(a)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    return bool(np.array_equal(a[:, None] == a[None, :], b[:, None] == b[None, :]))


# ---------------------------------------------------------------------- planted classes, closed forms
def symmetric_classes(n: int) -> np.ndarray:
    return (~np.eye(n, dtype=bool)).astype(int)


def cyclic_classes(n: int) -> np.ndarray:
    k, i = np.indices((n, n))
    return (i - k) % n


def dihedral_classes(n: int) -> np.ndarray:
    offset = cyclic_classes(n)
    return np.minimum(offset, (-offset) % n)


def torus_classes(height: int, width: int) -> np.ndarray:
    r, c = np.divmod(np.arange(height * width), width)
    return ((r[None, :] - r[:, None]) % height) * width + (c[None, :] - c[:, None]) % width


def torus_d4_classes(side: int) -> np.ndarray:
    """Orbits of (output, input) pixel pairs under translations and the 8 symmetries of the square."""
    r, c = np.divmod(np.arange(side * side), side)
    rotations = [[[1, 0], [0, 1]], [[0, -1], [1, 0]], [[-1, 0], [0, -1]], [[0, 1], [-1, 0]]]
    mirrors = [[[1, 0], [0, -1]], [[-1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1], [-1, 0]]]
    matrices = [np.array(m) for m in rotations + mirrors]
    offsets = np.stack([(r[None, :] - r[:, None]) % side, (c[None, :] - c[:, None]) % side], axis=-1)
    codes = [((offsets @ m.T) % side) @ np.array([side, 1]) for m in matrices]
    return np.min(np.stack(codes), axis=0)  # an offset's orbit under D₄, named by its least code


def planted(classes: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    values = rng.permutation(np.linspace(-1, 1, int(classes.max()) + 1))  # class values ≥ 2/k apart
    return values[classes] + noise * rng.standard_normal(classes.shape)


CASES = [
    ("S5", symmetric_classes(5)), ("S9", symmetric_classes(9)),
    ("C7", cyclic_classes(7)), ("C12", cyclic_classes(12)),
    ("D8", dihedral_classes(8)), ("D11", dihedral_classes(11)),
    ("T2x3", torus_classes(2, 3)), ("T3x4", torus_classes(3, 4)), ("T4x4", torus_classes(4, 4)),
    ("T4x4+D4", torus_d4_classes(4)), ("T5x5+D4", torus_d4_classes(5)),
]


# ---------------------------------------------------------------------- partition distances
@pytest.mark.parametrize("seed", range(6))
def test_ari_equals_pair_counting_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 40))
    a, b = rng.integers(0, rng.integers(1, 6), m), rng.integers(0, rng.integers(1, 8), m)
    assert discovery.adjusted_rand_index(a, b) == pytest.approx(pair_counting_ari(a, b), abs=1e-12)
    assert discovery.adjusted_rand_index(a, a[::-1][::-1] * 7 + 3) == pytest.approx(1.0)


def test_ari_degenerate_partitions() -> None:
    singletons, one = np.arange(6), np.zeros(6, dtype=int)
    halves = np.array([0, 0, 0, 1, 1, 1])
    pairs = [(singletons, singletons), (one, one), (singletons, one), (one, halves), (halves, singletons)]
    for a, b in pairs:
        assert discovery.adjusted_rand_index(a, b) == pytest.approx(pair_counting_ari(a, b), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_matching_distance_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    m = int(rng.integers(3, 14))
    a, b = rng.integers(0, 4, m), rng.integers(0, 5, m)
    assert discovery.matching_distance(a, b) == pytest.approx(brute_matching_distance(a, b), abs=1e-12)
    assert discovery.matching_distance(np.arange(m), b) == pytest.approx(
        brute_matching_distance(np.arange(m), b), abs=1e-12)


# ---------------------------------------------------------------------- clustering
@pytest.mark.parametrize(("classes", "noise"), [(3, 0.0), (12, 1e-4), (40, 1e-4), (7, 1e-3)])
def test_clustering_recovers_planted_classes_at_low_noise(classes: int, noise: float) -> None:
    rng = np.random.default_rng(classes)
    truth = rng.integers(0, classes, 25 * classes)
    truth[:classes] = np.arange(classes)  # every class occurs
    values = planted(truth, rng, noise)
    found = discovery.cluster_values(values)
    assert found.num_clusters == classes and same_partition(found.labels, truth)


def test_clustering_by_tolerance_and_by_count() -> None:
    values = np.array([0.0, 0.01, 0.02, 1.0, 1.01, 3.0])
    assert discovery.cluster_values(values, tolerance=0.5).labels.tolist() == [0, 0, 0, 1, 1, 2]
    assert discovery.cluster_values(values, clusters=2).labels.tolist() == [0, 0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="clusters must be between 1 and"):
        discovery.cluster_values(values, clusters=9)


def test_two_scale_weights_cluster_at_the_coarse_scale() -> None:
    """Classes 0.3 apart whose members sit in sub-clusters 1e-4 apart: the symmetry is the coarse scale."""
    rng = np.random.default_rng(3)
    truth = symmetric_classes(10)
    fine = rng.integers(0, 9, truth.shape) * 1e-4
    found = discovery.cluster_values(np.where(truth == 0, 0.1, 0.4) + fine)
    assert same_partition(found.labels, truth)


# ---------------------------------------------------------------------- candidate groups
@pytest.mark.parametrize(("name", "classes"), CASES, ids=[case[0] for case in CASES])
def test_derived_candidate_classes_equal_closed_forms(name: str, classes: np.ndarray) -> None:
    n = classes.shape[0]
    group = next(g for g in discovery.candidate_groups(n) if g.name == name)
    derived = discovery.derived_classes(group.spec(1, "equivariant"))
    assert same_partition(derived, classes)


@pytest.mark.parametrize("n", [4, 12, 16])
def test_torus_candidates_are_the_torus_groups_of_polyequiv_groups(n: int) -> None:
    """Discovery's tori are ``--group torus`` / ``torus-dihedral`` on the grid, and their classes equal
    those of the same groups given as custom generators written here (affine maps on (r, c))."""
    tori = [g for g in discovery.candidate_groups(n) if g.name.startswith("T")]
    assert tori and all(g.kind in groups.GRID_KINDS and g.shape is not None for g in tori)
    for group in tori:
        height, width = group.shape
        assert group.name == f"T{height}x{width}" + ("+D4" if group.kind == "torus-dihedral" else "")
        r, c = np.divmod(np.arange(n), width)
        written = [((r + 1) % height) * width + c, r * width + (c + 1) % width]
        if group.kind == "torus-dihedral":
            written += [c * width + (-r) % height, r * width + (-c) % width]  # quarter turn, mirror
        assert discovery.torus_generators(height, width) == groups.torus_generators((height, width))
        custom = [tuple(int(p) for p in g) for g in written]
        for degree, mode in [(1, "equivariant"), (2, "equivariant"), (2, "invariant")]:
            reference = LayerSpec(n=n, degree=degree, mode=mode, group="custom", generators=tuple(custom))
            assert same_partition(discovery.derived_classes(group.spec(degree, mode)),
                                  discovery.derived_classes(reference))
    assert discovery.torus_dihedral_generators(4) == groups.torus_dihedral_generators((4, 4))


@pytest.mark.parametrize("noise", [0.0, 1e-3])
@pytest.mark.parametrize(("name", "classes"), CASES, ids=[case[0] for case in CASES])
def test_true_group_ranks_first_on_planted_tied_weights(name: str, classes: np.ndarray, noise: float) -> None:
    rng = np.random.default_rng(len(name) + classes.shape[0])
    result = discovery.discover(planted(classes, rng, noise))
    top = result.candidates[0]
    assert top.name == name or top.same_as == name or (
        name in {c.same_as for c in result.candidates if c.name == top.name})
    assert result.best.name == top.name and top.ari == pytest.approx(1.0)
    others = [c for c in result.candidates if c.ari < 1 - 1e-12]
    assert all(c.ari < 0.9 for c in others)


def test_quadratic_and_channel_layouts() -> None:
    rng = np.random.default_rng(5)
    n = 6
    k, i, j = np.indices((n, n, n))
    # Sₙ orbits of (k, {i, j}): whether i = j, and whether k is one of i, j (4 classes)
    pattern = (i == j) * 1 + ((k == i) | (k == j)) * 2
    tensor = rng.permutation(np.linspace(-1, 1, 4))[pattern]
    tensor = np.triu(tensor) + np.swapaxes(np.triu(tensor, 1), 1, 2)  # symmetric in (i, j)
    antisymmetric = rng.standard_normal((n, n, n))
    tensor = tensor + (antisymmetric - np.swapaxes(antisymmetric, 1, 2))  # invisible to the layer
    result = discovery.discover(tensor, degree=2)
    assert result.layout.mode == "equivariant" and result.best.name == f"S{n}"
    assert result.best.ari == pytest.approx(1.0)
    stack = np.stack([planted(cyclic_classes(7), rng, 1e-4) for _ in range(3)])
    stacked = discovery.discover(stack)
    assert stacked.layout.channels == 3 and stacked.best.name == "C7"


def symmetric_orbits(points: list[tuple], act) -> np.ndarray:
    """Orbit id of every point under all of Sₙ (n = 5: 120 permutations), by brute force."""
    n = 5
    orbit_of: dict[tuple, int] = {}
    for point in points:
        if point not in orbit_of:
            orbit = {act(sigma, point) for sigma in itertools.permutations(range(n))}
            orbit_of.update(dict.fromkeys(orbit, len(set(orbit_of.values()))))
    return np.array([orbit_of[point] for point in points])


def test_planted_symmetric_node_model_weights_are_recovered_as_sn() -> None:
    """A V2 → V weight W[k, i, j] tied by Sₙ (one value per orbit of (k, i, j)) is found as Sₙ with ARI 1,
    read as V2 → V (5 classes) and as the E → V layer W[k,i,j] + W[k,j,i] an adjacency sees (2 classes),
    even when W carries the parts a symmetric zero-diagonal A cannot see (antisymmetric, diagonal)."""
    n, rng = 5, np.random.default_rng(4)
    triples = list(itertools.product(range(n), repeat=3))
    v2_orbits = symmetric_orbits(triples, lambda s, p: tuple(s[x] for x in p))
    pairs = [(k, i, j) for k in range(n) for i in range(n) for j in range(i + 1, n)]
    e_orbits = symmetric_orbits(pairs, lambda s, p: (s[p[0]], *sorted((s[p[1]], s[p[2]]))))
    assert v2_orbits.max() + 1 == 5 and e_orbits.max() + 1 == 2  # Bell(3); k in the edge or not
    values = rng.permutation(np.linspace(-1, 1, 5))
    tied = values[v2_orbits].reshape(n, n, n)
    v2 = discovery.discover(tied, input="V2")
    assert v2.best.name == f"S{n}" and v2.best.ari == pytest.approx(1.0) and v2.best.num_classes == 5
    assert same_partition(v2.labels[0], v2_orbits)
    assert same_partition(v2.candidate_classes(f"S{n}")[0], v2_orbits)
    hidden = rng.standard_normal((n, n, n))
    seen_the_same = tied + (hidden - np.swapaxes(hidden, 1, 2))  # antisymmetric in (i, j): invisible
    seen_the_same[:, np.arange(n), np.arange(n)] = rng.standard_normal((n, n))  # multiplies A_ii = 0
    edges = discovery.discover(seen_the_same, input="E")
    assert edges.layout.values.shape == (1, n * n * (n - 1) // 2) and edges.layout.input == "E"
    assert edges.best.name == f"S{n}" and edges.best.ari == pytest.approx(1.0) and edges.best.num_classes == 2
    assert same_partition(edges.labels[0], e_orbits)
    assert same_partition(edges.candidate_classes(f"S{n}")[0], e_orbits)
    assert discovery.discover(seen_the_same, input="V2").best.name == "trivial"  # the hidden parts show
    with pytest.raises(ValueError, match=r"shape \(5, 5\) fits no candidate group \(input E\)"):
        discovery.discover(np.zeros((5, 5)), input="E")
    with pytest.raises(ValueError, match="unknown input representation 'V3'"):
        discovery.discover(tied, input="V3")


def test_unstructured_weights_give_the_trivial_group() -> None:
    rng = np.random.default_rng(9)
    for shape in [(10, 10), (64, 10)]:
        mode = "equivariant" if shape[0] == shape[1] else "invariant"
        result = discovery.discover(rng.standard_normal(shape), mode=mode)
        assert result.best.name == "trivial"


@pytest.mark.parametrize(("shape", "degree"), [((3, 4), 1), ((2, 3, 5), 1), ((1, 1), 1), ((4, 4, 5), 2),
                                               ((3,), 2)])
def test_shapes_that_fit_no_candidate_are_refused(shape: tuple[int, ...], degree: int) -> None:
    with pytest.raises(ValueError, match=re_shape(shape)):
        discovery.discover(np.zeros(shape), degree=degree)


def re_shape(shape: tuple[int, ...]) -> str:
    return "shape " + str(shape).replace("(", r"\(").replace(")", r"\)")


def test_non_finite_weights_are_refused() -> None:
    weights = np.eye(4)
    weights[0, 1] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        discovery.discover(weights)


# ---------------------------------------------------------------------- the command
def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_cli_on_npy_and_json_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    np.save(tmp_path / "w.npy", planted(cyclic_classes(7), rng, 1e-4))
    code, output = invoke("discover", str(tmp_path / "w.npy"))
    assert code == 0 and "best listed candidate: C7 (ARI 1.000" in output and "verdict: C7" in output
    (tmp_path / "w.json").write_text(json.dumps({"weights": planted(dihedral_classes(8), rng, 0).tolist()}))
    code, output = invoke("discover", str(tmp_path / "w.json"), "--format", "json", "--plot",
                          str(tmp_path / "d.png"))
    data = json.loads(output)
    assert code == 0 and data["best"] == "D8" and data["candidates"][0]["ari"] == 1.0
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_bad_input_is_a_one_line_usage_error(tmp_path: Path) -> None:
    np.save(tmp_path / "bad.npy", np.zeros((3, 4)))
    (tmp_path / "bad.json").write_text("{")
    for args, message in [(["discover", str(tmp_path / "bad.npy")], "shape (3, 4) fits no candidate group"),
                          (["discover", str(tmp_path / "missing")], "neither a run folder nor a weight file"),
                          (["discover", str(tmp_path / "bad.json")], "cannot read"),
                          (["discover", str(tmp_path / "bad.npy"), "--clusters", "2", "--tolerance", "1"],
                           "not both")]:
        code, output = invoke(*args)
        assert code == 2 and message in output and "Traceback" not in output


def test_cli_on_a_tiny_trained_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, _ = invoke("train", "--task", "real-sum", "--model", "penalty-mlp", "--quick", "--epochs", "1",
                     "--train-size", "64", "--valid-size", "16", "--test-size", "16", "--out", str(run),
                     "--no-progress")
    assert code == 0
    code, output = invoke("discover", str(run), "--format", "json")
    data = json.loads(output)
    assert code == 0 and data["shape"] == [8, 10, 10] and data["mode"] == "equivariant"
    assert {c["group"] for c in data["candidates"]} >= {"S10", "C10", "D10", "T2x5", "T5x2", "trivial"}
    code, output = invoke("discover", str(run), "--tensor", "nope")
    assert code == 2 and "no entry 'nope'" in output


def test_cli_on_trained_graph_runs(tmp_path: Path) -> None:
    """graph-linear's weight is read as its E → V layer, row-mlp's as one invariant layer per hidden unit."""
    common = ["--task", "graph-degree", "--quick", "--epochs", "1", "--train-size", "32", "--test-size", "16",
              "--cardinalities", "10", "--no-progress"]
    for model in ("graph-linear", "row-mlp"):
        code, output = invoke("train", "--model", model, *common, "--out", str(tmp_path / model))
        assert code == 0, output
    code, output = invoke("discover", str(tmp_path / "graph-linear"), "--format", "json")
    data = json.loads(output)
    assert code == 0 and data["shape"] == [10, 10, 10] and data["input"] == "E" and data["positions"] == 450
    assert {c["group"] for c in data["candidates"]} >= {"S10", "C10", "D10", "T2x5", "trivial"}
    assert next(c for c in data["candidates"] if c["group"] == "S10")["classes"] == 2
    code, output = invoke("discover", str(tmp_path / "graph-linear"), "--input", "V2")
    assert code == 0 and "read as 1 × equivariant V2 → V degree-1 layer on n = 10" in output
    code, output = invoke("discover", str(tmp_path / "row-mlp"), "--format", "json")
    data = json.loads(output)
    assert code == 0 and data["shape"] == [10, 10] and data["mode"] == "invariant" and data["channels"] == 10


def test_benchmark_quick_mode_runs_and_reports_json(tmp_path: Path) -> None:
    """The benchmark still runs (its numbers are reported in docs/discovery.md, never asserted here)."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_discovery.py"), "--quick", "--json",
         str(tmp_path / "out.json")], capture_output=True, text=True, check=True, timeout=300)
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["planted"] and data["trained"] and "ARI" in completed.stdout


def test_huge_tensors_are_refused_up_front() -> None:
    with pytest.raises(SizeLimitError, match=r"251,001 weight values in shape \(501, 501\)"):
        discovery.discover(np.zeros((501, 501)))


def test_cli_reads_only_the_block_the_training_graphs_reach(tmp_path: Path) -> None:
    """Tested up to 50 nodes, graph-linear is 50 wide, but its 10-node training graphs only train the
    first 10×10×10 block (the rest keeps its random start): discover reads that block, and says so."""
    code, output = invoke("train", "--task", "graph-degree", "--quick", "--model", "graph-linear",
                          "--epochs", "1", "--train-size", "32", "--test-size", "4", "--no-progress",
                          "--out", str(tmp_path / "gl"))
    assert code == 0, output
    code, output = invoke("discover", str(tmp_path / "gl"), "--format", "json")
    data = json.loads(output)
    assert code == 0 and data["shape"] == [10, 10, 10]
    code, output = invoke("discover", str(tmp_path / "gl"))
    assert "the 10-node block the training graphs reach" in output
    code, output = invoke("discover", str(tmp_path / "gl"), "--tensor", "weight", "--input", "E",
                          "--format", "json")
    assert code == 0 and json.loads(output)["shape"] == [50, 50, 50]  # a named tensor is read whole


def test_cli_reads_seed_sharing_runs_as_one_translation_by_pixel_matrix_per_class(tmp_path: Path) -> None:
    """A seed-sharing run whose weights are a convolution per class (written here) is the 10×10 torus."""
    import numpy as np
    import torch

    from polyequiv.discovery.runs import _reshape_model_weight
    from polyequiv.training.checkpoint import load_checkpoint, save_checkpoint

    code, output = invoke("train", "--task", "shift-2d", "--quick", "--model", "seed-sharing",
                          "--epochs", "1", "--train-size", "64", "--test-size", "16", "--no-progress",
                          "--out", str(tmp_path / "s"))
    assert code == 0, output
    state = load_checkpoint(tmp_path / "s" / "checkpoint.pt")
    kernel = torch.randn(3, 10, 10, dtype=torch.float64)
    grid = torch.arange(10)
    offset = (grid[None, :] - grid[:, None]) % 10  # [i, m] -> (m - i) mod 10
    state["model"]["weight"] = kernel[:, offset[:, None, :, None], offset[None, :, None, :]].float()
    save_checkpoint(tmp_path / "s" / "checkpoint.pt", state)
    code, output = invoke("discover", str(tmp_path / "s"), "--format", "json")
    data = json.loads(output)
    assert code == 0 and data["shape"] == [3, 100, 100]
    assert data["best"] == "T10x10" and data["candidates"][0]["ari"] == 1.0
    with pytest.raises(ValueError, match="144 translations for 576 pixels"):
        _reshape_model_weight("seed-sharing", np.zeros((10, 12, 12, 24, 24)))
