"""Which tests a worker runs: ids relative to the suites root, --harness-only, --harness-shard K/N.

Functions over ids and paths, so the selection is the same on every machine and testable alone; the
one look at the disk is for a test file's suite.toml (suite_dir_of), made once per file (suite_folder)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

SUITE_FILE = "suite.toml"


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based K
    count: int  # N

    @classmethod
    def parse(cls, text: str, flag: str = "--harness-shard") -> Shard:
        try:
            k, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise ConfigError(f"{flag} {text!r}: expected K/N, e.g. 2/4") from None
        if n < 1 or not 1 <= k <= n:
            raise ConfigError(f"{flag} {text!r}: K must be from 1 to N (N >= 1)")
        return cls(k, n)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, test_ids: Iterable[str]) -> set[str]:
        """Deterministic split: the sorted ids, index % N == K-1. The shards partition the tests."""
        ordered = sorted(set(test_ids))
        return {t for i, t in enumerate(ordered) if i % self.count == self.index - 1}


def suite_dir_of(path: Path) -> Path | None:
    """The nearest folder at or above the test file holding a suite.toml."""
    for folder in path.parents:
        if (folder / SUITE_FILE).is_file():
            return folder
    return None


@functools.cache
def suite_folder(test_file: Path) -> Path | None:
    """suite_dir_of, once per test file in a worker: every collected test asks (a parametrized file
    holds hundreds), and the suites do not move during a run."""
    return suite_dir_of(test_file)


def suite_test_id(path: Path, nodeid: str) -> tuple[str, str]:
    """(test id relative to the suites root, suite id) for a collected item.

    The suites root is the parent of the folder holding suite.toml; the suite id is the first component
    of the test id. Without a suite.toml the pytest node id is kept and its first folder is the suite."""
    _, _, name = nodeid.partition("::")
    suite_dir = suite_folder(path)
    if suite_dir is None:
        first = nodeid.split("::", 1)[0]
        suite = first.split("/", 1)[0] if "/" in first else Path(first).stem
        return nodeid, suite
    rel = path.relative_to(suite_dir.parent).as_posix()
    return (f"{rel}::{name}" if name else rel), suite_dir.name


def read_only_file(path: Path) -> list[str]:
    """Test ids one per line; blank lines and '#' comments are ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--harness-only {path}: cannot read: {exc.strerror or exc}") from None
    ids = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            ids.append(line)
    return ids


@dataclass(frozen=True)
class Selection:
    keep: list[int]  # indexes into the collected list, in collection order
    missing: list[str]  # --harness-only ids that matched nothing


def select(
    test_ids: Sequence[str], *, shard: Shard | None = None, only: Sequence[str] | None = None
) -> Selection:
    """Shard first over everything collected, then --harness-only: a retry that passes the same shard
    and a list of ids sees the same partition as the first run."""
    chosen = set(test_ids) if shard is None else shard.select(test_ids)
    missing: list[str] = []
    if only is not None:
        wanted = set(only)
        missing = [t for t in dict.fromkeys(only) if t not in set(test_ids)]
        chosen &= wanted
    return Selection([i for i, t in enumerate(test_ids) if t in chosen], missing)
