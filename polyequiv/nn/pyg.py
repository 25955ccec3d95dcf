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

import torch
from torch import Tensor

from polyequiv.reps import Representation

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


def _check_edges(term: str, edge_index: Tensor, values: Tensor, num_nodes: int) -> None:
    """``E``: every edge in both directions with equal values, no self-loops, no duplicates;
    ``V2``: no duplicates.  Errors name the first offending edge (global node numbers)."""
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, num_edges), got {tuple(edge_index.shape)}")
    if edge_index.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index refers to nodes outside 0…{num_nodes - 1}")
    source, target = edge_index
    code = source * num_nodes + target
    unique, counts = torch.unique(code, return_counts=True)
    if bool((counts > 1).any()):
        first = int(unique[counts > 1][0])
        raise ValueError(
            f"edge_index lists edge ({first // num_nodes}, {first % num_nodes}) more than once "
            "(coalesce it, e.g. torch_geometric.utils.coalesce)"
        )
    if term != "E":
        return
    loops = source == target
    if bool(loops.any()):
        node = int(source[loops][0])
        raise ValueError(
            f"input term E (undirected simple graphs) has no self-loops; edge_index has ({node}, {node}) "
            "(remove them with torch_geometric.utils.remove_self_loops, or declare the input V2)"
        )
    order = torch.argsort(code)
    reverse_code = target * num_nodes + source
    position = torch.searchsorted(code[order], reverse_code).clamp_max(max(code.numel() - 1, 0))
    partner = order[position]
    missing = code[partner] != reverse_code
    if bool(missing.any()):
        k = int(torch.nonzero(missing)[0])
        raise ValueError(
            f"input term E (undirected edges) needs a symmetric edge_index: edge ({int(source[k])}, "
            f"{int(target[k])}) has no reverse ({int(target[k])}, {int(source[k])}) "
            "(use torch_geometric.utils.to_undirected, or declare the input V2 for directed graphs)"
        )
    differ = (values - values[partner]).abs().reshape(values.shape[0], -1).amax(dim=1)
    scale = 1e-5 * values.abs().amax().clamp_min(1e-30) if values.numel() else 0
    if bool((differ > scale).any()):
        k = int(torch.nonzero(differ > scale)[0])
        raise ValueError(
            f"input term E (undirected edges) needs equal edge_attr both ways: edge ({int(source[k])}, "
            f"{int(target[k])}) and its reverse carry different values"
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
) -> tuple[list[Tensor], Tensor, Tensor]:
    """The padded inputs of a layer on ``in_rep``, the node mask ``(num_graphs, n_max)`` and the
    filled-in ``batch``.

    Raises
    ------
    ValueError
        A term whose PyG input is missing or mis-shaped; an ``E`` ``edge_index`` that is not
        symmetric (or has self-loops, duplicates, or unequal values both ways); a term of order ≥ 3.
    """
    from torch_geometric.utils import to_dense_adj, to_dense_batch

    rep = Representation.parse(in_rep)
    batch, num_graphs, n_max = _graph_layout(x, edge_index, batch, num_nodes)
    total = batch.numel()
    counts = torch.bincount(batch, minlength=num_graphs)
    mask = torch.arange(n_max, device=batch.device)[None, :] < counts[:, None]  # to_dense_batch's layout
    dtype = x.dtype if x is not None else torch.get_default_dtype()
    inputs = []
    for term, arity in zip(rep.terms, rep.arities, strict=True):
        if arity == 0:
            if u is None or u.shape != (num_graphs, in_channels):
                shape = None if u is None else tuple(u.shape)
                raise ValueError(f"input term 1 takes u of shape ({num_graphs}, {in_channels}), got {shape}")
            inputs.append(u)
        elif arity == 1:
            if x is None or x.dim() != 2 or x.shape[1] != in_channels:
                shape = None if x is None else tuple(x.shape)
                raise ValueError(f"input term V takes x of shape (N_total, {in_channels}), got {shape}")
            inputs.append(to_dense_batch(x, batch, max_num_nodes=n_max, batch_size=num_graphs)[0])
        elif arity == 2:
            if edge_index is None:
                raise ValueError(f"input term {term} takes edge_index (and edge_attr), got none")
            values = _edge_values(edge_attr, edge_index, in_channels, term, dtype)
            _check_edges(term, edge_index, values, total)
            inputs.append(
                to_dense_adj(edge_index, batch, values, max_num_nodes=n_max, batch_size=num_graphs)
            )
        else:
            raise ValueError(f"input term {term} (order {arity}) has no PyTorch Geometric form; pass tensors")
    return inputs, mask, batch


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
