"""Every flag of every command with a bad value: exit code 2 and one line naming the problem, no traceback.

Each row is (arguments, a piece of the message).  ``{tmp}`` is a folder holding a
plain file ``file.txt``, a folder ``folder``, run folders whose ``results.json`` is
empty, garbage or huge (a sparse file), and one with an empty ``checkpoint.pt``.
Nothing here trains or derives anything large: every command must stop before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from polyequiv_cli.main import cli

TINY = ["--train-size", "50", "--test-size", "5", "--cardinalities", "5", "--epochs", "1"]
TRAIN = ["train", "--task", "digit-sum", "--model", "mlp", *TINY]

SPEC_CASES = [
    # -n / --n
    (["derive", "-n", "0"], "0 is not in the range x>=1"),
    (["derive", "-n", "abc"], "'abc' is not a valid integer"),
    (["derive", "-n", "2.5"], "'2.5' is not a valid integer"),
    (["derive", "-n", "1" + "0" * 30], "refused: S1000000000000000000000000000000 quadratic"),
    (["derive"], "Missing option '-n'"),
    # --degree
    (["derive", "-n", "5", "--degree", "-1"], "-1 is not in the range x>=0"),
    (["derive", "-n", "5", "--degree", "x"], "'x' is not a valid integer"),
    (["derive", "-n", "5", "--degree", "100000"], "refused: S5 degree-100000"),
    (["derive", "-n", "5", "--degree"], "'--degree' requires an argument"),
    # choices
    (["derive", "-n", "5", "--indexing", "sorted"], "'sorted' is not one of 'ordered', 'full'"),
    (["derive", "-n", "5", "--mode", "covariant"], "'covariant' is not one of"),
    (["derive", "-n", "5", "--group", "alternating"], "'alternating' is not one of"),
    (["derive", "-n", "5", "--transpositions", "some"], "'some' is not one of"),
    (["derive", "-n", "5", "--gauge", "sym"], "'sym' is not one of 'none', 'symmetric'"),
    (["derive", "-n", "5", "--engine", "fast"], "'fast' is not one of 'auto', 'symbolic', 'sparse'"),
    (["derive", "-n", "5", "--format", "xml"], "'xml' is not one of 'text', 'json', 'latex'"),
    # flags take no value
    (["derive", "-n", "5", "--bias", "yes"], "unexpected extra argument (yes)"),
    (["derive", "-n", "5", "--show-constraints", "all"], "unexpected extra argument (all)"),
    (["derive", "-n", "5", "--show-classes", "1"], "unexpected extra argument (1)"),
    (["derive", "-n", "5", "--show-basis", "1"], "unexpected extra argument (1)"),
    (["derive", "--matrix-generators", "{tmp}/absent.json"], "cannot read"),
    (["derive", "-n", "5", "--nonsense"], "No such option '--nonsense'"),
    # representations
    (["derive", "-n", "5", "--input", "X"], "unknown representation term 'X'"),
    (["derive", "-n", "5", "--input", ""], "cannot parse representation ''"),
    (["derive", "-n", "5", "--input", "V + "], "unknown representation term ''"),
    (["derive", "-n", "1", "--input", "E"], "needs n ≥ 2"),
    (["derive", "-n", "5", "--output", "Q"], "unknown representation term 'Q'"),
    (["derive", "-n", "5", "--input", "V2", "--output", "E", "--degree", "9"], "refused: S5 degree-9"),
    # generators
    (["derive", "-n", "5", "--generators", ""], "no generators given"),
    (["derive", "-n", "5", "--generators", "(0 1"], "unbalanced '('"),
    (["derive", "-n", "5", "--generators", "(a b)"], "'a' is not a point number"),
    (["derive", "-n", "5", "--generators", "(0 7)"], "point 7 is not in 0..4"),
    (["derive", "-n", "5", "--generators", "(0 1)(1 2)"], "appears twice"),
    # contradictions
    (["derive", "-n", "5", "--mode", "invariant", "--output", "V"], "contradicts output representation V"),
    (["derive", "-n", "5", "--group", "cyclic", "--generators", "(0 1)"], "not both"),
    (["derive", "-n", "5", "--group", "cyclic", "--transpositions", "all"],
     "only applies to --group symmetric"),
    (["derive", "-n", "5", "--generators", "(0 1)", "--transpositions", "all"], "only applies to --group"),
    (["derive", "-n", "5", "--gauge", "symmetric"], "needs --indexing full"),
    # too large, refused up front
    (["derive", "-n", "100000", "--degree", "3"], "16,667,166,670,000,000,000 weights"),
    (["derive", "-n", "300", "--degree", "2", "--transpositions", "all"], "moved slots"),
    (["derive", "-n", "40", "--degree", "3", "--engine", "symbolic"], "--engine sparse"),
    (["derive", "-n", "200", "--degree", "2", "--indexing", "full"], "exact blockwise counting"),
    (["count", "-n", "1000000", "--input", "V9", "--output", "V9", "--degree", "9"], "refused: "),
]

COUNT_VERIFY_CASES = [
    (["count"], "Missing option '--n'"),
    (["count", "--input", "E", "--output", "V", "--degree", "9", "-n", "20"], "the limit is 8"),
    (["count", "--n", ""], "'' is not a size or a range"),
    (["count", "--n", "5-3"], "'5-3' is not a size or a range"),
    (["count", "--n", "1-5:0"], "'1-5:0' is not a size or a range"),
    (["count", "--n", "1-5:x"], "'1-5:x' is not a size or a range"),
    (["count", "--n", "-5"], "'-5' is not a size or a range"),
    (["count", "--n", "1,,3"], "'' is not a size or a range"),
    (["count", "--n", "0-3"], "every n must be ≥ 1"),
    (["count", "--n", "1-100000000000"], "lists more than 10,000 sizes"),
    (["count", "--n", "3", "--degree", "-2"], "-2 is not in the range x>=0"),
    (["count", "--n", "3", "--format", "latex"], "'latex' is not one of 'text', 'json', 'jsonl'"),
    (["count", "--n", "3", "--progress", "yes"], "unexpected extra argument (yes)"),
    (["count", "--n", "3", "--engine", "fast"], "'fast' is not one of"),
    (["count", "--n", "1-3", "--generators", "(0 1)"], "point 1 is not in 0..0"),
    (["count", "--n", "1000000", "--degree", "3", "--engine", "sparse"],
     "--engine auto counts Sₙ by patterns"),
    (["count", "--n", "3", "--mode", "invariant", "--output", "E"], "contradicts output representation E"),
    (["verify", "-n", "5", "--elements", "0"], "0 is not in the range x>=1"),
    (["verify", "-n", "5", "--elements", "x"], "'x' is not a valid integer"),
    (["verify", "-n", "5", "--elements", "100000000000"], "refused: verification would hold"),
    (["verify", "-n", "5", "--inputs", "0"], "0 is not in the range x>=1"),
    (["verify", "-n", "5", "--inputs", "100000000000"], "refused: verification would hold"),
    (["verify", "-n", "5", "--seed", "x"], "'x' is not a valid integer"),
    (["verify", "-n", "5", "--seed", "-1"], "-1 is not in the range x>=0"),
    (["verify", "-n", "5", "--format", "latex"], "'latex' is not one of 'text', 'json'"),
    (["verify", "-n", "5", "--gauge", "symmetric"], "needs --indexing full"),
]

FILE_CASES = [
    (["compile", "-n", "5"], "Missing option '-o'"),
    (["compile", "-n", "5", "-o", "{tmp}/folder"], "is a directory"),
    (["compile", "-n", "5", "-o", "{tmp}/file.txt/s.json"], "file.txt is not a folder"),
    (["compile", "-n", "5", "-o", ""], "is a folder"),
    (["compile", "-n", "5", "--output-rep", "Q", "-o", "{tmp}/s.json"], "unknown representation term 'Q'"),
    (["compile", "-n", "5", "--engine", "fast", "-o", "{tmp}/s.json"], "'fast' is not one of"),
    (["compile", "-n", "100000", "--degree", "3", "-o", "{tmp}/s.json"], "refused: S100000 cubic"),
    (["plot", "-o", "{tmp}/p.png"], "give RUNS"),
    (["plot", "--patterns", "S5 cubec", "-o", "{tmp}/p.png"], "unknown degree 'cubec'"),
    (["plot", "--patterns", "S5 cubic full E -> V", "-o", "{tmp}/p.png"], "ordered indexing only"),
    (["plot", "{tmp}/absent", "-o", "{tmp}/p.png"], "holds no results.json"),
    (["plot", "{tmp}/folder", "-o", "{tmp}/p.png"], "holds no results.json"),
    (["plot", "{tmp}/empty-run", "-o", "{tmp}/p.png"], "is empty"),
    (["plot", "{tmp}/garbage-run", "-o", "{tmp}/p.png"], "cannot read"),
    (["plot", "{tmp}/huge-run", "-o", "{tmp}/p.png"], "more than any results.json"),
    (["plot", "{tmp}/empty-run"], "Missing option '-o'"),
    (["plot", "{tmp}/empty-run", "-o", "{tmp}/p.png", "--metric", "loss"], "'loss' is not one of"),
    (["plot", "{tmp}/empty-run", "-o", "{tmp}/p.xyz"], "cannot draw a .xyz image"),
    (["plot", "{tmp}/empty-run", "-o", "{tmp}/file.txt/p.png"], "file.txt is not a folder"),
    (["plot", "{tmp}/empty-run", "-o", "{tmp}/folder"], "is a directory"),
    (["explain"], "Missing argument 'RUN'"),
    (["explain", "{tmp}/absent"], "does not exist"),
    (["explain", "{tmp}/folder"], "holds no run to explain"),
    (["explain", "{tmp}/broken-run"], "cannot read checkpoint"),
    (["explain", "{tmp}/garbage-run"], "cannot read"),
    (["explain", "{tmp}/flipped-run"], "flipped-run/checkpoint.pt is damaged"),
    (["explain", "{tmp}/folder", "--format", "xml"], "'xml' is not one of"),
    (["explain", "{tmp}/folder", "--tolerance", "0"], "0.0 is not in the range 0<x<=1"),
    (["explain", "{tmp}/folder", "--refit", "{tmp}/file.txt"], "is a file"),
    (["explain", "{tmp}/folder", "--refit", "{tmp}/broken-run"], "already exists and is not an empty folder"),
    (["explain", "{tmp}/folder", "--plot", "{tmp}/folder"], "is a directory"),
    (["tasks", "--format", "xml"], "'xml' is not one of 'text', 'json'"),
    (["models", "--task", "nope"], "unknown task 'nope'"),
    (["models", "--format", "yaml"], "'yaml' is not one of 'text', 'json'"),
    (["check"], "Missing argument 'PATHS...'"),
    (["check", "{tmp}/absent"], "does not exist"),
    (["check", "{tmp}/folder"], "holds no checkpoint or results.json"),
    (["check", "{tmp}/garbage-run"], "cannot read"),
    (["check", "{tmp}/broken-run"], "the file is empty"),
    (["check", "{tmp}/flipped-run"], "is damaged: the SHA-256 of its payload does not match"),
    (["check", "{tmp}/truncated-run/checkpoint.pt"], "is truncated or padded"),
    (["check", "{tmp}/file.txt"], "is not valid JSON"),
]

TRAIN_CASES = [
    (["train"], "Missing option '--task'. Choose from digit-sum,"),
    (["train", "--task", "digit-sum"], "Missing option '--model'. Choose from tied-linear,"),
    (["train", "--task", "digit-product", "--model", "mlp", "--out", "{tmp}/r"],
     "'digit-product' is not one of"),
    (["train", "--task", "digit-sum", "--model", "gru", "--out", "{tmp}/r"], "'gru' is not one of"),
    ([*TRAIN], "Missing option '--out'"),
    ([*TRAIN, "--out", "{tmp}/r", "--epochs", "0"], "0 is not in the range x>=1"),
    ([*TRAIN, "--out", "{tmp}/r", "--epochs", "x"], "'x' is not a valid integer"),
    ([*TRAIN, "--out", "{tmp}/r", "--batch-size", "0"], "0 is not in the range x>=1"),
    ([*TRAIN, "--out", "{tmp}/r", "--lr", "0"], "0.0 is not in the range x>0"),
    ([*TRAIN, "--out", "{tmp}/r", "--lr", "abc"], "'abc' is not a valid float"),
    ([*TRAIN, "--out", "{tmp}/r", "--lr", "nan"], "lr must be a positive finite number, got nan"),
    ([*TRAIN, "--out", "{tmp}/r", "--lr", "inf"], "lr must be a positive finite number, got inf"),
    ([*TRAIN, "--out", "{tmp}/r", "--loss", "huber"], "'huber' is not one of 'l1', 'mse'"),
    ([*TRAIN, "--out", "{tmp}/r", "--schedule", "step"], "'step' is not one of 'constant', 'cosine'"),
    ([*TRAIN, "--out", "{tmp}/r", "--seed", "-1"], "-1 is not in the range x>=0"),
    ([*TRAIN, "--out", "{tmp}/r", "--quick", "yes"], "unexpected extra argument (yes)"),
    ([*TRAIN, "--out", "{tmp}/r", "--train-size", "0"], "0 is not in the range x>=1"),
    ([*TRAIN, "--out", "{tmp}/r", "--train-size", "100000000000"], "refused: these sizes generate"),
    ([*TRAIN, "--out", "{tmp}/r", "--valid-size", "-1"], "-1 is not in the range x>=0"),
    ([*TRAIN, "--out", "{tmp}/r", "--test-size", "0"], "0 is not in the range x>=1"),
    ([*TRAIN, "--out", "{tmp}/r", "--test-size", "100000000000"], "refused: these sizes generate"),
    ([*TRAIN, "--out", "{tmp}/r", "--cardinalities", "0-5"], "every n must be ≥ 1"),
    ([*TRAIN, "--out", "{tmp}/r", "--cardinalities", "5-x"], "'--cardinalities'"),
    ([*TRAIN, "--out", "{tmp}/r", "--cardinalities", "1-1000000000"], "lists more than 10,000 sizes"),
    ([*TRAIN, "--out", "{tmp}/r", "--cardinalities", "100000000"], "refused: these sizes generate"),
    ([*TRAIN, "--out", "{tmp}/r", "--train-cardinalities", "0"], "is not LOW or LOW-HIGH"),
    ([*TRAIN, "--out", "{tmp}/r", "--train-cardinalities", "5-2"], "is not LOW or LOW-HIGH"),
    ([*TRAIN, "--out", "{tmp}/r", "--train-cardinalities", "a-b"], "is not LOW or LOW-HIGH"),
    (["train", "--task", "shift-1d", "--model", "cnn", *TINY[:-4], "--epochs", "1",
      "--train-cardinalities", "3", "--out", "{tmp}/r"], "takes no option 'train_cardinalities'"),
    (["train", "--task", "sum-of-squares", "--model", "variety-tied", "--option",
      "network=S3 [cubic free -> x]", "--out", "{tmp}/r"], "option network:"),
    (["train", "--task", "sum-of-squares", "--model", "variety-tied", "--cardinalities", "4",
      "--out", "{tmp}/r"], "needs --cardinalities 3 (task option cardinalities = [3]"),
    (["train", "--task", "center", "--model", "variety-tied", "--option",
      "network=S3 [linear free -> 3, linear free -> invariant]", "--out", "{tmp}/r"],
     "is invariant, the task is equivariant"),
    ([*TRAIN, "--out", "{tmp}/r", "--option", "hidden"], "is not KEY=VALUE"),
    ([*TRAIN, "--out", "{tmp}/r", "--option", "=3"], "is not KEY=VALUE"),
    ([*TRAIN, "--out", "{tmp}/r", "--option", "hidden=-3"], "must be an integer in 0..100000, got -3"),
    ([*TRAIN, "--out", "{tmp}/r", "--option", "hidden=wide"], "must be an integer in 0..100000, got 'wide'"),
    ([*TRAIN, "--out", "{tmp}/r", "--option", "hidden=100000000000"], "must be an integer in 0..100000"),
    ([*TRAIN, "--out", "{tmp}/r", "--option", "pooling=sum"], "takes no option 'pooling'"),
    (["train", "--task", "shift-1d", "--model", "cnn", *TINY[:-4], "--epochs", "1", "--option", "kernel=wide",
      "--out", "{tmp}/r"], "option kernel of model 'cnn' must be an integer in ±100000, a list of them"),
    ([*TRAIN, "--out", "{tmp}/r", "--threads", "0"], "0 is not in the range 1<=x<=256"),
    ([*TRAIN, "--out", "{tmp}/r", "--threads", "100000"], "100000 is not in the range 1<=x<=256"),
    ([*TRAIN, "--out", "{tmp}/r", "--device", "tpu"], "device 'tpu' cannot be used here"),
    ([*TRAIN, "--out", "{tmp}/r", "--device", ""], "device '' cannot be used here"),
    ([*TRAIN, "--out", "{tmp}/r", "--progress", "maybe"], "unexpected extra argument (maybe)"),
    ([*TRAIN, "--out", "{tmp}/r", "--format", "yaml"], "'yaml' is not one of 'text', 'json'"),
    ([*TRAIN, "--out", "{tmp}/r", "--resume", "--overwrite"], "not both"),
    ([*TRAIN, "--out", "{tmp}/r", "--resume"], "no checkpoint"),
    ([*TRAIN, "--out", "{tmp}/file.txt"], "is a file"),
    ([*TRAIN, "--out", "{tmp}/file.txt/r"], "Not a directory"),
    ([*TRAIN, "--out", "{tmp}/broken-run", "--resume"], "cannot read checkpoint"),
    ([*TRAIN, "--out", "{tmp}/flipped-run", "--resume"], "flipped-run/checkpoint.pt is damaged"),
    ([*TRAIN, "--out", "{tmp}/truncated-run", "--resume"], "its payload holds 3 bytes, its header says 10"),
    (["train", "--task", "center", "--model", "lstm", *TINY, "--out", "{tmp}/r"], "no per-element output"),
    ([*TRAIN, "--solver", "lstsq", "--out", "{tmp}/r"], "model 'mlp' is not linear in its weights"),
    (["train", "--task", "center", "--model", "tied-quadratic", "--epochs", "3", "--out", "{tmp}/r"],
     "--solver lstsq fits exactly in one pass (epochs 1), got epochs 3"),
    (["train", "--task", "center", "--model", "tied-quadratic", "--lr", "0.01", "--out", "{tmp}/r"],
     "--lr is a setting of gradient training"),
    (["train", "--task", "center", "--model", "tied-quadratic", "--schedule", "cosine", "--out", "{tmp}/r"],
     "--schedule is a setting of gradient training"),
    (["train", "--task", "center", "--model", "tied-quadratic", "--ridge", "0.1", "--solver", "adam",
      "--out", "{tmp}/r"], "ridge is a setting of the least-squares fit"),
    (["compare"], "Missing option '--task'. Choose from"),
    (["compare", "--task", "nope"], "'nope' is not one of"),
    (["compare", "--task", "digit-sum", "--models", ""], "names no model"),
    (["compare", "--task", "digit-sum", "--models", " , "], "names no model"),
    (["compare", "--task", "digit-sum", "--models", "mlp,gru"], "unknown model 'gru'"),
    (["compare", "--task", "center", "--models", "lstm"], "none of the models can do center"),
    (["compare", "--task", "digit-sum", "--models", "mlp", "--option", "nope=1"],
     "no model here takes option"),
    (["compare", "--task", "digit-sum", "--models", "mlp", "--out", "{tmp}/file.txt"], "is a file"),
    (["compare", "--task", "digit-sum", "--models", "mlp", "--json", "{tmp}/folder"], "is a directory"),
    (["compare", "--task", "digit-sum", "--models", "mlp", "--json", "{tmp}/file.txt/r.json"],
     "not a folder"),
    (["compare", "--task", "digit-sum", "--models", "mlp", "--format", "csv"], "'csv' is not one of"),
    (["compare", "--task", "digit-sum", "--models", "mlp", "--epochs", "0"], "0 is not in the range x>=1"),
    (["compare", "--task", "digit-sum", "--models", "mlp", "--lr", "inf", *TINY[:6], "--out", "{tmp}/c"],
     "lr must be a positive finite number"),
    (["compare", "--task", "digit-sum", "--models", "mlp", "--train-size", "100000000000"],
     "refused: these sizes generate"),
]


# the layer-spec flags are shared by derive, count, verify and compile: one bad value each, on every command
SHARED_SPEC_FLAGS = [
    (["--degree", "-1"], "-1 is not in the range x>=0"),
    (["--indexing", "sorted"], "'sorted' is not one of"),
    (["--bias", "yes"], "unexpected extra argument (yes)"),
    (["--no-bias", "no"], "unexpected extra argument (no)"),
    (["--mode", "covariant"], "'covariant' is not one of"),
    (["--input", "X"], "unknown representation term 'X'"),
    (["--input-rep", "E", "-n", "1"], "needs n ≥ 2"),
    (["--OUTPUT", "Q"], "unknown representation term 'Q'"),
    (["--group", "alternating"], "'alternating' is not one of"),
    (["--generators", "(0 1"], "unbalanced '('"),
    (["--transpositions", "some"], "'some' is not one of"),
    (["--gauge", "symmetric"], "needs --indexing full"),
    (["--engine", "fast"], "'fast' is not one of"),
    (["--matrix-generators", "{tmp}/file.txt"], "is not valid JSON"),
]
SPEC_COMMANDS = {
    "count": (["count", "--n", "3"], "--output"),
    "verify": (["verify", "-n", "5"], "--output"),
    "compile": (["compile", "-n", "5", "-o", "{tmp}/s.json"], "--output-rep"),
}
SHARED_SPEC_CASES = [
    ([*base, *[output if a == "--OUTPUT" else a for a in flag]], message)
    for base, output in SPEC_COMMANDS.values()
    for flag, message in SHARED_SPEC_FLAGS
    if not (base[0] == "count" and flag[-2:] == ["-n", "1"])
] + [(["count", "--n", "1", "--input-rep", "E"], "needs n ≥ 2")]

# the run flags are shared by train and compare; compare refuses them before training anything
COMPARE = ["compare", "--task", "digit-sum", "--models", "mlp"]
RUN_FLAGS = [
    (["--epochs", "0"], "0 is not in the range x>=1"),
    (["--batch-size", "0"], "0 is not in the range x>=1"),
    (["--lr", "-1"], "-1.0 is not in the range x>0"),
    (["--loss", "huber"], "'huber' is not one of"),
    (["--schedule", "step"], "'step' is not one of"),
    (["--solver", "sgd"], "'sgd' is not one of 'adam', 'lstsq'"),
    (["--ridge", "-1"], "-1.0 is not in the range x>=0"),
    (["--seed", "-1"], "-1 is not in the range x>=0"),
    (["--quick", "yes"], "unexpected extra argument (yes)"),
    (["--train-size", "0"], "0 is not in the range x>=1"),
    (["--valid-size", "-1"], "-1 is not in the range x>=0"),
    (["--test-size", "0"], "0 is not in the range x>=1"),
    (["--cardinalities", "0-5"], "every n must be ≥ 1"),
    (["--train-cardinalities", "3-"], "is not LOW or LOW-HIGH"),
    (["--option", "hidden"], "is not KEY=VALUE"),
    (["--threads", "0"], "0 is not in the range 1<=x<=256"),
    (["--device", "tpu"], "device 'tpu' cannot be used here"),
    (["--progress", "maybe"], "unexpected extra argument (maybe)"),
    (["--no-progress", "maybe"], "unexpected extra argument (maybe)"),
    (["--overwrite", "yes"], "unexpected extra argument (yes)"),
]
COMPARE_CASES = [([*COMPARE, *flag], message) for flag, message in RUN_FLAGS] + [
    (["plot", "{tmp}/empty-run", "-o", "{tmp}/p.png", "--title"], "'--title' requires an argument"),
]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "file.txt").write_text("not a folder\n")
    (root / "folder").mkdir()
    for name, content in (("empty-run", ""), ("garbage-run", "{not json")):
        (root / name).mkdir()
        (root / name / "results.json").write_text(content)
    (root / "huge-run").mkdir()
    with open(root / "huge-run" / "results.json", "wb") as stream:
        stream.truncate(100_000_000)  # sparse: no disk used, but too big for any results.json
    (root / "broken-run").mkdir()
    (root / "broken-run" / "checkpoint.pt").write_bytes(b"")
    for name, header in (("flipped-run", "sha256=" + "0" * 64 + " bytes=3"),
                         ("truncated-run", "sha256=" + "0" * 64 + " bytes=10")):
        (root / name).mkdir()
        (root / name / "checkpoint.pt").write_bytes(f"polyequiv-checkpoint 2 {header}\n".encode() + b"abc")
    weights = {"constant": np.full((4, 4), 0.5), "nan": np.where(np.eye(4) > 0, np.nan, 1.0),
               "inf": np.where(np.eye(4) > 0, np.inf, 1.0), "scalar": np.array(3.0),
               "nonsquare": np.arange(12.0).reshape(3, 4), "rank4": np.zeros((2, 3, 4, 5))}
    for name, array in weights.items():
        np.save(root / f"{name}.npy", array)
    return root


# flags of the second wave: grids, graph splits, processes, composition, discovery
GRID_CASES = [
    (["derive", "--group", "torus", "--shape", "3y3"], "grid shape '3y3' is not HxW"),
    (["count", "--group", "torus", "--shape", "0x3"], "must have H ≥ 1 and W ≥ 1"),
    (["verify", "--group", "torus", "--shape", "3x"], "grid shape '3x' is not HxW"),
    (["compile", "--group", "torus", "--shape", "ax2", "-o", "{tmp}/s.json"], "grid shape 'ax2' is not HxW"),
    (["derive", "-n", "5", "--shape", "2x2"], "only applies to --group torus or torus-dihedral"),
]
SECOND_WAVE_RUN_CASES = [
    (["train", "--task", "graph-degree", "--model", "gcn", "--split", "half", "--out", "{tmp}/r"],
     "'half' is not one of 'by-graph', 'random'"),
    ([*TRAIN, "--nproc", "0", "--out", "{tmp}/r"], "0 is not in the range x>=1"),
    (["compare", "--task", "graph-degree", "--models", "gcn", "--split", "half"], "'half' is not one of"),
    # the counting suite (issue 20): graph families and training graph sizes
    (["train", "--task", "4-cycles", "--model", "gin", "--family", "cubic", "--out", "{tmp}/r"],
     "'cubic' is not one of 'er', 'regular'"),
    (["compare", "--task", "4-cycles", "--models", "gin", "--family", ""],
     "'' is not one of 'er', 'regular'"),
    ([*TRAIN, "--family", "regular", "--out", "{tmp}/r"], "task 'digit-sum' takes no option 'family'"),
    (["train", "--task", "4-cycles", "--model", "gin", "--train-cardinalities", "1-4", "--out", "{tmp}/r"],
     "training graph sizes are [low, high] with 2 ≤ low ≤ high, got [1, 4]"),
    (["train", "--task", "graph-degree", "--model", "gcn", "--train-cardinalities", "5-9",
      "--split", "random", "--out", "{tmp}/r"], "split 'random' cuts graphs of one size"),
]
COMPOSE = ["compose", "-n", "3", "--layers", "2:free:invariant"]
COMPOSE_CASES = [
    (["compose", "-n", "0", "--layers", "2:free:invariant"], "0 is not in the range x>=1"),
    (["compose", "-n", "3", "--layers", "2:loose:3"], "expected 'tied' or 'free', got 'loose'"),
    (["compose", "--spec", "S3 [quadratic free -> 3"], "cannot parse network spec"),
    ([*COMPOSE, "--bias", "yes"], "unexpected extra argument (yes)"),
    ([*COMPOSE, "--indexing", "sorted"], "'sorted' is not one of 'ordered', 'full'"),
    ([*COMPOSE, "--group", "alternating"], "'alternating' is not one of"),
    ([*COMPOSE, "--generators", "(0 1"], "unbalanced '('"),
    ([*COMPOSE, "--no-variety", "x"], "unexpected extra argument (x)"),
    ([*COMPOSE, "--variety", "x"], "unexpected extra argument (x)"),
    ([*COMPOSE, "--no-search", "x"], "unexpected extra argument (x)"),
    ([*COMPOSE, "--search", "x"], "unexpected extra argument (x)"),
    ([*COMPOSE, "--show-constraints", "x"], "unexpected extra argument (x)"),
    ([*COMPOSE, "--train", "digit-product"], "'digit-product' is not one of"),
    ([*COMPOSE, "--steps", "0"], "0 is not in the range x>=1"),
    ([*COMPOSE, "--seed", "x"], "'x' is not a valid integer"),
    ([*COMPOSE, "--format", "xml"], "'xml' is not one of 'text', 'json', 'latex', 'sympy'"),
    ([*COMPOSE, "--format", "sympy"], "sympy output is for --expand-only"),
    ([*COMPOSE, "--expand-only", "x"], "unexpected extra argument (x)"),
    ([*COMPOSE, "--expand-only", "--certify"], "--expand-only prints the expansion and stops"),
    ([*COMPOSE, "--expand-only", "--train", "sum-of-squares"], "drop --certify, --train and"),
    ([*COMPOSE, "--expand-only", "-o", "{tmp}"], "is a folder"),
    ([*COMPOSE, "--output"], "'--output' requires an argument"),
    ([*COMPOSE, "--certify", "x"], "unexpected extra argument (x)"),
    ([*COMPOSE, "--certify-seconds", "0"], "0.0 is not in the range x>0"),
]
DISCOVER_CASES = [
    (["discover", "{tmp}/absent.npy"], "is neither a run folder nor a weight file"),
    (["discover", "{tmp}/file.txt", "--degree", "5"], "5 is not in the range 1<=x<=2"),
    (["discover", "{tmp}/file.txt", "--mode", "sideways"], "'sideways' is not one of"),
    (["discover", "{tmp}/file.txt", "--input", "V3"], "'V3' is not one of"),
    (["discover", "{tmp}/file.txt", "--tensor"], "'--tensor' requires an argument"),
    (["discover", "{tmp}/file.txt", "--clusters", "0"], "0 is not in the range x>=1"),
    (["discover", "{tmp}/file.txt", "--tolerance", "-1"], "-1.0 is not in the range x>=0"),
    (["discover", "{tmp}/file.txt", "--min-ari", "2"], "2.0 is not in the range -1<=x<=1"),
    (["discover", "{tmp}/file.txt", "--max-residual", "-1"], "-1.0 is not in the range x>=0"),
    (["discover", "{tmp}/file.txt", "--plot"], "'--plot' requires an argument"),
    (["discover", "{tmp}/file.txt", "--format", "xml"], "'xml' is not one of 'text', 'json'"),
    (["discover", "{tmp}/file.txt", "--bootstrap", "-1"], "-1 is not in the range 0<=x<=1000"),
    (["discover", "{tmp}/file.txt", "--residual-tolerance", "-0.1"], "-0.1 is not in the range x>=0"),
    (["discover", "{tmp}/file.txt", "--compile", "{tmp}/folder"], "is a directory"),
    (["discover", "{tmp}/constant.npy"], "the weights are constant (all 0.5)"),
    (["discover", "{tmp}/nan.npy"], "4 NaN or infinite value(s) out of 16"),
    (["discover", "{tmp}/inf.npy"], "4 NaN or infinite value(s) out of 16"),
    (["discover", "{tmp}/scalar.npy"], "shape () fits no candidate group"),
    (["discover", "{tmp}/nonsquare.npy"], "shape (3, 4) fits no candidate group"),
    (["discover", "{tmp}/nonsquare.npy", "--mode", "equivariant"], "shape (3, 4) fits no candidate group"),
    (["discover", "{tmp}/rank4.npy", "--degree", "2"], "shape (2, 3, 4, 5) fits no candidate group"),
]
# physics tasks and models (matrix groups)
PHYSICS = ["train", "--task", "inertia", "--quick", "--out", "{tmp}/p"]
PHYSICS_CASES = [
    (["train", "--task", "particle-interaction", "--model", "tied-poly", "--cardinalities", "5", "--out",
      "{tmp}/p"], "has no points to vary"),
    ([*PHYSICS, "--model", "gcn"],
     "model 'gcn' cannot do task 'inertia': it reads graphs, and the task is on physics"),
    ([*PHYSICS, "--model", "tied-poly", "--option", "layer=sparse"], "must be 'auto' or 'dense'"),
    ([*PHYSICS, "--model", "tied-poly", "--option", "degree=99"], "must be in 0..8"),
    ([*PHYSICS, "--model", "tied-poly", "--epochs", "3"], "--solver lstsq fits exactly in one pass"),
    ([*PHYSICS, "--model", "coordinate-mlp", "--option", "hidden=0"], "need hidden ≥ 1"),
    ([*PHYSICS, "--model", "scalar-mlp", "--solver", "lstsq"], "not linear in its weights"),
    (["compare", "--task", "o5-synthetic", "--models", "gcn"], "none of the models can do o5-synthetic"),
    (["plot", "{tmp}/folder", "-o", "{tmp}/x.png", "--metric", "relMSE"], "'relMSE' is not one of"),
]
SECOND_WAVE_CASES = GRID_CASES + SECOND_WAVE_RUN_CASES + COMPOSE_CASES + DISCOVER_CASES + PHYSICS_CASES


def assert_one_line_usage_error(args: list[str], message: str, tmp: Path) -> None:
    result = CliRunner().invoke(cli, [a.format(tmp=tmp) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    text = result.stdout + result.stderr
    assert result.exit_code == 2, text
    assert "Traceback" not in text
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == errors[0], "the message must be one (last) line"
    assert message in errors[0], errors[0]


def _case_id(value: object) -> str | None:
    return " ".join(value) if isinstance(value, list) else None


ENGINE_CASES = SPEC_CASES + COUNT_VERIFY_CASES + SHARED_SPEC_CASES


@pytest.mark.parametrize(("args", "message"), ENGINE_CASES, ids=_case_id)
def test_engine_commands_refuse_bad_values_in_one_line(args: list[str], message: str, tmp: Path) -> None:
    assert_one_line_usage_error(args, message, tmp)


@pytest.mark.parametrize(("args", "message"), FILE_CASES, ids=_case_id)
def test_file_commands_refuse_bad_paths_and_files(args: list[str], message: str, tmp: Path) -> None:
    assert_one_line_usage_error(args, message, tmp)


@pytest.mark.parametrize(("args", "message"), TRAIN_CASES + COMPARE_CASES, ids=_case_id)
def test_training_commands_refuse_bad_values_in_one_line(args: list[str], message: str, tmp: Path) -> None:
    assert_one_line_usage_error(args, message, tmp)


@pytest.mark.parametrize(("args", "message"), SECOND_WAVE_CASES, ids=_case_id)
def test_second_wave_commands_refuse_bad_values_in_one_line(args: list[str], message: str, tmp: Path) -> None:
    assert_one_line_usage_error(args, message, tmp)


def test_every_option_of_every_command_is_covered() -> None:
    """A new flag without a bad-value row here fails this test."""
    cases = ENGINE_CASES + FILE_CASES + TRAIN_CASES + COMPARE_CASES + SECOND_WAVE_CASES
    uncovered = []
    for name, command in cli.commands.items():
        used = {arg for args, _ in cases if args and args[0] == name for arg in args}
        for param in command.params:
            if param.name == "help":
                continue
            flags = set(param.opts) | set(getattr(param, "secondary_opts", []))
            if param.param_type_name == "argument":
                covered = any(args[:1] == [name] and len(args) > 1 for args, _ in cases)
            else:
                covered = bool(flags & used)
            if not covered:
                uncovered.append(f"{name} {'/'.join(sorted(flags)) or param.name}")
    assert not uncovered, f"flags without a bad-value case: {uncovered}"
