"""Lay out a device's private root folder from a persona, on the host, before any namespace exists.

The folder holds everything the device owns (its /etc, /system, /data, /tmp, /root, ...) plus empty
mount points for what the sandbox binds in at start: the host's /usr (read-only), a few /dev nodes,
a fresh /proc. Files that must cover kernel- or host-provided paths (/proc/cpuinfo, /usr/lib/os-release)
are parked under /.persona/overlay/ and bound over their targets; `mounts` lists every such step for
the setup script. The device's own control files (reboot request, runtime properties, cleared logs)
live in /.sim, which the device process outside reads and writes too."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from harness.lab.persona import SHIMS_DIR, Persona

# Host top-level entries the device needs to run programs. On merged-/usr hosts they are symlinks
# into /usr and are copied as symlinks; where they are real folders they are bound read-only.
HOST_LIB_ENTRIES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
# Host /etc files the dynamic loader and programs need; everything else in /etc is composed.
HOST_ETC_COPIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d")
# Host /etc folders bound read-only: /usr/bin/awk and friends resolve through /etc/alternatives
# (hundreds of symlinks: binding costs one mount, copying them ~1 ms each on a slow disk).
HOST_ETC_BINDS = ("alternatives",)
SIM_DIR = ".sim"
PERSONA_DATA_DIR = ".persona"
SERVICES_DIR = "services"
# A key service of the persona: a long-lived POSIX sh process whose file name is the service's, so the
# kernel names the process after it (/proc/PID/comm). A planted leak keeps LEAK_KIB more in a new shell
# variable every STEP seconds; past CAP_KIB it starts afresh as a new process, as a service killed for
# its size and restarted would (a memory check sees the restart: still not a pass).
_SERVICE = """#!/bin/sh
step={step}; leak_kib={leak_kib}; cap_kib=65536
if [ "$leak_kib" -eq 0 ]; then
  # Idle in the shell itself, with no child: a `sleep` of its own would show in every process list
  # of the device (and among the commands a test waits to see gone). A FIFO held open both ways is
  # never written: the read blocks for good.
  f=/run/.service-$$; rm -f "$f"; mkfifo "$f" && exec 3<>"$f"; rm -f "$f"
  read -r _ <&3
  exit 0
fi
pad=$(head -c $((leak_kib * 1024)) /dev/zero | tr '\\0' x)
i=0
while [ $((i * leak_kib)) -lt "$cap_kib" ]; do
  i=$((i + 1)); eval "kept_$i=\\$pad"
  sleep "$step"
