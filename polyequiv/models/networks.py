"""Composed polynomial networks trained inside their variety (issue 9, seed 004 §2.6–2.8).

A :class:`~polyequiv.compose.NetworkSpec` on ``n`` elements (``S3 [quadratic free -> 3, linear
free -> invariant]``) is a stack of polynomial layers; ``T`` is the subspace where every layer is
equivariant by itself and ``V ⊇ T`` the variety of parameters whose *output* is equivariant
(:mod:`polyequiv.compose.variety`).  Three set models train it with the training loop, the
checkpoints and the ``results.json`` of every other model:

=====================  ============================================================================
name                   trains
=====================  ============================================================================
``variety-tied``       ``τ`` with ``θ = B_T τ``: every layer tied (the baseline)
``variety-penalty``    ``θ`` freely, with ``λ |E(θ)|²`` added to the loss (``E``: the equations)
``variety-projected``  ``θ``, each gradient projected on the tangent space ``ker J_E(θ)``, each
                       step retracted onto ``V`` by Gauss–Newton (``max |E| ≤ 1e-13 · max |c|``)
=====================  ============================================================================

The network computes on sets of exactly ``n`` elements (real numbers), so these models fix the
task's cardinalities to ``n`` (:attr:`~polyequiv.models.ModelDefinition.task_requirements`).
Parameters are float64 (the retraction works to 1e-13); the output is cast to the input's dtype.
``E(θ)`` and ``J_E`` are the float64 maps of :class:`~polyequiv.compose.variety.VarietyProblem`
(numpy), entered into autograd through ``∂|E|²/∂θ = 2 J_Eᵀ E``.

    >>> import torch
    >>> from polyequiv.models import ModelContext, build_model
    >>> model = build_model("variety-projected", ModelContext("reals", equivariant=False, max_cardinality=3),
    ...                     network="S3 [quadratic free -> 3, linear free -> invariant]")
    >>> model(torch.rand(4, 3), torch.ones(4, 3, dtype=torch.bool)).shape
    torch.Size([4])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import polyequiv.models.sets  # noqa: F401  (registers the set models first: they lead every list)
from polyequiv.errors import SizeLimitError, SpecError
from polyequiv.models.registry import ModelContext, ModelDefinition, ModelError, SetModel, register

METHODS = ("tied", "penalty", "projected")

#: The network a variety model trains when the option ``network`` is left empty.
DEFAULT_NETWORKS = {
    False: "S3 [quadratic free -> 3, linear free -> invariant]",
    True: "S3 [linear free -> 3, quadratic free -> 3]",
}

#: Full-batch-like settings: the three methods are compared from the same tied start.
VARIETY_TRAINING: dict[str, Any] = {"epochs": 5, "batch_size": 64, "lr": 1e-2, "loss": "mse",
                                    "schedule": "cosine"}


def network_spec(text: str, equivariant: bool | None = None) -> Any:
    """The :class:`~polyequiv.compose.NetworkSpec` of the option ``network`` (empty: the default)."""
    from polyequiv.compose.network import NetworkSpec

    if not text:
        if equivariant is None:
            return NetworkSpec.parse(DEFAULT_NETWORKS[False])
        return NetworkSpec.parse(DEFAULT_NETWORKS[equivariant])
    try:
        return NetworkSpec.parse(text)
    except SpecError as error:
        raise ModelError(f"option network: {error}") from None


def _requirements(options: dict[str, Any]) -> dict[str, Any]:
    """Sets of exactly the network's ``n`` elements, for training and testing."""
    text = options.get("network", "")
    if not isinstance(text, str):
        raise ModelError(f"option network must be a network spec string, got {text!r}")
    n = network_spec(text).n
    return {"cardinalities": [n], "train_cardinalities": [n, n]}


class _EquationPenalty(torch.autograd.Function):
    """``|E(θ)|²`` with the gradient ``2 J_Eᵀ E`` (float64 numpy maps of the variety problem)."""

    @staticmethod
    def forward(ctx: Any, theta: Tensor, problem: Any) -> Tensor:  # type: ignore[override]
        e, je, _, _ = problem.equations_and_jacobian(theta.detach().cpu().numpy())
        ctx.save_for_backward(torch.from_numpy(2.0 * (je.T @ e)).to(theta))
        return theta.new_tensor(float(e @ e))

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (gradient,) = ctx.saved_tensors
        return grad * gradient, None


