"""Benchmark start-up: whole-process wall times, what they import, and the engine `auto` should pick.

Three measurements:

* ``processes``: wall time of whole processes (interpreter start, imports and
  work), the median of ``--runs`` runs, and their CPU time (user + system: what
  the wall time is on an idle machine, for these single-threaded processes, and
  far less sensitive to a loaded one): ``polyequiv --help``, a small derive
  (``-n 10 --degree 1``, with ``auto`` and with ``--engine sparse``), cubic full
  n = 5 with each engine, and ``python -c "import polyequiv"``.  Each process also
  reports which heavy packages it imported (torch, sympy, scipy, networkx,
  matplotlib);
* ``imports``: ``python -X importtime`` of ``polyequiv --help`` and of the small
  derive, summed by top-level package (self times), largest first;
* ``engines``: :func:`polyequiv.derive` in one warm process, symbolic against
  sparse, best of ``--repeats``, with the counts checked equal.

``--before REV`` runs the process and import measurements on the git revision
``REV`` too (exported with ``git archive`` to a temporary folder), side by side.

    python benchmarks/bench_startup.py                       # everything (about a minute)
    python benchmarks/bench_startup.py --before fcdeb1c      # and the same on an older revision
    python benchmarks/bench_startup.py --quick               # a smoke run

Prints one JSON document and then aligned tables.  On a loaded machine, compare
medians taken in the same run (``--before``) rather than numbers from different runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _report import emit_json

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sympy", "scipy", "networkx", "matplotlib")

#: (name, polyequiv arguments); the import probe prints the heavy packages the process imported.
PROCESSES = [
    ("polyequiv --help", ["--help"]),
    ("derive -n 10 --degree 1 (auto)", ["derive", "-n", "10", "--degree", "1"]),
    (
        "derive -n 10 --degree 1 --engine sparse",
        ["derive", "-n", "10", "--degree", "1", "--engine", "sparse"],
    ),
    (
        "derive -n 5 --degree 3 --indexing full (auto)",
        ["derive", "-n", "5", "--degree", "3", "--indexing", "full"],
    ),
    (
        "derive -n 5 --degree 3 --indexing full --engine sparse",
        ["derive", "-n", "5", "--degree", "3", "--indexing", "full", "--engine", "sparse"],
    ),
    (
        "derive -n 5 --degree 3 --indexing full --engine symbolic",
        ["derive", "-n", "5", "--degree", "3", "--indexing", "full", "--engine", "symbolic"],
    ),
    ("python -c 'import polyequiv'", None),
]
QUICK_PROCESSES = {"polyequiv --help", "derive -n 10 --degree 1 (auto)", "python -c 'import polyequiv'"}

#: LayerSpec keyword arguments for the in-process engine comparison.
ENGINE_SPECS = [
    {"n": 10, "degree": 1},
    {"n": 5, "degree": 2},
    {"n": 6, "degree": 2, "bias": True},
    {"n": 4, "degree": 3, "bias": True},
    {"n": 5, "degree": 3, "indexing": "full"},
    {"n": 4, "degree": 2, "indexing": "full"},
    {"n": 8, "degree": 2, "group": "dihedral"},
    {"n": 6, "degree": 2, "transpositions": "all"},
]

# Runs the CLI (or only the import) and reports, on stderr, the heavy packages now in sys.modules.
_PROBE = """
import atexit, sys
heavy = {heavy!r}
found = lambda: ",".join(m for m in heavy if m in sys.modules)
atexit.register(lambda: sys.stderr.write("\\nHEAVY " + found() + "\\n"))
if {cli!r}:
    from polyequiv_cli.main import main
    sys.argv[0] = "polyequiv"
    main()
else:
    import polyequiv
