"""Packaging: every package of the library is listed in pyproject.toml (else a wheel would lack it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^packages = \[(.*?)\]", text, flags=re.S | re.M).group(1)
    listed = set(re.findall(r'"([\w.]+)"', block))
    found = {".".join(path.parent.relative_to(ROOT).parts)
             for path in (ROOT / "polyequiv").rglob("__init__.py")}
    assert "polyequiv.training" in listed and found <= listed, f"not listed: {sorted(found - listed)}"