class VarietyNetwork(SetModel):
    """A composed polynomial network on ``n`` elements, trained by ``method`` (module docstring).

    ``forward`` evaluates the layers ``h^ℓ_k = Σ_t W^{ℓ,k}_t h_{t₁} ⋯ h_{t_d}`` (with ``h_b ≡ 1``
    for ``+bias`` layers) on the weights ``L θ`` (``L`` the embedding of the parameters, tied
    layers' classes expanded); ``θ = B_T τ`` for ``tied``.  The tied start is the same for the
    three methods at one seed: ``τ ~ 0.5·N(0, 1)/√dim T``.
    """

    def __init__(self, context: ModelContext, network: str = "", method: str = "tied",
                 penalty: float = 10.0) -> None:
        super().__init__()
        if method not in METHODS:
            raise ModelError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        if not (isinstance(penalty, (int, float)) and math.isfinite(penalty) and penalty >= 0):
            raise ModelError(f"the penalty weight must be a finite number ≥ 0, got {penalty!r}")
        if context.elements != "reals":
            raise ModelError("variety models compute polynomials of real numbers; "
                             f"this task's elements are {context.elements}")
        from polyequiv.compose.variety import VarietyProblem

        spec = network_spec(network, context.equivariant)
        if spec.equivariant != context.equivariant:
            kinds = {True: "equivariant", False: "invariant"}
            raise ModelError(f"the network {spec} is {kinds[spec.equivariant]}, "
                             f"the task is {kinds[context.equivariant]}")
        self.spec, self.method, self.strength = spec, method, float(penalty)
        self.equivariant = spec.equivariant
        try:  # refused here, before any training, when its Jacobian would not fit
            self.problem = VarietyProblem(spec)
        except SizeLimitError as error:
            raise ModelError(f"option network: {error}") from None
        basis = self.problem.tied_basis_float
        self.register_buffer("embedding", torch.from_numpy(self.problem.embedding_float))
        self.register_buffer("basis", torch.from_numpy(basis))
        tau = 0.5 * torch.randn(basis.shape[1], dtype=torch.float64) / math.sqrt(max(basis.shape[1], 1))
        start = tau if method == "tied" else self.basis @ tau
        self.parameter = nn.Parameter(start)
        for number, index in enumerate(spec.weight_indices):  # buffers: they follow .to(device)
            tuples = torch.from_numpy(np.asarray(index.tuples, dtype=np.int64))
            self.register_buffer(f"tuples_{number}", tuples, persistent=False)

    def polynomial_degree(self) -> int:
        """The product of the layers' degrees."""
        return math.prod(layer.degree for layer in self.spec.layers)

    # ------------------------------------------------------------------ the map θ ↦ network
    def theta(self) -> Tensor:
        """The network parameters ``θ`` (``B_T τ`` for the tied method)."""
        return self.basis @ self.parameter if self.method == "tied" else self.parameter

    def layer_weights(self) -> list[Tensor]:
        """``W^ℓ`` of every layer, shape ``(outputs, tuples)``."""
        weights = self.embedding @ self.theta()
        offsets = self.spec.weight_offsets
        return [weights[offsets[i]:offsets[i + 1]].reshape(layer.num_outputs, -1)
                for i, layer in enumerate(self.spec.layers)]

    def layer_output(self, number: int, inputs: Tensor, weight: Tensor | None = None) -> Tensor:
        """Layer ``number`` alone on ``inputs`` ``(batch, its input width)``: ``(batch, its outputs)``
        (``weight``: its ``W^ℓ``, when already at hand)."""
        layer = self.spec.layers[number]
        weight = self.layer_weights()[number] if weight is None else weight
        tuples = getattr(self, f"tuples_{number}")
        h = inputs.to(torch.float64)
        h = torch.cat([h, h.new_ones(h.shape[0], 1)], dim=1) if layer.bias else h
        features = h[:, tuples].prod(dim=2) if tuples.shape[1] else h.new_ones(h.shape[0], 1)
        return features @ weight.T

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        n = self.spec.n
        if values.shape[1] != n or not bool(mask.all()):
            sizes = sorted({int(s) for s in mask.sum(dim=1).tolist()}) if mask.numel() else []
            raise ModelError(f"this network computes on sets of exactly {n} elements, got sets of "
                             f"{sizes or [values.shape[1]]} (train with --train-cardinalities {n} "
                             f"--cardinalities {n})")
        h = values.to(torch.float64)
        for number, weight in enumerate(self.layer_weights()):
            h = self.layer_output(number, h, weight)
        out = h.to(values.dtype)
        return out if self.equivariant else out[:, 0]

    # ------------------------------------------------------------------ the three methods
    def penalty(self) -> Tensor | None:
        if self.method != "penalty" or self.strength == 0:
            return None
        return self.strength * _EquationPenalty.apply(self.parameter, self.problem).to(torch.float32)

    def before_step(self) -> None:
        """Projected method: ``g ← g − J_E⁺ J_E g``, the gradient's component in ``ker J_E(θ)``."""
        if self.method != "projected" or self.parameter.grad is None:
            return
        from polyequiv.compose.training import tangent_component

        _, je, _, _ = self.problem.equations_and_jacobian(self.parameter.detach().cpu().numpy())
        grad = self.parameter.grad.detach().cpu().numpy().astype(np.float64)
        self.parameter.grad.copy_(torch.from_numpy(tangent_component(je, grad)))

    def after_step(self) -> None:
        """Projected method: Gauss–Newton (minimum-norm steps) back onto ``E(θ) = 0``."""
        if self.method != "projected":
            return
        from polyequiv.compose.training import retract

        theta = retract(self.problem, self.parameter.detach().cpu().numpy().astype(np.float64))
        with torch.no_grad():
            self.parameter.copy_(torch.from_numpy(theta))

    def diagnostics(self) -> dict[str, float]:
        """``equation_residual`` (``max |E(θ)| / max |c(θ)|``: 0 on ``V``), ``equivariance_residual``
        (:meth:`equivariance_residual`), ``distance_from_tied``
        (``‖θ − P_T θ‖ / ‖θ‖``: 0 on ``T``), and ``layers_equivariant`` (1 when every layer is
        individually equivariant to 1e-9, else 0)."""
        theta = self.theta().detach().cpu().numpy()
        e, _, c, _ = self.problem.equations_and_jacobian(theta)
        scale = max(float(np.abs(c).max()), 1e-300)
        basis = self.basis.cpu().numpy()
        coordinates, *_ = np.linalg.lstsq(basis, theta, rcond=None)
        norm = max(float(np.linalg.norm(theta)), 1e-300)
        distance = float(np.linalg.norm(theta - basis @ coordinates)) / norm
        return {
            "equation_residual": float(np.abs(e).max()) / scale if e.size else 0.0,
            "equivariance_residual": self.equivariance_residual(),
            "distance_from_tied": distance,
            "layers_equivariant": float(distance <= 1e-9),
        }

    def equivariance_residual(self, samples: int = 64, elements: int = 16, seed: int = 0) -> float:
        """``max_σ max |f(σ·x) − σ·f(x)| / max |f(x)|`` in float64, over ``elements`` random elements
        of the network's whole group and ``samples`` inputs uniform in [−1, 1]ⁿ (fixed by ``seed``)."""
        from polyequiv.compose.training import equivariance_residual

        rng = np.random.default_rng(seed)
        x = rng.uniform(-1.0, 1.0, size=(samples, self.spec.n))
        weights = self.embedding.cpu().numpy() @ self.theta().detach().cpu().numpy()
        return equivariance_residual(self.spec, weights, x, rng, elements)


def _builder(method: str) -> Any:
    def build(context: ModelContext, network: str, penalty: float = 10.0) -> VarietyNetwork:
        return VarietyNetwork(context, network=network, method=method, penalty=penalty)

    build.__name__ = f"variety_{method}"
    return build


_SUMMARIES = {
    "tied": "a composed polynomial network (option network=SPEC) with every layer tied: θ = B_T τ",
    "penalty": "the same network with free layers, λ|E(θ)|² (the equations of an equivariant output) "
               "added to the loss",
    "projected": "the same network with free layers, gradients projected on the variety's tangent space "
                 "and each step retracted onto it",
}
for _method in METHODS:
    register(ModelDefinition(
        f"variety-{_method}", _SUMMARIES[_method], _builder(_method),
        {"network": "", **({"penalty": 10.0} if _method == "penalty" else {})}, VARIETY_TRAINING,
        task_requirements=_requirements,
        unfit_for=lambda context: None if context.elements == "reals" else "it computes polynomials of real "
        f"numbers, and the task's elements are {context.elements}"))
