"""`make mutate`: mutation testing of the pure core with mutmut 3, a score per module and every survivor.

Each module of MODULES is mutated (one operator flipped at a time) and, for each mutant, mutmut runs
the module's own fast, in-process tests that reach the mutated function. A mutant no test notices is a
survivor: printed as file:line with the change, unless the reviewed allow-list
(scripts/mutate-equivalent.toml) names it as equivalent (no behaviour a user can see changes), with
the reason. The score of a module is killed / (mutants - allowed equivalents).

mutmut works on a copy: this script mirrors harness/, tests/, suites/ (test data) and pyproject.toml
into .mutate/ (git-ignored), writes mutmut's setup.cfg there and runs mutmut in it, niced and with at
most two children, since the machine is shared. Every run starts fresh (mutmut's cache does not
notice new tests); `--keep` reuses the last run's mutants and results.

    .venv/bin/python scripts/mutate.py [--only MODULE...] [--keep] [--max-children N] [--min-score 90]

Exit 0 when every module reaches --min-score, 1 when one does not, 2 on a bad allow-list or when
mutmut itself fails (its log is in .mutate/mutmut.log)."""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutate"
ALLOW_LIST = ROOT / "scripts" / "mutate-equivalent.toml"

# module -> its own fast tests (in-process: a test that runs the CLI in a subprocess imports the
# unmutated package and cannot kill a mutant, so only in-process tests are listed).
MODULES: dict[str, list[str]] = {
    "harness/plugin/outcome.py": [
        "tests/test_outcome.py",
        "tests/test_plugin.py::test_classify_maps_each_kind_of_ending",
        "tests/test_plugin.py::test_combine_keeps_the_most_severe_and_every_message",
        "tests/test_outcome_rank.py::test_a_passed_setup_or_teardown_never_decides",
    ],
    "harness/results/ranking.py": ["tests/test_outcome_rank.py"],
    "harness/results/verdict.py": ["tests/test_verdict.py", "tests/test_verdict_records.py"],
    "harness/checks/kconfig.py": ["tests/test_checks.py", "tests/test_kernel_rules.py"],
    "harness/checks/kversion.py": ["tests/test_checks.py", "tests/test_kernel_rules.py"],
    "harness/checks/kabi.py": ["tests/test_checks.py", "tests/test_kernel_rules.py"],
    "harness/report/bundle.py": ["tests/test_bundle_verify.py"],
    "harness/platform/auth/policy.py": ["tests/test_platform_policy.py"],
    "harness/transports/serial_framing.py": ["tests/test_console_framing.py", "tests/test_console_rules.py"],
    "harness/transports/serial_protocol.py": ["tests/test_serial_protocol.py"],
    "harness/checks/buses.py": ["tests/test_checks_peripherals_network.py"],
    "harness/checks/network.py": ["tests/test_checks_peripherals_network.py"],
    "harness/checks/power.py": ["tests/test_checks_power_media.py"],
    "harness/checks/media.py": ["tests/test_checks_power_media.py"],
    "harness/checks/smcrypto.py": ["tests/test_checks_smcrypto.py"],
    "harness/checks/osservices.py": ["tests/test_checks_osservices.py"],
    "harness/checks/ohos_services.py": ["tests/test_checks_ohos_services.py"],
    "harness/checks/memleak.py": ["tests/test_checks_stability.py"],
    "harness/checks/kdump.py": ["tests/test_checks_stability.py"],
    "harness/checks/recovery.py": ["tests/test_checks_recovery.py"],
    "harness/capabilities.py": ["tests/test_capabilities.py"],
}

KILLED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass(frozen=True)
class Mutant:
    module: str  # harness/checks/kconfig.py
    name: str  # mutmut's key
    function: str  # Class.method or function
    status: str
    line: int  # in the original source
    original: str  # the source line as written
    mutated: str  # what the mutant made of it


@dataclass(frozen=True)
class Allowed:
    module: str
    function: str
    original: str
    mutated: str
    reason: str

    def matches(self, m: Mutant) -> bool:
        return (self.module, self.function, self.original, self.mutated) == (
            m.module, m.function, m.original, m.mutated)


