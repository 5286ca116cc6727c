"""A batch of sysfs/procfs/devfs entries read in one command, as text a pure check can judge.

`dump_script(patterns)` lists every path the device's shell globs each pattern to, one per line:
`path<TAB>=value` for a readable file (newlines shown as \\037, at most VALUE_LIMIT bytes),
`path<TAB>@target` for a symlink, `path<TAB>/` for a folder, `path<TAB>c` for a device node (never
read: a gpiochip or tty read would block), `path<TAB>!` for a file that exists but
cannot be read (a down link's `speed` says EINVAL). A pattern matching nothing prints nothing.
`parse_dump` turns that text back into a Tree. One command per area keeps a slow board's cost small."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

VALUE_LIMIT = 4096
MAX_ENTRIES = 4000
_NL = "\037"


def dump_script(patterns: list[str] | tuple[str, ...]) -> str:
    """A POSIX sh (busybox ash too) script printing the entries `patterns` glob to. Only '*' and
    '?' of each pattern are left to the shell; everything else is quoted."""
    globs = " ".join(_glob_word(p) for p in patterns)
    return (
        f"for f in {globs}; do "
        'if [ -L "$f" ]; then printf \'%s\\t@%s\\n\' "$f" "$(readlink "$f")"; '
        'elif [ -d "$f" ]; then printf \'%s\\t/\\n\' "$f"; '
        'elif [ -c "$f" ] || [ -b "$f" ]; then printf \'%s\\tc\\n\' "$f"; '
        f'elif [ -f "$f" ]; then if v=$(head -c {VALUE_LIMIT} "$f" 2>/dev/null); then '
        "printf '%s\\t=%s\\n' \"$f\" \"$(printf %s \"$v\" | tr '\\n' '\\037')\"; "
        "else printf '%s\\t!\\n' \"$f\"; fi; fi; "
        f"done | head -n {MAX_ENTRIES}"
    )


def _glob_word(pattern: str) -> str:
    parts = []
    for piece in pattern.replace("?", "\0?\0").replace("*", "\0*\0").split("\0"):
        parts.append(piece if piece in ("*", "?") else (shlex.quote(piece) if piece else ""))
    return "".join(parts)


@dataclass(frozen=True)
class Tree:
    """What a dump showed, by absolute path."""

    entries: dict[str, str] = field(default_factory=dict)  # path -> "=value" | "@target" | "/" | "c" | "!"

    def value(self, path: str) -> str | None:
        """A readable file's text, stripped; None when absent or unreadable."""
        entry = self.entries.get(path)
        return entry[1:].replace(_NL, "\n").strip() if entry and entry.startswith("=") else None

    def int_value(self, path: str) -> int | None:
        text = self.value(path)
        try:
            return int(text, 0) if text is not None else None
        except ValueError:
            return None

    def exists(self, path: str) -> bool:
        return path in self.entries

    def link(self, path: str) -> str | None:
        entry = self.entries.get(path)
        return entry[1:] if entry and entry.startswith("@") else None

    def is_device_node(self, path: str) -> bool:
        return self.entries.get(path) == "c"

    def children(self, folder: str) -> list[str]:
        """Names directly under `folder` that the dump listed, sorted."""
        prefix = folder.rstrip("/") + "/"
        return sorted({p[len(prefix):].split("/", 1)[0] for p in self.entries if p.startswith(prefix)})


def parse_dump(text: str) -> Tree:
    entries: dict[str, str] = {}
    for line in text.splitlines():
        path, sep, rest = line.partition("\t")
        if sep and path.startswith("/") and rest[:1] in ("=", "@", "/", "!", "c"):
            entries[path] = rest
    return Tree(entries)
