"""The whole symmetry group, measured: where does recovery of a planted group break as noise grows,
and what does the discovered group buy when a model is trained with it?

Two parts (the tables of docs/discovery.md, "Any group"):

* ``noise``: weights of a linear equivariant layer tied by a group outside the candidate list
  (direct products on blocks, wreath products, the Petersen graph's S₅, the Rubik's cube group),
  one N(0, 1) value per class plus Gaussian noise of standard deviation σ; per case and σ: how
  often the discovered group is exactly the group the classes determine (same order, the planted
  generators keep the clustered classes), the bootstrap's agreement, how often the largest group
  within residual 0.05 is that group, and the time of one ``discover`` with 10 bootstrap draws.
* ``loop``: the worked example. ``sharing-linear`` (dense ``Wx + b`` with the seed's all-pairs
  sharing penalty, no group) trained on ``two-sets`` (hidden symmetry S₄ × S₄), the group
  discovered from its weights and compiled, then ``variety-tied`` networks on that group, on the
  best listed candidate S₈, and the dense model again, from the task's 8,000 sets and from 6.

    python benchmarks/bench_discovery_groups.py            # everything (about a minute)
    python benchmarks/bench_discovery_groups.py --quick    # smoke run
    python benchmarks/bench_discovery_groups.py --json benchmarks/out/discovery_groups.json

Prints one JSON document and then aligned tables.
"""

from __future__ import annotations

import argparse
import math
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _report import emit_json

from polyequiv import discovery
from polyequiv.spec import LayerSpec

NOISE = [0.0, 0.01, 0.03, 0.1, 0.2, 0.3]

RUBIK = """( 1, 3, 8, 6)( 2, 5, 7, 4)( 9,33,25,17)(10,34,26,18)(11,35,27,19)
( 9,11,16,14)(10,13,15,12)( 1,17,41,40)( 4,20,44,37)( 6,22,46,35)
(17,19,24,22)(18,21,23,20)( 6,25,43,16)( 7,28,42,13)( 8,30,41,11)
(25,27,32,30)(26,29,31,28)( 3,38,43,19)( 5,36,45,21)( 8,33,48,24)
(33,35,40,38)(34,37,39,36)( 3, 9,46,32)( 2,12,47,29)( 1,14,48,27)
(41,43,48,46)(42,45,47,44)(14,22,30,38)(15,23,31,39)(16,24,32,40)"""


def generators(n: int, text: str, one_based: bool = False) -> list[tuple[int, ...]]:
    """Generators written as cycles, one generator per line or comma-separated ``(0 1),(0 1 2)``."""
    found = []
    for chunk in re.findall(r"((?:\([^)]*\))+)", text):
        image = list(range(n))
        for cycle in re.findall(r"\(([^)]*)\)", chunk):
            points = [int(x) - one_based for x in re.split(r"[ ,]+", cycle.strip())]
            for a, b in zip(points, points[1:] + points[:1], strict=True):
                image[a] = b
        found.append(tuple(image))
    return found


def cases() -> list[dict[str, Any]]:
    """Planted groups and the order of the group their pair classes determine (sympy; closed form for
    the Rubik cube's 2-closure (C3 ≀ S8) × (S2 ≀ S12))."""
    from sympy.combinatorics import Permutation, PermutationGroup

    petersen = [tuple(p) for p in _petersen_automorphisms()]
    listed = [("S4 × S4", 8, generators(8, "(0 1),(0 1 2 3),(4 5),(4 5 6 7)")),
              ("C5 × D4", 9, generators(9, "(0 1 2 3 4),(5 6 7 8),(6 8)")),
              ("S3 ≀ S3", 9, generators(9, "(0 1),(0 1 2),(0 3 6)(1 4 7)(2 5 8),(0 3)(1 4)(2 5)")),
              ("S2 ≀ S4", 8, generators(8, "(0 1),(0 2 4 6)(1 3 5 7),(0 2)(1 3)")),
              ("Petersen graph: S5 on 10 vertices", 10, petersen),
              ("Rubik's cube, 48 facelets", 48, generators(48, RUBIK, one_based=True))]
    found = []
    for label, n, gens in listed:
        order = PermutationGroup([Permutation(list(g)) for g in gens]).order()
        if label.startswith("Rubik"):
            order = 3**8 * math.factorial(8) * 2**12 * math.factorial(12)
        found.append({"group": label, "n": n, "generators": gens, "order": order})
    return found


def _petersen_automorphisms() -> list[list[int]]:
    """S5 acting on the 10 two-subsets of {0..4} (the Petersen graph's vertices), by two generators."""
    import itertools

    pairs = list(itertools.combinations(range(5), 2))
    index = {pair: i for i, pair in enumerate(pairs)}
    images = []
    for sigma in ([1, 0, 2, 3, 4], [1, 2, 3, 4, 0]):
        images.append([index[tuple(sorted((sigma[a], sigma[b])))] for a, b in pairs])
    return images


