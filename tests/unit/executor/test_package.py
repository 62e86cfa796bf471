"""executor is a standalone library: it never imports Django or the service."""

from __future__ import annotations

import ast
from pathlib import Path

import executor

PACKAGE = Path(executor.__file__).parent


def test_executor_never_imports_django_or_the_service() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("django", "sandbox_service")]
    assert offenders == []
