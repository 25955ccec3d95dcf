"""Set models (a domain of :mod:`polyequiv.models`): tied polynomial networks and the usual baselines.

Every model maps a left-padded batch to predictions::

    model(values, mask) -> (batch,)      invariant tasks
    model(values, mask) -> (batch, L)    equivariant tasks (one output per position; padding ignored)

``values`` is ``(batch, L)`` (``int64`` digits or ``float32`` reals, ``0`` at
padding) and ``mask`` is ``(batch, L)`` bool, ``True`` on real elements.

==================  ===================================================================  ==========
name                architecture                                                         masks
==================  ===================================================================  ==========
``tied-linear``     linear tied layer ``αx_k + β·mean(x) + b`` (2 channels) → linear     yes
                    sum read-out (a last linear tied layer on per-element tasks)
``tied-quadratic``  one quadratic tied layer pooling sums and means: the invariant       yes
                    read-out ``a p₂ + b p₁² + c p₁ + d`` (+ the same on means), or the
                    per-element layer on equivariant tasks
``deepsets``        the lab's: embedding 128 → Linear 64 → tanh → sum → Linear 1         reals only
``lstm``            the lab's: embedding 128 → LSTM 64 → last hidden state → Linear 1    no
``mlp``             MLP on the padded vector and its mask, width = largest cardinality   —
``penalty-mlp``     dense set-shaped MLP + λ‖W − project(W)‖² towards the derived ties   yes
``sharing-linear``  dense linear layer ``Wx + b`` + λ Σ_pairs |w_a − w_b| (no group)      yes
==================  ===================================================================  ==========

Digits enter the tied models as their **value** (a digit *is* a number, and the
sum is linear in it: the exact solution has a handful of weights); the lab's
baselines embed them (``nn.Embedding(11, 128)``, where index 0 is the padding
token, kept as the lab specifies).  Real-valued elements enter the baselines
through ``nn.Linear(1, 128)`` in place of the embedding.

    >>> import torch
    >>> from polyequiv.models import build_model
    >>> model = build_model("deepsets", ModelContext("digits", equivariant=False, max_cardinality=100))
    >>> model(torch.tensor([[0, 3, 4]]), torch.tensor([[False, True, True]])).shape
    torch.Size([1])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from polyequiv.models.registry import (
    ModelContext,
    ModelDefinition,
    ModelError,
    SetModel,
    register,
)
from polyequiv.nn import InvariantPolyReadout, SetPolyLayer, TiedPolynomialLayer, project
from polyequiv.spec import LayerSpec


# ---------------------------------------------------------------------- element features
def _as_float(values: Tensor) -> Tensor:
    return values.to(torch.get_default_dtype()) if not values.is_floating_point() else values


class ElementEncoder(nn.Module):
    """Features of each element: its value, an embedding, or both (concatenated).

    For digits the embedding is ``nn.Embedding(11, dim)`` (index 0 is the padding
    token); for reals it is ``nn.Linear(1, dim)``.  Output ``(batch, L, channels)``.
    """

    def __init__(self, elements: str, features: str = "value", dim: int = 0) -> None:
        super().__init__()
        if features not in ("value", "embedding", "both"):
            raise ModelError(f"element features must be value, embedding or both, got {features!r}")
        if features != "value" and dim < 1:
            raise ModelError(f"an embedding needs a dimension ≥ 1, got {dim}")
        self.use_value = features in ("value", "both")
        self.embedding: nn.Module | None = None
        if features != "value":
            self.embedding = nn.Embedding(11, dim) if elements == "digits" else nn.Linear(1, dim)
        self.digits = elements == "digits"
        self.channels = int(self.use_value) + (dim if features != "value" else 0)

    def forward(self, values: Tensor) -> Tensor:
        parts = []
        if self.use_value:
            parts.append(_as_float(values).unsqueeze(-1))
        if self.embedding is not None:
            inputs = values if self.digits else _as_float(values).unsqueeze(-1)
            parts.append(self.embedding(inputs))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


def _activation(name: str) -> nn.Module:
    choices: dict[str, Callable[[], nn.Module]] = {"none": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh}
    if name not in choices:
        raise ModelError(f"unknown activation {name!r}; choose one of {', '.join(choices)}")
    return choices[name]()


def _masked(hidden: Tensor, mask: Tensor) -> Tensor:
    return hidden * mask.unsqueeze(-1).to(hidden.dtype)


def _left_pad(tensor: Tensor, width: int, value: float | bool = 0) -> Tensor:
    missing = width - tensor.shape[1]
    if missing < 0:
        raise ModelError(f"this model takes sets of at most {width} elements, got {tensor.shape[1]}")
    if missing == 0:
        return tensor
    shape = (tensor.shape[0], missing, *tensor.shape[2:])
    pad = torch.full(shape, value, dtype=tensor.dtype, device=tensor.device)
    return torch.cat([pad, tensor], dim=1)


# ---------------------------------------------------------------------- tied polynomial networks
class DualPoolingLayer(nn.Module):
    """The sum of two tied layers of the same degree, one pooling with sums and one with means.

    Output ``k`` is a polynomial in ``x_k`` and the power sums whose coefficients may be
    constant in ``n`` (sum pooling) or go like ``1/n``, ``1/n²`` (mean pooling): ``x_k − mean``
    and ``x_k·Σx`` both lie in its span.  The element-local terms (``x_k``, ``x_k²``, bias) are
    in both layers (a redundant direction the data cannot see; it costs a few parameters).
    """

    def __init__(self, layer: Callable[..., nn.Module], degree: int, in_channels: int, out_channels: int,
                 **kwargs: Any) -> None:
        super().__init__()
        self.sum = layer(degree, in_channels, out_channels, pooling="sum", **kwargs)
        self.mean = layer(degree, in_channels, out_channels, pooling="mean", **kwargs)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return self.sum(x, mask) + self.mean(x, mask)


class TiedSetNetwork(SetModel):
    """Tied polynomial layers on the element features, then an invariant read-out (or a last tied layer).

    ``layers`` equivariant :class:`polyequiv.nn.SetPolyLayer` of degree ``degree`` and
    ``hidden`` channels, with ``activation`` between them; then
    :class:`polyequiv.nn.InvariantPolyReadout` of degree ``readout_degree`` (invariant tasks) or
    a last ``SetPolyLayer`` of that degree with one channel (equivariant tasks).  Every layer
    is size-agnostic (power sums over the real elements), so one network takes sets of any
    size; padding is masked out everywhere, so it never changes a prediction.

    Pooling and size generalisation: a linear layer ``h_k = α x_k + β·pool(x) + b`` followed
    by a sum read-out computes ``(α + nβ) Σx + n b`` with ``pool = sum``: the data of small
    sets pin ``β`` and ``b`` to 0 only up to the optimiser's noise, and that noise is
    multiplied by ``n`` on large sets.  With ``pool = mean`` the same network computes
    ``(α + β) Σx + n b``: no ``n`` in front of ``β``.  The read-out pools with a sum
    (``readout_pooling``) because the set sums grow with ``n``.

    Parameters
    ----------
    context : ModelContext
    features : {"value", "embedding", "both"}
        Element features: the value (digits as numbers 1..10), a learned embedding of
        ``embedding_dim`` channels, or both concatenated.
    layers, hidden : int
        Equivariant tied layers before the read-out (0: the read-out alone), and their channels.
    degree, readout_degree : int
        Polynomial degree of the hidden layers and of the read-out (or last layer).
    activation : {"none", "relu", "tanh"}
        Applied after each hidden layer.
    pooling, readout_pooling : {"sum", "mean", "both"}
        Power sums, means, or the sum of a layer of each (:class:`DualPoolingLayer`).
    """

    def __init__(self, context: ModelContext, *, features: str = "value", embedding_dim: int = 0,
                 layers: int = 1, hidden: int = 2, degree: int = 1, readout_degree: int = 1,
                 activation: str = "none", pooling: str = "mean", readout_pooling: str = "sum") -> None:
        super().__init__()
        if layers < 0 or hidden < 1:
            raise ModelError(f"need layers ≥ 0 and hidden ≥ 1, got layers={layers}, hidden={hidden}")
        for name, value in (("pooling", pooling), ("readout_pooling", readout_pooling)):
            if value not in ("sum", "mean", "both"):
                raise ModelError(f"{name} must be sum, mean or both, got {value!r}")

        def tied(layer: Callable[..., nn.Module], degree: int, c_in: int, c_out: int, how: str) -> nn.Module:
            if how == "both":
                return DualPoolingLayer(layer, degree, c_in, c_out)
            return layer(degree, c_in, c_out, pooling=how)

        self.equivariant = context.equivariant
        self.degree, self.readout_degree = degree, readout_degree
        self.encoder = ElementEncoder(context.elements, features, embedding_dim)
        self.activation = _activation(activation)
        channels = self.encoder.channels
        self.layers = nn.ModuleList()
        for _ in range(layers):
            self.layers.append(tied(SetPolyLayer, degree, channels, hidden, pooling))
            channels = hidden
        if self.equivariant:
            self.head: nn.Module = tied(SetPolyLayer, readout_degree, channels, 1, pooling)
        else:
            self.head = tied(InvariantPolyReadout, readout_degree, channels, 1, readout_pooling)

    def polynomial_degree(self) -> int | None:
        """``degree^layers · readout_degree`` without activations on value features, else ``None``."""
        if not isinstance(self.activation, nn.Identity) or self.encoder.embedding is not None:
            return None
        return self.degree ** len(self.layers) * self.readout_degree

    def linear_parameters(self) -> list[nn.Parameter] | None:
        """The read-out's weights, when it is the whole model (no hidden layer, value features)."""
        if len(self.layers) or self.encoder.embedding is not None:
            return None
        return list(self.head.parameters())

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        x = _masked(self.encoder(values), mask)
        for layer in self.layers:
            x = _masked(self.activation(layer(x, mask)), mask)
        out = self.head(x, mask).squeeze(-1)
        return _masked(out.unsqueeze(-1), mask).squeeze(-1) if self.equivariant else out


