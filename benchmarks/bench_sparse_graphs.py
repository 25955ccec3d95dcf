"""Pattern layers on large sparse graphs: the cubic ``E → V`` layer on edge lists against PyG's GINConv.

Two graphs of ``--nodes`` nodes and about ``--edges`` undirected edges, generated in code
(:mod:`polyequiv.tasks.graph_families`): Erdős–Rényi G(n, m) and Barabási–Albert (``m / n`` edges per
new node: a power law, hubs of degree ~1,000).  On each, forward + backward (loss ``mean(y²)``) of

* ``cubic``: ``TensorPolyLayer("E", "V", 3)``, 1 channel, float32, summed on the edge lists
  (:mod:`polyequiv.nn.sparse_patterns`; all ones as edge values, gradients to the 23 weights);
* ``cubic, edge grads``: the same with the edge values requiring gradients too;
* ``gin``: PyG's ``GINConv`` with an MLP 1 → 32 → 32, node features 1 (one scatter sum);

each the median of ``--repeats`` interleaved passes after a warm-up (and the fastest), with the
peak memory of one pass: in a fresh process that builds the graph and the modules, the peak
resident size (``VmHWM``) minus the resident size just before the pass.  Then each of the 23
patterns alone (forward, on freshly prepared edge lists, so a triangle pattern pays for listing
the triangles), and the graphs' sizes: maximum
degree, ``Σ deg²`` (two-paths), wedges of the degree ordering, triangles.  The target is the cubic
layer within 100× of GIN and under 4 GB.  One torch thread by default; the load average of this
shared machine is printed with the numbers.

    python benchmarks/bench_sparse_graphs.py [--quick] [--nodes 100000] [--edges 500000]
                                             [--repeats 5] [--threads 1] [--quartic]
                                             [--out benchmarks/out/sparse_graphs.json]

Prints one JSON document, a blank line, then aligned tables.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _report import emit_json
from bench_tensor_layers import timed

from polyequiv.nn import TensorPolyLayer
from polyequiv.nn.pyg import pyg_to_sparse
from polyequiv.nn.sparse_patterns import evaluate_pattern, layer_programs
from polyequiv.tasks.graph_families import barabasi_albert_edges, edge_index, gnm_edges


def _status(field: str) -> float:
    """A ``/proc/self/status`` memory field in MB (0 where there is no such file)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_memory_mb(args: argparse.Namespace, graph: str, step: str) -> float:
    """Peak resident memory of one pass of ``step`` on ``graph`` above what was resident before it,
    in MB, measured in a fresh interpreter (``nan`` where ``/proc`` has no such numbers)."""
    command = [sys.executable, __file__, "--nodes", str(args.nodes), "--edges", str(args.edges),
               "--seed", str(args.seed), "--threads", str(args.threads), "--memory-of", f"{graph}/{step}"]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()
    return float(json.loads(lines[-1])["peak_mb"])


def memory_child(args: argparse.Namespace) -> None:
    """``--memory-of GRAPH/STEP``: build the graph and the modules, then print the peak of one pass."""
    torch.set_num_threads(args.threads)
    graph, step = args.memory_of.split("/", 1)
    function = layer_steps(make_graphs(args.nodes, args.edges, args.seed)[graph], args.nodes)[step]
    gc.collect()
    before = _status("VmRSS")
    function()
    print(json.dumps({"peak_mb": max(_status("VmHWM") - before, 0.0)}))


def make_graphs(nodes: int, edges: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"erdos-renyi": gnm_edges(rng, nodes, edges),
            "barabasi-albert": barabasi_albert_edges(rng, nodes, max(1, round(edges / nodes)))}


def graph_sizes(edges: np.ndarray, nodes: int) -> dict[str, Any]:
    """Maximum degree, two-paths ``Σ deg²``, wedges of the degree ordering, triangles."""
    index = torch.from_numpy(edge_index(edges))
    graph = pyg_to_sparse("E", "V", 1, edge_index=index, num_nodes=nodes, dtype=torch.float32)
    pair = graph.inputs[0].pair(False, graph.supports)
    degree = np.bincount(edges.reshape(-1), minlength=nodes).astype(np.int64)
    rank = degree * nodes + np.arange(nodes)
    lower = np.where(rank[edges[:, 0]] < rank[edges[:, 1]], edges[:, 0], edges[:, 1])
    up = np.bincount(lower, minlength=nodes)
    return {"nodes": nodes, "edges": int(edges.shape[0]), "max_degree": int(degree.max()),
            "two_paths": int((degree**2).sum()), "wedges": int((up * (up - 1) // 2).sum()),
            "triangles": int(graph.supports.triangles(pair).shape[0])}


def layer_steps(edges: np.ndarray, nodes: int) -> dict[str, Callable[[], None]]:
    """Forward + backward of the cubic layer (weights; weights and edge values) and of GINConv."""
    from torch_geometric.nn import GINConv

    index = torch.from_numpy(edge_index(edges))
    torch.manual_seed(0)
    cubic = TensorPolyLayer("E", "V", 3)
    gin = GINConv(torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32)))
    x = torch.ones(nodes, 1)
    values = torch.ones(index.shape[1], 1, requires_grad=True)

    def cubic_step() -> None:
        cubic.zero_grad(set_to_none=True)
        cubic.forward_pyg(edge_index=index, num_nodes=nodes).square().mean().backward()

    def cubic_edges_step() -> None:
        cubic.zero_grad(set_to_none=True)
        values.grad = None
        cubic.forward_pyg(edge_index=index, num_nodes=nodes, edge_attr=values).square().mean().backward()

    def gin_step() -> None:
        gin.zero_grad(set_to_none=True)
        gin(x, index).square().mean().backward()

    return {"cubic": cubic_step, "cubic, edge grads": cubic_edges_step, "gin": gin_step}


