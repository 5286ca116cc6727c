"""No import cycles in the harness package: the graph of every `import` and `from ... import` in
harness/ (at module level, inside functions and under TYPE_CHECKING alike: a cycle hidden in a
function or a type hint is still two modules that cannot be understood apart) has no strongly
connected component of more than one module."""

from __future__ import annotations

import ast
from pathlib import Path

import harness

PACKAGE_ROOT = Path(harness.__file__).parent

# Cycles someone is removing right now, each with who removes it; the test fails once they are gone
# too, so this list cannot outlive them.
KNOWN: set[frozenset[str]] = set()


def module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports (a `from pkg import sub` names the submodule)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    found.add(f"{source}.{alias.name}")
                elif source in modules:
                    found.add(source)
    found.discard(name)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = module_names(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def test_the_harness_package_has_no_import_cycle() -> None:
    found = set(cycles(import_graph(PACKAGE_ROOT)))
    assert found - KNOWN == set(), [sorted(c) for c in found - KNOWN]
    assert KNOWN - found == set(), f"gone, drop from KNOWN: {[sorted(c) for c in KNOWN - found]}"


def test_the_check_finds_cycles_of_every_kind(tmp_path: Path) -> None:
    # A relative import, a function-level import and a TYPE_CHECKING import each close a cycle.
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import thing\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a\n")
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..d import D\n")
    (pkg / "d.py").write_text("from pkg.sub import c\n")
    (pkg / "e.py").write_text("import pkg.a\n")  # on no cycle: a leaf that imports one
    graph = import_graph(pkg)
    assert sorted(sorted(c) for c in cycles(graph)) == [["pkg.a", "pkg.b"], ["pkg.d", "pkg.sub.c"]]
    (pkg / "b.py").write_text("def f():\n    return 1\n")
    (pkg / "d.py").write_text("D = 1\n")
    assert cycles(import_graph(pkg)) == []
