"""Which tests cover which requirement: found by reading the suites' test modules with `ast`
(no import, no device): every `@pytest.mark.requirement("ID", ...)` on a test function."""

from __future__ import annotations

import ast
from pathlib import Path


def _requirement_ids(decorator: ast.expr) -> list[str]:
    if not isinstance(decorator, ast.Call):
        return []
    func = decorator.func
    if not (isinstance(func, ast.Attribute) and func.attr == "requirement"):
        return []
    return [a.value for a in decorator.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def requirement_markers(module: Path) -> dict[str, list[str]]:
    """test name -> requirement ids, for one test module (test functions and methods of Test classes)."""
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    found: dict[str, list[str]] = {}

    def visit(body: list[ast.stmt], prefix: str, inherited: list[str]) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                marks = [i for d in node.decorator_list for i in _requirement_ids(d)]
                visit(node.body, f"{prefix}{node.name}::", inherited + marks)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                ids = inherited + [i for d in node.decorator_list for i in _requirement_ids(d)]
                found[f"{prefix}{node.name}"] = ids

    visit(tree.body, "", [])
    return found


def coverage(suite_folder: Path, root: Path | None = None) -> dict[str, list[str]]:
    """requirement id -> test ids (path::name, relative to `root` when given) in one suite folder."""
    result: dict[str, list[str]] = {}
    for module in sorted(suite_folder.glob("test_*.py")):
        shown = module.relative_to(root).as_posix() if root else module.name
        for test, ids in requirement_markers(module).items():
            for req_id in ids:
                result.setdefault(req_id, []).append(f"{shown}::{test}")
    return result
