"""Readers of trained runs: the weight tensor ``discover`` reads from a run folder, a checkpoint, or a file.

Run folders and checkpoints are read with :func:`polyequiv.training.checkpoint.load_checkpoint`
(torch, imported only when one is read); ``.npy`` and ``.json`` files with numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

#: Where the first dense linear weight of a model sits in its state dict, and how to read it:
#: ``(entry, mode, input)``; :func:`_reshape_model_weight` turns the entry into the array ``discover`` reads.
_MODEL_WEIGHTS: dict[str, tuple[str, str, str]] = {
    # PenaltyMLP.weights[0]: (N, N+1, C, 1) = (output k, input i with the bias last, channel, 1)
    "penalty-mlp": ("weights.0", "equivariant", "V"),
    # SharingLinear.weight: (N, N) = (output k, input i) on equivariant tasks, (1, N) on invariant ones
    "sharing-linear": ("weight", "auto", "V"),
    # PaddedMLP.net[0]: Linear(2N → hidden) on [x, mask]; each hidden unit reads x through one row
    "mlp": ("net.0.weight", "invariant", "V"),
    # RowMLP.layer: Linear(L → hidden) on each node's adjacency row: one invariant layer per hidden unit
    "row-mlp": ("layer.weight", "invariant", "V"),
    # GraphLinear.weight: (L, L, L) = (output node k, i, j), read as the E → V layer the adjacency sees
    "graph-linear": ("weight", "equivariant", "E"),
    # SeedSharingNetwork.weight: (C, H/s, W/s, H, W) = (class, translation, pixel): with stride 1 one
    # (translations × pixels) = (n, n) matrix per class, pixels row-major as the torus groups number them
    "seed-sharing": ("weight", "equivariant", "V"),
}


def _reshape_model_weight(model: str, array: np.ndarray) -> np.ndarray:
    if model == "penalty-mlp":  # drop the bias input, channels first: (C, N, N)
        n = array.shape[0]
        return np.transpose(array[:, :n, :, 0], (2, 0, 1))
    if model == "mlp":  # the x half of [x, mask]: (hidden, N), one invariant layer per hidden unit
        return array[:, : array.shape[1] // 2]
    if model == "seed-sharing":
        classes, rows, cols, height, width = array.shape
        if rows * cols != height * width:
            raise ValueError(f"a strided seed-sharing weight {array.shape} has {rows * cols} translations "
                             f"for {height * width} pixels: no square layer to compare with the candidates")
        return array.reshape(classes, rows * cols, height * width)
    return array


def load_weights(source: Path, tensor: str | None) -> tuple[np.ndarray, str, str | None]:
    """The weight array of ``source`` (run folder, checkpoint, ``.npy`` or ``.json``), a description of
    where it came from, and the mode its model implies (``None``: let ``discover`` decide).

    Raises
    ------
    ValueError
        For a missing or unreadable file, or a checkpoint without the named (or a known) weight.
    """
    array, origin, mode, _ = load_layout(source, tensor)
    return array, origin, mode


def load_layout(source: Path, tensor: str | None) -> tuple[np.ndarray, str, str | None, str | None]:
    """:func:`load_weights` and the input representation the model implies (``"E"`` for
    ``graph-linear``; ``None`` for a file: a set, unless ``--input`` says otherwise)."""
    if source.is_dir() or source.suffix == ".pt":
        return _from_checkpoint(source, tensor)
    array, origin, mode = _from_file(source)
    return array, origin, mode, None


def _from_file(source: Path) -> tuple[np.ndarray, str, str | None]:
    if not source.is_file():
        raise ValueError(f"{source} is neither a run folder nor a weight file")
    if source.suffix == ".npy":
        try:
            array = np.load(source, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"cannot read {source} as .npy: {error}") from None
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise ValueError(f"{source} holds {array.dtype} values, not numbers")
        return array, str(source), None
    if source.suffix == ".json":
        try:
            data = json.loads(source.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read {source} as JSON: {error}") from None
        if isinstance(data, dict):
            if "weights" not in data:
                raise ValueError(f"{source}: a JSON object needs a 'weights' entry (a nested list)")
            data = data["weights"]
        try:
            return np.asarray(data, dtype=np.float64), str(source), None
        except (TypeError, ValueError):
            raise ValueError(f"{source}: 'weights' is not a rectangular nested list of numbers") from None
    raise ValueError(f"{source}: expected a run folder, checkpoint.pt, .npy or .json file")


def _from_checkpoint(source: Path, tensor: str | None) -> tuple[np.ndarray, str, str | None, str | None]:
    from polyequiv.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

    path = source / CHECKPOINT_NAME if source.is_dir() else source
    state = load_checkpoint(path)
    model = str(state.get("config", {}).get("model", "?"))
    weights = state.get("model", {})
    if tensor is not None:
        if tensor not in weights:
            raise ValueError(f"{path} has no entry {tensor!r}; entries: {', '.join(weights)}")
        return weights[tensor].detach().double().numpy(), f"{path} [{tensor}]", None, None
    if model not in _MODEL_WEIGHTS:
        raise ValueError(f"{path}: model {model!r} has no known dense linear weight; name a state-dict "
                         f"entry with --tensor (entries: {', '.join(weights)})")
    entry, mode, input_rep = _MODEL_WEIGHTS[model]
    array = _reshape_model_weight(model, weights[entry].detach().double().numpy())
    origin = f"{path} [{model}: {entry}]"
    trained = _trained_nodes(state.get("config", {}))
    if model in _PADDED_GRAPH_MODELS and trained is not None and trained < array.shape[-1]:
        # graphs are zero-padded on the right to the largest *test* graph: weights of nodes no
        # training graph reaches never get a gradient, so only the trained block is read
        array = array[..., :trained, :trained, :trained] if array.ndim == 3 else array[..., :trained]
        origin += f", the {trained}-node block the training graphs reach"
    return array, origin, mode, input_rep


#: Fixed-width graph models whose weight's node axes run over graphs zero-padded on the right.
_PADDED_GRAPH_MODELS = ("row-mlp", "graph-linear")


def _trained_nodes(config: dict) -> int | None:
    """The largest training graph of a run's task (``None`` when the config does not say)."""
    from polyequiv.tasks import TaskError, get_definition

    try:
        definition = get_definition(str(config.get("task")))
    except TaskError:
        return None
    sizes = definition.quick if (config.get("task_options") or {}).get("quick") else definition.full
    return int(sizes.max_train)
