"""Physics models (a domain of :mod:`polyequiv.models`) for the tasks of :mod:`polyequiv.tasks.physics`.

Every model maps the flat input coordinates of the task's representation to its outputs::

    model(values, mask) -> (batch, outputs)   or (batch,) for an invariant   values (batch, coordinates)

==================  ==========================================================================  ===========
name                architecture                                                                equivariant
==================  ==========================================================================  ===========
``tied-poly``       the derived layer for the task's group and representations at the task's   exactly
                    degree: :class:`~polyequiv.nn.PointCloudPolyLayer` (one weight per n-free
                    pattern) where it applies, else :class:`~polyequiv.nn.TiedPolynomialLayer`
                    (the exact basis); linear in its weights, so fitted by least squares
``coordinate-mlp``  EMLP's baseline: an MLP on the coordinates, 3 hidden layers of 384, SiLU       no
``augmented-mlp``   the same MLP, each training sample moved by a random group element ``h``:     on average
                    it predicts ``ρ_out(h)⁻¹ f(ρ_in(h) x)`` (EMLP's ``GroupAugmentation``; the
                    lecture's alternative to tying weights)
``scalar-mlp``      invariant features (scalars and every inner product of the input vectors,   matrix group
                    through the metric) into an MLP whose outputs weight the equivariant
                    tensors: ``Σ_k c_k v_k`` for a vector, ``Σ_kl c_kl v_k v_lᵀ + c₀ η⁻¹`` for a
                    2-tensor (Villar et al. 2021, "Scalars are universal"); it reads the        exactly, not
                    particles in order                                                          Sₙ
==================  ==========================================================================  ===========

Random group elements for augmentation are drawn in torch as ``exp(Σ_i c_i A_i)`` with ``c_i``
standard normal (EMLP's sampler), times each finite generator to a random power in ``0..3``, and a
uniform permutation of the points.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn

from polyequiv.matrix_spec import MatrixLayerSpec
from polyequiv.models.registry import ModelContext, ModelDefinition, ModelError, SetModel, register

#: EMLP's regression settings (Adam 3e-3, batch 500, MSE), 300 epochs, decayed by a cosine schedule.
PHYSICS_TRAINING: dict[str, Any] = {"epochs": 300, "batch_size": 500, "lr": 3e-3, "loss": "mse",
                                    "schedule": "cosine"}


def task_spec(context: ModelContext, degree: int | None = None) -> MatrixLayerSpec:
    """The task's layer spec (at ``degree`` when given)."""
    if context.spec is None:
        raise ModelError("physics models need the task's layer spec (a physics task)")
    spec = MatrixLayerSpec.parse(context.spec)
    if degree is None:
        return spec
    return MatrixLayerSpec(spec.group, degree, spec.input, spec.output, bias=spec.bias)


class PhysicsModel(SetModel):
    """Base of the physics models: flat coordinates in, ``(batch, outputs)`` or ``(batch,)`` out."""

    def __init__(self, spec: MatrixLayerSpec) -> None:
        super().__init__()
        self.spec = spec
        self.equivariant = spec.equivariant

    def check_width(self, values: Tensor) -> None:
        if values.dim() != 2 or values.shape[1] != self.spec.num_coordinates:
            raise ModelError(f"this model reads {self.spec.num_coordinates} coordinates ({self.spec.input} "
                             f"on {self.spec.n} points), got {tuple(values.shape)}")

    def shaped(self, y: Tensor) -> Tensor:
        """``(batch, outputs)``, or ``(batch,)`` for an invariant."""
        return y.reshape(y.shape[0], -1) if self.equivariant else y.reshape(y.shape[0])