def fail(text: str) -> NoReturn:
    print(f"mutate: {text}", file=sys.stderr)
    sys.exit(2)


def load_allow_list(path: Path) -> list[Allowed]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except tomllib.TOMLDecodeError as exc:
        fail(f"{path.name}: {exc}")
    allowed = []
    for number, entry in enumerate(data.get("equivalent", []), start=1):
        missing = [k for k in ("module", "function", "original", "mutated", "reason") if not entry.get(k)]
        if missing:
            fail(f"{path.name}: equivalent #{number}: missing {', '.join(missing)}")
        allowed.append(Allowed(entry["module"], entry["function"], entry["original"].strip(),
                               entry["mutated"].strip(), entry["reason"]))
    return allowed


def sync_tree(modules: list[str]) -> None:
    """Mirror what the tests need into WORK, keeping mtimes (mutmut re-mutates a file newer than its
    mutant) and dropping files deleted since the last run."""
    WORK.mkdir(exist_ok=True)
    for top in ("harness", "tests", "suites"):
        src, dst = ROOT / top, WORK / top
        wanted = set()
        for path in src.rglob("*"):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            rel = path.relative_to(src)
            wanted.add(rel)
            target = dst / rel
            if not target.exists() or target.stat().st_mtime != path.stat().st_mtime:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        if dst.exists():
            for path in dst.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts and path.relative_to(dst) not in wanted:
                    path.unlink()
    shutil.copy2(ROOT / "pyproject.toml", WORK / "pyproject.toml")
    # A test file not written yet is left out rather than failing the whole run.
    tests = sorted({t for m in modules for t in MODULES[m] if (ROOT / t.split("::")[0]).is_file()})
    lines = ["[mutmut]", "source_paths = harness", "also_copy = suites", "only_mutate ="]
    lines += [f"    {m}" for m in modules]
    lines += ["pytest_add_cli_args_test_selection ="] + [f"    {t}" for t in tests]
    # No .pytest_cache in the copy. Without the harness's own pytest plugin: its hooks call the outcome
    # policy for every test, so a mutant there would break the test session itself and count as killed
    # though no test noticed it. The project's own timeout stays in force.
    flags = ("-p", "no:cacheprovider", "-p", "no:harness.plugin")
    lines += ["pytest_add_cli_args ="] + [f"    {a}" for a in flags]
    lines.append("")
    (WORK / "setup.cfg").write_text("\n".join(lines), encoding="utf-8")


def run_mutmut(max_children: int) -> None:
    mutmut = Path(sys.executable).parent / "mutmut"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("HARNESS_REQUIRE_PEERS", None)  # the selected tests need no peer
    log = WORK / "mutmut.log"
    with log.open("w") as out:
        done = subprocess.run(["nice", "-n", "10", str(mutmut), "run", "--max-children", str(max_children)],
                              cwd=WORK, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        print("\n".join(tail), file=sys.stderr)
        fail(f"mutmut failed (exit {done.returncode}); log: {log}")


def _function_lines(source: str) -> dict[str, int]:
    """'Class.method' / 'function' -> the line of its `def` in the original file."""
    found: dict[str, int] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.name] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    found[f"{node.name}.{item.name}"] = item.lineno
    return found


def _locate(diff: str, def_line: int, function: str) -> tuple[int, str, str]:
    """The file line of the first changed line of a mutmut diff, with its before and after text."""
    body = diff.splitlines()[2:]  # past the ---/+++ header
    orig_index = 0  # index in the unmutated function text
    def_index = None
    removed: tuple[int, str] | None = None
    added = ""
    short = function.rpartition(".")[-1]
    for line in body:
        if line.startswith("@@"):
            orig_index = int(line.split()[1].lstrip("-").split(",")[0]) - 1
            continue
        tag, text = line[:1], line[1:]
        if tag in (" ", "-") and def_index is None and text.lstrip().startswith(f"def {short}("):
            def_index = orig_index
        if tag == "-" and removed is None:
            removed = (orig_index, text)
        elif tag == "+" and not added:
            added = text
        if tag in (" ", "-"):
            orig_index += 1
    if removed is None:
        return def_line, "", added.strip()
    # The diff's hunk may start after the def; the def is the function text's first non-comment line.
    offset = removed[0] - (def_index if def_index is not None else 0)
    return def_line + offset, removed[1].strip(), added.strip()