"""


def source_tree(revision: str | None, scratch: Path) -> Path:
    """A folder holding ``polyequiv`` and ``polyequiv_cli`` of ``revision`` (None: this tree)."""
    tree = scratch / (revision or "working-tree")
    tree.mkdir(parents=True, exist_ok=True)
    if revision is None:
        source = ROOT
    else:
        source = scratch / f"{revision}-export"
        source.mkdir(exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision, "polyequiv", "cli"], capture_output=True, check=True
        ).stdout
        archive_path = scratch / f"{revision}.tar"
        archive_path.write_bytes(archive)
        with tarfile.open(archive_path) as tar:
            tar.extractall(source, filter="data")
    for name, folder in (("polyequiv", "polyequiv"), ("polyequiv_cli", "cli")):
        link = tree / name
        if not link.exists():
            link.symlink_to(source / folder, target_is_directory=True)
    return tree


def _environment(tree: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), NO_COLOR="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_process(tree: Path, args: list[str] | None, runs: int) -> dict:
    """Median wall time of ``runs`` whole processes (after one unmeasured warm-up run)."""
    code = _PROBE.format(heavy=HEAVY, cli=args is not None)
    command = [sys.executable, "-c", code, *(args or [])]
    env = _environment(tree)
    times, cpu_times, heavy = [], [], ""
    for number in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tree, timeout=300)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if completed.returncode != 0:
            raise RuntimeError(f"{command[3:]} failed: {completed.stderr.strip().splitlines()[-1:]}")
        heavy = completed.stderr.rsplit("HEAVY ", 1)[-1].strip()
        if number:  # the first run fills the OS file cache and writes bytecode
            times.append(seconds)
            cpu_times.append(cpu)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "cpu_median_s": statistics.median(cpu_times),
        "runs": runs,
        "heavy_imports": [m for m in heavy.split(",") if m],
    }


def import_summary(tree: Path, args: list[str], top: int) -> dict:
    """``-X importtime`` of one CLI process, self times summed by top-level package (microseconds)."""
    code = "import sys; sys.argv[0] = 'polyequiv'; from polyequiv_cli.main import main; main()"
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True,
        text=True,
        env=_environment(tree),
        cwd=tree,  # `python -c` puts the working folder first on sys.path
        timeout=300,
    )
    by_package: dict[str, int] = defaultdict(int)
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, _cumulative, name = (part.strip() for part in line.replace(":", "|", 1).split("|"))
        by_package[name.split(".")[0]] += int(self_us)
    ranked = sorted(by_package.items(), key=lambda item: -item[1])
    return {
        "command": "polyequiv " + " ".join(args),
        "total_ms": round(sum(by_package.values()) / 1000, 1),
        "top": [{"package": name, "self_ms": round(us / 1000, 1)} for name, us in ranked[:top]],
    }


def time_engines(specs: list[dict], repeats: int) -> list[dict]:
    """Best-of-``repeats`` in-process time of each engine; the counts must agree."""
    from polyequiv import LayerSpec, derive

    rows = []
    for kwargs in specs:
        spec = LayerSpec(**kwargs)
        row: dict = {"spec": str(spec)}
        counts = {}
        for engine in ("symbolic", "sparse"):
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                result = derive(spec, engine=engine)
                best = min(best, time.perf_counter() - start)
            row[f"{engine}_s"] = best
            counts[engine] = (result.distinct_weights, result.free_parameters, result.function_dim)
        if counts["symbolic"] != counts["sparse"]:
            raise AssertionError(f"{spec}: the engines disagree: {counts}")
        row["free_parameters"] = counts["sparse"][1]
        row["auto"] = derive(spec).engine
        row["speed_up"] = row["symbolic_s"] / row["sparse_s"]
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three processes, two runs, two engine specs")
    parser.add_argument("--runs", type=int, default=7, help="processes per command (median)")
    parser.add_argument("--repeats", type=int, default=3, help="in-process derivations per engine (best)")
    parser.add_argument("--before", default=None, metavar="REV", help="also measure this git revision")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    runs, repeats = (2, 1) if args.quick else (args.runs, args.repeats)
    processes = [p for p in PROCESSES if p[0] in QUICK_PROCESSES] if args.quick else PROCESSES
    revisions = {"after": None} if args.before is None else {"before": args.before, "after": None}
    with tempfile.TemporaryDirectory() as scratch:
        trees = {label: source_tree(rev, Path(scratch)) for label, rev in revisions.items()}
        document = {
            "python": sys.version.split()[0],
            "revisions": {label: rev or "working tree" for label, rev in revisions.items()},
            "processes": [
                {"command": name, **{label: time_process(tree, argv, runs) for label, tree in trees.items()}}
                for name, argv in processes
            ],
            "imports": {
                label: [import_summary(tree, argv, top=8) for argv in (["--help"], PROCESSES[1][1])]
                for label, tree in trees.items()
            },
            "engines": time_engines(ENGINE_SPECS[:2] if args.quick else ENGINE_SPECS, repeats),
        }
    emit_json(document, args.out)
    labels = list(revisions)
    header = f"{'whole process (median of ' + str(runs) + ')':<58}"
    columns = "".join(f"{label + ' s':>10}{label + ' cpu':>11}" for label in labels)
    print(header + columns + "  heavy imports: " + " / ".join(labels))
    for row in document["processes"]:
        cells = "".join(
            f"{row[label]['median_s']:>10.3f}{row[label]['cpu_median_s']:>11.3f}" for label in labels
        )
        heavy = " / ".join(",".join(row[label]["heavy_imports"]) or "-" for label in labels)
        print(f"{row['command']:<58}{cells}  {heavy}")
    for label in labels:
        for summary in document["imports"][label]:
            print()
            print(f"-X importtime, {label}: {summary['command']} ({summary['total_ms']} ms of imports)")
            for item in summary["top"]:
                print(f"  {item['package']:<28}{item['self_ms']:>8.1f} ms")
    print()
    print(
        f"{'in process (best of ' + str(repeats) + ')':<52}{'free':>6}{'symbolic s':>12}{'sparse s':>10}"
        f"{'ratio':>8}  auto"
    )
    for row in document["engines"]:
        print(
            f"{row['spec']:<52}{row['free_parameters']:>6}{row['symbolic_s']:>12.4f}{row['sparse_s']:>10.4f}"
            f"{row['speed_up']:>8.1f}  {row['auto']}"
        )


if __name__ == "__main__":
    main()
