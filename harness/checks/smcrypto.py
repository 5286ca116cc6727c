"""National cryptography (SM2/SM3/SM4): what the kernel crypto API and the userland library offer,
judged from text read off the device (/proc/crypto, the kernel config, `openssl` output)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import kconfig
from .numbers import is_count

# Profiles whose OS is expected to carry the national algorithms; any other device opts in with a tag.
DOMESTIC_PROFILES = ("openeuler", "kylin", "uos", "deepin", "anolis", "openharmony")
TAG = "sm-crypto"
# An inventory tag for a device whose kernel is not its own: a sandbox of the simulated lab runs on the
# lab host's kernel, so /proc/crypto, /proc/modules and AF_ALG there show the host's kernel, never the
# device's. Its kernel crypto requirements are SKIPped saying so (a host's SM3 is no device's PASS, and
# its lack no device's FAIL); real devices and QEMU guests carry no such tag and are judged as before.
SHARED_KERNEL_TAG = "shared-host-kernel"

# Known-answer vectors from the standards themselves.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905-2016 A.1
SM4_KEY = "0123456789abcdeffedcba9876543210"  # GB/T 32907-2016 A.1: key = plaintext
SM4_CIPHERTEXT = "681edf34d206965e86b3e94f536e4246"

# Kernel option names per algorithm: the generic implementation was renamed in Linux 5.19.
KERNEL_OPTIONS = {
    "sm3": ("CONFIG_CRYPTO_SM3", "CONFIG_CRYPTO_SM3_GENERIC"),
    "sm4": ("CONFIG_CRYPTO_SM4", "CONFIG_CRYPTO_SM4_GENERIC"),
    "sm2": ("CONFIG_CRYPTO_SM2",),
}
# AF_ALG's options -> the module each builds when =m (crypto/Makefile: af_alg, algif_hash, algif_skcipher).
USER_API_MODULES = {
    "CONFIG_CRYPTO_USER_API": "af_alg",
    "CONFIG_CRYPTO_USER_API_HASH": "algif_hash",
    "CONFIG_CRYPTO_USER_API_SKCIPHER": "algif_skcipher",
}
# The find(1) -name patterns of every module file the kernel checks look for.
MODULE_PATTERNS = ("sm[234]*.ko*", "af_alg.ko*", "algif_*.ko*")
# CPU feature flag (aarch64 /proc/cpuinfo) -> the accelerated kernel driver that uses it.
ACCELERATED = {"sm3": "sm3-ce", "sm4": "sm4-ce"}


@dataclass(frozen=True)
class KernelAlg:
    name: str
    driver: str
    module: str
    type: str
    priority: int
    selftest: str


def parse_proc_crypto(text: str) -> list[KernelAlg]:
    """/proc/crypto's blank-line separated records; a record without a name is skipped."""
    algs = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if fields.get("name"):
            prio = fields.get("priority", "0")
            algs.append(KernelAlg(fields["name"], fields.get("driver", ""), fields.get("module", ""),
                                  fields.get("type", ""), int(prio) if is_count(prio) else 0,
                                  fields.get("selftest", "")))
    return algs


def scope_reason(profile: str, tags: tuple[str, ...] | list[str]) -> str | None:
    """Why national cryptography is not expected of this device, or None when it is."""
    if profile in DOMESTIC_PROFILES or TAG in tags:
        return None
    return f"profile {profile} does not carry national cryptography and the device declares no {TAG!r} tag"


def shared_kernel_reason(tags: tuple[str, ...] | list[str]) -> str | None:
    """Why the kernel crypto API cannot be judged on this device (it runs on the lab host's kernel), or
    None when the kernel it shows is its own."""
    if SHARED_KERNEL_TAG not in tags:
        return None
    return (f"the device shares the lab host's kernel (inventory tag {SHARED_KERNEL_TAG!r}): /proc/crypto, "
            "its modules and AF_ALG are the host's, not the device's own kernel's")


def kernel_offers(algs: list[KernelAlg], alg: str, config: dict[str, str] | None,
                  module_files: list[str]) -> tuple[bool, str]:
    """(offered, why). Listed in /proc/crypto, or built as a module that is installed (loads on request)."""
    listed = [a for a in algs if a.name == alg]
    if listed:
        return True, f"/proc/crypto lists {alg} (driver {', '.join(a.driver for a in listed)})"
    options = KERNEL_OPTIONS[alg]
    values = {o: (config or {}).get(o) for o in options}
    modular = [o for o, v in values.items() if v == "m"]
    files = [f for f in module_files if re.search(rf"(^|/){alg}[-_a-z]*\.ko(\.[a-z]+)?$", f)]
    if modular and files:
        return True, f"{modular[0]}=m and the module is installed ({files[0]})"
    if config is None:
        return False, f"/proc/crypto does not list {alg} and the kernel config is unreadable"
    said = ", ".join(_option_said(o, v) for o, v in values.items())
    if modular:
        return False, f"/proc/crypto does not list {alg}; {said} but no {alg} module is installed"
    return False, f"/proc/crypto does not list {alg}; {said}"


