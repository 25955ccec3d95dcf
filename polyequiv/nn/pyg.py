"""PyTorch Geometric batches in and out of :class:`~polyequiv.nn.TensorPolyLayer`.

PyG stores a batch of graphs sparsely: node features ``x`` of shape ``(N_total, c)``
(the graphs' nodes one after another), ``edge_index`` of shape ``(2, num_edges)``
(global node numbers), optional ``edge_attr`` ``(num_edges, c)``, and ``batch``
``(N_total,)`` giving each node's graph (sorted, as PyG's ``Batch`` makes it).
:func:`pyg_to_dense` turns that into the padded tensors and node mask the layer
takes (``torch_geometric.utils.to_dense_batch`` / ``to_dense_adj``);
:func:`dense_to_pyg` turns the layer's outputs back:

* ``V`` → ``(N_total, c_out)``, in the order of ``x``;
* ``E`` and ``V2`` → the values on ``edge_index``, ``(num_edges, c_out)`` (the default,
  ``edges="values"``: a layer then maps edge features to edge features on the same
  graph, like a PyG layer), or the padded ``(num_graphs, n_max, n_max, c_out)`` tensor
  with ``edges="dense"`` (every pair, zero outside the graphs) when the output must
  cover non-edges too (e.g. link prediction);
* ``1`` → ``(num_graphs, c_out)``.

Input terms: ``V`` ← ``x``; ``E`` ← ``edge_index`` and ``edge_attr`` (undirected: every
edge listed in both directions with equal values, no self-loops, no duplicates —
otherwise a ``ValueError`` naming the first bad edge); ``V2`` ← the same, read as
directed edges with self-loops allowed; ``1`` ← ``u`` ``(num_graphs, c)`` (PyG's name
for graph-level features).  Without ``edge_attr`` every edge has value 1 (an
adjacency matrix), which needs ``in_channels = 1``.  Orders 3 and more (``V3``…) have
no PyG form.

Since the layer is equivariant, renumbering the nodes of any graph in the batch
renumbers the outputs alike, so the sparse and the dense form give the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from polyequiv.reps import Representation

if TYPE_CHECKING:
    from polyequiv.nn.sparse_patterns import EdgeInput, SparseGraph

EDGE_FORMS = ("values", "dense")


def _graph_layout(
    x: Tensor | None, edge_index: Tensor | None, batch: Tensor | None, num_nodes: int | None
) -> tuple[Tensor, int, int]:
    """``batch`` (filled in for one graph), the number of graphs and the largest graph's size."""
    if batch is None:
        if num_nodes is None:
            if x is not None:
                num_nodes = x.shape[0]
            elif edge_index is not None and edge_index.numel():
                num_nodes = int(edge_index.max()) + 1
            else:
                raise ValueError("pass x, batch or num_nodes: the number of nodes is unknown")
        device = (x if x is not None else edge_index).device
        batch = torch.zeros(num_nodes, dtype=torch.long, device=device)
    if batch.dim() != 1:
        raise ValueError(f"batch must be one graph number per node (N_total,), got {tuple(batch.shape)}")
    if batch.numel() and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("batch must be sorted (each graph's nodes together, in order), as in PyG's Batch")
    if x is not None and x.shape[0] != batch.numel():
        raise ValueError(f"x has {x.shape[0]} nodes but batch has {batch.numel()}")
    num_graphs = int(batch.max()) + 1 if batch.numel() else 0
    counts = torch.bincount(batch, minlength=num_graphs)
    return batch, num_graphs, int(counts.max()) if num_graphs else 0


