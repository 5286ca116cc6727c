"""Reading a device's identity through its OS profile, in one round trip."""

from __future__ import annotations

import secrets as _random
from dataclasses import asdict, dataclass, field

from .profiles import IDENTITY_FIELDS, Profile
from .transports.base import Transport

# Each value is cut to this many bytes: identity strings are short, device output is untrusted.
VALUE_LIMIT = 512


@dataclass(frozen=True)
class Identity:
    os_name: str = ""
    os_version: str = ""
    kernel: str = ""
    arch: str = ""
    model: str = ""
    serial: str = ""
    fingerprint: str = ""
    security_patch: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        parts = [f"{self.os_name} {self.os_version}".strip(), self.kernel, self.arch, self.model]
        return ", ".join(p for p in parts if p)


def identity_script(profile: Profile, tag: str) -> str:
    """One shell script printing every identity field between tagged separators."""
    lines = []
    for name, command in profile.identity.items():
        lines.append(f"printf '\\n{tag}%s\\n' {name}; ( {command} ) 2>/dev/null | head -c {VALUE_LIMIT}")
    lines.append(f"printf '\\n{tag}END\\n'")
    return "\n".join(lines)


def parse_identity(output: str, tag: str) -> dict[str, str]:
    values: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    for line in output.splitlines():
        if line.startswith(tag):
            if current is not None:
                values[current] = "\n".join(buf).strip()
            current, buf = line[len(tag) :], []
        elif current is not None:
            buf.append(line)
    values.pop("END", None)
    # Only the first line counts; printable characters only.
    return {k: "".join(c for c in v.split("\n", 1)[0] if c.isprintable()).strip() for k, v in values.items()}


def probe_identity(transport: Transport, profile: Profile, timeout: float = 30.0) -> Identity:
    tag = f"@@ID{_random.token_hex(4)}@@"
    result = transport.run(identity_script(profile, tag), timeout=timeout)
    values = parse_identity(result.stdout_text, tag)
    known = {k: values.get(k, "") for k in IDENTITY_FIELDS}
    extra = {k: v for k, v in values.items() if k not in IDENTITY_FIELDS}
    return Identity(**known, extra=extra)