# ---------------------------------------------------------------------- the lab's baselines
class DeepSets(SetModel):
    """The lab's DeepSets: ``ρ(Σ_k φ(x_k))`` with ``φ = tanh ∘ Linear(128→64) ∘ embed`` and ``ρ`` linear.

    On digits the padding token 0 is embedded and summed like any element, as the
    lab specifies: a padded set gets ``(L − n)·φ(0)`` added before ``ρ``, which the
    model has to learn to cancel (``ρ(φ(0)) ≈ 0``).  On reals there is no padding
    token (0 is a real element), so padding is masked out.  For equivariant tasks
    the output of element ``k`` is ``MLP([φ(x_k), Σ_j φ(x_j)])`` (Zaheer et al.'s
    equivariant form with a nonlinear head).
    """

    def __init__(self, context: ModelContext, embedding_dim: int = 128, hidden: int = 64) -> None:
        super().__init__()
        self.equivariant = context.equivariant
        self.masked = context.elements != "digits"
        self.encoder = ElementEncoder(context.elements, "embedding", embedding_dim)
        self.phi = nn.Sequential(nn.Linear(embedding_dim, hidden), nn.Tanh())
        if self.equivariant:
            self.rho: nn.Module = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh(),
                                                nn.Linear(hidden, 1))
        else:
            self.rho = nn.Linear(hidden, 1)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        features = self.phi(self.encoder(values))
        if self.masked:
            features = _masked(features, mask)
        pooled = features.sum(dim=1)
        if not self.equivariant:
            return self.rho(pooled).squeeze(-1)
        both = torch.cat([features, pooled.unsqueeze(1).expand_as(features)], dim=-1)
        return self.rho(both).squeeze(-1)


