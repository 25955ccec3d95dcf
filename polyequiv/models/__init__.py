"""Models for the tasks of :mod:`polyequiv.tasks`, one module per domain, behind one registry.

=====================  =============================================================
module                 models
=====================  =============================================================
:mod:`.registry`       ``ModelContext``, ``SetModel``, ``ModelDefinition``, the registry
:mod:`.sets`           tied set networks, the DeepSets lab's baselines, MLPs, penalty MLP
:mod:`.graphs`         tied E → V layers (degree 1, 3, 4, 5), GCN and GIN (PyTorch Geometric), the
                       seed's row-wise MLP, DeepSets on rows
:mod:`.ppgn`           a PPGN-style 2-IGN (matrix products of n×n maps)
:mod:`.images`         tied circular (convolution / Volterra) networks, the seed's CNN, an MLP
:mod:`.networks`       composed polynomial networks trained in their variety (tied / penalty / projected)
:mod:`.physics`        the derived layer of a matrix group (tied-poly), coordinate / augmented / scalar MLPs
=====================  =============================================================

Importing this package registers every domain's models; ``build_model(name, context)``
builds one.
"""

from __future__ import annotations

from polyequiv.models import (  # noqa: F401  (they register their models)
    formula,
    graphs,
    images,
    networks,
    physics,
    ppgn,
    sets,
)
from polyequiv.models.registry import (
    MODELS,
    ModelContext,
    ModelDefinition,
    ModelError,
    SetModel,
    build_model,
    count_parameters,
    get_model_definition,
    model_names,
    register,
)
from polyequiv.models.sets import (
    LAB_TRAINING,
    TIED_TRAINING,
    DeepSets,
    DualPoolingLayer,
    ElementEncoder,
    LSTMRegressor,
    PaddedMLP,
    PenaltyMLP,
    TiedSetNetwork,
)

__all__ = [
    "LAB_TRAINING",
    "MODELS",
    "TIED_TRAINING",
    "DeepSets",
    "DualPoolingLayer",
    "ElementEncoder",
    "LSTMRegressor",
    "ModelContext",
    "ModelDefinition",
    "ModelError",
    "PaddedMLP",
    "PenaltyMLP",
    "SetModel",
    "TiedSetNetwork",
    "build_model",
    "count_parameters",
    "get_model_definition",
    "graphs",
    "images",
    "model_names",
    "networks",
    "physics",
    "register",
    "sets",
]
