"""OS personas as data: the identity a simulated device shows (files, properties, kernel, logs).

A persona is a folder under harness/lab/personas/<id>/ with a `persona.toml`, a `files/` tree that
appears at the same absolute paths inside the device's sandbox, and an optional `bin/` of POSIX sh
command shims. Shared shims live in personas/_shims/<set>/ and a persona names the sets it uses.

persona.toml is checked like every config file (harness.config_check); its profile and device kind are
the harness's own lists (harness.profiles, harness.specs)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config_check import (
    Checker,
    Where,
    boolean,
    list_of,
    map_of,
    one_of,
    scalar_text,
    seconds,
    string,
    table,
    table_of,
    text,
)
from harness.errors import ConfigError
from harness.profiles import profile_names
from harness.specs import DEVICE_KINDS

PERSONAS_DIR = Path(__file__).parent / "personas"
SHIMS_DIR = PERSONAS_DIR / "_shims"

SHELLS = ("sh", "ash", "bash")
SELINUX_MODES = ("Enforcing", "Permissive", "Disabled")
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
class SystemdUnits:
    """The units a Linux persona's systemd shows (read by the systemctl shim): every enabled unit is
    started at boot and active, unless it is one of `failed`."""

    default_target: str = "multi-user.target"
    enabled: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


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
class Recovery:
    """How the device behaves when it resets without a shutdown (its watchdog, a power cut)."""

    # An unfed /dev/watchdog resets the device after its sysfs timeout (False: the BSP never wired the
    # reset, the watchdog counts down and nothing happens).
    watchdog_resets: bool = False
    # Kernel lines of the boot after an unclean stop (the journal replay, or the errors found).
    unclean_boot_messages: tuple[str, ...] = ()


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
    # None: the systemctl shim answers as before it knew units (every unit active, no default target).
    systemd: SystemdUnits | None = None
    locales: tuple[str, ...] = ()  # what `locale -a` lists besides C, C.utf8 and POSIX
    # Symbolic links the device has (path under / -> target), made in its root at boot: kept out of
    # files/ because a link into the host's /usr dangles in the checkout, which copies and wheels refuse.
    symlinks: dict[str, str] = field(default_factory=dict)
    recovery: Recovery = field(default_factory=Recovery)
    # Key system services the device runs from boot: a process under each name (what a memory check
    # samples), and the planted leaks among them (KiB a second).
    services: tuple[str, ...] = ()
    service_leaks: dict[str, int] = field(default_factory=dict)

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
    if "/" in name or name.startswith(("_", ".")) or not (folder / "persona.toml").is_file():
        raise ConfigError(f"unknown persona {name!r}; known: {', '.join(list_personas())}")
    return parse_persona(folder)


def parse_persona(folder: Path) -> Persona:
    """The persona in `folder` (its `persona.toml`, named by the folder): one line naming the file and
    key for an unknown key, a wrong type or a missing one."""
    path = folder / "persona.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    where = Where(path)
    data = table(raw, where, _persona_keys(), required=PERSONA_REQUIRED)
    if data["id"] != folder.name:
        raise where.child("id").fail(data["id"], f"does not match its folder {folder.name!r}")
    persona = _persona_from(data, folder, where)
    for name in persona.service_leaks:
        if name not in persona.services:
            raise where.child(f"services.leaks.{name}").fail(name, "not one of services.running")
    return persona


def _composable(value: Any, where: Where) -> str:
    """A folder the sandbox lays out itself: absolute, not from the host (/usr) or the kernel (/proc)."""
    path = string(value, where)
    if not path.startswith("/") or path.startswith(("/proc", *_HOST_PROVIDED)) or ".." in path.split("/"):
        raise where.fail(value, "expected an absolute path the sandbox composes (not /usr, /proc)")
    return path


def _file_mode(value: Any, where: Where) -> int:
    try:
        return int(string(value, where), 8)
    except ValueError:
        raise where.fail(value, "expected an octal mode such as \"0600\"") from None


def _composable_keys(value: Any, where: Where) -> dict[str, int]:
    modes = map_of(_file_mode, "octal modes")(value, where)
    for path in modes:
        _composable(path, where.child(path))
    return modes


def _composable_links(value: Any, where: Where) -> dict[str, str]:
    links = map_of(string, "link targets")(value, where)
    for path in links:
        _composable(path, where.child(path))
    return links


_lines = list_of(text, "lines")

DEFECT_KEYS: dict[str, Checker] = {"id": string, "area": string, "detail": text, "evidence": text,
                                   "requirements": list_of(string, "requirement ids")}
PERSONA_REQUIRED = ("id", "os_profile", "device_kind", "vendor", "model", "soc", "arch", "hostname",
                    "boot_seconds", "bin_dir", "uname", "security", "boot_completed", "console")


def _persona_keys() -> dict[str, Checker]:
    return {
        "id": string,
        "os_profile": one_of(*profile_names()),
        "device_kind": one_of(*DEVICE_KINDS),
        "vendor": string,
        "model": string,
        "soc": string,
        "arch": string,
        "hostname": string,
        "boot_seconds": seconds,
        "shell": one_of(*SHELLS),
        "bin_dir": _composable,
        "home": string,
        "readonly_dirs": list_of(_composable, "folders"),
        "shim_sets": list_of(one_of(*_shim_set_names()), "shim sets"),
        "property_files": list_of(string, "paths under files/"),
        "properties": map_of(scalar_text, "values"),
        "boot_completed": table_of({"key": string, "value": scalar_text}, required=("key", "value")),
        "uname": table_of({"sysname": string, "release": string, "version": string, "machine": string,
                           "operating_system": string, "processor": string, "hardware_platform": string},
                          required=("release", "version", "machine")),
        "security": table_of({"selinux": one_of(*SELINUX_MODES), "lsm": list_of(string, "LSM names"),
                              "patch_level": string}, required=("selinux", "patch_level")),
        "console": table_of({"banner": text, "kernel_messages": _lines, "login_prompt": text, "prompt": text},
                            required=("banner", "kernel_messages", "prompt")),
        "logs": map_of(_lines, "lists of lines"),
        "file_modes": _composable_keys,
        "env": map_of(scalar_text, "values"),
        "defects": list_of(table_of(DEFECT_KEYS, required=("id", "area", "detail", "evidence")), "tables"),
        "systemd": table_of({"default_target": string, "enabled": list_of(string, "unit names"),
                             "failed": list_of(string, "unit names")}),
        "locales": list_of(string, "locale names"),
        "symlinks": _composable_links,
        "recovery": table_of({"watchdog_resets": boolean, "unclean_boot_messages": _lines}),
        "services": table_of({"running": list_of(_service_name, "process names"),
                              "leaks": map_of(_leak_rate, "KiB a second")}, required=("running",)),
    }


def _service_name(value: Any, where: Where) -> str:
    name = string(value, where)
    if not name.replace("-", "").replace("_", "").isalnum():
        raise where.fail(value, "expected a process name (letters, digits, - and _)")
    return name


def _leak_rate(value: Any, where: Where) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 4 <= value <= 4096:
        raise where.fail(value, "expected whole KiB a second, 4 to 4096")
    return value


def _shim_set_names() -> list[str]:
    return sorted(p.name for p in SHIMS_DIR.iterdir() if p.is_dir() and p.name != "lib")


def _persona_from(data: dict[str, Any], folder: Path, where: Where) -> Persona:
    properties: dict[str, str] = {}
    for number, prop_file in enumerate(data.get("property_files", ())):
        file = folder / "files" / prop_file.lstrip("/")
        if not file.is_file():
            raise where.child(f"property_files[{number}]").fail(prop_file, "not a file under files/")
        properties.update(_read_property_file(file))
    properties.update(data.get("properties", {}))
    boot = data["boot_completed"]
    properties.setdefault(boot["key"], boot["value"])

    u = data["uname"]
    c = data["console"]
    security = data["security"]
    return Persona(
        id=data["id"],
        os_profile=data["os_profile"],
        device_kind=data["device_kind"],
        vendor=data["vendor"],
        model=data["model"],
        soc=data["soc"],
        arch=data["arch"],
        hostname=data["hostname"],
        boot_seconds=data["boot_seconds"],
        shell=data.get("shell", "sh"),
        bin_dir=data["bin_dir"],
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
        lsm=security.get("lsm", ()),
        security_patch=security["patch_level"],
        boot_completed=(boot["key"], boot["value"]),
        properties=properties,
        console=ConsoleInfo(
            banner=c["banner"],
            kernel_messages=c["kernel_messages"],
            login_prompt=c.get("login_prompt"),
            prompt=c["prompt"],
        ),
        logs=data.get("logs", {}),
        readonly_dirs=data.get("readonly_dirs", ()),
        shim_sets=data.get("shim_sets", ("common",)),
        file_modes=data.get("file_modes", {}),
        env=data.get("env", {}),
        defects=tuple(Defect(**{"requirements": (), **d}) for d in data.get("defects", ())),
        systemd=SystemdUnits(**data["systemd"]) if "systemd" in data else None,
        locales=tuple(data.get("locales", ())),
        symlinks=dict(data.get("symlinks", {})),
        recovery=Recovery(data.get("recovery", {}).get("watchdog_resets", False),
                          tuple(data.get("recovery", {}).get("unclean_boot_messages", ()))),
        services=tuple(data.get("services", {}).get("running", ())),
        service_leaks=dict(data.get("services", {}).get("leaks", {})),
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
