"""Crash capture by kdump: what the kdump target (/var/crash) holds before and after a forced crash.

Layouts as the distributions write them: openEuler, Kylin and RHEL's kdump
`/var/crash/<host>-<date>/vmcore` with `vmcore-dmesg.txt` (and `vmcore-incomplete` while the copy runs);
Debian's kdump-tools `/var/crash/<YYYYMMDDHHMM>/dump.<stamp>` with `dmesg.<stamp>`. The dump itself is
a raw ELF core (`cp /proc/vmcore`, makedumpfile -E), makedumpfile's kdump-compressed format (signature
"KDUMP   ", its default) or its flattened stream ("makedumpfile" at the start, -F)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# The first 8 bytes of each dump format, as `od -A n -t x1 -N 8` prints them.
HEADERS = {
    "7f454c46": "ELF core",
    "4b44554d50202020": "kdump-compressed (makedumpfile)",
    "4449534b44554d50": "diskdump",
    "6d616b6564756d70": "makedumpfile flattened",
}
# The kernel's words for a crash in its log (Documentation/admin-guide/sysrq.rst; panic()).
CRASH_WORDS = re.compile(r"sysrq: (SysRq : )?Trigger a crash|Kernel panic - not syncing")
_FILE = re.compile(r"@@K (\d+) +((?:[0-9a-f]{2} ?)*) *\|(.*)$")
_PANIC = re.compile(r"@@P (\d+) \|(.*)$")


def listing_script(targets: list[str]) -> str:
    """POSIX sh (busybox too): every file one folder down each target, "@@K size header-hex |path", and for
    each kernel log among them "@@P lines-naming-a-crash |path"."""
    dirs = " ".join(shlex.quote(t.rstrip("/")) for t in targets)
    words = shlex.quote(CRASH_WORDS.pattern)
    return f"""for t in {dirs}; do
  [ -d "$t" ] || {{ echo "@@T-MISSING |$t"; continue; }}
  for f in "$t"/*/*; do
    [ -f "$f" ] || continue
    s=$(wc -c < "$f" 2>/dev/null | tr -d ' ')
    h=$(od -A n -t x1 -N 8 "$f" 2>/dev/null | tr -d '\\n')
    echo "@@K ${{s:-0}} $h |$f"
    case "${{f##*/}}" in *dmesg*) echo "@@P $(grep -c -E {words} "$f" 2>/dev/null) |$f" ;; esac
  done
done
"""


@dataclass(frozen=True)
class DumpFile:
    path: str
    size: int
    header: str  # hex of the first bytes, "" when unreadable

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def format(self) -> str | None:
        return next((kind for magic, kind in HEADERS.items() if self.header.startswith(magic)), None)


@dataclass(frozen=True)
class Listing:
    files: dict[str, DumpFile]
    crash_lines: dict[str, int]  # kernel log path -> lines that name a crash
    missing_targets: tuple[str, ...]


def parse_listing(text: str) -> Listing:
    files: dict[str, DumpFile] = {}
    crash_lines: dict[str, int] = {}
    missing: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("@@T-MISSING |"):
            missing.append(line.split("|", 1)[1])
        elif m := _FILE.match(line):
            files[m[3]] = DumpFile(m[3], int(m[1]), m[2].replace(" ", ""))
        elif m := _PANIC.match(line):
            crash_lines[m[2]] = int(m[1])
    return Listing(files, crash_lines, tuple(missing))


def is_dump_name(name: str) -> bool:
    return name in ("vmcore", "vmcore.flat") or bool(re.fullmatch(r"dump\.\d+", name))


def is_log_name(name: str) -> bool:
    return name == "vmcore-dmesg.txt" or bool(re.fullmatch(r"dmesg\.\d+", name))


@dataclass(frozen=True)
class Capture:
    """One dump folder: its dump file and kernel log where present."""

    folder: str
    vmcore: DumpFile | None
    log: DumpFile | None
    log_crash_lines: int
    incomplete: bool  # kdump's vmcore-incomplete: the copy never finished


def captures(listing: Listing) -> dict[str, Capture]:
    folders: dict[str, list[DumpFile]] = {}
    for f in listing.files.values():
        folders.setdefault(f.path.rsplit("/", 1)[0], []).append(f)
    found = {}
    for folder, items in sorted(folders.items()):
        vmcore = next((f for f in items if is_dump_name(f.name)), None)
        log = next((f for f in items if is_log_name(f.name)), None)
        incomplete = any(f.name == "vmcore-incomplete" for f in items)
        if vmcore or log or incomplete:
            found[folder] = Capture(folder, vmcore, log, listing.crash_lines.get(log.path, 0) if log else 0,
                                    incomplete)
    return found


def new_captures(before: Listing, after: Listing) -> list[Capture]:
    """Dump folders that appeared, or whose dump changed, between the two listings."""
    old = captures(before)
    return [c for folder, c in captures(after).items() if folder not in old or old[folder] != c]


def capture_problem(before: Listing, after: Listing, targets: list[str]) -> str | None:
    if after.missing_targets and len(after.missing_targets) == len(targets):
        return f"the kdump target {', '.join(after.missing_targets)} does not exist after the crash"
    fresh = new_captures(before, after)
    if not fresh:
        return f"no new dump under {', '.join(targets)} after the crash ({len(captures(after))} older ones)"
    if not any(c.vmcore for c in fresh):
        what = "; ".join(f"{c.folder}: {'vmcore-incomplete' if c.incomplete else 'no dump file'}"
                         for c in fresh)
        return f"a dump folder appeared after the crash but holds no dump: {what}"
    return None


def newest_dump(before: Listing, after: Listing) -> Capture | None:
    fresh = [c for c in new_captures(before, after) if c.vmcore]
    return fresh[-1] if fresh else None


def vmcore_problem(capture: Capture | None, min_kib: int) -> str | None:
    """The dump is a memory image: a known dump header and at least `min_kib` (a filtered dump of a small
    system is a few MiB; a header alone is a few KiB)."""
    if capture is None or capture.vmcore is None:
        return "no new dump file to check"
    v = capture.vmcore
    if v.format is None:
        seen = v.header or "nothing readable"
        return f"{v.path} starts with {seen!r}: not an ELF core or a makedumpfile dump"
    if v.size < min_kib * 1024:
        return f"{v.path} ({v.format}) is {v.size} bytes, under the {min_kib} KiB of a real memory image"
    return None


def log_problem(capture: Capture | None) -> str | None:
    """The crashed kernel's log is saved beside the dump and shows the crash."""
    if capture is None:
        return "no new dump to find the kernel log beside"
    if capture.log is None:
        return f"{capture.folder} holds no kernel log (vmcore-dmesg.txt or dmesg.<stamp>)"
    if capture.log.size == 0:
        return f"{capture.log.path} is empty"
    if capture.log_crash_lines == 0:
        return f"{capture.log.path} does not show the crash (no 'Trigger a crash' or 'Kernel panic' line)"
    return None