# ---------------------------------------------------------------------- the derived layer
class TiedPoly(PhysicsModel):
    """The derived layer itself, ``y = Σ_π w_π T_π(x)`` (see the module docstring).

    ``layer="auto"`` takes the point-cloud patterns where they apply (O(d), O(1,q), alone or with Sₙ)
    and the exact basis otherwise; ``"dense"`` always the exact basis (the dense layer of
    :class:`~polyequiv.nn.TiedPolynomialLayer`, on the task's own number of points).
    """

    def __init__(self, context: ModelContext, degree: int | None = None, layer: str = "auto") -> None:
        from polyequiv.errors import SpecError
        from polyequiv.nn import PointCloudPolyLayer, TiedPolynomialLayer

        if layer not in ("auto", "dense"):
            raise ModelError(f"option layer of model 'tied-poly' must be 'auto' or 'dense', got {layer!r}")
        if degree is not None and not 0 <= degree <= 8:
            raise ModelError(f"option degree of model 'tied-poly' must be in 0..8, got {degree}")
        super().__init__(task_spec(context, degree))
        self.layer: nn.Module
        try:
            if layer == "dense":
                raise SpecError("dense layer asked for")
            self.layer = PointCloudPolyLayer(self.spec)
        except SpecError:
            self.layer = TiedPolynomialLayer(self.spec)
        with torch.no_grad():
            self.layer.weight.zero_()

    @property
    def fast(self) -> bool:
        return hasattr(self.layer, "patterns")

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        return self.shaped(self.layer(values.unsqueeze(-1)))

    def polynomial_degree(self) -> int:
        return self.spec.degree

    def linear_parameters(self) -> list[nn.Parameter]:
        return [self.layer.weight]

    def linear_features(self, values: Tensor, mask: Tensor) -> Tensor:
        """``(batch, outputs, P)`` (``(batch, P)`` for an invariant): the output with each weight 1."""
        if self.fast:
            features = self.layer.pattern_values(values.unsqueeze(-1))
        else:
            features = basis_features(self.layer, values)
        return features if self.equivariant else features[:, 0]

    def diagnostics(self) -> dict[str, float]:
        """The weight of every pattern (at most 12), by the sum it computes."""
        if not self.fast or len(self.layer.patterns) > 12:
            return {}
        names = [feature.text for feature in cloud_dictionary(self).features]
        return {f"weight {name}": float(w) for name, w in zip(names, self.layer.weight.detach(), strict=True)}

    def feature_dictionary(self) -> Any:
        """The named patterns (:func:`cloud_dictionary`), for ``polyequiv explain``."""
        if not self.fast:
            raise ModelError("only the point-cloud layer has named features; this run uses the exact basis")
        return cloud_dictionary(self)


def basis_features(layer: nn.Module, values: Tensor) -> Tensor:
    """``(batch, outputs, P)``: a :class:`~polyequiv.nn.TiedPolynomialLayer` (exact basis), each weight 1."""
    spec = layer.spec
    extended = torch.cat([values, values.new_ones(values.shape[0], 1)], 1) if spec.bias else values
    products = values.new_ones(values.shape[0], layer.tuples.shape[0])
    for column in range(layer.tuples.shape[1]):
        products = products * extended[:, layer.tuples[:, column]]
    basis = layer.basis.to(values.dtype).reshape(spec.num_outputs, -1, layer.num_parameters)
    return torch.einsum("bt,otp->bop", products, basis)


def input_names(spec: MatrixLayerSpec) -> tuple[str, ...]:
    """A letter per input term: ``m`` (scalars on points), ``r`` (vectors on points), ``p`` (four-vectors),
    ``x`` (other vectors), ``s`` (global scalars), ``T`` (tensors); ``{}`` marks the copy number."""
    lorentz = "," in spec.group.matrix.label
    names = []
    for term in spec.input.terms:
        if term.power == 0:
            letter = "m" if term.points == "V" else "s"
        elif term.power == 1:
            letter = "r" if term.points == "V" else ("p" if lorentz else "x")
        else:
            letter = "T"
        names.append(letter + ("{}" if term.multiplicity > 1 else ""))
    return tuple(names)


