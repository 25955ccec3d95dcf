"""Graph models (a domain of :mod:`polyequiv.models`) for the graph tasks of :mod:`polyequiv.tasks.graphs`.

Every model maps a batch of padded adjacency matrices to one prediction per node::

    model(values, mask) -> (batch, L)       values (batch, L, L) float, mask (batch, L) bool

Padding nodes (``mask`` False) have no edges and get a zero prediction.

======================  ============================================================================  ========
name                    architecture                                                                  any size
======================  ============================================================================  ========
``tied-edge-linear``    the derived linear ``E → V`` layer (:class:`~polyequiv.nn.TensorPolyLayer`):  yes
                        2 patterns, the degree ``Σ_j A_kj`` and the edge count
``tied-edge-cubic``     the derived cubic ``E → V`` layer: 23 patterns, among them the                yes
                        triangles through ``k``, ``(A³)_kk / 2``
``tied-edge-quartic``   degree 4: 79 patterns (4-cycles, tailed triangles through ``k``)              yes
``tied-edge-quintic``   degree 5: 274 patterns (chordal 4-cycles through ``k``)                       yes
``gcn``                 the seed's baseline: GCNConv 1 → 10, ReLU, GCNConv 10 → 1 (PyG),              yes
                        every node's input feature 1
``gin``                 a stronger message-passing baseline: two GINConv layers (sum                  yes
                        aggregation, MLPs of width 32), every node's input feature 1
``row-mlp``             the seed's architecture: each node's adjacency row through                    no (≤ L)
                        Linear(L → 10), ReLU, then the sum of the 10 outputs
``graph-linear``        a generic dense node model ``y_k = Σ_ij W[k,i,j] A_ij + b_k``,                no (≤ L)
                        ``W`` of ``L × L × L`` untied (a ``V2 → V`` layer), optional penalties
                        towards the Sₙ ties and L1; read by ``polyequiv discover``
``deepsets-rows``       DeepSets on each node's row ``{A_kj}_j``: φ (1 → 32, ReLU) summed,            yes
                        then ρ (32 → 32 → 1)
======================  ============================================================================  ========

The message-passing models come from PyTorch Geometric (imported when one is
built): the dense batch is turned into PyG's ``(x, edge_index, batch)`` form,
so they are exactly the layers people use.  GCN's symmetric normalisation
``Σ_j A_kj x_j / √(d̂_k d̂_j)`` cannot count neighbours (the seed measured
57.69 % on degrees); GIN's sum aggregation can, but no 1-WL message passing can
count the triangles through a node in general.

    >>> import torch
    >>> from polyequiv.models import ModelContext, build_model
    >>> model = build_model("deepsets-rows", ModelContext("graph", equivariant=True, max_cardinality=10))
    >>> model(torch.zeros(2, 7, 7), torch.ones(2, 7, dtype=torch.bool)).shape
    torch.Size([2, 7])
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch
import torch.nn.utils.parametrize
from torch import Tensor, nn

from polyequiv.models.registry import ModelContext, ModelDefinition, ModelError, SetModel, register
from polyequiv.nn.tensor_layers import TensorPolyLayer

#: Training settings of the graph baselines: the lab's (20 epochs, batch 64, Adam 1e-3, L1), as the seed
#: trains with a mean L1 loss.
GRAPH_TRAINING: dict[str, Any] = {
    "epochs": 20,
    "batch_size": 64,
    "lr": 1e-3,
    "loss": "l1",
    "schedule": "constant",
}


def to_pyg(values: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """A dense padded batch as PyG's ``(x, edge_index, batch)``: one node per padded position.

    ``x`` is 1 on real nodes and 0 on padding (padding nodes have no edges); node ``(b, i)``
    is number ``b·L + i``.
    """
    batch_size, length, _ = values.shape
    graph, row, col = torch.nonzero(values, as_tuple=True)
    edge_index = torch.stack([graph * length + row, graph * length + col])
    x = mask.reshape(-1, 1).to(values.dtype)
    batch = torch.arange(batch_size, device=values.device).repeat_interleave(length)
    return x, edge_index, batch


class GraphModel(SetModel):
    """Base of the graph models: per-node outputs, zero at padding."""

    equivariant = True

    @staticmethod
    def masked(out: Tensor, mask: Tensor) -> Tensor:
        return out * mask.to(out.dtype)


class PatternPreconditioner(nn.Module):
    """``weight = P θ``: a fixed invertible change of coordinates (a :mod:`torch.nn.utils.parametrize`)."""

    def __init__(self, matrix: Tensor) -> None:
        super().__init__()
        self.register_buffer("matrix", matrix)

    def forward(self, theta: Tensor) -> Tensor:
        return self.matrix @ theta


def pattern_features(layer: TensorPolyLayer, adjacency: Tensor) -> Tensor:
    """``(patterns, graphs·n)``: every pattern's contraction ``T_π(A)`` at every node (one channel)."""
    with torch.no_grad():
        values = layer.pattern_values(adjacency.unsqueeze(-1))
    return values.reshape(values.shape[0], -1)