class LSTMRegressor(SetModel):
    """The lab's LSTM: embedding 128 → LSTM 64 → hidden state after the last element → Linear 1.

    The sets are left-padded, so the LSTM reads the padding first and the last
    step is always a real element; the padding still changes the state it starts
    from.  Order-dependent by construction, and invariant tasks only.
    """

    def __init__(self, context: ModelContext, embedding_dim: int = 128, hidden: int = 64) -> None:
        super().__init__()
        if context.equivariant:
            raise ModelError("lstm reads a sequence into one state and has no per-element output; "
                             "use it on invariant tasks")
        self.encoder = ElementEncoder(context.elements, "embedding", embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        _, (state, _) = self.lstm(self.encoder(values))
        return self.head(state[-1]).squeeze(-1)


class PaddedMLP(SetModel):
    """A plain MLP on the padded vector: input ``[x, mask]`` left-padded to ``width``, ReLU hidden layers.

    Nothing ties its weights across positions: the inputs that only larger sets
    reach keep their initial weights, and permuting the positions changes the output.
    """

    def __init__(self, context: ModelContext, hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        self.equivariant = context.equivariant
        self.width = context.max_cardinality
        sizes = [2 * self.width] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        blocks.append(nn.Linear(sizes[-1], self.width if self.equivariant else 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        length = values.shape[1]
        x = _left_pad(_as_float(values), self.width)
        m = _left_pad(mask, self.width, False).to(x.dtype)
        out = self.net(torch.cat([x, m], dim=1))
        return out[:, -length:] if self.equivariant else out.squeeze(-1)


# ---------------------------------------------------------------------- learning the ties with a penalty
class PenaltyMLP(SetModel):
    """A dense MLP shaped like a set network, pulled towards the derived ties by one penalty.

    Layer 1 maps the padded vector ``x ∈ R^N`` to ``h ∈ R^{N×C}`` with a dense weight
    ``W₁`` of :class:`polyequiv.nn.TiedPolynomialLayer`'s dense shape ``(N, N+1, C, 1)``
    (input ``N`` is the bias ``x_b ≡ 1``), then ``activation``; padded positions are
    masked out.  The read-out is a dense ``W₂`` of shape ``(1, N+1, 1, C)`` (invariant
    tasks) or ``(N, N+1, 1, C)`` (equivariant tasks).  Training adds

        λ · Σ_layers ‖W − project(W)‖²

    where :func:`polyequiv.nn.project` is the orthogonal projection onto the weights the
    derivation allows (``αI + β11ᵀ`` and one bias for layer 1, ``γ1`` for the read-out):
    a single hyperparameter, instead of a penalty on every pair of weights
    (Agarwal et al., §1.4.1).  With ``λ = 0`` it is an unconstrained MLP; as ``λ → ∞``
    it becomes the tied network with sum pooling.  Positions that only larger sets reach
    get no gradient from the data, only from the penalty, which pulls them towards the
    values learned at the positions the data reach.
    """

    def __init__(self, context: ModelContext, hidden: int = 8, activation: str = "relu",
                 penalty: float = 1.0) -> None:
        super().__init__()
        if penalty < 0:
            raise ModelError(f"the penalty weight must be ≥ 0, got {penalty}")
        self.equivariant = context.equivariant
        self.width, self.strength = context.max_cardinality, float(penalty)
        n = self.width
        mode = "equivariant" if self.equivariant else "invariant"
        # the tied layers only define the subspaces and the layer functions; their own
        # parameters are not trained (the dense weights below are)
        self.ties = nn.ModuleList([
            TiedPolynomialLayer(LayerSpec(n=n, degree=1, bias=True), 1, hidden),
            TiedPolynomialLayer(LayerSpec(n=n, degree=1, bias=True, mode=mode), hidden, 1),
        ])
        for tie in self.ties:
            tie.weight.requires_grad_(False)
        self.weights = nn.ParameterList([
            nn.Parameter(torch.randn(tie.dense_weight().shape) / math.sqrt(tie.dense_weight()[0].numel()))
            for tie in self.ties])
        self.activation = _activation(activation)

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        length = values.shape[1]
        x = _left_pad(_as_float(values), self.width)
        m = _left_pad(mask, self.width, False)
        hidden = self.ties[0].apply_weight(self.weights[0], _masked(x.unsqueeze(-1), m))
        hidden = _masked(self.activation(hidden), m)
        out = self.ties[1].apply_weight(self.weights[1], hidden).squeeze(-1)
        return out[:, -length:] if self.equivariant else out

    def residuals(self) -> list[Tensor]:
        """``W − project(W)`` of each layer."""
        return [weight - project(tie, weight) for tie, weight in zip(self.ties, self.weights, strict=True)]

    def penalty(self) -> Tensor | None:
        if self.strength == 0:
            return None
        return self.strength * sum(r.square().sum() for r in self.residuals())

    def diagnostics(self) -> dict[str, float]:
        """``equivariance_residual``: ``‖W − project(W)‖ / ‖W‖`` over both layers (0 when exactly tied)."""
        with torch.no_grad():
            residual = sum(float(r.square().sum()) for r in self.residuals())
            total = sum(float(w.square().sum()) for w in self.weights)
        return {"equivariance_residual": math.sqrt(residual / total) if total else 0.0}


class SharingLinear(SetModel):
    """A dense linear layer on the padded vector, pulled towards *some* weight sharing by one penalty.

    ``y = W x + b`` with ``W`` of shape ``(N, N)`` (equivariant tasks) or ``(1, N)`` (invariant),
    ``N`` the largest cardinality, ``x`` left-padded with zeros.  Training adds the seed's §1.4.1
    sharing penalty with its one hyperparameter, over every pair of entries of ``W``:

        λ · Σ_{a < b} |w_a − w_b|  =  λ · Σ_r (2r − m + 1) w_(r)

    (``w_(r)`` the entries sorted, ``m`` their number: ``O(m log m)``, not ``O(m²)``).  It names no
    group: the ties it favours are whatever the data allow, which is what ``polyequiv discover``
    reads off ``W`` afterwards (the entry ``weight``).
    """

    def __init__(self, context: ModelContext, penalty: float = 1e-4) -> None:
        super().__init__()
        if not (math.isfinite(penalty) and penalty >= 0):
            raise ModelError(f"the penalty weight must be a finite number ≥ 0, got {penalty}")
        self.equivariant = context.equivariant
        self.width, self.strength = context.max_cardinality, float(penalty)
        outputs = self.width if self.equivariant else 1
        self.weight = nn.Parameter(torch.randn(outputs, self.width) / math.sqrt(self.width))
        self.bias = nn.Parameter(torch.zeros(outputs))

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        length = values.shape[1]
        x = _left_pad(_as_float(values) * mask.to(torch.get_default_dtype()), self.width)
        out = x @ self.weight.T + self.bias
        return out[:, -length:] if self.equivariant else out[:, 0]

    def penalty(self) -> Tensor | None:
        if self.strength == 0:
            return None
        ordered = torch.sort(self.weight.flatten()).values
        m = ordered.numel()
        ranks = torch.arange(m, dtype=ordered.dtype, device=ordered.device)
        return self.strength * torch.sum((2 * ranks - m + 1) * ordered)


# ---------------------------------------------------------------------- registry
#: The lab's training settings (DeepSets lab, §2.3): 20 epochs, batch 64, Adam 1e-3, L1 loss.
LAB_TRAINING: dict[str, Any] = {"epochs": 20, "batch_size": 64, "lr": 1e-3, "loss": "l1",
                                "schedule": "constant"}

#: Tied models: the lab's batch size and epochs, a larger peak rate and a cosine decay to 0 (the
#: decay is what lets the weights settle on the exact solution; see docs/results.md).
TIED_TRAINING: dict[str, Any] = {"epochs": 20, "batch_size": 64, "lr": 1e-2, "loss": "l1",
                                 "schedule": "cosine"}

_TIED_OPTIONS = {"features": "value", "embedding_dim": 0, "layers": 1, "hidden": 2, "degree": 1,
                 "readout_degree": 1, "activation": "none", "pooling": "mean", "readout_pooling": "sum"}
def _one_tied_layer(options: dict[str, Any]) -> bool:
    """A :class:`TiedSetNetwork` is linear in its weights when its read-out is all of it."""
    return options["layers"] == 0 and options["features"] == "value"


register(ModelDefinition(
    "tied-linear", "linear tied layer (2 channels, mean pooling) → linear sum read-out",
    TiedSetNetwork, _TIED_OPTIONS, TIED_TRAINING, linear_in_weights=_one_tied_layer))
register(ModelDefinition(
    "tied-quadratic", "one tied quadratic layer pooling sums and means: the invariant read-out, "
                      "or the per-element layer",
    TiedSetNetwork, {**_TIED_OPTIONS, "layers": 0, "degree": 2, "readout_degree": 2, "pooling": "both",
                     "readout_pooling": "both"}, TIED_TRAINING, linear_in_weights=_one_tied_layer))
register(ModelDefinition(
    "deepsets", "the lab's DeepSets: embedding 128 → Linear 64 → tanh → sum → Linear 1",
    DeepSets, {"embedding_dim": 128, "hidden": 64}, LAB_TRAINING))
register(ModelDefinition(
    "lstm", "the lab's LSTM: embedding 128 → LSTM 64 → last hidden state → Linear 1",
    LSTMRegressor, {"embedding_dim": 128, "hidden": 64}, LAB_TRAINING,
    unfit_for=lambda context: "it has no per-element output (invariant tasks only)" if context.equivariant
    else None))
register(ModelDefinition(
    "mlp", "MLP on the padded vector and its mask: 2 hidden ReLU layers of 128",
    PaddedMLP, {"hidden": 128, "layers": 2}, LAB_TRAINING))
register(ModelDefinition(
    "penalty-mlp", "dense set-shaped MLP (8 channels, ReLU) + λ‖W − project(W)‖² towards the derived ties",
    PenaltyMLP, {"hidden": 8, "activation": "relu", "penalty": 1.0}, LAB_TRAINING))
register(ModelDefinition(
    "sharing-linear", "dense linear layer Wx + b + λ Σ_pairs |w_a − w_b| (the seed's §1.4.1 sharing penalty, "
                      "no group)",
    SharingLinear, {"penalty": 1e-4}, LAB_TRAINING))