def cloud_dictionary(model: TiedPoly) -> Any:
    """The patterns of the model's point-cloud layer as named features (``Σ_i m_i r_ia r_ib``, …)."""
    import sympy

    from polyequiv.cloud_patterns import pattern_text
    from polyequiv.models.features import Dictionary, Feature

    spec, layer = model.spec, model.layer
    names, points = input_names(spec), tuple(t.points for t in spec.input.terms)
    powers = tuple(t.power for t in spec.input.terms)
    features = []
    for pattern in layer.patterns:
        text, latex = pattern_text(pattern, names, points, powers)
        complexity = len(pattern.factors) + pattern.num_blocks + len(pattern.pairs)
        features.append(Feature(text, latex, sympy.Symbol(text), complexity, key=repr(pattern)))

    def evaluate(values: Tensor, mask: Tensor) -> Tensor:
        stacked = layer.pattern_values(values.to(layer.weight.dtype).unsqueeze(-1))
        return stacked.reshape(-1, stacked.shape[-1])

    out = spec.output.terms[0]
    axes = "ab"[: out.power] if len(spec.output.terms) == 1 else "…"
    output = "y" + ("_" + ("k" if out.points == "V" else "") + axes if (axes or out.points == "V") else "")
    return Dictionary(features, evaluate, output, _definitions(spec, names))


def _definitions(spec: MatrixLayerSpec, names: tuple[str, ...]) -> list[str]:
    lines = []
    for name, term in zip(names, spec.input.terms, strict=True):
        kind = {0: "a scalar", 1: "a vector"}.get(term.power, f"a tensor of order {term.power}")
        copies = f"the {term.multiplicity} copies of" if term.multiplicity > 1 else "the"
        body = f"{copies} {term.matrix_name()}" if term.points == "1" else f"{kind} per particle"
        shown = (f"{name.format(1)}, {name.format(2)}, …" if "{}" in name
                 else name + ("_i" if term.points == "V" else ""))
        lines.append(f"{shown}: {body} ({_term_text(spec, term)})")
    if spec.group.has_points:
        lines.append("i, j, l: particles, each summed over all of them (summed indices may coincide)")
    if "," in spec.group.matrix.label:
        lines.append("(p·q) = pᵀηq and |p|² = pᵀηp with η = diag(1, −1, …, −1)")
    else:
        lines.append("(u·v) the dot product, |u|² = u·u, δ_ab the identity")
    return lines


def _term_text(spec: MatrixLayerSpec, term: Any) -> str:
    """A term as written in the representation (``V⊗1``, ``4*V``)."""
    return spec.input._term_text(term)


