"""The import graph of ``advisor/``: one dependency direction, no cycles, SQL only in the store.

Read with the standard library's ``ast`` rather than grimp or import-linter: the rules are five
set comparisons over one dict, and ``ast`` sees every import, at the top, inside a function or
under ``TYPE_CHECKING`` alike (a function-level import hides a cycle from Python, not from this).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "advisor"
DATABASE_MODULES = ("sqlalchemy", "alembic", "psycopg", "sqlite3", "advisor.store")
# msgspec is how the core declares its types (``Struct``, ``Meta``): it counts as typing, not I/O.
TYPING = ("msgspec",)
WIRING = ("advisor.app", "advisor.services")  # create_app and the bag it wires: they hold the Engine

def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str, modules: Iterable[str]) -> set[str]:
    """Every module ``path`` imports, wherever the import statement is (``from a import b``: ``a.b`` if a module)."""
    known = set(modules)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    files = {module_name(path, package.parent): path for path in package.rglob("*.py")}
    return {name: imports_of(path, name, files) for name, path in files.items()}


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def internal(name: str, modules: Iterable[str]) -> str | None:
    """The ``advisor`` module ``name`` is or is in (``advisor.x.Y`` for a class Y is ``advisor.x``)."""
    known = set(modules)
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def module_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """Imports between ``advisor`` modules only (a package's ``__init__`` importing its own modules aside)."""
    edges: dict[str, set[str]] = {}
    for name, targets in graph.items():
        inside = {internal(target, graph) for target in targets if within(target, "advisor")}
        edges[name] = {t for t in inside if t is not None and t != name and not within(t, name)}
    return edges


def package_of(name: str, graph: Mapping[str, set[str]]) -> str:
    """``advisor.store`` for ``advisor.store.writer``; a module at the package root is its own node."""
    top = ".".join(name.split(".")[:2])
    return top if any(within(other, top) and other != top for other in graph) else name


def package_graph(graph: Mapping[str, set[str]]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, targets in module_graph(graph).items():
        source = package_of(name, graph)
        edges.setdefault(source, set()).update(
            package_of(t, graph) for t in targets if package_of(t, graph) != source)
    return edges


def violations(graph: Mapping[str, set[str]]) -> set[tuple[str, str]]:
    """Every (importer, imported) pair that breaks a layering rule."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    found: set[tuple[str, str]] = set()
    for name, targets in graph.items():
        for target in targets:
            top = target.split(".")[0]
            plain = top in stdlib or top in TYPING
            if within(name, "advisor.domain") and not (plain or within(target, "advisor.domain")):
                found.add((name, target))
            if within(name, "advisor.costs") and not (
                    plain or within(target, "advisor.costs") or within(target, "advisor.domain")):
                found.add((name, target))
            if within(name, "advisor.audit") and any(within(target, db) for db in DATABASE_MODULES):
                found.add((name, target))
            if top == "sqlalchemy" and not within(name, "advisor.store") and name not in WIRING:
                found.add((name, "sqlalchemy"))
    return found


def test_no_import_cycle_between_modules() -> None:
    assert cycles(module_graph(import_graph())) == []


def test_no_import_cycle_between_packages() -> None:
    assert cycles(package_graph(import_graph())) == []


def test_layering_rules_hold() -> None:
    """domain: itself and the standard library; costs: also domain; audit: no database module;
    sqlalchemy: only the store (and the wiring in ``advisor.app`` and ``advisor.services``)."""
    assert violations(import_graph()) == set()


def controllers_importing_the_bag(graph: Mapping[str, set[str]]) -> set[str]:
    """The api and ui modules that import ``advisor.services`` (the ``Services`` bag ``create_app`` wires)."""
    return {name for name, targets in module_graph(graph).items()
            if (within(name, "advisor.api") or within(name, "advisor.ui")) and "advisor.services" in targets}


def test_controllers_name_typed_pieces_not_the_services_bag() -> None:
    """Each handler names the dependencies it uses (``Services.dependencies``: repository, writer, ...)."""
    assert controllers_importing_the_bag(import_graph()) == set()


def test_the_check_sees_a_cycle_a_function_level_import_hides(tmp_path: Path) -> None:
    package = tmp_path / "advisor"
    (package / "store").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "store" / "__init__.py").write_text("")
    (package / "store" / "writer.py").write_text("def f() -> None:\n    from advisor.store import idempotency\n")
    (package / "store" / "idempotency.py").write_text("from advisor.store.writer import f\n")
    (package / "audit.py").write_text("from advisor.store.writer import f\n")
    (package / "domain.py").write_text("import json\nimport httpx\n")
    (package / "api.py").write_text("def ready() -> None:\n    from sqlalchemy.exc import DBAPIError\n")
    (package / "app.py").write_text("from sqlalchemy import Engine\n")  # the wiring may
    graph = import_graph(package)
    assert cycles(module_graph(graph)) == [["advisor.store.idempotency", "advisor.store.writer"]]
    assert violations(graph) == {("advisor.audit", "advisor.store.writer"), ("advisor.domain", "httpx"),
                                 ("advisor.api", "sqlalchemy")}
