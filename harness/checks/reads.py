"""Reading files and values off a device through the `dut` fixture, so every command is evidence.

The only module of harness.checks that talks to a device; everything it returns goes to the pure
parsers beside it. A missing file or property comes back as None for the caller to FAIL or SKIP on,
never as an empty value that could pass."""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass
from typing import Protocol

from ..transports.base import CommandResult
from . import sysfs

# Device output is untrusted: what a check reads is bounded (a config.gz expands to ~300 KB,
# kallsyms to ~15 MB on big kernels).
SMALL = 64 * 1024
LARGE = 32 * 1024 * 1024


class Dut(Protocol):
    def run(self, cmd: str, timeout: float = 60) -> CommandResult: ...


def read_file(dut: Dut, path: str, limit: int = SMALL, timeout: float = 30) -> str | None:
    """The file's text, or None when it does not exist or cannot be read."""
    quoted = shlex.quote(path)
    result = dut.run(f"test -r {quoted} && head -c {limit} {quoted}", timeout=timeout)
    return result.stdout_text if result.ok else None


def exists(dut: Dut, path: str, test: str = "-e") -> bool:
    return dut.run(f"test {test} {shlex.quote(path)}").ok


def list_dir(dut: Dut, path: str) -> list[str] | None:
    result = dut.run(f"ls -1 {shlex.quote(path)}")
    return result.stdout_text.split() if result.ok else None


def first_line(dut: Dut, cmd: str) -> str | None:
    """First output line of a command that succeeded with non-empty output, else None."""
    result = dut.run(cmd)
    text = result.stdout_text.strip()
    return text.splitlines()[0].strip() if result.ok and text else None


def get_property(dut: Dut, key: str, family: str) -> str | None:
    """A system property: `param get` on OpenHarmony, `getprop` on Android-likes. Empty is missing."""
    command = "param get" if family == "ohos" else "getprop"
    value = first_line(dut, f"{command} {shlex.quote(key)}")
    if value is None or (family == "ohos" and value.lower().startswith(("get parameter", "fail"))):
        return None
    return value


def which(dut: Dut, name: str) -> str | None:
    return first_line(dut, f"command -v {shlex.quote(name)}")


def shell_path(path: str) -> str:
    """Quote a path for the device's shell, leaving only a literal $(uname -r) to expand there."""
    return shlex.quote(path).replace("$(uname -r)", "'\"$(uname -r)\"'")


def read_any(dut: Dut, path: str, limit: int = LARGE, timeout: float = 60) -> str | None:
    """A text file, or a .gz file decompressed on the device (zcat, else gzip -dc); None if unreadable.
    The path may contain $(uname -r), expanded on the device."""
    target = shell_path(path)
    if path.endswith(".gz"):
        body = f"{{ zcat {target} 2>/dev/null || gzip -dc {target}; }} | head -c {limit}"
    else:
        body = f"head -c {limit} {target}"
    result = dut.run(f"test -r {target} && {body}", timeout=timeout)
    return result.stdout_text if result.ok and result.stdout else None


def read_kernel_configs(dut: Dut, paths: tuple[str, ...]) -> list[tuple[str, str]]:
    """(path, text) of every readable kernel config among `paths`, in the profile's order."""
    found = []
    for path in paths:
        text = read_any(dut, path)
        if text is not None and "CONFIG_" in text:
            found.append((path, text))
    return found


@dataclass(frozen=True)
class Scratch:
    """A private folder made on the device for a suite's files, or why none could be made."""

    path: str | None
    problem: str = ""


def make_scratch(dut: Dut, candidates: tuple[str, ...] | list[str], tag: str = "harness") -> Scratch:
    """A new private folder under the first of `candidates` (the profile's scratch_dirs) that exists and
    takes one: `mktemp -d` where there is mktemp, else mkdir of a random name. A board whose userland
    lacks /var/tmp (an initramfs) gets /tmp; none at all is the device's problem, said in full."""
    name = f"{tag}.{secrets.token_hex(4)}"
    folders = " ".join(shlex.quote(c) for c in candidates)
    script = (
        f"for d in {folders}; do [ -d \"$d\" ] || {{ echo \"$d: no such folder\" >&2; continue; }}; "
        f"p=$(mktemp -d \"$d/{tag}.XXXXXX\" 2>/dev/null) || {{ p=\"$d/{name}\"; "
        "e=$(mkdir -m 700 \"$p\" 2>&1) || { echo \"$d: $e\" >&2; continue; }; }; "
        'echo "$p"; exit 0; done; exit 1'
    )
    result = dut.run(script)
    lines = result.stdout_text.strip().splitlines()
    path = lines[-1].strip() if lines else ""
    if result.ok and any(path.startswith(f"{c.rstrip('/')}/") for c in candidates):
        return Scratch(path)
    why = " ".join(result.stderr_text.split())[-300:] or f"exit {result.exit_code}, no output"
    return Scratch(None, f"no writable scratch folder among {list(candidates)}: {why}")


def failure_detail(result: CommandResult, limit: int = 300) -> str:
    """'(exit N): <output>' for a failure message: the stderr tail, and the stdout tail beside it (a
    link that merges the streams, as a serial console may, has it all on stdout). Never empty."""
    err, out = result.stderr_text.strip()[-limit:], result.stdout_text.strip()[-limit:]
    if not getattr(result, "stderr_separate", True):
        return f"(exit {result.exit_code}): {out or 'no output'} (stdout and stderr merged by the link)"
    text = f"{err} (stdout: {out})" if err and out else err or out or "no output"
    return f"(exit {result.exit_code}): {text}"


def read_tree(dut: Dut, patterns: list[str] | tuple[str, ...], timeout: float = 60) -> sysfs.Tree:
    """The entries `patterns` glob to on the device, in one command (harness.checks.sysfs)."""
    result = dut.run(sysfs.dump_script(patterns), timeout=timeout)
    return sysfs.parse_dump(result.stdout_text)
