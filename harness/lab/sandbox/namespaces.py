"""Run commands, or a long-lived shell, inside a persona: a real POSIX shell in private namespaces
whose / is the device's own folder (see sandbox_setup for why a private root and pivot_root).

A Sandbox is one simulated device. `start()` builds the namespaces once and keeps them alive with a
small anchor process (PID 1 of the device); every command then only enters them with `nsenter`,
which costs a couple of exec()s instead of a dozen mounts. `stop()` kills the anchor, and with it
every process of the device (the kernel empties a PID namespace whose init dies): a power cut.

Inside, the device runs as root of its own user namespace, with a capability bounding set that keeps
file ownership powers but drops mount, chroot, module and raw-device powers, so nothing in the device
can remount the host's /usr writable or climb out of its root, even when the harness runs as root."""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.lab.persona import Persona, list_personas, load_persona
from harness.lab.sandbox import rootfs
from harness.lab.sandbox.setup import SETUP_EXIT, SETUP_SCRIPT
from harness.waiting import Deadline, poll_until

from ...atomic_file import write_atomic

READY_LINE = b"sandbox-ready\n"
# Root powers the device keeps inside its namespaces (ownership and signals, not mounts or chroot).
KEPT_CAPS = ("chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
             "setpcap", "net_bind_service", "sys_nice")
HOST_TOOLS = ("unshare", "nsenter", "setpriv", "pivot_root", "mount", "umount", "hostname", "env", "setsid")
SHELL_ARGV = {"sh": ["/bin/sh"], "ash": ["/bin/busybox", "ash"], "bash": ["/bin/bash"]}
ASH_PRELUDE = f"/{rootfs.PERSONA_DATA_DIR}/ashrc"
# PID 1 of the device: says it is ready, then blocks on stdin (EOF when the Sandbox's owner closes it or
# dies). It ignores SIGCHLD so that orphans re-parented to it are reaped by the kernel, not left as zombies.
_ANCHOR = ["/bin/sh", "-c", f"printf '{READY_LINE.decode().strip()}\\n'; exec env --ignore-signal=CHLD cat"]


# A time namespace whose boot clock starts at the device's power-on, so /proc/uptime restarts at every
# boot as on a real device (the stability suite reads it after a reset). Kernels without them: the host's.
TIME_NAMESPACES = os.path.exists("/proc/self/ns/time")


def _boot_clock() -> list[str]:
    if not TIME_NAMESPACES:
        return []
    return ["--time", f"--boottime=-{int(time.clock_gettime(time.CLOCK_BOOTTIME))}"]


class SandboxUnavailable(HarnessError):
    """The device's isolation could not be built (no user namespaces, a mount refused, a tool missing).
    Never answered by running the command on the host instead."""


__all__ = ["Sandbox", "SandboxUnavailable", "SETUP_EXIT", "Persona", "list_personas", "load_persona"]


