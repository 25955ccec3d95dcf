"""A PPGN-style (2-IGN with matrix products) baseline for the graph tasks: 3-WL power, dense n×n maps.

Maron et al. 2019 ("Provably powerful graph networks") keep a feature map ``X`` of shape
``(n, n, c)`` per graph and, in each block, multiply two learned per-entry transforms of it as
matrices, channel by channel:

    X ← m₃( X ‖ m₁(X) ·ₙ m₂(X) ),     (m₁(X) ·ₙ m₂(X))[i, j, c] = Σ_k m₁(X)[i, k, c] m₂(X)[k, j, c],

with ``m₁, m₂, m₃`` small MLPs applied to every entry ``(i, j)`` alone.  The input is the adjacency
and the identity (two channels); the node read-out is an MLP of the diagonal ``X[k, k]`` and the
row sum ``Σ_j X[k, j]``.  Matrix products of the adjacency count walks, so such a network can express
triangles and 4-cycles (the products are the ones of the pattern sums), unlike 1-WL message passing;
it learns them by gradient descent, not exactly.  Padding nodes are zeroed after every block.

    >>> import torch
    >>> from polyequiv.models import ModelContext
    >>> model = PPGN(ModelContext("graph", True, 10), hidden=8, blocks=2)
    >>> model(torch.zeros(3, 6, 6), torch.ones(3, 6, dtype=torch.bool)).shape
    torch.Size([3, 6])
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from polyequiv.models.graphs import GRAPH_TRAINING, GraphModel
from polyequiv.models.registry import ModelContext, ModelDefinition, ModelError, register


def _entry_mlp(a: int, b: int) -> nn.Module:
    """An MLP on the channels of every entry: ``a → b → b`` with a ReLU between."""
    return nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, b))


class PPGNBlock(nn.Module):
    """``X ← m₃(X ‖ m₁(X) ·ₙ m₂(X))`` on ``(batch, n, n, c)`` maps, zero outside the real nodes."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.first, self.second = _entry_mlp(channels, hidden), _entry_mlp(channels, hidden)
        self.mix = _entry_mlp(channels + hidden, hidden)

    def forward(self, x: Tensor, pairs: Tensor) -> Tensor:
        left = (self.first(x) * pairs).permute(0, 3, 1, 2)  # padding enters no product
        right = (self.second(x) * pairs).permute(0, 3, 1, 2)
        product = (left @ right).permute(0, 2, 3, 1)
        return self.mix(torch.cat([x, product], dim=-1)) * pairs


class PPGN(GraphModel):
    """``blocks`` PPGN blocks of width ``hidden`` on (adjacency, identity), then a per-node read-out."""

    def __init__(self, context: ModelContext, hidden: int = 16, blocks: int = 3) -> None:
        super().__init__()
        if hidden < 1 or blocks < 1:
            raise ModelError(f"need hidden ≥ 1 and blocks ≥ 1, got hidden={hidden}, blocks={blocks}")
        widths = [2] + [hidden] * blocks
        self.blocks = nn.ModuleList(PPGNBlock(a, b) for a, b in itertools.pairwise(widths))
        self.readout = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        real = mask.to(values.dtype)
        pairs = (real[:, :, None] * real[:, None, :]).unsqueeze(-1)
        identity = torch.diag_embed(real)
        x = torch.stack([values * pairs[..., 0], identity], dim=-1)
        for block in self.blocks:
            x = block(x, pairs)
        diagonal = torch.diagonal(x, dim1=1, dim2=2).transpose(1, 2)
        features = torch.cat([diagonal, x.sum(dim=2)], dim=-1)
        return self.masked(self.readout(features)[..., 0], mask)


register(
    ModelDefinition(
        "ppgn",
        "a PPGN-style 2-IGN (Maron et al. 2019): 3 blocks of width 16 multiplying n×n maps, node read-out",
        PPGN,
        {"hidden": 16, "blocks": 3},
        GRAPH_TRAINING,
        domain="graphs",
    )
)
