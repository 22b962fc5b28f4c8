"""The layout keeps its promises: the analyzers are pure (no training code, scikit-learn,
torch, web, database or bus), and no platform package imports an app."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "nunchi"

_NOT_IN_ANALYZERS = (
    "nunchi.training", "sklearn", "torch", "scipy", "fastapi", "starlette", "sqlalchemy",
    "nunchi.bus", "nunchi.store", "nunchi.jobs", "nunchi.web", "nunchi.apps", "httpx",
)  # fmt: skip


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _banned(module: str, banned: tuple[str, ...]) -> bool:
    return any(module == b or module.startswith(b + ".") for b in banned)


@pytest.mark.parametrize(
    "path", sorted((SRC / "analyzers").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC))
)
def test_analyzers_import_nothing_of_training_or_the_platform(path: Path) -> None:
    bad = sorted(m for m in _imports(path) if _banned(m, _NOT_IN_ANALYZERS))
    assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_loading_every_analyzer_pulls_in_no_training_library() -> None:
    modules = [
        "nunchi." + ".".join(p.relative_to(SRC).with_suffix("").parts)
        for p in sorted((SRC / "analyzers").rglob("*.py"))
        if p.name != "__init__.py"
    ]
    probe = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sklearn', 'torch', 'scipy') or m.startswith('nunchi.training')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


_PLATFORM = ("bus", "store", "runtime", "jobs", "webhooks", "analyzers", "training", "web")


@pytest.mark.parametrize("package", _PLATFORM)
def test_no_platform_package_imports_an_app_at_import_time(package: str) -> None:
    """Only the composition root and the web app factory read the apps list, inside
    functions; a module-level import of an app from the platform would be a cycle."""
    for path in sorted((SRC / package).rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in tree.body:  # module level only
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert not node.module.startswith("nunchi.apps"), path
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("nunchi.apps") for a in node.names), path
