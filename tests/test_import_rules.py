"""The source tree's import rules, checked from the code's syntax (nothing is imported).

- No import circles between modules: every import counts, at the top, inside a function or
  under ``TYPE_CHECKING`` (a circle hidden in a function still ties the two modules together).
- Every name a module lists in ``__all__`` is defined or imported there.
- No module imports another package's private ``_module`` (or private name of it): a package's
  privates are for that package and its subpackages. Tests may import privates; source may not.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

ROOT = REPO_ROOT
PACKAGES = ("core", "connectors", "scheduler", "journalsync", "console", "bench")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:  # Alembic loads these by file, not by import
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _imports(module: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line, imported module, names) for every import statement, absolute."""
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(module).split(".")
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            yield node.lineno, base, [a.name for a in node.names]


def _edges(module: str) -> set[str]:
    out: set[str] = set()
    for _line, base, names in _imports(module):
        if not names:
            if base in MODULES:
                out.add(base)
            continue
        for name in names:
            if f"{base}.{name}" in MODULES:
                out.add(f"{base}.{name}")  # `from pkg import submodule`
            elif base in MODULES:
                out.add(base)
    out.discard(module)
    return out


def _circles() -> list[list[str]]:
    graph = {m: _edges(m) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in sorted(MODULES):
        if m not in index:
            visit(m)
    return found


def test_no_import_circles() -> None:
    assert _circles() == []


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()

    def scan(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for alias in node.names:
                    names.add(alias.asname or alias.name.partition(".")[0])
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, ast.If | ast.Try):
                scan(node.body)
                scan(node.orelse)
                for handler in getattr(node, "handlers", []):
                    scan(handler.body)
                scan(getattr(node, "finalbody", []))

    scan(tree.body)
    return names


def _declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            return list(value)
    return None


def test_every_all_is_true() -> None:
    untrue: list[str] = []
    for module, tree in TREES.items():
        declared = _declared_all(tree)
        if declared is None:
            continue
        defined = _top_level_names(tree)
        untrue += [f"{module}: {name}" for name in declared if name not in defined]
        untrue += [f"{module}: {name} twice" for name in set(declared) if declared.count(name) > 1]
    assert untrue == []


def _private_owner(dotted: str) -> str | None:
    """The package whose private ``_part`` a dotted name reaches into, if any."""
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def test_no_private_imports_across_packages() -> None:
    crossing: list[str] = []
    for module in MODULES:
        package = _package_of(module)
        for line, base, names in _imports(module):
            for dotted in [base] + [f"{base}.{n}" for n in names]:
                owner = _private_owner(dotted)
                if owner is None or owner.split(".")[0] not in PACKAGES:
                    continue
                if package != owner and not package.startswith(owner + "."):
                    crossing.append(f"{MODULES[module].relative_to(ROOT)}:{line}: {dotted}")
                break
    assert crossing == []


@pytest.mark.parametrize(
    ("dotted", "owner"),
    [("core.store._base", "core.store"), ("core.store", None), ("a.__init__", None)],
)
def test_private_owner(dotted: str, owner: str | None) -> None:
    assert _private_owner(dotted) == owner


def test_the_checks_see_a_circle() -> None:
    """The circle finder is not vacuous: a module importing itself back through another."""
    tree_a = ast.parse("from core import zz_b\n")
    tree_b = ast.parse("def f():\n    from core.zz_a import x\n")
    MODULES["core.zz_a"], MODULES["core.zz_b"] = ROOT / "zz_a.py", ROOT / "zz_b.py"
    TREES["core.zz_a"], TREES["core.zz_b"] = tree_a, tree_b
    try:
        assert ["core.zz_a", "core.zz_b"] in _circles()
    finally:
        for name in ("core.zz_a", "core.zz_b"):
            del MODULES[name], TREES[name]