def quartic_forward(edges: np.ndarray, nodes: int) -> dict[str, Any]:
    """``--quartic``: one forward of the 79 patterns of the quartic E → V layer (4-cycles among them)."""
    index = torch.from_numpy(edge_index(edges))
    layer = TensorPolyLayer("E", "V", 4)
    start = time.perf_counter()
    with torch.no_grad():
        layer.forward_pyg(edge_index=index, num_nodes=nodes)
    return {"method": "quartic (forward)", "seconds": time.perf_counter() - start}


def pattern_costs(edges: np.ndarray, nodes: int, repeats: int) -> list[dict[str, Any]]:
    """Each pattern of the cubic layer alone: median forward seconds on freshly prepared edge lists."""
    index = torch.from_numpy(edge_index(edges))
    layer = TensorPolyLayer("E", "V", 3)
    rows = []
    with torch.no_grad():
        for pattern, program in zip(layer.patterns, layer_programs(layer), strict=True):
            seconds = []
            for _ in range(repeats):
                graph = pyg_to_sparse("E", "V", 1, edge_index=index, num_nodes=nodes, dtype=torch.float32)
                start = time.perf_counter()
                evaluate_pattern(program, graph)
                seconds.append(time.perf_counter() - start)
            rows.append({"pattern": str(pattern), "seconds": statistics.median(seconds)})
    start = time.perf_counter()
    pyg_to_sparse("E", "V", 1, edge_index=index, num_nodes=nodes, dtype=torch.float32)
    rows.append({"pattern": "(checking and sorting the edge list)", "seconds": time.perf_counter() - start})
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    document: dict[str, Any] = {"threads": args.threads, "repeats": args.repeats,
                                "load_average_before": [round(v, 2) for v in os.getloadavg()], "graphs": {}}
    for name, edges in make_graphs(args.nodes, args.edges, args.seed).items():
        steps = layer_steps(edges, args.nodes)
        times = timed(steps, args.repeats)
        memory = {step: peak_memory_mb(args, name, step) for step in steps}
        cases = [{"method": step, "seconds": times[step], "seconds_min": times[f"{step}_min"],
                  "peak_mb": memory[step], "over_gin": times[step] / times["gin"]} for step in steps]
        if args.quartic:
            cases.append(quartic_forward(edges, args.nodes))
        document["graphs"][name] = {"sizes": graph_sizes(edges, args.nodes), "cases": cases,
                                    "patterns": pattern_costs(edges, args.nodes, max(1, args.repeats // 2))}
    document["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    return document


def report(document: dict[str, Any]) -> str:
    lines = [f"load average (1, 5, 15 min): {document['load_average_before']} before, "
             f"{document['load_average_after']} after; {document['threads']} torch thread(s)", ""]
    for name, graph in document["graphs"].items():
        sizes = graph["sizes"]
        lines.append(f"{name}: {sizes['nodes']:,} nodes, {sizes['edges']:,} edges, max degree "
                     f"{sizes['max_degree']:,}, two-paths {sizes['two_paths']:,}, "
                     f"wedges {sizes['wedges']:,}, "
                     f"triangles {sizes['triangles']:,}")
        lines.append(f"  {'method':20s} {'fwd+bwd s':>10s} {'fastest s':>10s} {'peak MB':>9s} {'× GIN':>8s}")
        for case in graph["cases"]:
            if "peak_mb" not in case:  # --quartic: one forward pass
                lines.append(f"  {case['method']:20s} {case['seconds']:10.3f}")
                continue
            lines.append(f"  {case['method']:20s} {case['seconds']:10.3f} {case['seconds_min']:10.3f} "
                         f"{case['peak_mb']:9.0f} {case['over_gin']:8.1f}")
        lines.append("")
    names = list(document["graphs"])
    lines.append(f"  {'pattern (forward, alone)':40s}" + "".join(f" {n + ' ms':>20s}" for n in names))
    rows = zip(*(document["graphs"][n]["patterns"] for n in names), strict=True)
    for row in rows:
        lines.append(f"  {row[0]['pattern']:40s}" + "".join(f" {1000 * r['seconds']:20.1f}" for r in row))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 nodes, 10,000 edges, 1 repeat")
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quartic", action="store_true", help="also one forward of the quartic layer")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)  # the child of peak_memory_mb
    args = parser.parse_args()
    if args.memory_of:
        memory_child(args)
        return
    if args.quick:
        args.nodes, args.edges, args.repeats = 2_000, 10_000, 1
    document = run(args)
    emit_json(document, args.out)
    print(report(document))


if __name__ == "__main__":
    main()
