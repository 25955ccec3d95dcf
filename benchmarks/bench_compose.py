"""Benchmark network expansion, equations and variety measurement (polyequiv.compose).

Three measurements, each best of ``--repeats``:

* ``expansion``: :func:`expand_network` (disjoint blocks of shared products, packed numpy keys)
  and :func:`expand_network_flint` (FLINT ``fmpz_mpoly`` products and sums, the previous path),
  timed in the same run, on the seed's three composed quadratic layers at N = 3 (widths 3, 3, 3;
  §2.5's ordered layer ``y_k = Σ_{i≤j} W^k_ij x_i x_j``), the same network with the seed's §2.6
  constant input ``x₀ ≡ 1`` in every layer (``+bias``, all monomials of degree ≤ 2, the convention of
  the seed's printed output), and its all-tied version (class parameters repeat, blocks merge).
  The seed reports 13.8 s for its own operator-overloading algebra; the target is ≥ 100× faster
  (< 0.14 s).  The load average (``os.getloadavg``) is recorded with the times.
* ``constraints``: expansion + coefficient-matching equations for two quadratic layers with bias
  at n = 3 and 4 (hidden width n).
* ``variety``: :func:`measure_variety` (ranks modulo two primes, no search) on the same networks.

    python benchmarks/bench_compose.py                  # everything (about half a minute)
    python benchmarks/bench_compose.py --quick          # a smoke run
    python benchmarks/bench_compose.py --out benchmarks/out/compose.json
    python benchmarks/bench_compose.py --table          # the dimension table of docs/composition.md
                                                        # (with the certificates; about 10 minutes)

Prints one JSON document and then an aligned table.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _report import emit_json

from polyequiv.compose import NetworkSpec, block_expansion
from polyequiv.compose.certificate import certify_dimension
from polyequiv.compose.expansion import expand_network, expand_network_flint, network_constraints
from polyequiv.compose.variety import measure_variety

SEED_SECONDS = 13.8
EXPANSION_CASES = [
    "S3 [quadratic free -> 3, quadratic free -> 3, quadratic free -> 3]",
    "S3 [quadratic free +bias -> 3, quadratic free +bias -> 3, quadratic free +bias -> 3]",
    "S3 [quadratic tied +bias -> 3, quadratic tied +bias -> 3, quadratic tied +bias -> 3]",
]
CONSTRAINT_CASES = [
    "S3 [quadratic free +bias -> 3, quadratic free +bias -> 3]",
    "S4 [quadratic free +bias -> 4, quadratic free +bias -> 4]",
]
QUICK_EXPANSION = ["S3 [quadratic free -> 3, quadratic free -> 3]"]
QUICK_CONSTRAINTS = ["S3 [quadratic free -> 3, quadratic free -> invariant]"]


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    seconds, result = runs(repeats, run)
    return min(seconds), result


def runs(repeats: int, run: Callable[[], Any]) -> tuple[list[float], Any]:
    """The seconds of each of ``repeats`` calls, and the last result."""
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def _expand_cold(spec: NetworkSpec):
    block_expansion._multisets.cache_clear()  # no help from an earlier repetition
    return expand_network(spec)


def time_expansion(text: str, repeats: int) -> dict:
    spec = NetworkSpec.parse(text)
    expand_network_flint(spec)  # derive the tied layers' schemes once, outside both timings
    flint_runs, old = runs(repeats, lambda: expand_network_flint(spec))
    block_runs, expansion = runs(repeats, lambda: _expand_cold(spec))
    seconds, flint_seconds = min(block_runs), min(flint_runs)
    return {
        "network": text,
        "weights": spec.num_weights,
        "parameters": expansion.num_params,
        "output_degree": spec.degree,
        "terms": expansion.num_terms,
        "flint_terms": old.num_terms,
        "estimated_terms": spec.estimate_terms(),
        "key_words": expansion.packing.num_words,
        "seconds": round(seconds, 6),
        "flint_seconds": round(flint_seconds, 6),
        "speedup_vs_flint": round(flint_seconds / seconds, 1),
        "runs_seconds": [round(v, 4) for v in block_runs],
        "flint_runs_seconds": [round(v, 4) for v in flint_runs],
        "speedup_vs_seed": round(SEED_SECONDS / seconds, 1),
    }


def time_constraints(text: str, repeats: int) -> dict:
    spec = NetworkSpec.parse(text)
    seconds, constraints = best_of(repeats, lambda: network_constraints(expand_network(spec)))
    summary = constraints.summary()
    return {
        "network": text,
        "weights": spec.num_weights,
        "terms": summary["expansion_terms"],
        "coefficients": summary["coefficients"],
        "equations": summary["equations"],
        "equations_by_degree": summary["equations_by_degree"],
        "seconds": round(seconds, 6),
    }


def time_variety(text: str, repeats: int) -> dict:
    spec = NetworkSpec.parse(text)
    seconds, m = best_of(repeats, lambda: measure_variety(spec, search=False))
    return {
        "network": text,
        "parameters": m.num_params,
        "tied_dim": m.tied_dim,
        "tangent_dim": m.tangent_dim,
        "function_dim": m.function_dim,
        "primes_agree": m.primes_agree,
        "seconds": round(seconds, 6),
    }


def certificate_columns(spec: NetworkSpec, seconds: float | None) -> dict:
    """The exact certificate of one row (:func:`certify_dimension`); no Gröbner basis for ``None``."""
    certificate = certify_dimension(spec, groebner=seconds is not None, seconds=seconds)
    groebner = certificate.groebner
    return {
        "local_lower": certificate.local.lower,
        "local_upper": certificate.local_upper,
        "local_certified": certificate.local.certified,
        "singular_point": certificate.singular,
        "groebner_dim": None if groebner is None else groebner.dimension,
        "groebner_message": None if groebner is None else groebner.message,
        "groebner_seconds": None if groebner is None else round(groebner.seconds, 3),
        "zero_layer_dim": max(d for _, d in certificate.subspaces),
    }


def dimension_rows(ns: list[int], bias: bool = False, certify_seconds: float | None = None) -> list[dict]:
    """Two free layers of degrees (d₁, d₂) ∈ {1, 2}², hidden width 1..n, equivariant and invariant."""
    rows = []
    plus = " +bias" if bias else ""
    names = {1: "linear", 2: "quadratic"}
    for n in ns:
        for d1 in (1, 2):
            for d2 in (1, 2):
                for out in (str(n), "invariant"):
                    for width in range(1, n + 1):
                        text = f"S{n} [{names[d1]} free{plus} -> {width}, {names[d2]} free{plus} -> {out}]"
                        start = time.perf_counter()
                        spec = NetworkSpec.parse(text)
                        m = measure_variety(spec, seed=0)
                        search = m.search.summary() if m.search else None
                        rows.append(
                            {
                                "network": text,
                                "n": n,
                                "degrees": [d1, d2],
                                "output": "invariant" if out == "invariant" else "equivariant",
                                "hidden_width": width,
                                "parameters": m.num_params,
                                "tied_dim": m.tied_dim,
                                "tangent_dim": m.tangent_dim,
                                "function_dim": m.function_dim,
                                "variety_function_dim": m.variety_function_dim,
                                "tied_function_dim": m.tied_function_dim,
                                "primes_agree": m.primes_agree,
                                "search_found": None if search is None else search["found"],
                                "new_function": None if search is None else search["new_function"],
                                **certificate_columns(spec, certify_seconds),
                                "seconds": round(time.perf_counter() - start, 3),
                            }
                        )
    return rows


def _certified(r: dict) -> str:
    """The certified columns: local dim at T (or its bounds), dim V (Gröbner) or why not."""
    local = str(r["local_upper"]) if r["local_certified"] else f"{r['local_lower']}–{r['local_upper']}"
    if r["groebner_dim"] is not None:
        whole = str(r["groebner_dim"])
    elif r["groebner_message"] and "parameters" in r["groebner_message"]:
        whole = "–"
    else:
        whole = f"≥ {max(r['zero_layer_dim'], r['local_lower'])} (no basis in time)"
    return f"{local}{' (singular)' if r['singular_point'] else ''} | {whole}"


def print_dimension_table(rows: list[dict]) -> None:
    print(
        "| n | degrees | output | hidden width | params | dim T | tangent dim V "
        "| functions: all / V / T | V \\ T point | certified dim at T | dim V (Gröbner) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if r["search_found"] is None:
            found = "V = T near T"
        elif r["search_found"]:
            found = "found, new function" if r["new_function"] else "found, gauge-equivalent"
        else:
            found = "not found"
        print(
            f"| {r['n']} | {r['degrees'][0]},{r['degrees'][1]} | {r['output']} | {r['hidden_width']} | "
            f"{r['parameters']} | {r['tied_dim']} | {r['tangent_dim']} | {r['function_dim']} / "
            f"{r['variety_function_dim']} / {r['tied_function_dim']} | {found} | {_certified(r)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--table", action="store_true", help="print the dimension table (n = 2, 3, 4)")
    parser.add_argument("--table-n", default="2,3,4", help="sizes for --table")
    parser.add_argument(
        "--certify-seconds", type=float, default=20.0, help="time for each row's Gröbner basis (0: none)"
    )
    args = parser.parse_args()
    if args.table:
        seconds = args.certify_seconds or None
        rows = dimension_rows([int(v) for v in args.table_n.split(",")], certify_seconds=seconds)
        print(json.dumps({"dimension_table": rows}, indent=2))
        print()
        print_dimension_table(rows)
        return
    repeats = 1 if args.quick else args.repeats
    expansion_cases = QUICK_EXPANSION if args.quick else EXPANSION_CASES
    constraint_cases = QUICK_CONSTRAINTS if args.quick else CONSTRAINT_CASES
    document = {
        "seed_seconds": SEED_SECONDS,
        "load_average_before": [round(v, 2) for v in os.getloadavg()],
        "expansion": [time_expansion(text, repeats) for text in expansion_cases],
        "load_average_after_expansion": [round(v, 2) for v in os.getloadavg()],
        "constraints": [time_constraints(text, repeats) for text in constraint_cases],
        "variety": [time_variety(text, 1) for text in constraint_cases],
    }
    emit_json(document, args.out)
    width = max(
        len(row["network"]) for group in ("expansion", "constraints", "variety") for row in document[group]
    )
    print(f"load average (1, 5, 15 min): {document['load_average_before']} before")
    print(
        f"{'expansion':<{width}} {'weights':>7} {'terms':>10} {'seconds':>9} {'FLINT s':>9} "
        f"{'× FLINT':>8} {'× seed':>7}"
    )
    for row in document["expansion"]:
        print(
            f"{row['network']:<{width}} {row['weights']:>7} {row['terms']:>10,} "
            f"{row['seconds']:>9.4f} {row['flint_seconds']:>9.4f} {row['speedup_vs_flint']:>8} "
            f"{'—' if args.quick else row['speedup_vs_seed']:>7}"  # quick: not the seed's network
        )
    print(f"{'constraints':<{width}} {'weights':>7} {'terms':>10} {'seconds':>9} {'equations by degree'}")
    for row in document["constraints"]:
        degrees = ", ".join(f"{k}: {v}" for k, v in row["equations_by_degree"].items())
        print(
            f"{row['network']:<{width}} {row['weights']:>7} {row['terms']:>10,} "
            f"{row['seconds']:>9.4f} {degrees}"
        )
    print(f"{'variety':<{width}} {'params':>7} {'dim T':>6} {'tangent':>8} {'functions':>9} {'seconds':>9}")
    for row in document["variety"]:
        print(
            f"{row['network']:<{width}} {row['parameters']:>7} {row['tied_dim']:>6} {row['tangent_dim']:>8} "
            f"{row['function_dim']:>9} {row['seconds']:>9.4f}"
        )


if __name__ == "__main__":
    main()