def _option_said(option: str, value: str | None) -> str:
    """An option as the config has it: set to a value, '# ... is not set', or not in the file at all."""
    if value is None:
        return f"{option} absent"
    return f"{option} is not set" if value == kconfig.NOT_SET else f"{option}={value}"


def _module_file(name: str, module_files: list[str]) -> str | None:
    """The installed file of module `name` (its file may spell _ as -), or None."""
    spelled = re.escape(name).replace("_", "[-_]")
    return next((f for f in module_files if re.search(rf"(^|/){spelled}\.ko(\.[a-z]+)?$", f)), None)


def loaded_modules(proc_modules: str) -> set[str]:
    """Module names in /proc/modules (the first word of each line)."""
    return {line.split()[0] for line in proc_modules.splitlines() if line.strip()}


def user_api_problems(config: dict[str, str], module_files: list[str], loaded: set[str]) -> list[str]:
    """Why user space cannot reach the kernel's hashes and ciphers through AF_ALG: an option that is not
    built, or built as a module that is neither loaded nor installed (=m alone loads nothing)."""
    problems = []
    for option, module in USER_API_MODULES.items():
        value = config.get(option)
        if value == "y" or (value == "m" and (module in loaded or _module_file(module, module_files))):
            continue
        if value == "m":
            problems.append(f"{option}=m but the {module} module is neither loaded nor installed")
        else:
            problems.append(_option_said(option, value))
    return problems


def failed_selftests(algs: list[KernelAlg], prefixes: tuple[str, ...] = ("sm2", "sm3", "sm4")) -> list[str]:
    return [f"{a.name} ({a.driver}): selftest {a.selftest}" for a in algs
            if a.name.startswith(prefixes) or re.search(r"\((sm[234])\)", a.name)
            if a.selftest not in ("passed", "")]


def national_algs(algs: list[KernelAlg]) -> list[KernelAlg]:
    return [a for a in algs if re.search(r"(^|\()sm[234]\b", a.name)]


def cpu_features(cpuinfo: str) -> set[str]:
    found: set[str] = set()
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("features", "flags"):
            found |= set(value.split())
    return found


def missing_accelerated(algs: list[KernelAlg], features: set[str]) -> list[str]:
    """For each SM feature the CPU offers, its accelerated driver should be registered above generic."""
    missing = []
    for feature, driver in ACCELERATED.items():
        if feature not in features:
            continue
        fast = [a for a in algs if a.name == feature and a.driver.startswith(driver)]
        generic = max(
            (a.priority for a in algs if a.name == feature and a.driver.endswith("generic")), default=-1
        )
        if not fast:
            missing.append(f"the CPU offers {feature} but no {driver} driver is registered")
        elif max(a.priority for a in fast) <= generic:
            missing.append(f"{driver} is registered at a priority no higher than {feature}-generic")
    return missing


def offered_accelerations(features: set[str]) -> list[str]:
    return sorted(f for f in ACCELERATED if f in features)


def openssl_version(text: str) -> tuple[int, int, int] | None:
    m = re.search(r"\bOpenSSL (\d+)\.(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def listed_names(text: str) -> set[str]:
    """Every algorithm name `openssl list -*-algorithms` prints (old `a => b` and 3.x `{ oid, A, B }`)."""
    names: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            inner = line[1:line.find("}")] if "}" in line else line[1:]
            names |= {part.strip().upper() for part in inner.split(",")[1:] if part.strip()}
        elif "=>" in line:
            names |= {part.strip().upper() for part in line.split("=>")}
        elif line and not line.endswith(":"):
            names.add(line.split()[0].upper())
        for m in re.finditer(r"Name: OpenSSL (\w+) implementation", line):
            names.add(m.group(1).upper())
    return names


def missing_names(text: str, wanted: tuple[str, ...] | list[str]) -> list[str]:
    names = listed_names(text)
    return [w for w in wanted if w.upper() not in names]


def digest_of(text: str) -> str | None:
    """The hex digest of `openssl dgst` output ('SM3(stdin)= <hex>')."""
    m = re.search(r"=\s*([0-9a-fA-F]{32,})\s*$", text.strip())
    return m.group(1).lower() if m else None


def hex_of_od(text: str) -> str:
    """`od -An -tx1` output as one hex string."""
    return "".join(tok for tok in text.split() if re.fullmatch(r"[0-9a-fA-F]{2}", tok)).lower()


def octal_escapes(hex_text: str) -> str:
    """A printf format writing these bytes; octal escapes are POSIX (\\x is not)."""
    return "".join(f"\\{int(hex_text[i:i + 2], 16):03o}" for i in range(0, len(hex_text), 2))


def exported_sm_symbols(text: str) -> set[str]:
    """EVP_sm3 / EVP_sm4_* names found in a library's bytes (grep -ao output)."""
    return set(re.findall(r"\bEVP_sm[234](?:_[a-z0-9]+)?\b", text))


def verified(text: str) -> bool:
    """`openssl dgst -verify` said the signature verified ("Verified OK"; a bad one says
    "Verification failure")."""
    return any(line.strip() == "Verified OK" for line in text.splitlines())