def collect(modules: list[str]) -> list[Mutant]:
    os.chdir(WORK)
    sys.path.insert(0, str(WORK))
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key

    mutants = []
    for module in modules:
        source = (ROOT / module).read_text(encoding="utf-8")
        defs = _function_lines(source)
        data = SourceFileMutationData(path=Path(module))
        data.load()
        for key, code in sorted(data.exit_code_by_key.items(), key=lambda kv: _order(kv[0])):
            func, cls = orig_function_and_class_names_from_key(key)
            func = func.rpartition(".")[-1]
            function = f"{cls}.{func}" if cls else func
            diff = get_diff_for_mutant(key, path=module)
            line, before, after = _locate(diff, defs.get(function, 0), function)
            mutants.append(Mutant(module, key, function, status_by_exit_code[code], line, before, after))
    return mutants


def _order(key: str) -> tuple[str, int]:
    stem, _, number = key.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def report(modules: list[str], mutants: list[Mutant], allowed: list[Allowed], min_score: float) -> int:
    used: set[int] = set()
    rows = []
    survivors: list[Mutant] = []
    for module in modules:
        mine = [m for m in mutants if m.module == module]
        killed = equivalent = 0
        for m in mine:
            if m.status in KILLED:
                killed += 1
                continue
            # Two mutants can read alike (the same line twice in a function): each uses its own entry.
            hits = [i for i, a in enumerate(allowed) if a.matches(m)]
            hit = next((i for i in hits if i not in used), hits[0] if hits else None)
            if hit is not None and m.status == "survived":
                used.add(hit)
                equivalent += 1
                continue
            survivors.append(m)
        counted = len(mine) - equivalent
        score = 100.0 * killed / counted if counted else 100.0
        rows.append((module, len(mine), killed, equivalent, counted - killed, score))
    print(f"{'module':36} {'mutants':>7} {'killed':>7} {'equiv':>6} {'left':>5} {'score':>7}")
    for module, total, killed, equivalent, left, score in rows:
        print(f"{module:36} {total:7} {killed:7} {equivalent:6} {left:5} {score:6.1f}%")
    if survivors:
        print("\nsurvivors (file:line  function  status: before -> after):")
        for m in sorted(survivors, key=lambda m: (m.module, m.line)):
            change = f"{m.original!r} -> {m.mutated!r}"
            print(f"{m.module}:{m.line}  {m.function}  {m.status}: {change}  [{m.name}]")
    stale = [a for i, a in enumerate(allowed) if i not in used and a.module in modules]
    if stale:
        print(f"\n{ALLOW_LIST.name}: entries that match no surviving mutant (remove or fix them):")
        for a in stale:
            print(f"  {a.module} {a.function}: {a.original!r} -> {a.mutated!r}")
    low = [r[0] for r in rows if r[5] < min_score]
    if low:
        print(f"\nbelow {min_score:g}%: {', '.join(low)}")
        return 1
    print(f"\nevery module at or above {min_score:g}%")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse the last run's mutants and results")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument("--report-only", action="store_true", help="print the last run's results")
    parser.add_argument("--only", nargs="+", metavar="MODULE", help="these modules of MODULES only")
    args = parser.parse_args()
    modules = list(MODULES)
    if args.only:
        unknown = [m for m in args.only if m not in MODULES]
        if unknown:
            fail(f"--only: not a module of the pure core: {', '.join(unknown)} (known: {', '.join(MODULES)})")
        modules = [m for m in MODULES if m in args.only]
    allowed = load_allow_list(ALLOW_LIST)
    if not args.report_only:
        if not args.keep:
            shutil.rmtree(WORK / "mutants", ignore_errors=True)
        sync_tree(modules)
        run_mutmut(max(1, min(args.max_children, 2)))
    return report(modules, collect(modules), allowed, args.min_score)


if __name__ == "__main__":
    sys.exit(main())