def whitening_matrix(features: Tensor, floor: float = 1e-10) -> Tensor:
    """``C^{-1/2}`` of the second moments ``C = F Fᵀ / m`` (eigenvalues floored at ``floor·max``)."""
    moments = (features.double() @ features.double().T) / features.shape[1]
    values, vectors = torch.linalg.eigh(moments)
    values = values.clamp_min(floor * float(values.max()))
    return (vectors * values.rsqrt()) @ vectors.T


class TiedEdgeNetwork(GraphModel):
    """The derived ``E → V`` polynomial layer of degree ``degree`` itself: one weight per pattern.

    Reads the adjacency as the edge representation ``E`` (one channel) and returns one value per
    node, ``y_k = Σ_π w_π T_π(A)_k``; the layer is size-agnostic (n-free patterns), so one set of
    weights serves every n.

    Conditioning.  The contractions ``T_π`` are far apart in scale (a pattern summing over ``s``
    free blocks grows like ``n^s``: 1 to 10⁶ at n = 10 for the cubic layer) and strongly correlated,
    so plain Adam on ``w`` crawls.  The weights are therefore trained as ``w = P θ`` with the fixed
    ``P = C^{-1/2}``, ``C`` the second moments of the pattern features on ``reference_graphs``
    random graphs of ``reference_size`` nodes (edge probability uniform in the task's range, a fixed
    seed, never the training data).  ``P`` is invertible: the same functions, the same optimum,
    only better-conditioned steps.  ``layer.weight`` always holds ``w``.
    """

    def __init__(self, context: ModelContext, degree: int = 1, bias: bool = False,
                 reference_size: int = 10, reference_graphs: int = 512) -> None:
        super().__init__()
        if degree < 1 or reference_size < 2 or reference_graphs < 1:
            raise ModelError(f"need degree ≥ 1, reference_size ≥ 2 and reference_graphs ≥ 1, got "
                             f"{degree}, {reference_size}, {reference_graphs}")
        from polyequiv.tasks.graphs import random_graphs

        self.layer = TensorPolyLayer("E", "V", degree, 1, 1, bias=bias, dtype=torch.float64)
        graphs = random_graphs(np.random.default_rng(20261201), reference_graphs, reference_size)
        matrix = whitening_matrix(pattern_features(self.layer, torch.as_tensor(graphs, dtype=torch.float64)))
        dtype = torch.get_default_dtype()  # float64 when the run fits exactly (least squares)
        self.layer.to(dtype)
        torch.nn.utils.parametrize.register_parametrization(
            self.layer, "weight", PatternPreconditioner(matrix.to(dtype)))
        with torch.no_grad():
            self.layer.parametrizations.weight.original.zero_()

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        return self.masked(self.layer(values.unsqueeze(-1), mask=mask)[..., 0], mask)

    def polynomial_degree(self) -> int:
        return self.layer.degree

    def linear_parameters(self) -> list[nn.Parameter]:
        """``θ`` of ``w = P θ``: the prediction is ``Σ_π (Pθ)_π T_π(A)``, linear in ``θ``."""
        return [self.layer.parametrizations.weight.original]

    def linear_features(self, values: Tensor, mask: Tensor) -> Tensor:
        """``T``: ``(batch, n, patterns)``, the pattern contractions, features of the pattern weights ``w``.

        The least-squares fit is taken in ``w`` (not ``θ``): patterns that coincide on the data
        (``A_ij² = A_ij`` on a 0/1 adjacency) then give exactly equal columns, which the solve
        drops, rather than columns that differ by the rounding of ``T P``.
        """
        patterns = self.layer.pattern_values(values.unsqueeze(-1), mask=mask)
        return patterns.permute(1, 2, 0) * mask.unsqueeze(-1).to(patterns.dtype)

    @torch.no_grad()
    def set_linear_solution(self, weights: Tensor) -> None:
        """Load pattern weights ``w`` found by least squares, exactly: the preconditioner (which only
        helps gradient steps) becomes the identity and ``θ = w``, so that a rational ``w`` (zeros
        included) is not blurred by the rounding of ``P θ``."""
        matrix = self.layer.parametrizations.weight[0].matrix
        matrix.copy_(torch.eye(matrix.shape[0], dtype=matrix.dtype))
        self.layer.parametrizations.weight.original.copy_(weights.to(matrix.dtype))

    def diagnostics(self) -> dict[str, float]:
        """The learned weight of every pattern (at most 8: the linear and quadratic layers)."""
        if len(self.layer.patterns) > 8:
            return {}
        values = self.layer.weight.detach().tolist()
        return {f"weight {p}": value for p, value in zip(self.layer.patterns, values, strict=True)}


