"""The suites hang together: every requirement is covered by a test naming it, every id a test names
exists, and `harness suites --json` reports exactly that."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.checks.coverage import coverage, requirement_markers
from harness.errors import ConfigError
from harness.suites import default_suites_root, discover_suites, load_suite

ROOT = default_suites_root()
SUITES = discover_suites(ROOT)


def test_at_least_sixty_requirements():
    total = sum(len(s.requirements) for s in SUITES.values())
    assert total >= 60, f"only {total} requirements"


def test_every_requirement_is_covered():
    uncovered = [
        f"{suite.id}:{req_id}"
        for suite in SUITES.values()
        for req_id in suite.requirements
        if not coverage(suite.path).get(req_id)
    ]
    assert not uncovered, f"requirements without a test: {uncovered}"


def test_every_named_requirement_exists_in_its_suite():
    unknown = []
    for suite in SUITES.values():
        for req_id, tests in coverage(suite.path).items():
            if req_id not in suite.requirements:
                unknown.append(f"{req_id} (named by {tests})")
    assert not unknown, f"tests name requirements their suite.toml lacks: {unknown}"


def test_every_test_names_a_requirement():
    bare = [
        f"{module}::{name}"
        for suite in SUITES.values()
        for module in suite.path.glob("test_*.py")
        for name, ids in requirement_markers(module).items()
        if not ids
    ]
    assert not bare, f"tests without a requirement marker: {bare}"


def test_requirement_ids_are_unique_across_suites():
    seen: dict[str, str] = {}
    clashes = []
    for suite in SUITES.values():
        for req_id in suite.requirements:
            if req_id in seen:
                clashes.append(f"{req_id} in {seen[req_id]} and {suite.id}")
            seen[req_id] = suite.id
    assert not clashes


def test_titles_in_both_languages():
    missing = [
        r.id
        for s in SUITES.values()
        for r in s.requirements.values()
        if not r.title_en.strip() or not any("\u4e00" <= c <= "\u9fff" for c in r.title_zh)
    ]
    assert not missing, f"requirements without an English or Chinese title: {missing}"


def test_applicability_names_known_profiles_and_kinds():
    from harness.profiles import profile_names
    from harness.specs import DEVICE_KINDS

    bad = [
        r.id
        for s in SUITES.values()
        for r in s.requirements.values()
        if set(r.profiles) - set(profile_names()) or set(r.kinds) - set(DEVICE_KINDS)
    ]
    assert not bad, f"applies_to names unknown profiles or kinds: {bad}"


def test_marker_parsing_finds_class_and_function_markers(tmp_path: Path):
    module = tmp_path / "test_x.py"
    module.write_text(
        "import pytest\n"
        "@pytest.mark.requirement('A-1', 'A-2')\n"
        "def test_a(): pass\n"
        "@pytest.mark.requirement('B-1')\n"
        "class TestB:\n"
        "    @pytest.mark.requirement('B-2')\n"
        "    def test_b(self): pass\n"
        "def helper(): pass\n"
        "def test_bare(): pass\n"
    )
    assert requirement_markers(module) == {
        "test_a": ["A-1", "A-2"],
        "TestB::test_b": ["B-1", "B-2"],
        "test_bare": [],
    }


def test_cli_json_lists_suites_requirements_and_tests():
    out = subprocess.run(
        [sys.executable, "-m", "harness", "suites", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    data = json.loads(out)
    by_id = {s["id"]: s for s in data["suites"]}
    assert set(by_id) == set(SUITES)
    kernel = {r["id"]: r for r in by_id["kernel"]["requirements"]}
    assert kernel["KERN-CFG-002"]["level"] == "MUST"
    assert kernel["KERN-CFG-002"]["tests"] == ["suites/kernel/test_kernel.py::test_required_options"]
    assert kernel["KERN-TAINT-002"]["title_zh"]
    assert kernel["KERN-KABI-002"]["source"] == "oec-hardware: kabiwhitelist"
    for suite in data["suites"]:
        assert {"id", "version", "title_en", "title_zh", "requirements"} <= set(suite)
        for req in suite["requirements"]:
            assert req["tests"], f"{req['id']} has no covering test in the CLI output"
            assert req["source"] == SUITES[suite["id"]].requirements[req["id"]].source


def test_the_destructive_requirements_say_what_they_do_to_the_device():
    out = subprocess.run([sys.executable, "-m", "harness", "suites", "--json"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    marked = {r["id"]: r["destructive"] for s in json.loads(out)["suites"] for r in s["requirements"]
              if r["destructive"] is not None}
    assert marked == {"STAB-BOOT-001": "reboots the device", "STAB-BOOT-002": "reboots the device",
                      **dict.fromkeys(("STAB-WDT-001", "STAB-WDT-002"), "lets the watchdog reset the device"),
                      **dict.fromkeys(("STAB-PWR-001", "STAB-PWR-002", "STAB-PWR-003", "STAB-PWR-004"),
                                      "cuts the device's power"),
                      **dict.fromkeys(("STAB-KDUMP-001", "STAB-KDUMP-002", "STAB-KDUMP-003"),
                                      "crashes the kernel (kdump captures it)")}
    table = subprocess.run([sys.executable, "-m", "harness", "suites"], capture_output=True, text=True,
                           timeout=60, check=True, env={**os.environ, "COLUMNS": "400"}).stdout
    assert "destructive: cuts the device's power" in table


def _marked_reboots(module: Path) -> dict[str, bool]:
    """test function name -> whether it carries @pytest.mark.reboots."""
    marked = {}
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            marked[node.name] = any(isinstance(d, ast.Attribute) and d.attr == "reboots" for d in node.decorator_list)
    return marked


def test_a_test_that_reboots_carries_the_marker_exactly_when_its_requirement_is_destructive():
    # `-m "not reboots"` and `harness suites` tell the same story about which tests touch the device.
    for suite in SUITES.values():
        for module in sorted(suite.path.glob("test_*.py")):
            marked = _marked_reboots(module)
            for test, reqs in requirement_markers(module).items():
                name = test.rsplit("::", 1)[-1].split("[")[0]
                destructive = {bool(suite.requirements[r].destructive) for r in reqs if r in suite.requirements}
                if destructive:
                    assert destructive == {marked.get(name, False)}, (module.name, test, reqs)


def test_every_requirement_names_its_source():
    bare = [r.id for s in SUITES.values() for r in s.requirements.values() if not r.source.strip()]
    assert not bare, f"requirements without a source: {bare}"


def test_cli_table_shows_each_source():
    out = subprocess.run(
        [sys.executable, "-m", "harness", "suites"], capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "COLUMNS": "400"},
    ).stdout
    assert "source" in out.splitlines()[1] and "oec-hardware: kabiwhitelist" in out


def test_a_source_that_is_not_a_string_is_refused(tmp_path: Path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "suite.toml").write_text(
        'id = "x"\nversion = "1"\ntitle_en = "x"\ntitle_zh = "x"\n[[requirements]]\nid = "X-1"\nlevel = "MUST"\n'
        'title_en = "t"\ntitle_zh = "t"\nsource = ["a", "b"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"suite.toml: requirement 'X-1', key 'source' = \['a', 'b'\]: expected a string$"):
        load_suite(tmp_path / "x")


def _data_only_marks(source: str) -> list[tuple[str, ast.Call]]:
    marks = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and ast.unparse(deco.func).endswith("mark.data_only"):
                    marks.append((node.name, deco))
    return marks


def test_a_data_only_test_says_why():
    # A PASS rests on the device (the plugin turns any other PASS into an ERROR, and the persona and
    # QEMU runs of every suite show none); the only exception is a test declared data-only, with a reason.
    bare = []
    for suite in SUITES.values():
        for module in suite.path.glob("test_*.py"):
            for name, mark in _data_only_marks(module.read_text(encoding="utf-8")):
                reason = mark.args[0] if mark.args else None
                if not (isinstance(reason, ast.Constant) and isinstance(reason.value, str) and reason.value.strip()):
                    bare.append(f"{module.name}::{name}")
    assert not bare, f"data_only without a reason: {bare}"
    assert [n for n, _ in _data_only_marks("@pytest.mark.data_only('')\ndef test_x(dut): pass\n")] == ["test_x"]
