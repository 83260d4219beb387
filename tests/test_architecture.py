"""The layout's promises, checked: the product loads none of its demo bench, imports point one
way (no cycles; SQL only in the store; connectors only through the registry), modules stay small."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_PRODUCT_MODULE_LINES = 450


def _modules() -> dict[str, Path]:
    out = {}
    for package in ("gateway", "connectors"):
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _product(name: str) -> bool:
    return not name.startswith(("gateway.sandbox", "gateway.store.migrations"))


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of ours that ``path`` imports (outside ``if TYPE_CHECKING:`` blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules.keys()
            found |= subs or ({node.module} & modules.keys())
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_importing_the_app_loads_no_demo_bench_module() -> None:
    code = (
        "import sys, gateway.app, gateway.cli; "
        "print([m for m in sys.modules if m.startswith('gateway.sandbox')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert _cycles(graph) == []


def test_sql_stays_in_the_store_and_connectors_behind_the_registry() -> None:
    modules = _modules()
    for name, path in modules.items():
        if not _product(name):
            continue
        text = path.read_text(encoding="utf-8")
        if not name.startswith("gateway.store"):
            assert "sqlalchemy" not in text, f"{name} uses SQLAlchemy outside gateway/store"
        if name.startswith("gateway.") and name != "gateway.registry":
            assert not any(i.startswith("connectors") for i in _imports(path, modules)), name


def _reads_dialect_name(path: Path) -> list[int]:
    """Lines where ``path`` reads ``<something>.dialect.name``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute)
        and node.attr == "name"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "dialect"
    ]


def test_only_the_dialect_module_branches_on_the_database() -> None:
    # Migrations are history, each written once for both databases; they keep their branches.
    readers = {
        name: lines
        for name, path in _modules().items()
        if _product(name) and name != "gateway.store.dialect"
        if (lines := _reads_dialect_name(path))
    }
    assert readers == {}, "branch on the database in gateway/store/dialect.py only"
    assert _reads_dialect_name(_modules()["gateway.store.dialect"])  # the check sees a read


def test_no_product_module_is_over_450_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if _product(name)
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_PRODUCT_MODULE_LINES
    }
    assert long == {}
