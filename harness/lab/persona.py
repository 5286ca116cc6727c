"""OS personas as data: the identity a simulated device shows (files, properties, kernel, logs).

A persona is a folder under harness/lab/personas/<id>/ with a `persona.toml`, a `files/` tree that
appears at the same absolute paths inside the device's sandbox, and an optional `bin/` of POSIX sh
command shims. Shared shims live in personas/_shims/<set>/ and a persona names the sets it uses."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

PERSONAS_DIR = Path(__file__).parent / "personas"
SHIMS_DIR = PERSONAS_DIR / "_shims"

OS_PROFILES = ("openharmony", "harmonyos", "android", "openeuler", "kylin", "uos", "anolis", "generic-linux")
SHELLS = ("sh", "ash", "bash")
SELINUX_MODES = ("Enforcing", "Permissive", "Disabled")
DEVICE_KINDS = ("board", "handset")
# Where a persona may not put files or shims: these come from the host (read-only) or the kernel.
_HOST_PROVIDED = ("/usr", "/dev", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")


@dataclass(frozen=True)
class UnameInfo:
    """What `uname` prints; the host kernel is never the device's."""

    sysname: str
    release: str
    version: str
    machine: str
    operating_system: str
    processor: str = "unknown"
    hardware_platform: str = "unknown"


@dataclass(frozen=True)
class ConsoleInfo:
    """What a serial console shows while the device boots, and how it greets."""

    banner: str
    kernel_messages: tuple[str, ...]
    login_prompt: str | None  # None: the console drops straight into a shell (no login)
    prompt: str


@dataclass(frozen=True)
class Defect:
    """A planted non-conformance, written down so suite tests can check they fail exactly on it."""

    id: str
    area: str
    detail: str
    evidence: str  # where a suite finds it: a path, a property key or a command
    # The suite requirement ids this defect must fail, and the only ones it may.
    requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Persona:
    id: str
    os_profile: str
    device_kind: str
    vendor: str
    model: str
    soc: str
    arch: str
    hostname: str
    boot_seconds: float
    shell: str
    bin_dir: str  # where the shims appear inside the sandbox; first on PATH
    home: str
    uname: UnameInfo
    selinux: str
    lsm: tuple[str, ...]
    security_patch: str
    boot_completed: tuple[str, str]  # (property key, value once booted)
    properties: dict[str, str]
    console: ConsoleInfo
    logs: dict[str, tuple[str, ...]]  # buffer name (main, hilog, journal) -> lines
    readonly_dirs: tuple[str, ...]
    shim_sets: tuple[str, ...]
    file_modes: dict[str, int]
    env: dict[str, str]
    defects: tuple[Defect, ...]
    folder: Path = field(compare=False)

    @property
    def files_dir(self) -> Path:
        return self.folder / "files"

    @property
    def own_bin_dir(self) -> Path:
        return self.folder / "bin"

    def shim_dirs(self) -> list[Path]:
        """Shim folders in the order they are laid down: later ones replace earlier ones."""
        dirs = [SHIMS_DIR / name for name in self.shim_sets]
        if self.own_bin_dir.is_dir():
            dirs.append(self.own_bin_dir)
        return dirs


def list_personas() -> list[str]:
    return sorted(
        p.name for p in PERSONAS_DIR.iterdir()
        if not p.name.startswith("_") and (p / "persona.toml").is_file()
    )


def load_persona(name: str) -> Persona:
    folder = PERSONAS_DIR / name
    path = folder / "persona.toml"
    if "/" in name or name.startswith(("_", ".")) or not path.is_file():
        raise ConfigError(f"unknown persona {name!r}; known: {', '.join(list_personas())}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"persona {name}: {path}: {exc}") from exc
    try:
        persona = _persona_from(data, folder)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"persona {name}: {path}: bad or missing field: {exc}") from exc
    if persona.id != name:
        raise ConfigError(f"persona {name}: id {persona.id!r} does not match its folder")
    return persona


def _persona_from(data: dict[str, Any], folder: Path) -> Persona:
    _one_of("os_profile", data["os_profile"], OS_PROFILES)
    _one_of("device_kind", data["device_kind"], DEVICE_KINDS)
    shell = data.get("shell", "sh")
    _one_of("shell", shell, SHELLS)
    security = data["security"]
    _one_of("security.selinux", security["selinux"], SELINUX_MODES)
    bin_dir = data["bin_dir"]
    readonly = tuple(data.get("readonly_dirs", ()))
    for where in (bin_dir, *readonly):
        _composable("bin_dir/readonly_dirs", where)
    file_modes = {p: int(m, 8) for p, m in data.get("file_modes", {}).items()}
    for where in file_modes:
        _composable("file_modes", where)

    properties: dict[str, str] = {}
    for prop_file in data.get("property_files", ()):
        properties.update(_read_property_file(folder / "files" / prop_file.lstrip("/")))
    properties.update({k: str(v) for k, v in data.get("properties", {}).items()})
    boot = data["boot_completed"]
    properties.setdefault(boot["key"], boot["value"])

    u = data["uname"]
    c = data["console"]
    return Persona(
        id=data["id"],
        os_profile=data["os_profile"],
        device_kind=data["device_kind"],
        vendor=data["vendor"],
        model=data["model"],
        soc=data["soc"],
        arch=data["arch"],
        hostname=data["hostname"],
        boot_seconds=float(data["boot_seconds"]),
        shell=shell,
        bin_dir=bin_dir,
        home=data.get("home", "/root"),
        uname=UnameInfo(
            sysname=u.get("sysname", "Linux"),
            release=u["release"],
            version=u["version"],
            machine=u["machine"],
            operating_system=u.get("operating_system", "GNU/Linux"),
            processor=u.get("processor", "unknown"),
            hardware_platform=u.get("hardware_platform", "unknown"),
        ),
        selinux=security["selinux"],
        lsm=tuple(security.get("lsm", ())),
        security_patch=security["patch_level"],
        boot_completed=(boot["key"], boot["value"]),
        properties=properties,
        console=ConsoleInfo(
            banner=c["banner"],
            kernel_messages=tuple(c["kernel_messages"]),
            login_prompt=c.get("login_prompt"),
            prompt=c["prompt"],
        ),
        logs={k: tuple(v) for k, v in data.get("logs", {}).items()},
        readonly_dirs=readonly,
        shim_sets=tuple(data.get("shim_sets", ("common",))),
        file_modes=file_modes,
        env={k: str(v) for k, v in data.get("env", {}).items()},
        defects=tuple(Defect(**{**d, "requirements": tuple(d.get("requirements", ()))})
                      for d in data.get("defects", ())),
        folder=folder,
    )


def _read_property_file(path: Path) -> dict[str, str]:
    """build.prop / *.para syntax: key=value lines, # comments, blank lines."""
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def _one_of(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} = {value!r}, expected one of {', '.join(allowed)}")


def _composable(what: str, path: str) -> None:
    if not path.startswith("/") or path.startswith(("/proc", *_HOST_PROVIDED)) or ".." in path.split("/"):
        raise ValueError(f"{what}: {path!r} must be an absolute path the sandbox composes (not /usr, /proc)")
