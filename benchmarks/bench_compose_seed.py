"""The seed's network side by side with the seed's program, and networks past it (polyequiv.compose).

The seed's program ``poly-algebra-3.py`` (``../shared/seeds/programs/``, run here as a subprocess,
never imported) expands three composed quadratic layers with the constant input x₀ ≡ 1 at N = 3,
the first output of the third layer only, by operator overloading.  polyequiv's network is
``S3 [quadratic free +bias -> 3, quadratic free +bias -> 3, quadratic free +bias -> 3]``.

* ``seed``: the seed's program, whole process (wall and CPU seconds, each run);
* ``processes``: whole polyequiv processes (interpreter, imports, work, printing): the expansion
  alone (``python -c``), ``polyequiv compose --no-variety`` (expansion and every equation) and
  ``polyequiv compose --no-search`` (and the variety's ranks).  Byte-code is cached in a
  temporary folder after a warm-up run, as an installed package has it (this machine sets
  ``PYTHONDONTWRITEBYTECODE``, which would recompile polyequiv in every process);
* ``networks``: in-process expansion and equations of the seed's network and of 4-layer and
  n = 4 networks (each in a fresh subprocess: the best of ``--repeats`` and the first run, which
  also pays for fresh memory pages, and the peak memory after the first run).

    python benchmarks/bench_compose_seed.py                 # everything (about 2 minutes)
    python benchmarks/bench_compose_seed.py --quick         # no seed program, small networks
    python benchmarks/bench_compose_seed.py --out benchmarks/out/compose_seed.json

Prints one JSON document and then aligned tables; the load average is recorded beside the times.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _report import emit_json

ROOT = Path(__file__).resolve().parents[1]
SEED_PROGRAM = ROOT.parent / "shared" / "seeds" / "programs" / "poly-algebra-3.py"
SEED_NETWORK = "S3 [quadratic free +bias -> 3, quadratic free +bias -> 3, quadratic free +bias -> 3]"
NETWORKS = [
    SEED_NETWORK,
    "S3 [quadratic tied +bias -> 3, quadratic tied +bias -> 3, quadratic tied +bias -> 3]",
    "S3 [quadratic free +bias -> 3, quadratic free +bias -> 3, quadratic free +bias -> 3, "
    "linear free +bias -> 3]",
    "S3 [quadratic free +bias -> 3, quadratic free +bias -> 3, linear free +bias -> 3, "
    "quadratic free +bias -> 3]",
    "S4 [quadratic free -> 4, quadratic free -> 4, quadratic free -> 4]",
    "S4 [quadratic free +bias -> 4, quadratic free +bias -> 4, quadratic free +bias -> invariant]",
]
QUICK_NETWORKS = ["S3 [quadratic free +bias -> 3, quadratic free +bias -> 3]"]
EXPAND = (
    "import sys; from polyequiv.compose import NetworkSpec, expand_network; "
    "e = expand_network(NetworkSpec.parse(sys.argv[1])); print(e.num_terms)"
)
#: Run in a subprocess per network: expansion and equations, best of the repeats, peak memory.
MEASURE = """
import json, resource, sys, time
from polyequiv.compose import NetworkSpec, expand_network, network_constraints
spec, best, first, peak = NetworkSpec.parse(sys.argv[1]), {}, {}, None
for _ in range(int(sys.argv[2])):
    start = time.perf_counter(); expansion = expand_network(spec); middle = time.perf_counter()
    constraints = network_constraints(expansion); end = time.perf_counter()
    for key, value in (("expansion", middle - start), ("equations", end - middle)):
        best[key] = min(best.get(key, value), value)
        first.setdefault(key, value)
    peak = peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
print(json.dumps({"terms": expansion.num_terms, "estimated_terms": spec.estimate_terms(),
    "estimated_gb": round(spec.estimate_bytes() / 1e9, 2), "key_words": expansion.layout.num_words,
    "coefficients": expansion.num_coefficients, "equations": len(constraints.equations),
    "equation_terms": constraints.num_equation_terms, "by_degree": constraints.by_degree(),
    "matching": constraints.packed.method, "expansion_seconds": round(best["expansion"], 4),
    "equation_seconds": round(best["equations"], 4), "first_expansion_seconds": round(first["expansion"], 4),
    "first_equation_seconds": round(first["equations"], 4), "peak_gb_first_run": round(peak, 2)}))