class GCN(GraphModel):
    """Two (or more) PyG ``GCNConv`` layers with ReLU between them; input feature 1 on every node."""

    def __init__(self, context: ModelContext, hidden: int = 10, layers: int = 2) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv

        if layers < 1 or hidden < 1:
            raise ModelError(f"need layers ≥ 1 and hidden ≥ 1, got layers={layers}, hidden={hidden}")
        widths = [1] + [hidden] * (layers - 1) + [1]
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in itertools.pairwise(widths))

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        x, edge_index, _ = to_pyg(values, mask)
        for number, conv in enumerate(self.convs):
            x = conv(x, edge_index)
            if number < len(self.convs) - 1:
                x = torch.relu(x)
        return self.masked(x.reshape(mask.shape), mask)


class GIN(GraphModel):
    """Two PyG ``GINConv`` layers (sum aggregation, 2-layer MLPs of width ``hidden``), then a linear head."""

    def __init__(self, context: ModelContext, hidden: int = 32, layers: int = 2) -> None:
        super().__init__()
        from torch_geometric.nn import GINConv

        if layers < 1 or hidden < 1:
            raise ModelError(f"need layers ≥ 1 and hidden ≥ 1, got layers={layers}, hidden={hidden}")
        widths = [1] + [hidden] * layers

        def mlp(a: int, b: int) -> nn.Module:
            return nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, b), nn.ReLU())

        self.convs = nn.ModuleList(GINConv(mlp(a, b)) for a, b in itertools.pairwise(widths))
        self.head = nn.Linear(hidden, 1)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        x, edge_index, _ = to_pyg(values, mask)
        for conv in self.convs:
            x = conv(x, edge_index)
        return self.masked(self.head(x).reshape(mask.shape), mask)


class RowMLP(GraphModel):
    """The seed's model: ``y_k = Σ_o ReLU(W A_k + b)_o`` with ``W`` of ``hidden × width``.

    Rows are zero-padded on the right to ``width`` (the largest graph of the task): a fixed-width
    model, like the seed's ``10 × 10`` layer; weights of columns no training graph reaches stay at
    their initial values.
    """

    def __init__(self, context: ModelContext, hidden: int = 10) -> None:
        super().__init__()
        if hidden < 1:
            raise ModelError(f"need hidden ≥ 1, got {hidden}")
        self.width = context.max_cardinality
        self.layer = nn.Linear(self.width, hidden)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        length = values.shape[1]
        if length > self.width:
            raise ModelError(f"this model takes graphs of at most {self.width} nodes, got {length}")
        rows = nn.functional.pad(values, (0, self.width - length))
        return self.masked(torch.relu(self.layer(rows)).sum(dim=-1), mask)