class Sandbox:
    """One simulated device's sandbox. `state_dir` is the device's own folder on the host: its root
    (state_dir/root) holds /data, /tmp, /root and the control folder /.sim."""

    def __init__(self, persona: Persona, state_dir: Path | str, *, fresh: bool = True) -> None:
        self.persona = persona
        self.state_dir = Path(state_dir)
        self.root = self.state_dir / "root"
        self._tools = {name: _which(name) for name in HOST_TOOLS}
        self._shell = SHELL_ARGV[persona.shell]
        if not Path(self._shell[0]).exists():
            raise SandboxUnavailable(f"persona {persona.id} wants shell {persona.shell}, but "
                                     f"{self._shell[0]} is missing on this host")
        self._anchor: subprocess.Popen[bytes] | None = None
        self._anchor_pid = 0  # the anchor's host PID (PID 1 inside), the nsenter target
        self._host_props: dict[str, str] = {}
        if fresh or not (self.root / rootfs.PERSONA_DATA_DIR / "mounts").exists():
            rootfs.build_rootfs(persona, self.root)

    def __repr__(self) -> str:
        return f"Sandbox({self.persona.id!r}, {str(self.state_dir)!r}, running={self.running})"

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # --- lifetime -------------------------------------------------------------------------------

    @property
    def anchor_pid(self) -> int | None:
        """Host PID of the anchor's process group leader (unshare), for the lab's records."""
        return self._anchor.pid if self.running and self._anchor is not None else None

    @property
    def running(self) -> bool:
        return self._anchor is not None and self._anchor.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Build the namespaces and mounts (the device powers on). Idempotent while running."""
        if self.running:
            return
        self.stop()
        argv = self.standalone_argv(_ANCHOR)
        anchor = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, start_new_session=True)
        self._anchor = anchor
        try:
            self._await_ready(anchor, timeout)
            self._anchor_pid = poll_until(lambda: _only_child(anchor.pid), timeout,
                                          what="the sandbox anchor process")
            self._start_services(timeout)
        except BaseException:
            self.stop()
            raise

    def _start_services(self, timeout: float) -> None:
        script = rootfs.service_start_script(self.persona)
        if script:
            done = subprocess.run(self.command_argv(script), stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout, start_new_session=True)
            if done.returncode != 0:
                raise SandboxUnavailable(f"persona {self.persona.id}: its services did not start: "
                                         f"{done.stderr.decode(errors='replace').strip()[-300:]}")

    def stop(self) -> None:
        """Kill every process of the device at once (a power cut); its folder stays."""
        anchor, self._anchor, self._anchor_pid = self._anchor, None, 0
        if anchor is None:
            return
        if anchor.poll() is None:
            # unshare --kill-child passes the SIGKILL on to PID 1, which empties the PID namespace.
            os.killpg(anchor.pid, signal.SIGKILL)
        anchor.wait()
        for pipe in (anchor.stdin, anchor.stdout, anchor.stderr):
            if pipe is not None:
                pipe.close()

    def reboot(self, timeout: float = 10.0) -> None:
        """Power-cycle: stop, forget /tmp and the runtime control state, clear the request, start."""
        self.stop()
        rootfs.clear_volatile(self.root)
        self._host_props.clear()
        self.start(timeout)

    def cleanup(self) -> None:
        """Stop the device and remove its root folder (and `state_dir` if that leaves it empty)."""
        self.stop()
        if self.root.exists():
            rootfs.remove_tree(self.root)
        with contextlib.suppress(OSError):
            self.state_dir.rmdir()

    # --- argv builders --------------------------------------------------------------------------

    def env(self, term: str = "dumb") -> dict[str, str]:
        """The device's environment: nothing of the host's, shims first on PATH."""
        p = self.persona
        env = {
            "PATH": f"{p.bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": p.home, "SHELL": self._shell[0], "USER": "root", "LOGNAME": "root",
            "HOSTNAME": p.hostname, "TERM": term, "LANG": "C.UTF-8",
        }
        if self._prefers_applets:
            env["ENV"] = ASH_PRELUDE
        env.update(p.env)
        return env

    def command_argv(self, cmd: str, *, cwd: str | None = None) -> list[str]:
        """argv that runs `cmd` with the persona's shell inside the running device (starting it if
        needed). Start it with start_new_session=True: killing its process group stops the command
        and everything it started inside the device."""
        if self._prefers_applets:
            cmd = f". {ASH_PRELUDE}\n{cmd}"
        return self._enter_argv([*self._shell, "-c", cmd], cwd=cwd)

    def shell_argv(self, *, interactive: bool = False, cwd: str | None = None,
                   term: str = "dumb") -> list[str]:
        """argv of a long-lived shell inside the device reading commands from its stdin."""
        if interactive:
            shell = [*self._shell, "-i"]
        elif self._prefers_applets:
            shell = [*self._shell, "-c", f". {ASH_PRELUDE}; . /dev/stdin"]
        else:
            shell = list(self._shell)
        return self._enter_argv(shell, cwd=cwd, term=term, ctty=interactive)

    def net_argv(self, inner: list[str]) -> list[str]:
        """argv that runs a HOST program inside the device's user and network namespaces only (its
        files are the host's): the lab's relays into the device's network (the hdcd relay)."""
        self.start()
        return [self._tools["nsenter"], f"--target={self._anchor_pid}", "--user", "--net",
                "--preserve-credentials", "--", *inner]

    @property
    def _prefers_applets(self) -> bool:
        # busybox ash runs its own applets (uname, dmesg, reboot...) before anything on PATH, which
        # would answer with the host's kernel. The prelude defines a function per shim (functions
        # come before applets); interactive shells read it through $ENV.
        return self.persona.shell == "ash"

    def standalone_argv(self, inner: list[str]) -> list[str]:
        """argv that builds fresh namespaces, sets the root up and execs `inner` as PID 1 in it, with
        the device's environment. start() boots the anchor with it; run on its own it gives a
        throw-away device for one command (its files are the same, its processes are not)."""
        t = self._tools
        return [t["unshare"], "--user", "--map-root-user", "--mount", "--uts", "--ipc", "--net", "--pid",
                *_boot_clock(), "--fork", "--kill-child", "--",
                t["env"], "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                "/bin/sh", "-c", SETUP_SCRIPT, "sandbox-setup", str(self.root), self.persona.hostname,
                *self._confine([t["env"], "-i", *self._device_env(), *inner])]

    def _enter_argv(self, inner: list[str], *, cwd: str | None, term: str = "dumb",
                    ctty: bool = False) -> list[str]:
        self.start()
        t = self._tools
        wd = cwd or self.persona.home
        session = [t["setsid"], "--wait", "--ctty"] if ctty else []
        # --preserve-credentials: an unprivileged owner may not call setgroups in its namespace; its
        # uid already maps to root there.
        enter = [t["nsenter"], f"--target={self._anchor_pid}", "--user", "--mount", "--uts", "--ipc", "--net",
                 "--pid", *(["--time"] if TIME_NAMESPACES else []), "--root", f"--wdns={wd}",
                 "--preserve-credentials", "--"]
        return [*enter, *self._confine([*session, t["env"], "-i", *self._device_env(term), *inner])]

    def _device_env(self, term: str = "dumb") -> list[str]:
        # Given with env -i inside: the device sees its own environment whatever the caller's Popen has.
        return [f"{k}={v}" for k, v in self.env(term).items()]

    def _confine(self, inner: list[str]) -> list[str]:
        caps = ",".join(["-all", *(f"+{c}" for c in KEPT_CAPS)])
        # pdeathsig: if whoever started us (nsenter, unshare) is killed, the device command dies too.
        return [self._tools["setpriv"], f"--bounding-set={caps}", "--pdeathsig=KILL", "--", *inner]

    # --- processes ------------------------------------------------------------------------------

    def run(self, cmd: str, timeout: float = 10.0, *, cwd: str | None = None,
            input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run one command and wait for it (a convenience for tests and the lab CLI). On timeout the
        whole process group is killed and subprocess.TimeoutExpired is raised."""
        proc = subprocess.Popen(self.command_argv(cmd, cwd=cwd), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            # The command's processes inside the device are in the same group: wait until they are gone.
            poll_until(lambda: not _group_alive(proc.pid), 10, what=f"process group {proc.pid} to exit")
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def spawn_shell(self, *, cwd: str | None = None) -> subprocess.Popen[bytes]:
        """A long-lived non-interactive shell inside the device, on pipes, in its own process group."""
        return subprocess.Popen(self.shell_argv(cwd=cwd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)

    def spawn_pty_shell(self, *, cwd: str | None = None,
                        term: str = "vt100") -> tuple[subprocess.Popen[bytes], int]:
        """An interactive shell inside the device on a new pty (its controlling terminal), for a
        serial console or an ssh session with a pty. Returns the process and the pty master fd."""
        master, slave = os.openpty()
        try:
            proc = subprocess.Popen(self.shell_argv(interactive=True, cwd=cwd, term=term), stdin=slave,
                                    stdout=slave, stderr=slave, start_new_session=True)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return proc, master

    # --- the device's control folder ------------------------------------------------------------

    @property
    def control_dir(self) -> Path:
        """The device's /.sim on the host: reboot requests, runtime properties, cleared logs."""
        return self.root / rootfs.SIM_DIR

    def reboot_requested(self) -> str | None:
        """The reboot shim's request ("" for a plain reboot, else its target such as "bootloader")."""
        try:
            return (self.control_dir / "reboot-request").read_text().strip()
        except FileNotFoundError:
            return None

    def set_property(self, key: str, value: str) -> None:
        """Set a property as the device's init would (getprop/param see it; it wins over setprop)."""
        if "\n" in key + value or "=" in key:
            raise ValueError(f"property {key!r} cannot hold '=' in its key or a newline")
        self._host_props[key] = value
        path = self.control_dir / "props.host"
        # A getprop running now reads the old or the new table, whole; scratch state: no fsync.
        write_atomic(path, "".join(f"{k}={v}\n" for k, v in self._host_props.items()), fsync=False)

    def host_path(self, device_path: str) -> Path:
        """Where a device path (/data/x, /tmp/y) lives on the host."""
        rel = Path(device_path.lstrip("/"))
        host_owned = rel.parts[:1] in (("usr",), ("proc",), ("dev",))
        if not device_path.startswith("/") or ".." in rel.parts or host_owned:
            raise ValueError(f"{device_path!r} is not a path the device owns")
        return self.root / rel

    def _await_ready(self, anchor: subprocess.Popen[bytes], timeout: float) -> None:
        assert anchor.stdout is not None and anchor.stderr is not None
        deadline = Deadline(timeout)
        got = b""
        with selectors.DefaultSelector() as sel:
            sel.register(anchor.stdout, selectors.EVENT_READ)
            while not got.endswith(b"\n"):
                if not sel.select(deadline.remaining()):
                    raise SandboxUnavailable(
                        f"sandbox for {self.persona.id} did not come up within {timeout:g}s")
                chunk = os.read(anchor.stdout.fileno(), 256)
                if not chunk:
                    break
                got += chunk
        if got != READY_LINE:
            anchor.wait()
            err = anchor.stderr.read().decode(errors="replace").strip()
            raise SandboxUnavailable(f"cannot build the sandbox for persona {self.persona.id} "
                                     f"(exit {anchor.returncode}): {err or 'no message'}")


def _which(name: str) -> str:
    path = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise SandboxUnavailable(f"the sandbox needs {name!r} (util-linux/coreutils) and it is not installed")
    return path


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _only_child(pid: int) -> int | None:
    """The PID of `pid`'s child (unshare's forked child: PID 1 of the device)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):  # gone before or while we read it
        return None
    return int(children[0]) if children else None
