"""Which tests a run asks for: suite ids, -k, and --include/--exclude globs over test ids."""

from __future__ import annotations

import difflib
import fnmatch
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..suites import Suite, discover_suites
from .worker import pytest_env, pytest_flags

COLLECT_TIMEOUT = 120.0


@dataclass
class Selection:
    suites_root: Path
    suites: list[Suite]
    keyword: str | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    @property
    def suite_paths(self) -> list[Path]:
        return [s.path.resolve() for s in self.suites]

    @property
    def filtered(self) -> bool:
        """Whether the test list must be worked out here (globs) rather than by each worker."""
        return bool(self.include or self.exclude)


def resolve_suites(names: list[str], root: Path) -> list[Suite]:
    """Suite ids -> suites (all of them when none is named). Unknown ids: one line with a suggestion."""
    if not root.is_dir():
        raise ConfigError(f"{root}: suites folder not found (give --suites-root DIR)")
    known = discover_suites(root)
    if not known:
        raise ConfigError(f"{root}: no suites here (a suite is a folder with a suite.toml)")
    chosen: list[Suite] = []
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
            raise ConfigError(f"unknown suite {name!r}{hint}")
        if known[name] not in chosen:
            chosen.append(known[name])
    return chosen or list(known.values())


def matches(test_id: str, include: list[str], exclude: list[str]) -> bool:
    if include and not any(fnmatch.fnmatchcase(test_id, g) for g in include):
        return False
    return not any(fnmatch.fnmatchcase(test_id, g) for g in exclude)


def collect_test_ids(sel: Selection) -> list[str]:
    """The test ids pytest collects for this selection (without a device), globs applied."""
    argv = [sys.executable, "-m", "pytest", "--collect-only", *pytest_flags(), f"--rootdir={sel.suites_root}",
            *(str(p) for p in sel.suite_paths)]
    if sel.keyword:
        argv += ["-k", sel.keyword]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=sel.suites_root, timeout=COLLECT_TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False, env=pytest_env())
    if done.returncode not in (0, 5):  # 5: nothing collected
        last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise ConfigError(f"collecting the tests failed (pytest exit {done.returncode}): {last}")
    ids = [line.strip() for line in done.stdout.splitlines() if "::" in line and not line.startswith(" ")]
    return [t for t in ids if matches(t, sel.include, sel.exclude)]
