"""What every benchmark does with its numbers: print them as one JSON document, optionally keep a copy.

The scripts run as ``python benchmarks/bench_*.py``, so this module is importable as ``_report``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polyequiv.fileio import atomic_write_text


def emit_json(document: Any, path: str | Path | None = None, *, indent: int = 2) -> None:
    """Print ``document`` as JSON, then a blank line (the table follows); also write it to ``path``
    (atomically, parent folders created) when given."""
    text = json.dumps(document, indent=indent)
    if path is not None:
        atomic_write_text(path, text + "\n")
    print(text)
    print()
