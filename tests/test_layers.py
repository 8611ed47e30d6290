"""Imports run one way: the core library (kb/*) never imports ingest, evals or the edges; ingest
imports only the core; the edges (kb/service.py, kb/cli.py, app.py) and evals combine them."""
from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

EDGES = {"kb.service", "kb.cli", "app"}
# What each layer must not import (a module or anything inside it).
FORBIDDEN = {
    "core": {"ingest", "evals", *EDGES},
    "ingest": {"evals", *EDGES},
    "evals": {"kb.cli", "app"},
}


def _layer(module: str) -> str | None:
    if module in EDGES:
        return None
    return module.split(".")[0] if module.split(".")[0] in ("ingest", "evals") else "core" \
        if module.startswith("kb.") else None


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of everything the file imports, wherever in the file (also inside functions)."""
    names: set[str] = set()
    package = module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[:len(package) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _modules() -> list[tuple[str, Path]]:
    found = [(f"{p.parent.name}.{p.stem}", p) for d in ("kb", "ingest", "evals") for p in (ROOT / d).glob("*.py")]
    return found + [("app", ROOT / "app.py")]


def _violations() -> list[str]:
    out = []
    for module, path in _modules():
        layer = _layer(module)
        for name in sorted(_imports(path, module)) if layer else ():
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                out.append(f"{module} ({layer}) imports {name}")
    return out


def test_imports_run_one_way():
    assert _violations() == []


def test_the_layer_check_sees_a_violation(tmp_path):
    """The check itself works: a core module importing ingest (also inside a function) is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ingest.pipeline import ingest\n    from ..evals import gate\n")
    names = _imports(bad, "kb.bad")
    assert "ingest.pipeline" in names and "evals.gate" in names