def symmetric_pattern_masks(n: int) -> Tensor:
    """``(5, n, n, n)`` indicators of the 5 orbits of Sₙ (acting diagonally) on ``(k, i, j)``:
    ``k = i = j``, ``k = i ≠ j``, ``k = j ≠ i``, ``i = j ≠ k``, all distinct (the Bell number B(3) = 5)."""
    k, i, j = torch.meshgrid(*(torch.arange(n),) * 3, indexing="ij")
    masks = [(k == i) & (i == j), (k == i) & (i != j), (k == j) & (i != j), (i == j) & (k != i),
             (k != i) & (k != j) & (i != j)]
    return torch.stack(masks).to(torch.get_default_dtype())


class GraphLinear(GraphModel):
    """A generic dense node model: ``y_k = Σ_ij W[k, i, j] A_ij + b_k`` with ``W`` of ``L × L × L`` untied.

    ``W`` is a ``V2 → V`` layer (graphs are zero-padded to ``L`` nodes, like ``row-mlp``).  The graphs'
    adjacency is symmetric with a zero diagonal, so the data only see
    ``W[k, i, j] + W[k, j, i]`` (``i < j``), the ``E → V`` weight; ``W[k, i, i]`` gets no gradient.
    Training adds ``penalty · ‖W − P W‖²`` (``P``: the projection onto the Sₙ-tied ``V2 → V`` weights, the
    class means of the 5 orbits of :func:`symmetric_pattern_masks`; as ``penalty-mlp``'s penalty) and
    ``sparsity · Σ|W|`` (the seed's L1 variant); both 0 by default: the model has to find the symmetry.
    ``diagnostics()["equivariance_residual"]`` is ``‖S − P S‖ / ‖S‖`` on the identifiable part ``S``
    (``W + Wᵀ`` off the diagonal): 0 exactly for an Sₙ-equivariant layer.
    """

    def __init__(self, context: ModelContext, penalty: float = 0.0, sparsity: float = 0.0) -> None:
        super().__init__()
        if penalty < 0 or sparsity < 0:
            raise ModelError(f"penalty and sparsity must be ≥ 0, got {penalty} and {sparsity}")
        self.width = context.max_cardinality
        self.strength, self.sparsity = float(penalty), float(sparsity)
        n = self.width
        self.weight = nn.Parameter(torch.randn(n, n, n) / n)
        self.bias = nn.Parameter(torch.zeros(n))
        self.register_buffer("masks", symmetric_pattern_masks(n), persistent=False)
        self.register_buffer("off_diagonal", (1 - torch.eye(n)), persistent=False)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        length = values.shape[1]
        if length > self.width:
            raise ModelError(f"this model takes graphs of at most {self.width} nodes, got {length}")
        pad = self.width - length
        adjacency = nn.functional.pad(values, (0, pad, 0, pad))
        out = torch.einsum("kij,bij->bk", self.weight, adjacency) + self.bias
        return self.masked(out[:, :length], mask)

    def _projected(self, weight: Tensor) -> Tensor:
        means = (self.masks * weight).sum(dim=(1, 2, 3)) / self.masks.sum(dim=(1, 2, 3))
        return torch.einsum("p,pkij->kij", means, self.masks)

    def penalty(self) -> Tensor | None:
        total = None
        if self.strength:
            total = self.strength * (self.weight - self._projected(self.weight)).square().sum()
        if self.sparsity:
            l1 = self.sparsity * self.weight.abs().sum()
            total = l1 if total is None else total + l1
        return total

    @torch.no_grad()
    def diagnostics(self) -> dict[str, float]:
        seen = (self.weight + self.weight.transpose(1, 2)) * self.off_diagonal
        norm = float(seen.norm())
        residual = float((seen - self._projected(seen) * self.off_diagonal).norm()) / norm if norm else 0.0
        return {"equivariance_residual": residual}