# ---------------------------------------------------------------------- group elements in torch
class GroupSampler(nn.Module):
    """Random elements ``(σ, g)`` of a task's group and their action on flat coordinates (torch)."""

    def __init__(self, spec: MatrixLayerSpec) -> None:
        super().__init__()
        self.spec = spec

        def matrices(source: tuple) -> Tensor:
            return torch.tensor([[[float(v) for v in row] for row in m] for m in source],
                                dtype=torch.get_default_dtype()).reshape(len(source), spec.dim, spec.dim)

        self.register_buffer("lie", matrices(spec.group.matrix.lie), persistent=False)
        self.register_buffer("finite", matrices(spec.group.matrix.finite), persistent=False)
        if spec.group.points not in (None, "S"):
            raise ModelError(f"augmentation draws permutations of S(n), not of {spec.group.label}")

    def sample(self, count: int) -> tuple[Tensor | None, Tensor]:
        """``(permutations (count, n) or None, matrices (count, d, d))``."""
        dtype, device = self.lie.dtype, self.lie.device
        g = torch.eye(self.spec.dim, dtype=dtype, device=device).expand(count, -1, -1)
        if len(self.lie):
            coefficients = torch.randn(count, len(self.lie), dtype=dtype, device=device)
            g = torch.linalg.matrix_exp(torch.einsum("bi,ijk->bjk", coefficients, self.lie))
        for generator in self.finite:
            powers = torch.randint(0, 4, (count,), device=device)
            for power in range(1, 4):
                chosen = powers >= power
                g = torch.where(chosen[:, None, None], g @ generator, g)
        perms = (torch.argsort(torch.rand(count, self.spec.n, device=device), dim=1)
                 if self.spec.group.has_points else None)
        return perms, g

    def act(self, rep: Any, x: Tensor, perms: Tensor | None, g: Tensor) -> Tensor:
        """``ρ(σ, g) x`` row by row on flat coordinates of ``rep`` (:mod:`polyequiv.matrix_reps`)."""
        n, d, parts, offset = self.spec.n, self.spec.dim, [], 0
        for term in rep.terms:
            points = n if term.points == "V" else 1
            size = term.multiplicity * points * d**term.power
            shape = (x.shape[0], term.multiplicity, points, *(d,) * term.power)
            block = x[:, offset:offset + size].reshape(shape)
            offset += size
            if term.points == "V" and perms is not None:
                index = perms.reshape(x.shape[0], 1, n, *(1,) * term.power).expand_as(block)
                block = torch.gather(block, 2, index)
            for axis in range(term.power):
                block = torch.movedim(torch.einsum("bij,b...j->b...i", g, torch.movedim(block, 3 + axis, -1)),
                                      -1, 3 + axis)
            parts.append(block.reshape(x.shape[0], -1))
        return torch.cat(parts, dim=1)

    def inverse(self, perms: Tensor | None, g: Tensor) -> tuple[Tensor | None, Tensor]:
        return (torch.argsort(perms, dim=1) if perms is not None else None), torch.linalg.inv(g)