def _check_edges(term: str, edge_index: Tensor, values: Tensor, num_nodes: int
                 ) -> tuple[Tensor, Tensor | None]:
    """``E``: every edge in both directions with equal values, no self-loops, no duplicates;
    ``V2``: no duplicates.  Errors name the first offending edge (global node numbers).

    Returns the order that sorts the edges by ``(source, target)`` and, for ``E``, the position of
    every edge's reverse (``partner``; ``None`` for ``V2``).
    """
    from polyequiv.nn.sparse_factors import lookup

    check_edge_index(edge_index, num_nodes)
    source, target = edge_index
    code = source * num_nodes + target
    order = torch.argsort(code)
    ordered = code.index_select(0, order)
    repeated = torch.nonzero(ordered[1:] == ordered[:-1])[:, 0]
    if repeated.numel():
        first = int(ordered[int(repeated[0])])
        raise ValueError(
            f"edge_index lists edge ({first // num_nodes}, {first % num_nodes}) more than once "
            "(coalesce it, e.g. torch_geometric.utils.coalesce)"
        )
    if term != "E":
        return order, None
    loops = torch.nonzero(source == target)[:, 0]
    if loops.numel():
        node = int(source[int(loops[0])])
        raise ValueError(
            f"input term E (undirected simple graphs) has no self-loops; edge_index has ({node}, {node}) "
            "(remove them with torch_geometric.utils.remove_self_loops, or declare the input V2)"
        )
    reverse = target * num_nodes + source
    reverse_order = torch.argsort(reverse)  # symmetric: the k-th smallest reverse code is the k-th code
    if not torch.equal(reverse.index_select(0, reverse_order), ordered):
        k = int(torch.nonzero(~lookup(ordered, reverse)[1])[0, 0])
        raise ValueError(
            f"input term E (undirected edges) needs a symmetric edge_index: edge ({int(source[k])}, "
            f"{int(target[k])}) has no reverse ({int(target[k])}, {int(source[k])}) "
            "(use torch_geometric.utils.to_undirected, or declare the input V2 for directed graphs)"
        )
    partner = torch.empty_like(order).index_put_((reverse_order,), order)
    differ = (values - values.index_select(0, partner)).abs().flatten(1).amax(dim=1)
    scale = 1e-5 * values.abs().amax().clamp_min(1e-30) if values.numel() else 0
    unequal = torch.nonzero(differ > scale)[:, 0]
    if unequal.numel():
        k = int(unequal[0])
        raise ValueError(
            f"input term E (undirected edges) needs equal edge_attr both ways: edge ({int(source[k])}, "
            f"{int(target[k])}) and its reverse carry different values"
        )
    return order, partner


def check_edge_index(edge_index: object, num_nodes: int | None) -> None:
    """``edge_index`` is an integer tensor ``(2, num_edges)`` of node numbers ``0 … num_nodes − 1``;
    the error names the first edge out of range."""
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"edge_index must be a torch.Tensor (2, num_edges), got {type(edge_index).__name__}")
    if edge_index.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"edge_index must hold integer node numbers (torch.long), got {edge_index.dtype}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, num_edges), got {tuple(edge_index.shape)}")
    if num_nodes is None:
        return
    outside = (edge_index < 0).any(dim=0) | (edge_index >= num_nodes).any(dim=0)
    if edge_index.numel() and bool(outside.any()):
        k = int(torch.nonzero(outside)[0])
        raise ValueError(
            f"edge_index refers to nodes outside 0…{num_nodes - 1}: edge ({int(edge_index[0, k])}, "
            f"{int(edge_index[1, k])}) (number {k})"
        )


