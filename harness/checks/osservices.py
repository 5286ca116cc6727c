"""A Linux OS's own services as the device shows them: the package database and its repositories,
systemd's state, kdump, time sync, locales, journald and log rotation, sshd's configuration, the host
name and os-release. Pure functions over text read off the device; each returns what it found or the
problems, so a missing file or command reads as a problem, never as a pass."""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from .numbers import is_count

# Profiles whose OS is a systemd Linux with a package manager (the family "linux").
LINUX_PROFILES = ("openeuler", "kylin", "uos", "deepin", "anolis", "generic-linux")
FILE_MARK = "@@harness-file@@ "  # starts the line naming each file in a `files_script` dump


def files_script(patterns: list[str] | tuple[str, ...]) -> str:
    """A POSIX sh script printing every regular file the patterns glob to, each after a line
    FILE_MARK + path. Only '*' is left to the shell."""
    globs = " ".join(shlex.quote(p).replace("*", "'*'") for p in patterns)
    return (f'for f in {globs}; do [ -f "$f" ] && {{ printf \'{FILE_MARK}%s\\n\' "$f"; cat "$f"; echo; }}; '
            "done; true")


def split_files(text: str) -> dict[str, str]:
    """`files_script` output back to path -> text, in the order printed."""
    files: dict[str, str] = {}
    current: str | None = None
    for line in text.splitlines():
        if line.startswith(FILE_MARK):
            current = line[len(FILE_MARK):].strip()
            files[current] = ""
        elif current is not None:
            files[current] += line + "\n"
    return files


# -- package database ------------------------------------------------------------------------------

# dpkg states that leave a package half done (dpkg-query(1), the Status field).
_DPKG_BROKEN_STATES = ("half-installed", "half-configured", "unpacked", "triggers-awaited",
                       "triggers-pending")


@dataclass(frozen=True)
class PackageDb:
    installed: int
    broken: tuple[str, ...] = ()  # one line per package (or database error) found wrong


def dpkg_packages(text: str) -> PackageDb:
    """`dpkg-query -W -f='${Status} ${Package}\\n'`: want flag state package."""
    installed, broken = 0, []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        _want, flag, state, name = parts[0], parts[1], parts[2], parts[3]
        if state == "installed" and flag == "ok":
            installed += 1
        elif flag != "ok" or state in _DPKG_BROKEN_STATES:
            broken.append(f"{name}: {flag} {state}")
    return PackageDb(installed, tuple(broken))


def rpm_packages(stdout: str, stderr: str) -> PackageDb:
    """`rpm -qa`: one package per line; any 'error:' line on stderr is a damaged database."""
    names = [line.strip() for line in stdout.splitlines() if line.strip() and not line.startswith("error:")]
    lines = (stderr + "\n" + stdout).splitlines()
    errors = [line.strip() for line in lines if line.strip().startswith("error:")]
    return PackageDb(len(names), tuple(errors))


def package_db_problems(db: PackageDb, tool: str) -> list[str]:
    problems = [f"{tool}: {b}" for b in db.broken[:20]]
    if db.installed == 0:
        problems.insert(0, f"{tool} lists no installed package")
    return problems


# -- repositories ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repo:
    where: str  # file[section] or file:line
    url: str
    enabled: bool
    signed: bool  # packages are signature-checked


def _ini(text: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1].strip(), {})
        elif "=" in line and current is not None:
            key, _, value = line.partition("=")
            current[key.strip().lower()] = value.strip()
    return sections


def _true(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "yes", "true", "on")


def yum_repos(files: dict[str, str], main_conf: str) -> list[Repo]:
    """*.repo files (dnf.conf(5)/yum.conf(5)): enabled defaults to 1; gpgcheck to the [main] value,
    else off."""
    main = _ini(main_conf).get("main", {})
    default_gpg = _true(main.get("gpgcheck"), False)
    repos = []
    for path, text in files.items():
        for name, keys in _ini(text).items():
            if name == "main":
                continue
            url = next((keys[k].split()[0] for k in ("baseurl", "metalink", "mirrorlist") if keys.get(k)), "")
            repos.append(Repo(f"{path}[{name}]", url,
                              _true(keys.get("enabled"), True), _true(keys.get("gpgcheck"), default_gpg)))
    return repos


_APT_INSECURE = ("trusted=yes", "allow-insecure=yes", "allow-weak=yes")
_APT_LINE = re.compile(r"deb\s+(?:\[([^\]]*)\]\s*)?(\S+)\s+\S")  # deb [options] uri suite ...