# ---------------------------------------------------------------------- baselines
def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of ``sizes`` with SiLU between them (EMLP's MLP uses swish = SiLU)."""
    blocks: list[nn.Module] = []
    for number, (a, b) in enumerate(itertools.pairwise(sizes)):
        blocks.append(nn.Linear(a, b))
        if number < len(sizes) - 2:
            blocks.append(nn.SiLU())
    return nn.Sequential(*blocks)


class CoordinateMLP(PhysicsModel):
    """An MLP on the flat coordinates; with ``augment`` each training sample is moved by a random group
    element (module docstring)."""

    def __init__(self, context: ModelContext, hidden: int = 384, layers: int = 3,
                 augment: bool = False) -> None:
        if hidden < 1 or layers < 1:
            raise ModelError(f"need hidden ≥ 1 and layers ≥ 1, got hidden={hidden}, layers={layers}")
        super().__init__(task_spec(context))
        self.net = mlp([self.spec.num_coordinates] + [hidden] * layers + [self.spec.num_outputs])
        self.sampler = GroupSampler(self.spec) if augment else None

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        self.check_width(values)
        if self.sampler is None or not self.training:
            return self.shaped(self.net(values))
        perms, g = self.sampler.sample(values.shape[0])
        moved = self.sampler.act(self.spec.input, values, perms, g.to(values.dtype))
        back, inverse = self.sampler.inverse(perms, g.to(values.dtype))
        return self.shaped(self.sampler.act(self.spec.output, self.net(moved), back, inverse))


class ScalarMLP(PhysicsModel):
    """Invariant features into an MLP whose outputs weight equivariant tensors (module docstring)."""

    def __init__(self, context: ModelContext, hidden: int = 384, layers: int = 3) -> None:
        if hidden < 1 or layers < 1:
            raise ModelError(f"need hidden ≥ 1 and layers ≥ 1, got hidden={hidden}, layers={layers}")
        super().__init__(task_spec(context))
        spec = self.spec
        if any(t.power > 1 for t in spec.input.terms) or len(spec.output.terms) != 1 or (
                spec.output.terms[0].points != "1" or spec.output.terms[0].multiplicity != 1
                or spec.output.terms[0].power > 2):
            raise ModelError(f"scalar-mlp reads scalars and vectors and outputs one global scalar, vector or "
                             f"2-tensor; {spec.input} -> {spec.output} is not that")
        from polyequiv.cloud_patterns import metric_signs

        signs = torch.tensor(metric_signs(spec), dtype=torch.get_default_dtype())
        self.register_buffer("metric", torch.diag(signs), persistent=False)
        self.vectors = sum(t.multiplicity * (spec.n if t.points == "V" else 1) for t in spec.input.terms
                           if t.power == 1)
        scalars = sum(t.multiplicity * (spec.n if t.points == "V" else 1) for t in spec.input.terms
                      if t.power == 0)
        power = spec.output.terms[0].power
        outputs = {0: 1, 1: self.vectors, 2: self.vectors**2 + 1}[power]
        features = scalars + self.vectors * (self.vectors + 1) // 2
        self.net = mlp([max(features, 1)] + [hidden] * layers + [outputs])

    def split(self, values: Tensor) -> tuple[Tensor, Tensor]:
        """``(scalars (batch, S), vectors (batch, K, d))`` of the flat coordinates."""
        spec, d, scalars, vectors, offset = self.spec, self.spec.dim, [], [], 0
        for term in spec.input.terms:
            count = term.multiplicity * (spec.n if term.points == "V" else 1)
            size = count * d**term.power
            block = values[:, offset:offset + size]
            offset += size
            (scalars if term.power == 0 else vectors).append(block.reshape(values.shape[0], count, -1))
        s = torch.cat(scalars, 1)[..., 0] if scalars else values.new_zeros(values.shape[0], 0)
        v = torch.cat(vectors, 1) if vectors else values.new_zeros(values.shape[0], 0, d)
        return s, v

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        self.check_width(values)
        s, v = self.split(values)
        gram = torch.einsum("bka,ac,blc->bkl", v, self.metric.to(v.dtype), v)
        upper = torch.triu_indices(v.shape[1], v.shape[1])
        invariants = torch.cat([s, gram[:, upper[0], upper[1]]], 1)
        if invariants.shape[1] == 0:
            invariants = values.new_ones(values.shape[0], 1)
        c = self.net(invariants)
        power = self.spec.output.terms[0].power
        if power == 0:
            return self.shaped(c)
        if power == 1:
            return self.shaped(torch.einsum("bk,bka->ba", c, v))
        k = v.shape[1]
        pairs = torch.einsum("bkl,bka,blc->bac", c[:, :k * k].reshape(-1, k, k), v, v)
        inverse_metric = self.metric.to(v.dtype)  # η⁻¹ = η for a diagonal ±1 metric
        return self.shaped(pairs + c[:, -1, None, None] * inverse_metric)


register(ModelDefinition(
    "tied-poly", "the derived layer for the task's group and representations at its degree (point-cloud "
    "patterns where they apply, else the exact basis); fitted by least squares",
    TiedPoly, {"degree": None, "layer": "auto"}, PHYSICS_TRAINING, domain="physics",
    linear_in_weights=lambda options: True))
register(ModelDefinition(
    "coordinate-mlp", "EMLP's MLP baseline: 3 hidden layers of 384, SiLU, on the flat coordinates",
    CoordinateMLP, {"hidden": 384, "layers": 3, "augment": False}, PHYSICS_TRAINING, domain="physics"))
register(ModelDefinition(
    "augmented-mlp", "the coordinate MLP trained on samples moved by random group elements (EMLP's "
    "GroupAugmentation)",
    CoordinateMLP, {"hidden": 384, "layers": 3, "augment": True}, PHYSICS_TRAINING, domain="physics"))
register(ModelDefinition(
    "scalar-mlp", "invariant features (scalars, inner products) into an MLP weighting the equivariant "
    "tensors (Villar et al. 2021)",
    ScalarMLP, {"hidden": 384, "layers": 3}, PHYSICS_TRAINING, domain="physics"))
