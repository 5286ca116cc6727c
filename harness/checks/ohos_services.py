"""OpenHarmony's own services as the device shows them: the system abilities samgr serves (`hidumper
-ls`), init's service states (the `startup.service.ctl.<name>` parameters), the identity parameters and
API level, hilog, the installed bundles (`bm dump -a`) and the HDF device manager. Pure functions over
text read off the device; a missing answer is a problem, never a pass."""

from __future__ import annotations

import re
import struct

from .numbers import is_count

SA_LIST_HEADER = "System ability list:"
# init's ServiceStatus as it writes startup.service.ctl.<name> (base/startup/init service states).
SERVICE_STATES = {"0": "idle", "1": "starting", "2": "running", "3": "ready", "4": "stopping", "5": "stopped",
                  "6": "error", "7": "suspended", "8": "freezed", "9": "disabled", "10": "critical"}
RUNNING = ("running", "ready")


def service_param(name: str) -> str:
    return f"startup.service.ctl.{name}"


def system_abilities(text: str) -> set[str] | None:
    """The names `hidumper -ls` lists in its columns, or None when its header is missing (hidumper
    printed an error, which it does with exit code 0). Everything after the first header counts; a
    repeated header line is no ability."""
    header = SA_LIST_HEADER.lower()
    lines = text.splitlines()
    marks = [i for i, line in enumerate(lines) if line.strip().lower() == header]
    if not marks:
        return None
    return {word for line in lines[marks[0] + 1:] if line.strip().lower() != header
            for word in line.split() if re.fullmatch(r"[A-Za-z0-9_.]+", word)}


def missing_abilities(found: set[str], wanted: list[str] | tuple[str, ...]) -> list[str]:
    return [w for w in wanted if w not in found]


def service_state(value: str | None) -> str:
    """A startup.service.ctl value as a state word; 'unknown' when the parameter is missing."""
    if value is None or not value.strip():
        return "unknown"
    value = value.strip()
    return SERVICE_STATES.get(value, value.lower())


def not_running(values: dict[str, str | None]) -> list[str]:
    """Services (name -> their startup.service.ctl value) that are not running, with their state."""
    return [f"{name} {service_state(v)}" for name, v in values.items() if service_state(v) not in RUNNING]


def missing_params(values: dict[str, str | None]) -> list[str]:
    return [key for key, value in values.items() if value is None or not value.strip()]


def api_level_problem(value: str | None, minimum: int) -> str | None:
    """const.ohos.apiversion is an integer no lower than the minimum."""
    if value is None:
        return "const.ohos.apiversion is not set"
    if not is_count(value.strip()):
        return f"const.ohos.apiversion is {value.strip()!r}, not an API level number"
    if int(value) < minimum:
        return f"API level {int(value)} is below the minimum {minimum}"
    return None


def fullname_problem(value: str | None) -> str | None:
    """const.ohos.fullname reads OpenHarmony-<major>.<minor>.<build>.<patch> (its os name and version)."""
    if value is None:
        return "const.ohos.fullname is not set"
    if not re.fullmatch(r"OpenHarmony-\d+\.\d+\.\d+\.\d+(\(\w+\))?", value.strip()):
        return f"const.ohos.fullname is {value.strip()!r}, not OpenHarmony-<major>.<minor>.<build>.<patch>"
    return None


def hilog_lines(text: str) -> list[str]:
    """Lines of `hilog -x` that look like log entries (MM-DD hh:mm:ss.mmm pid tid level domain/tag: ...)."""
    entry = re.compile(r"^\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+\d+\s+\d+\s+[VDIWEF]\s")
    return [line for line in text.splitlines() if entry.match(line)]


def bundles(text: str) -> list[str]:
    """Bundle names `bm dump -a` lists (its 'ID: 100:' user headers are not bundles)."""
    names = []
    for line in text.splitlines():
        word = line.strip()
        if re.fullmatch(r"[A-Za-z]\w*(\.\w+)+", word):  # the 'ID: 100:' headers never match
            names.append(word)
    return names


# HDF's compiled configuration (HCB) as hdf_devmgr checks it before parsing it (drivers_hdf_core
# hcs_blob_if.c, HcsCheckBlobFormat): a header {magic, versionMajor, versionMinor, checkSum, totalSize},
# little-endian as the device reads it, the magic 0xA00AA00A, at most 10 MiB, the file exactly the header
# plus |totalSize| bytes (a negative totalSize marks a 4-byte aligned blob), room for the root node.
HCB_MAGIC = 0xA00AA00A
HCB_HEADER = 20
HCB_MAX = 10 * 1024 * 1024
HCB_ROOT = {False: 10, True: 16}  # "root" node: prefix, "root\0", its length (unaligned / aligned)


def hcb_problem(head: str, size: str) -> str | None:
    """What hdf_devmgr would reject in an HCS blob, from `od -An -tx1 -N20 FILE` and `wc -c < FILE`."""
    if not is_count(size.strip()):
        return f"the HCS blob's size is unreadable (wc -c said {' '.join(size.split())[:80]!r})"
    length = int(size)
    if not HCB_HEADER <= length <= HCB_MAX:
        return f"the HCS blob is {length} bytes: hdf_devmgr takes {HCB_HEADER} bytes to 10 MiB"
    octets = [t for t in head.split() if re.fullmatch(r"[0-9a-fA-F]{2}", t)]
    if len(octets) < HCB_HEADER:
        return f"the HCS blob's header is unreadable ({len(octets)} of {HCB_HEADER} bytes)"
    header = bytes.fromhex("".join(octets[:HCB_HEADER]))
    magic, _major, _minor, _checksum, total = struct.unpack("<IIIIi", header)
    if magic != HCB_MAGIC:
        return f"the HCS blob's magic is {magic:#010x}, not {HCB_MAGIC:#010x}: it is no compiled HCS"
    if length != HCB_HEADER + abs(total):
        return f"the HCS blob is {length} bytes but its header says {HCB_HEADER + abs(total)}"
    if abs(total) < HCB_ROOT[total < 0]:
        return f"the HCS blob holds no root node ({abs(total)} bytes after its header)"
    return None