def noise_row(case: dict[str, Any], sigma: float, seeds: int) -> dict[str, Any]:
    n, gens = case["n"], case["generators"]
    classes = discovery.derived_classes(LayerSpec(n=n, degree=1, group="custom", generators=tuple(gens)))
    exact, agreement, largest, seconds, names = 0, [], 0, [], {}
    for seed in range(seeds):
        rng = np.random.default_rng(100 * seed + n)
        weights = (rng.standard_normal(int(classes.max()) + 1)[classes]
                   + sigma * rng.standard_normal(classes.size)).reshape(n, n)
        start = time.perf_counter()
        result = discovery.discover(weights, bootstrap=10, residual_tolerance=0.05, seed=seed)
        seconds.append(time.perf_counter() - start)
        found, checks = result.symmetry, result.robustness
        hit = found.order == case["order"] and all(
            discovery.preserves(result.layout, result.labels, g) for g in gens)
        exact += hit
        agreement.append(checks.agreeing / checks.draws)
        largest += checks.largest.order == case["order"]
        names[found.name] = names.get(found.name, 0) + 1
    return {"group": case["group"], "n": n, "order": case["order"], "sigma": sigma, "seeds": seeds,
            "exact": exact / seeds, "bootstrap_agreement": float(np.mean(agreement)),
            "largest_within_0.05": largest / seeds, "names": names, "seconds": float(np.mean(seconds))}


def closing_the_loop(quick: bool) -> list[dict[str, Any]]:
    """The worked example of docs/discovery.md through the library (the CLI commands are in the docs)."""
    from polyequiv.derivation import derive
    from polyequiv.discovery.runs import load_layout
    from polyequiv.scheme import TyingScheme
    from polyequiv.training.config import RunConfig
    from polyequiv.training.run import train

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        def run(label: str, model: str, options: dict[str, Any], train_size: int | None = None,
                epochs: int | None = None) -> dict[str, Any]:
            task_options = {} if train_size is None else {"train": train_size}
            config = RunConfig.create("two-sets", model, seed=0, model_options=options,
                                      task_options=task_options, epochs=epochs)
            out = Path(folder) / f"run{len(rows)}"
            start = time.perf_counter()
            results = train(config, out)
            (record,) = results["evaluation"]["per_cardinality"]
            row = {"run": label, "model": model, "options": options, "train_sets": train_size or 8_000,
                   "parameters": results["model"]["parameters"], "test_mae": record["mae"],
                   "seconds": round(time.perf_counter() - start, 2)}
            rows.append(row)
            return {**row, "out": out}

        dense = run("dense, sharing penalty (λ = 1e-4)", "sharing-linear", {})
        weights, _, mode, _ = load_layout(dense["out"], None)
        found = discovery.discover(weights, mode=mode or "auto", bootstrap=10, residual_tolerance=0.05)
        scheme = TyingScheme.from_derivation(derive(found.layout.spec("custom", found.symmetry.generators)))
        rows[-1].update({"discovered": found.symmetry.name, "order": found.symmetry.order,
                         "generators": found.symmetry.cycles(), "verdict": found.verdict,
                         "bootstrap": f"{found.robustness.agreeing}/{found.robustness.draws}",
                         "scheme_classes": scheme.num_classes, "scheme_free": scheme.num_free})
        tied = f"{found.symmetry.spec_label} [linear tied +bias -> 8]"
        run(f"tied, discovered {found.symmetry.name}", "variety-tied", {"network": tied})
        run("tied, S8 (the listed candidate)", "variety-tied", {"network": "S8 [linear tied +bias -> 8]"})
        if not quick:
            run(f"tied, discovered {found.symmetry.name}", "variety-tied", {"network": tied}, 6, 2000)
            run("dense, sharing penalty (λ = 1e-4)", "sharing-linear", {}, 6, 2000)
            run("dense, no penalty", "sharing-linear", {"penalty": 0.0}, 6, 2000)
    return rows


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_tables(noise: list[dict[str, Any]], loop: list[dict[str, Any]]) -> None:
    rows = [["group", "n", "order", "σ", "exact", "bootstrap", "largest≤0.05", "names", "s/discover"]]
    for row in noise:
        names = ", ".join(f"{k} ({v})" for k, v in sorted(row["names"].items(), key=lambda kv: -kv[1]))
        rows.append([row["group"], str(row["n"]), f"{row['order']:,}", f"{row['sigma']:g}",
                     f"{row['exact']:.0%}", f"{row['bootstrap_agreement']:.0%}",
                     f"{row['largest_within_0.05']:.0%}", names, f"{row['seconds']:.2f}"])
    print(table(rows))
    print()
    rows = [["run", "train sets", "parameters", "test MAE", "s"]]
    for row in loop:
        rows.append([row["run"], f"{row['train_sets']:,}", str(row["parameters"]), f"{row['test_mae']:.3g}",
                     f"{row['seconds']:.1f}"])
    print(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two groups, two noise levels, one seed")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    started = time.perf_counter()
    chosen = cases()[:2] if args.quick else cases()
    noise = [noise_row(case, sigma, 1 if args.quick else args.seeds) for case in chosen
             for sigma in ([0.0, 0.1] if args.quick else NOISE)]
    loop = closing_the_loop(args.quick)
    emit_json({"quick": args.quick, "noise": noise,
               "loop": loop, "seconds": round(time.perf_counter() - started, 1)}, args.json, indent=1)
    print_tables(noise, loop)


if __name__ == "__main__":
    main()
