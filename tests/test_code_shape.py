"""The shape of the code: no function over 90 lines, no two modules that import each other."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 90


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_no_function_is_longer_than_90_lines() -> None:
    long = []
    for path in python_files("polyequiv", "cli"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, long


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (imports for type hints only, never run)."""
    skipped = {id(child) for node in ast.walk(tree) if isinstance(node, ast.If)
               and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
               for child in ast.walk(node)}
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def test_no_two_modules_import_each_other() -> None:
    """Imports anywhere in a module count, those inside functions too (a lazy import is still a link);
    imports for type hints only (``if TYPE_CHECKING:``) do not."""
    modules = {module_name(path): path for path in python_files("polyequiv")}
    imports: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imports[name] |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "") in modules:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imports[name].add(full if full in modules else node.module)
    assert "polyequiv.training.loop" in imports["polyequiv.training.run"]  # the scan sees imports
    mutual = sorted((a, b) for a in imports for b in imports[a] if a < b and a in imports.get(b, set()))
    assert not mutual, mutual