def pyg_to_dense(
    in_rep: Representation | str,
    in_channels: int,
    x: Tensor | None = None,
    edge_index: Tensor | None = None,
    batch: Tensor | None = None,
    *,
    edge_attr: Tensor | None = None,
    u: Tensor | None = None,
    num_nodes: int | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[list[Tensor], Tensor, Tensor]:
    """The padded inputs of a layer on ``in_rep``, the node mask ``(num_graphs, n_max)`` and the
    filled-in ``batch``.  ``dtype``: of the all-ones edge values when ``edge_attr`` is left out
    (default: ``x``'s, else torch's default).

    Raises
    ------
    ValueError
        A term whose PyG input is missing or mis-shaped; an ``E`` ``edge_index`` that is not
        symmetric (or has self-loops, duplicates, or unequal values both ways); a term of order ≥ 3.
    """
    from torch_geometric.utils import to_dense_adj, to_dense_batch

    rep = Representation.parse(in_rep)
    edge_index = _edge_index(edge_index)
    batch, num_graphs, n_max = _graph_layout(x, edge_index, batch, num_nodes)
    counts = torch.bincount(batch, minlength=num_graphs)
    mask = torch.arange(n_max, device=batch.device)[None, :] < counts[:, None]  # to_dense_batch's layout
    dtype = dtype or (x.dtype if x is not None else torch.get_default_dtype())
    inputs = []
    for term, arity in zip(rep.terms, rep.arities, strict=True):
        if arity < 2:
            value = _node_or_graph_input(term, x, u, in_channels, num_graphs)
            inputs.append(value if arity == 0 else
                          to_dense_batch(value, batch, max_num_nodes=n_max, batch_size=num_graphs)[0])
        elif arity == 2:
            values, _ = _checked_edges(term, edge_index, edge_attr, in_channels, dtype, batch.numel())
            inputs.append(
                to_dense_adj(edge_index, batch, values, max_num_nodes=n_max, batch_size=num_graphs)
            )
        else:
            raise ValueError(f"input term {term} (order {arity}) has no PyTorch Geometric form; pass tensors")
    return inputs, mask, batch


def pyg_to_sparse(
    in_rep: Representation | str,
    out_rep: Representation | str,
    in_channels: int,
    x: Tensor | None = None,
    edge_index: Tensor | None = None,
    batch: Tensor | None = None,
    *,
    edge_attr: Tensor | None = None,
    u: Tensor | None = None,
    num_nodes: int | None = None,
    dtype: torch.dtype | None = None,
) -> SparseGraph:
    """The inputs of a layer ``in_rep → out_rep`` in edge-list form (:mod:`polyequiv.nn.sparse_patterns`),
    checked as :func:`pyg_to_dense` checks them; an ``E`` or ``V2`` output lives on ``edge_index``
    (an ``E`` output needs it undirected)."""
    from polyequiv.nn.sparse_patterns import EdgeInput, SparseGraph

    rep_in, rep_out = Representation.parse(in_rep), Representation.parse(out_rep)
    edge_index = _edge_index(edge_index)
    batch, num_graphs, _ = _graph_layout(x, edge_index, batch, num_nodes)
    total = batch.numel()
    dtype = dtype or (x.dtype if x is not None else torch.get_default_dtype())
    inputs: list[object] = []
    for term, arity in zip(rep_in.terms, rep_in.arities, strict=True):
        if arity < 2:
            inputs.append(_node_or_graph_input(term, x, u, in_channels, num_graphs))
        elif arity == 2:
            values, (order, partner) = _checked_edges(term, edge_index, edge_attr, in_channels, dtype, total)
            loops = values.new_zeros((total, in_channels))
            on_loop = edge_index[0] == edge_index[1]
            if term == "V2" and bool(on_loop.any()):
                loops = loops.index_add(0, edge_index[0][on_loop], values[on_loop])
            inputs.append(EdgeInput(edge_index[0], edge_index[1], values, loops, partner, order))
        else:
            raise ValueError(f"input term {term} (order {arity}) has no PyTorch Geometric form; pass tensors")
    return SparseGraph(total, num_graphs, batch, inputs, in_channels,
                       _output_pairs(rep_out, inputs, edge_index, dtype, total))


def _output_pairs(rep_out: Representation, inputs: list[object], edge_index: Tensor | None,
                  dtype: torch.dtype, num_nodes: int) -> EdgeInput | None:
    """The pairs an ``E`` / ``V2`` output lives on: ``edge_index`` (undirected for ``E``), sharing
    an input's sorted lists when that input reads the same ``edge_index`` the same way."""
    from polyequiv.nn.sparse_patterns import EdgeInput

    edge_outputs = [t for t in rep_out.terms if t in ("E", "V2")]
    if not edge_outputs:
        return None
    if edge_index is None:
        raise ValueError(f"output term {edge_outputs[0]} as edge values needs edge_index (or edges='dense')")
    want_partner = "E" in edge_outputs
    for data in inputs:
        if isinstance(data, EdgeInput) and (data.partner is not None or not want_partner):
            return data
    ones = torch.ones(edge_index.shape[1], 1, dtype=dtype, device=edge_index.device)
    order, partner = _check_edges("E" if want_partner else "V2", edge_index, ones, num_nodes)
    return EdgeInput(edge_index[0], edge_index[1], ones, ones.new_zeros((num_nodes, 1)), partner, order)


def _edge_index(edge_index: object) -> Tensor | None:
    """``edge_index`` as int64 after checking its dtype and shape (``None`` stays ``None``)."""
    if edge_index is None:
        return None
    check_edge_index(edge_index, None)
    return edge_index.long()


def _node_or_graph_input(term: str, x: Tensor | None, u: Tensor | None, in_channels: int, num_graphs: int
                         ) -> Tensor:
    """``u`` for a ``1`` term, ``x`` for a ``V`` term, after checking their shapes."""
    if term == "1":
        if u is None or u.shape != (num_graphs, in_channels):
            shape = None if u is None else tuple(u.shape)
            raise ValueError(f"input term 1 takes u of shape ({num_graphs}, {in_channels}), got {shape}")
        return u
    if x is None or x.dim() != 2 or x.shape[1] != in_channels:
        shape = None if x is None else tuple(x.shape)
        raise ValueError(f"input term V takes x of shape (N_total, {in_channels}), got {shape}")
    return x


def _checked_edges(term: str, edge_index: Tensor | None, edge_attr: Tensor | None, in_channels: int,
                   dtype: torch.dtype, num_nodes: int) -> tuple[Tensor, tuple[Tensor, Tensor | None]]:
    """The edge values of an ``E`` / ``V2`` term (checked), the order sorting the edges and, for
    ``E``, every edge's reverse."""
    if edge_index is None:
        raise ValueError(f"input term {term} takes edge_index (and edge_attr), got none")
    values = _edge_values(edge_attr, edge_index, in_channels, term, dtype)
    return values, _check_edges(term, edge_index, values, num_nodes)


def _edge_values(
    edge_attr: Tensor | None, edge_index: Tensor, in_channels: int, term: str, dtype: torch.dtype
) -> Tensor:
    if edge_attr is None:
        if in_channels != 1:
            raise ValueError(
                f"input term {term} with {in_channels} channels needs edge_attr (num_edges, {in_channels})"
            )
        return torch.ones(edge_index.shape[1], 1, dtype=dtype, device=edge_index.device)
    values = edge_attr.unsqueeze(-1) if edge_attr.dim() == 1 else edge_attr
    if values.shape != (edge_index.shape[1], in_channels):
        raise ValueError(
            f"edge_attr must have shape ({edge_index.shape[1]}, {in_channels}) for term {term}, "
            f"got {tuple(edge_attr.shape)}"
        )
    return values


def dense_to_pyg(
    out_rep: Representation | str,
    outputs: Tensor | Sequence[Tensor],
    mask: Tensor,
    batch: Tensor,
    edge_index: Tensor | None = None,
    *,
    edges: str = "values",
) -> Tensor | tuple[Tensor, ...]:
    """The layer's padded outputs in PyG's form (see the module docstring); a tuple for a sum."""
    if edges not in EDGE_FORMS:
        raise ValueError(f"edges must be one of {EDGE_FORMS}, got {edges!r}")
    rep = Representation.parse(out_rep)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    converted = []
    for term, arity, out in zip(rep.terms, rep.arities, outputs, strict=True):
        if arity == 0:
            converted.append(out)
        elif arity == 1:
            converted.append(out[mask])
        elif arity == 2 and edges == "dense":
            converted.append(out)
        elif arity == 2:
            if edge_index is None:
                raise ValueError(f"output term {term} as edge values needs edge_index (or edges='dense')")
            graph = batch[edge_index[0]]
            counts = torch.bincount(batch, minlength=mask.shape[0])
            start = torch.cumsum(counts, 0) - counts  # first node of each graph
            local = edge_index - start[graph]
            converted.append(out[graph, local[0], local[1]])
        else:
            raise ValueError(f"output term {term} (order {arity}) has no PyTorch Geometric form")
    return converted[0] if len(converted) == 1 else tuple(converted)
