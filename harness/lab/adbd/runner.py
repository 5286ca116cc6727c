"""How the simulated adbd runs a shell command: a real POSIX shell in its own process group, in the
device's scratch dir, with a `getprop` on PATH that reads the device's live property table.

OS personas replace `CommandRunner` (or wrap `posix_shell_runner`) to answer like another system."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...atomic_file import write_atomic

_GETPROP = r"""#!/bin/sh
# getprop of the simulated device: the table is kept in $ADBD_PROPS as key=value lines.
if [ $# -eq 0 ]; then
    while IFS= read -r line; do printf '[%s]: [%s]\n' "${line%%=*}" "${line#*=}"; done < "$ADBD_PROPS"
    exit 0
fi
awk -v key="$1" -v dflt="$2" '
    index($0, key "=") == 1 { print substr($0, length(key) + 2); found = 1; exit }
    END { if (!found) print dflt }' "$ADBD_PROPS"
"""


@dataclass
class DeviceContext:
    """What a command runner may use: the scratch dir (cwd), the live properties and the environment."""

    scratch: Path
    properties: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def state_dir(self) -> Path:
        return self.scratch / ".adbd"

    def prepare(self) -> None:
        bindir = self.state_dir / "bin"
        bindir.mkdir(parents=True, exist_ok=True)
        shim = bindir / "getprop"
        shim.write_text(_GETPROP)
        shim.chmod(0o755)
        self.write_properties()

    def set_property(self, key: str, value: str) -> None:
        with self._lock:
            if value:
                self.properties[key] = value
            else:
                self.properties.pop(key, None)
        self.write_properties()

    def write_properties(self) -> None:
        with self._lock:
            lines = "".join(f"{k}={v}\n" for k, v in sorted(self.properties.items()) if "\n" not in k + v)
        # A getprop running right now sees the old or the new table, whole; scratch state: no fsync.
        write_atomic(self.state_dir / "props", lines, fsync=False)

    def command_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        env["ADBD_PROPS"] = str(self.state_dir / "props")
        env["PATH"] = f"{self.state_dir / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        env["HOME"] = str(self.scratch)
        return env


# (command, separate_stderr, ctx) -> a started process with stdout (and stderr when separate) piped,
# stdin piped when separate_stderr (shell v2 forwards stdin) else /dev/null, in its own process group.
CommandRunner = Callable[[str, bool, DeviceContext], "subprocess.Popen[bytes]"]


def posix_shell_runner(command: str, separate_stderr: bool, ctx: DeviceContext) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=ctx.scratch,
        env=ctx.command_env(),
        stdin=subprocess.PIPE if separate_stderr else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a host CLSE can kill all of it
    )


class ProcessTable:
    """The commands running on the device, so a reboot or crash can kill them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            kill_process_group(proc)


def kill_process_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