def apt_sources(files: dict[str, str]) -> list[Repo]:
    """sources.list(5): one-line `deb [options] uri suite...` and deb822 `.sources` stanzas. apt checks
    every repository's signature unless told not to (trusted=yes, allow-insecure=yes)."""
    repos: list[Repo] = []
    for path, text in files.items():
        if path.endswith(".sources"):
            for number, stanza in enumerate(re.split(r"\n\s*\n", text), 1):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.strip().startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if "deb" not in fields.get("types", "").split() or not fields.get("uris"):
                    continue
                insecure = _true(fields.get("trusted"), False) or _true(fields.get("allow-insecure"), False)
                repos.append(Repo(f"{path} stanza {number}", fields["uris"].split()[0],
                                  _true(fields.get("enabled"), True), not insecure))
            continue
        for number, raw in enumerate(text.splitlines(), 1):
            m = _APT_LINE.match(raw.partition("#")[0].strip())
            if m:
                insecure = any(o in (m.group(1) or "").split() for o in _APT_INSECURE)
                repos.append(Repo(f"{path}:{number}", m.group(2), True, not insecure))
    return repos


def enabled_repos(repos: list[Repo]) -> list[Repo]:
    return [r for r in repos if r.enabled and r.url]


def unsigned_repos(repos: list[Repo]) -> list[str]:
    return [f"{r.where} ({r.url})" for r in enabled_repos(repos) if not r.signed]


# -- systemd -----------------------------------------------------------------------------------------

_NO_SYSTEMD = ("has not been booted with systemd", "Failed to connect to bus", "command not found",
               "not found")


def systemd_absent(text: str) -> str | None:
    """The reason systemctl could not ask systemd, from its output, or None."""
    for line in text.splitlines():
        if any(marker in line for marker in _NO_SYSTEMD):
            return line.strip()
    return None


def system_state_problem(text: str) -> str | None:
    """`systemctl is-system-running`: only "running" is a booted, healthy system (degraded: a unit failed)."""
    absent = systemd_absent(text)
    if absent:
        return f"systemd is not managing the system: {absent}"
    state = text.strip().splitlines()[0].strip() if text.strip() else ""
    return None if state == "running" else f"systemctl is-system-running says {state or 'nothing'!r}"


def failed_units(text: str) -> list[str]:
    """`systemctl list-units --state=failed --no-legend --plain`: the first column of each line."""
    units = []
    for line in text.splitlines():
        words = line.replace("\u25cf", " ").split()
        if words and "." in words[0]:
            units.append(words[0])
    return units


DEFAULT_TARGETS = ("multi-user.target", "graphical.target")


def default_target_problem(text: str) -> str | None:
    absent = systemd_absent(text)
    if absent:
        return f"systemctl get-default failed: {absent}"
    target = text.strip().splitlines()[0].strip() if text.strip() else ""
    if target in DEFAULT_TARGETS:
        return None
    return f"the default target is {target or 'not set'!r}, not one of {list(DEFAULT_TARGETS)}"


def unit_states(text: str) -> dict[str, str]:
    """Lines 'UNIT ANSWER' (a loop over `systemctl is-active/is-enabled`) -> unit -> systemctl's answer
    (a state word such as active or enabled, or the error it printed)."""
    states = {}
    for line in text.splitlines():
        unit, _, answer = line.strip().partition(" ")
        if unit:
            states[unit] = answer.strip()
    return states


def units_in(states: dict[str, str], wanted: tuple[str, ...] = ("active",)) -> list[str]:
    return [u for u, s in states.items() if s in wanted]


def describe_states(states: dict[str, str]) -> str:
    return ", ".join(f"{u} {s or 'unknown'}" for u, s in states.items()) or "no unit asked"


# -- kdump -------------------------------------------------------------------------------------------


def crashkernel(cmdline: str) -> str | None:
    m = re.search(r"(?:^|\s)crashkernel=(\S+)", cmdline)
    return m.group(1) if m else None


def crash_reservation_problem(cmdline: str | None, crash_size: str | None) -> str | None:
    """crashkernel= on the command line and memory really reserved (/sys/kernel/kexec_crash_size > 0)."""
    if cmdline is None:
        return "/proc/cmdline is unreadable"
    if crashkernel(cmdline) is None:
        return "no crashkernel= on the kernel command line: no memory is reserved for a crash kernel"
    if crash_size is None:
        return ("/sys/kernel/kexec_crash_size is missing: the kernel has no kexec crash support "
                "(CONFIG_CRASH_DUMP)")
    size = crash_size.strip()
    if not is_count(size) or int(size) == 0:
        return f"crashkernel={crashkernel(cmdline)} is asked for but /sys/kernel/kexec_crash_size is {size!r}"
    return None