"""


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall and CPU (user + system of the child) seconds of one process, and its standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout


def run_seed(runs: int) -> dict[str, Any]:
    walls, cpus, terms = [], [], None
    for _ in range(runs):
        wall, cpu, out = timed([sys.executable, str(SEED_PROGRAM)])
        walls.append(round(wall, 3))
        cpus.append(round(cpu, 3))
        terms = [int(v) for v in re.findall(r"# terms =\s+(\d+)", out)]
    return {
        "program": str(SEED_PROGRAM.relative_to(ROOT.parent)),
        "wall_seconds": walls,
        "cpu_seconds": cpus,
        "best_wall": min(walls),
        "best_cpu": min(cpus),
        "printed_terms": terms,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def cached_env(prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = prefix
    return env


def run_processes(runs: int, network: str) -> list[dict[str, Any]]:
    polyequiv = str(Path(sys.executable).parent / "polyequiv")
    cases = [
        ("expansion (python -c)", [sys.executable, "-c", EXPAND, network]),
        (
            "compose --no-variety (expansion + all equations)",
            [polyequiv, "compose", "--spec", network, "--no-variety"],
        ),
        ("compose --no-search (+ variety ranks)", [polyequiv, "compose", "--spec", network, "--no-search"]),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as prefix:
        env = cached_env(prefix)
        for name, command in cases:
            timed(command, env)  # warm-up: writes the byte-code cache
            measured = [timed(command, env)[:2] for _ in range(runs)]
            rows.append(
                {
                    "process": name,
                    "wall_seconds": [round(w, 3) for w, _ in measured],
                    "cpu_seconds": [round(c, 3) for _, c in measured],
                    "best_wall": round(min(w for w, _ in measured), 3),
                    "best_cpu": round(min(c for _, c in measured), 3),
                    "load_average": [round(v, 2) for v in os.getloadavg()],
                }
            )
    return rows


def run_networks(networks: list[str], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for network in networks:
        _, _, out = timed([sys.executable, "-c", MEASURE, network, str(repeats)])
        rows.append(
            {"network": network, **json.loads(out), "load_average": [round(v, 2) for v in os.getloadavg()]}
        )
    return rows


def print_tables(document: dict[str, Any]) -> None:
    seed = document.get("seed")
    if seed:
        print(
            f"seed's program: best {seed['best_wall']:.2f} s wall, {seed['best_cpu']:.2f} s CPU "
            f"(runs {seed['wall_seconds']}), load {seed['load_average']}"
        )
    for row in document["processes"]:
        share = f"  {100 * row['best_wall'] / seed['best_wall']:.1f} % of the seed's" if seed else ""
        print(f"{row['process']:<52} best {row['best_wall']:.3f} s wall, {row['best_cpu']:.3f} s CPU{share}")
    print("in-process seconds: best of the repeats / first run")
    print(f"{'network':<112} {'terms':>11} {'expand s':>13} {'equations':>9} {'eq s':>13} {'peak GB':>8}")
    for row in document["networks"]:
        print(
            f"{row['network']:<112} {row['terms']:>11,} "
            f"{row['expansion_seconds']:>6.3f}/{row['first_expansion_seconds']:<6.3f} {row['equations']:>9,} "
            f"{row['equation_seconds']:>6.3f}/{row['first_equation_seconds']:<6.3f} "
            f"{row['peak_gb_first_run']:>8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no seed program, small networks, one run")
    parser.add_argument("--runs", type=int, default=3, help="whole-process runs of each command")
    parser.add_argument("--repeats", type=int, default=3, help="in-process repeats per network")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    runs, repeats = (1, 1) if args.quick else (args.runs, args.repeats)
    document: dict[str, Any] = {"load_average_before": [round(v, 2) for v in os.getloadavg()]}
    if not args.quick and SEED_PROGRAM.exists():
        document["seed"] = run_seed(runs)
    network = QUICK_NETWORKS[0] if args.quick else SEED_NETWORK
    document["processes"] = run_processes(runs, network)
    document["networks"] = run_networks(QUICK_NETWORKS if args.quick else NETWORKS, repeats)
    emit_json(document, args.out)
    print_tables(document)


if __name__ == "__main__":
    main()
