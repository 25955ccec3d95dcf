"""A griffe extension for the API reference: doctests in a docstring's prose become code blocks.

The numpydoc ``Examples`` sections are rendered as code already; a doctest written in the body of a
docstring (``>>> f(x)`` followed by its output) would otherwise be read as Markdown, and an output
such as ``[['0', '1'], …]`` as a reference link.  Consecutive ``>>>``/``...`` lines and the output
lines after them, up to a blank line, are wrapped in a ``pycon`` fence.
"""

from __future__ import annotations

from typing import Any

import griffe


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)


def fence_doctests(text: str) -> str:
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        stripped = line.lstrip()
        if not inside and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            inside = True
        elif inside and not stripped:
            out.append(f"{indent}```")
            inside = False
        out.append(line)
    if inside:
        out.append(f"{indent}```")
    return "\n".join(out)