def crash_loaded_problem(value: str | None) -> str | None:
    if value is None:
        return "/sys/kernel/kexec_crash_loaded is missing: the kernel has no kexec crash support"
    if value.strip() != "1":
        return f"/sys/kernel/kexec_crash_loaded is {value.strip()!r}: no crash kernel is loaded"
    return None


# -- time --------------------------------------------------------------------------------------------


def key_values(text: str, sep: str = "=") -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, found, value = line.partition(sep)
        if found and key.strip():
            values[key.strip()] = value.strip()
    return values


def clock_sync_problem(timedatectl: str, chronyc: str) -> str | None:
    """Synchronised when `timedatectl show` says NTPSynchronized=yes or `chronyc tracking` a normal leap
    status; else the problem, quoting both."""
    shown = key_values(timedatectl)
    if shown.get("NTPSynchronized") == "yes":
        return None
    tracking = key_values(chronyc, ":")
    if tracking.get("Leap status") == "Normal":
        return None
    said = shown.get("NTPSynchronized") or systemd_absent(timedatectl) or "no NTPSynchronized"
    leap = tracking.get("Leap status") or " ".join(chronyc.split())[:120] or "no output"
    return f"the clock is not synchronised (timedatectl: {said}; chronyc tracking: {leap})"


def timezone_problem(link: str | None, target_exists: bool) -> str | None:
    """/etc/localtime is a link into a zoneinfo database whose file exists (localtime(5))."""
    if not link:
        return "/etc/localtime is not a link into the zoneinfo database: no time zone is configured"
    zone = link.partition("zoneinfo/")[2]  # everything after the first zoneinfo/ (none: no zone)
    if not zone:
        return f"/etc/localtime points at {link!r}, outside a zoneinfo database"
    if not target_exists:
        return f"/etc/localtime points at {link!r}, which does not exist"
    return None


# -- locales -----------------------------------------------------------------------------------------


def normal_locale(name: str) -> str:
    """glibc's normalised form: the codeset lower-case without '-' (zh_CN.UTF-8 -> zh_CN.utf8)."""
    base, dot, codeset = name.strip().partition(".")
    codeset, at, modifier = codeset.partition("@")  # the modifier is kept as written
    return base + (("." + codeset.lower().replace("-", "")) if dot else "") + at + modifier


def has_locale(listing: str, wanted: str) -> bool:
    """`locale -a` lists the locale (spelt either way)."""
    return normal_locale(wanted) in {normal_locale(line) for line in listing.split()}


def system_lang(files: dict[str, str]) -> str | None:
    """LANG from /etc/locale.conf (locale.conf(5)) or Debian's /etc/default/locale, the first that sets it."""
    for text in files.values():
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("LANG="):
                value = line[5:].strip().strip("\"'")
                if value:
                    return value
    return None


def system_locale_problem(lang: str | None, listing: str) -> str | None:
    if lang is None:
        return "no system locale: LANG is set in neither /etc/locale.conf nor /etc/default/locale"
    if "utf8" not in normal_locale(lang).lower():
        return f"the system locale {lang} is not UTF-8"
    if not has_locale(listing, lang):
        return f"the system locale {lang} is not installed (locale -a does not list it)"
    return None


# -- logs --------------------------------------------------------------------------------------------

JOURNALD_STORAGE = ("volatile", "persistent", "auto", "none")


def journald_storage(files: dict[str, str], main: str = "/etc/systemd/journald.conf") -> str:
    """Storage= of journald.conf(5): the main file, then the drop-ins in the order of their file names
    (whichever folder holds them); the last setting wins, 'auto' when none sets it."""
    storage = "auto"
    drop_ins = sorted((p for p in files if p != main), key=posixpath.basename)
    for text in [files[p] for p in [main, *drop_ins] if p in files]:
        for line in text.splitlines():
            key, _, value = line.strip().partition("=")
            if key == "Storage":
                storage = value.strip().lower() or "auto"
    return storage


def journald_problem(storage: str, journal_dir_exists: bool) -> str | None:
    if storage == "persistent":
        return None
    if storage == "auto" and journal_dir_exists:
        return None
    if storage == "auto":
        return "journald Storage=auto and /var/log/journal does not exist: the journal is lost at reboot"
    return f"journald Storage={storage}: the journal is not kept across reboots"


