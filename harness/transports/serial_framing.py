"""Pure serial-console logic: escape stripping, shell quoting and reading the console's prompts. No I/O.

How a command runs on the console and how its output comes back is serial_protocol's job; this module
tells the driver what the console is asking for (a login, a password, a shell) from its last line.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# CSI (ESC [ params intermediates final), incl. ESC[6n and bracketed paste ESC[?2004h / ESC[?2004l;
# OSC (ESC ] ... BEL or ESC \); and the two-byte escapes (charset selection, keypad modes, ...).
_ESCAPE = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    rb"|\x1b[()*+][0-~]"
    rb"|\x1b[@-Z\\-_=>78]"
)
# Other C0 controls that terminals act on but that carry no text (BEL, backspace, NUL, ...).
_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")


def strip_escapes(data: bytes) -> bytes:
    """Remove ANSI/VT escape sequences and non-text control bytes (keeps \\n, \\r, \\t)."""
    return _CONTROLS.sub(b"", _ESCAPE.sub(b"", data))


def shell_quote(text: str) -> str:
    """Quote for a POSIX shell: one single-quoted word."""
    return "'" + text.replace("'", "'\\''") + "'"


class ConsoleState(enum.Enum):
    LOGIN = "login"
    PASSWORD = "password"
    SHELL = "shell"
    INCORRECT = "incorrect"


@dataclass(frozen=True)
class PromptPatterns:
    """Regexes for the prompts a console shows, matched against its last line (escapes removed)."""

    login: str = r"login: ?$"
    password: str = r"[Pp]assword: ?$"
    # The trailing space is required: a boot log line cut right after "#" (e.g. "... #1 SMP") must
    # not pass for a shell prompt.
    shell: str = r"[#$] $"
    incorrect: str = r"Login incorrect|Access denied|Authentication failure"


def last_line(screen: bytes) -> str:
    """The line the cursor is on: what a prompt looks like once escapes and \\r are gone."""
    text = strip_escapes(screen).decode("utf-8", errors="replace")
    return text.rsplit("\n", 1)[-1].replace("\r", "")


def classify(screen: bytes, patterns: PromptPatterns) -> ConsoleState | None:
    """What the console is asking for now, judged by its last line; None while undecided.

    A login or password prompt cut in two by a line someone else wrote on the console (syslog,
    kernel) counts too: its tail is the last line and its head starts one of the lines before."""
    state = _classify_line(screen, patterns)
    if state is None:
        joined = _rejoined_prompt(screen, (patterns.password, patterns.login))
        if joined is not None:
            state = _classify_line(joined.encode(), patterns)
    return state


def _rejoined_prompt(screen: bytes, regexes: tuple[str, ...], lines_back: int = 4) -> str | None:
    text = strip_escapes(screen).decode("utf-8", errors="replace").replace("\r", "")
    lines = text.split("\n")
    tail = lines[-1]
    if not tail:
        return None
    for line in reversed(lines[-1 - lines_back : -1]):  # the line cut last is the likeliest
        for cut in range(1, min(len(line), 80) + 1):
            candidate = line[:cut] + tail
            if any(re.search(regex, candidate) for regex in regexes):
                return text + "\n" + candidate
    return None


def _classify_line(screen: bytes, patterns: PromptPatterns) -> ConsoleState | None:
    line = last_line(screen)
    if re.search(patterns.password, line):
        return ConsoleState.PASSWORD
    if re.search(patterns.login, line):
        if re.search(patterns.incorrect, strip_escapes(screen).decode("utf-8", errors="replace")):
            return ConsoleState.INCORRECT
        return ConsoleState.LOGIN
    if re.search(patterns.shell, line):
        return ConsoleState.SHELL
    return None