done
"$0" </dev/null >/dev/null 2>&1 &
"""
# Paths whose content the kernel or host gives and a persona file must cover by a bind mount.
_OVERLAID_ROOTS = ("proc", "usr")


def build_rootfs(persona: Persona, root: Path) -> None:
    """(Re)create `root` as the device's freshly flashed root folder."""
    if root.exists():
        remove_tree(root)
    root.mkdir(parents=True)
    mounts: list[str] = ["host /usr"]
    for sub in ("usr", "dev/pts", "dev/shm", "proc", "sys", "etc", "data", "root", "run", "var/log", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("tmp", "var/tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub).chmod(0o1777)
    (root / "data").chmod(0o771)
    (root / "root").chmod(0o700)
    for entry in HOST_LIB_ENTRIES:
        host = Path("/") / entry
        if host.is_symlink():
            (root / entry).symlink_to(os.readlink(host))
        elif host.is_dir():
            (root / entry).mkdir()
            mounts.append(f"host /{entry}")
    for node in DEV_NODES:
        (root / "dev" / node).touch()
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")):
        (root / "dev" / name).symlink_to(target)
    if (persona.files_dir / "sys/class/watchdog/watchdog0").is_dir():
        # The watchdog's node: what is written to it lands where the device process watches
        # (harness.lab.device.simulated: a persona's [recovery] says whether it resets the device).
        (root / "dev" / "watchdog").symlink_to(f"/{SIM_DIR}/watchdog")

    _compose_etc(persona, root)
    for name in HOST_ETC_BINDS:
        if Path("/etc", name).is_dir():
            (root / "etc" / name).mkdir()
            mounts.append(f"host /etc/{name}")
    overlays = _copy_persona_files(persona, root)
    _make_symlinks(persona, root)
    if "usr/lib/os-release" not in overlays and Path("/usr/lib/os-release").exists():
        # /etc/os-release is often a symlink to /usr/lib/os-release: the host's must never show
        # through. A persona without one (Android, OpenHarmony) gets an empty file there.
        own = persona.files_dir / "etc/os-release"
        _park_overlay(root, "usr/lib/os-release", own if own.is_file() else None)
        overlays.append("usr/lib/os-release")
    mounts += [f"overlay /{rel}" for rel in overlays]
    _install_shims(persona, root)
    _write_persona_data(persona, root)
    _set_rtc_clocks(root)
    for path, mode in persona.file_modes.items():
        (root / path.lstrip("/")).chmod(mode)
    mounts += [f"readonly {d}" for d in persona.readonly_dirs]
    (root / PERSONA_DATA_DIR / "mounts").write_text("".join(f"{m}\n" for m in mounts))


def _set_rtc_clocks(root: Path) -> None:
    """A persona's /sys is a plain folder (the sandbox mounts no sysfs), so its RTCs (sys/class/rtc/rtc*,
    named by the persona) read the time the device was flashed, in UTC as an RTC keeps it, not a date
    frozen in the persona's data."""
    now = time.time()
    stamp = time.gmtime(now)
    for rtc in sorted((root / "sys/class/rtc").glob("rtc*")):
        if (rtc / "name").is_file():
            (rtc / "date").write_text(time.strftime("%Y-%m-%d\n", stamp))
            (rtc / "time").write_text(time.strftime("%H:%M:%S\n", stamp))
            (rtc / "since_epoch").write_text(f"{int(now)}\n")


def clear_volatile(root: Path) -> None:
    """What a reboot forgets: /tmp and the device's runtime control state (not /data)."""
    for sub in ("tmp", "var/tmp", "run", SIM_DIR):
        folder = root / sub
        for child in list(folder.iterdir()) if folder.is_dir() else ():
            if child.is_dir() and not child.is_symlink():
                remove_tree(child)
            else:
                child.unlink()


def remove_tree(path: Path) -> None:
    """rmtree that also removes what the device made unreadable (chmod 000 folders)."""

    def make_writable_and_retry(func: Any, target: str, exc_info: Any) -> None:
        parent = os.path.dirname(target)
        if not os.path.realpath(parent).startswith(os.path.realpath(path)):
            raise exc_info[1]  # never chmod anything outside the tree being removed
        os.chmod(parent, 0o700)
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, 0o700)
        func(target)

    shutil.rmtree(path, onerror=make_writable_and_retry)


def _compose_etc(persona: Persona, root: Path) -> None:
    etc = root / "etc"
    for name in HOST_ETC_COPIES:
        host = Path("/etc") / name
        if host.is_dir():
            shutil.copytree(host, etc / name, symlinks=True)
        elif host.exists():
            shutil.copy2(host, etc / name)
    shell = {"sh": "/bin/sh", "ash": "/bin/sh", "bash": "/bin/bash"}[persona.shell]
    files = {
        "passwd": f"root:x:0:0:root:{persona.home}:{shell}\n"
                  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        "group": "root:x:0:\nnogroup:x:65534:\n",
        "hostname": f"{persona.hostname}\n",
        "hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{persona.hostname}\n::1\tlocalhost ip6-localhost\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
        "shells": "/bin/sh\n/bin/bash\n",
    }
    for name, text in files.items():
        (etc / name).write_text(text)
    (etc / "mtab").symlink_to("../proc/self/mounts")


def _relative_files(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


def _copy_persona_files(persona: Persona, root: Path) -> list[str]:
    """Copy files/ into the root; return the relative paths that must be bound over host/kernel ones."""
    overlays: list[str] = []
    for rel in sorted(_relative_files(persona.files_dir)):
        source = persona.files_dir / rel
        if rel.split("/", 1)[0] in _OVERLAID_ROOTS:
            _park_overlay(root, rel, source)
            overlays.append(rel)
            continue
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            target.unlink()  # persona files replace composed ones (e.g. its own /etc/passwd)
        shutil.copy2(source, target, follow_symlinks=False)
    return overlays


# A link target "host-lib:NAME" is the host's shared library NAME wherever this host keeps it (Debian's
# multiarch folder, Fedora's lib64): the device sees it read-only through the host's /usr.
HOST_LIB_PREFIX = "host-lib:"
HOST_LIB_DIRS = ("/usr/lib/*-linux-gnu", "/usr/lib64", "/usr/lib")


def host_library(name: str, dirs: tuple[str, ...] = HOST_LIB_DIRS) -> str | None:
    """The host's path of shared library `name` under /usr, or None when it has none."""
    for pattern in dirs:
        for folder in sorted(Path("/").glob(pattern.lstrip("/"))):
            if (folder / name).is_file():
                return str(folder / name)
    return None


def _link_target(target: str) -> str:
    if not target.startswith(HOST_LIB_PREFIX):
        return target
    name = target.removeprefix(HOST_LIB_PREFIX)
    # Absent from this host: the link dangles where the library would be, and the device lacks it.
    return host_library(name) or f"/usr/lib/{name}"


def _make_symlinks(persona: Persona, root: Path) -> None:
    for path, target in sorted(persona.symlinks.items()):
        target = _link_target(target)
        link = root / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target)


def _park_overlay(root: Path, rel: str, source: Path | None) -> None:
    parked = root / PERSONA_DATA_DIR / "overlay" / rel
    parked.parent.mkdir(parents=True, exist_ok=True)
    if source is None:
        parked.write_text("")
    else:
        shutil.copyfile(source, parked)
    parked.chmod(0o444)


def _install_shims(persona: Persona, root: Path) -> None:
    target = root / persona.bin_dir.lstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    for folder in persona.shim_dirs():
        for shim in sorted(folder.iterdir()):
            if shim.is_file():
                dest = target / shim.name
                shutil.copyfile(shim, dest)
                dest.chmod(0o755)
    # For shells that prefer built-in applets to PATH (busybox ash): one function per shim.
    (root / PERSONA_DATA_DIR).mkdir(exist_ok=True)
    functions = "".join(f'{shim.name}() {{ {persona.bin_dir}/{shim.name} "$@"; }}\n'
                        for shim in sorted(target.iterdir()) if shim.name.isidentifier())
    (root / PERSONA_DATA_DIR / "ashrc").write_text(functions)
    if (SHIMS_DIR / "lib").is_dir():
        shutil.copytree(SHIMS_DIR / "lib", root / PERSONA_DATA_DIR / "lib")


def _write_services(persona: Persona, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name in persona.services:
        rate = persona.service_leaks.get(name, 0)
        steps = 4  # a second: the leak grows smoothly between a check's samples
        script = folder / name
        script.write_text(_SERVICE.format(step=1 / steps, leak_kib=-(-rate // steps) if rate else 0))
        script.chmod(0o755)


def service_start_script(persona: Persona) -> str:
    """The command that starts the persona's services at boot, each detached (the device's PID 1 adopts
    them), so a power cut ends them with everything else."""
    return "".join(f"/{PERSONA_DATA_DIR}/{SERVICES_DIR}/{name} </dev/null >/dev/null 2>&1 &\n"
                   for name in persona.services)


def _write_persona_data(persona: Persona, root: Path) -> None:
    """The persona as plain key=value and line files the shims read with POSIX sh."""
    data = root / PERSONA_DATA_DIR
    data.mkdir(exist_ok=True)
    (root / SIM_DIR).mkdir(exist_ok=True)
    u = persona.uname
    fields = {
        "sysname": u.sysname, "release": u.release, "version": u.version, "machine": u.machine,
        "processor": u.processor, "hardware_platform": u.hardware_platform,
        "operating_system": u.operating_system,
    }
    (data / "uname").write_text("".join(f"{k}={v}\n" for k, v in fields.items()))
    (data / "props").write_text("".join(f"{k}={v}\n" for k, v in sorted(persona.properties.items())))
    (data / "selinux").write_text(f"{persona.selinux}\n")
    key, value = persona.boot_completed
    (data / "boot").write_text(f"boot_completed={key}={value}\n")
    (data / "log.kmsg").write_text("".join(f"{line}\n" for line in persona.console.kernel_messages))
    if persona.systemd is not None:
        units = persona.systemd
        (data / "systemd").write_text(f"default {units.default_target}\n"
                                      + "".join(f"enabled {u}\n" for u in units.enabled)
                                      + "".join(f"failed {u}\n" for u in units.failed))
    (data / "locales").write_text("".join(f"{name}\n" for name in persona.locales))
    _write_services(persona, data / SERVICES_DIR)
    for buffer, lines in persona.logs.items():
        (data / f"log.{buffer}").write_text("".join(f"{line}\n" for line in lines))
    if persona.selinux != "Disabled":
        selinuxfs = root / "sys/fs/selinux"
        selinuxfs.mkdir(parents=True, exist_ok=True)
        (selinuxfs / "enforce").write_text("1" if persona.selinux == "Enforcing" else "0")
    if persona.lsm:
        security = root / "sys/kernel/security"
        security.mkdir(parents=True, exist_ok=True)
        (security / "lsm").write_text(",".join(persona.lsm))