def logrotate_problem(conf: str | None, scheduled: list[str]) -> str | None:
    """/etc/logrotate.conf exists and says what to rotate, and something runs logrotate."""
    if conf is None:
        return "/etc/logrotate.conf does not exist: logs are never rotated"
    words = [line.split()[0] for line in conf.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    if not words:
        return "/etc/logrotate.conf is empty"
    if not scheduled:
        return "nothing runs logrotate (no logrotate.timer enabled, no /etc/cron.daily/logrotate)"
    return None


# -- sshd --------------------------------------------------------------------------------------------

SSHD_DEFAULTS = {"permitrootlogin": "prohibit-password", "permitemptypasswords": "no", "protocol": "2"}


def sshd_options(files: dict[str, str], main: str = "/etc/ssh/sshd_config") -> dict[str, str]:
    """The effective global options of sshd_config(5): keywords are case-insensitive and the first
    value obtained wins; `Include` files are read in place (in name order), and options after the first
    `Match` line are conditional, so they are not global."""
    options: dict[str, str] = {}
    seen: set[str] = set()

    def read(path: str) -> bool:
        if path in seen:
            return True
        seen.add(path)
        for raw in files.get(path, "").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.replace("=", " ", 1).partition(" ")
            key, value = key.lower(), value.strip()
            if key == "match":
                return False
            if key == "include":
                for pattern in value.split():
                    full = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                    regex = re.compile("^" + re.escape(full).replace(r"\*", "[^/]*") + "$")
                    for included in sorted(p for p in files if regex.match(p)):
                        if not read(included):
                            return False
                continue
            options.setdefault(key, value)
        return True

    read(main)
    return {**SSHD_DEFAULTS, **options}


def root_login_problem(options: dict[str, str]) -> str | None:
    value = options.get("permitrootlogin", "").lower()
    if value in ("no", "prohibit-password", "without-password", "forced-commands-only"):
        return None
    return f"sshd permits root to log in with a password (PermitRootLogin {value or 'unset'})"


def sshd_auth_problems(options: dict[str, str]) -> list[str]:
    problems = []
    options = {**SSHD_DEFAULTS, **options}
    if options["permitemptypasswords"].lower() != "no":
        value = options["permitemptypasswords"]
        problems.append(f"PermitEmptyPasswords {value}: accounts without a password log in")
    if "1" in re.split(r"[,\s]+", options["protocol"]):
        problems.append(f"Protocol {options['protocol']}: SSH protocol 1 is broken and must not be offered")
    return problems


# -- host name and os-release -------------------------------------------------------------------------

PLACEHOLDER_HOSTNAMES = ("", "(none)", "localhost", "localhost.localdomain", "localdomain")


def hostname_problem(name: str | None) -> str | None:
    if name is None:
        return "the host name is unreadable (/proc/sys/kernel/hostname)"
    value = name.strip()
    if value.lower() in PLACEHOLDER_HOSTNAMES:
        return f"the host name is the placeholder {value!r}: the device cannot be told apart on a network"
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*", value):
        return f"the host name {value!r} is not a valid RFC 1123 name"
    return None


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5): KEY=value lines, values shell-quoted."""
    fields = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value]
        fields[key.strip()] = " ".join(words)
    return fields


OS_RELEASE_FIELDS = ("NAME", "ID", "VERSION_ID", "PRETTY_NAME")


def os_release_problems(fields: dict[str, str], vendor_ids: tuple[str, ...] | list[str] = ()) -> list[str]:
    """os-release(5): ID has no characters outside 0-9, a-z, '.', '_' and '-' (lower case only).
    `vendor_ids` are IDs a profile's vendor ships against that rule, accepted as spelled (openEuler's
    own /etc/os-release says ID="openEuler" in every release from 20.03 to 24.03)."""
    problems = [f"{k} is missing or empty" for k in OS_RELEASE_FIELDS if not fields.get(k)]
    os_id = fields.get("ID")
    if os_id and os_id not in vendor_ids and not re.fullmatch(r"[a-z0-9._-]+", os_id):
        problems.append(f"ID={os_id!r} has characters outside lower-case letters, digits, '.', '_' and '-' "
                        "(os-release(5))")
    version = fields.get("VERSION_ID")
    if version and re.search(r"\s", version):
        problems.append(f"VERSION_ID={version!r} contains spaces")
    return problems


# -- job scheduling ------------------------------------------------------------------------------------


def timer_units(text: str) -> list[str]:
    """`systemctl list-timers --all --no-legend`: the .timer unit named on each line."""
    return [w for line in text.splitlines() for w in line.split() if w.endswith(".timer")]