class DeepSetsRows(GraphModel):
    """DeepSets on every node's row: ``ρ(Σ_j φ(A_kj))`` over the real nodes ``j``."""

    def __init__(self, context: ModelContext, hidden: int = 32) -> None:
        super().__init__()
        if hidden < 1:
            raise ModelError(f"need hidden ≥ 1, got {hidden}")
        self.phi = nn.Sequential(nn.Linear(1, hidden), nn.ReLU())
        self.rho = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        embedded = self.phi(values.unsqueeze(-1)) * mask[:, None, :, None].to(values.dtype)
        return self.masked(self.rho(embedded.sum(dim=2)).squeeze(-1), mask)


#: Tied layers: Adam 5e-2 (on the whitened coordinates) decayed to 0 by a cosine schedule.
TIED_GRAPH_TRAINING: dict[str, Any] = {**GRAPH_TRAINING, "lr": 5e-2, "schedule": "cosine"}

_TIED_EDGE = {"bias": False, "reference_size": 10}
register(ModelDefinition("tied-edge-linear", "the derived linear E → V layer (2 patterns)", TiedEdgeNetwork,
                         {"degree": 1, **_TIED_EDGE}, TIED_GRAPH_TRAINING, domain="graphs",
                         linear_in_weights=lambda options: True))
register(ModelDefinition("tied-edge-cubic", "the derived cubic E → V layer (23 patterns)", TiedEdgeNetwork,
                         {"degree": 3, **_TIED_EDGE}, TIED_GRAPH_TRAINING, domain="graphs",
                         linear_in_weights=lambda options: True))
# degree 4 and 5: 128 reference graphs make the (Adam-only) preconditioner in a fraction of a second
register(ModelDefinition("tied-edge-quartic", "the derived quartic E → V layer (79 patterns: 4-cycles, "
                         "tailed triangles)", TiedEdgeNetwork,
                         {"degree": 4, **_TIED_EDGE, "reference_graphs": 128},
                         TIED_GRAPH_TRAINING, domain="graphs", linear_in_weights=lambda options: True))
register(ModelDefinition("tied-edge-quintic", "the derived degree-5 E → V layer (274 patterns: chordal "
                         "4-cycles)", TiedEdgeNetwork,
                         {"degree": 5, "bias": False, "reference_size": 12, "reference_graphs": 128},
                         TIED_GRAPH_TRAINING, domain="graphs", linear_in_weights=lambda options: True))
register(
    ModelDefinition(
        "gcn",
        "the seed's GCN: GCNConv 1 → 10, ReLU, GCNConv 10 → 1 (PyTorch Geometric)",
        GCN,
        {"hidden": 10, "layers": 2},
        GRAPH_TRAINING,
        domain="graphs",
    )
)
register(
    ModelDefinition(
        "gin",
        "two GINConv layers (sum aggregation, MLPs of width 32) and a linear head",
        GIN,
        {"hidden": 32, "layers": 2},
        GRAPH_TRAINING,
        domain="graphs",
    )
)
register(
    ModelDefinition(
        "row-mlp",
        "the seed's row-wise MLP: Linear(L → 10), ReLU, sum of the outputs",
        RowMLP,
        {"hidden": 10},
        GRAPH_TRAINING,
        domain="graphs",
    )
)
register(
    ModelDefinition(
        "graph-linear",
        "a generic dense node model y_k = Σ_ij W[k,i,j] A_ij + b_k (W: L × L × L, untied; options penalty "
        "(‖W − P_Sn W‖²) and sparsity (L1), both 0)",
        GraphLinear,
        {"penalty": 0.0, "sparsity": 0.0},
        GRAPH_TRAINING,
        domain="graphs",
    )
)
register(
    ModelDefinition(
        "deepsets-rows",
        "DeepSets on each node's adjacency row: φ 1 → 32, sum, ρ 32→32→1",
        DeepSetsRows,
        {"hidden": 32},
        GRAPH_TRAINING,
        domain="graphs",
    )
)
