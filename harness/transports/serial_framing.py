"""Pure serial-console logic: escape stripping, line endings, command framing and its parser. No I/O.

A console is one byte stream shared by echo, prompts, kernel chatter and command output. To find one
command's output and exit code in it, each command is framed between two markers made of a fresh token:

    printf '%s%s\\n' __HS <token>; ( eval '<cmd>' ); printf '\\n%s%s %d\\n' __HE <token> $?

The shell prints `__HS<token>` and `__HE<token> <exit>`, but the echo of the line only ever shows
`__HS <token>` (split by a space), so echo can never be mistaken for a marker. The newline printed
before the end marker puts it at the start of a line even when the output has no trailing newline;
the parser removes that one newline again.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

START_TAG = "__HS"
END_TAG = "__HE"

# CSI (ESC [ params intermediates final), incl. ESC[6n and bracketed paste ESC[?2004h / ESC[?2004l;
# OSC (ESC ] ... BEL or ESC \); and the two-byte escapes (charset selection, keypad modes, ...).
_ESCAPE = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    rb"|\x1b[()*+][0-~]"
    rb"|\x1b[@-Z\\-_=>78]"
)
_NEWLINE = re.compile(rb"\r*\n")
# Other C0 controls that terminals act on but that carry no text (BEL, backspace, NUL, ...).
_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")


def strip_escapes(data: bytes) -> bytes:
    """Remove ANSI/VT escape sequences and non-text control bytes (keeps \\n, \\r, \\t)."""
    return _CONTROLS.sub(b"", _ESCAPE.sub(b"", data))


def normalize_newlines(data: bytes) -> bytes:
    """`\\r*\\n` -> `\\n`: the tty's output translation (ONLCR) and stray carriage returns undone."""
    return _NEWLINE.sub(b"\n", data)


def shell_quote(text: str) -> str:
    """Quote for a POSIX shell: one single-quoted word."""
    return "'" + text.replace("'", "'\\''") + "'"


@dataclass(frozen=True)
class Frame:
    """The markers of one command. `token` must be fresh for each command."""

    token: str

    @property
    def start(self) -> bytes:
        return f"{START_TAG}{self.token}".encode()

    @property
    def end(self) -> bytes:
        return f"{END_TAG}{self.token} ".encode()

    def command(self, cmd: str, subshell: bool = True) -> str:
        """The one line to type. `eval` keeps the user's command whole: `#`, `;`, `&`, quotes all work.
        With `subshell` (the default) a command that could change the shell it runs in (`exit`, `cd`,
        an assignment, ...) runs in a subshell, so each command sees a fresh shell as over ssh and adb
        and cannot end the console's login shell; other commands skip the fork. The driver's own
        setup (prompt, stty) runs in the login shell itself (subshell=False)."""
        fresh = subshell and changes_shell_state(cmd)
        body = f"( eval {shell_quote(cmd)} )" if fresh else f"eval {shell_quote(cmd)}"
        return (
            f"printf '%s%s\\n' {START_TAG} {self.token}; {body}; "
            f"printf '\\n%s%s %d\\n' {END_TAG} {self.token} $?"
        )


# Words and forms by which a command changes the shell that runs it (or ends it). Matching one costs a
# fork; missing one would let a command leak state into (or exit) the console's login shell.
_STATE_WORDS = (
    "exit|exec|logout|return|cd|pushd|popd|set|shopt|trap|ulimit|umask|export|unset|readonly|alias|"
    "unalias|source|read|readarray|mapfile|getopts|let|declare|typeset|local|shift|hash|bind|enable|"
    "builtin|wait|fg|bg|disown|jobs|eval|command|ulimit|history|suspend|times"
)
_CHANGES_STATE = re.compile(
    rf"(?<![\w.-])(?:{_STATE_WORDS})(?![\w.-])"  # a state-changing builtin as a word
    r"|(?:^|[\s;&|(`])\.\s"  # `. file`
    r"|(?:^|[\s;&|(`{])[A-Za-z_][A-Za-z0-9_]*(?:\[[^]]*\])?\+?="  # an assignment
    r"|[A-Za-z_][\w-]*\s*\(\s*\)"  # a function definition
    r"|(?<![&>|])&(?![&>])"  # a background job
)


def changes_shell_state(cmd: str) -> bool:
    """Whether `cmd` may change (or end) the shell it runs in; such commands run in a subshell."""
    return _CHANGES_STATE.search(cmd) is not None


class ParseError(ValueError):
    """The end marker arrived but its exit code is not a number: the stream is not what we framed."""


class FrameParser:
    """Takes the console byte stream in chunks; yields the framed command's output and exit code.

    feed() returns output bytes that are certainly output (a tail that might be the start of the end
    marker is held back until more bytes decide). Memory stays bounded: bytes before the start marker
    are dropped as they come, and output is handed on rather than kept.
    """

    def __init__(self, frame: Frame, *, translate_crlf: bool = True) -> None:
        self.frame = frame
        self.translate_crlf = translate_crlf
        self.started = False
        self.done = False
        self.exit_code: int | None = None
        self.rest = b""  # bytes after the end marker line (the prompt, normally)
        self._buf = bytearray()
        self._start = frame.start
        self._end = frame.end

    def feed(self, data: bytes) -> bytes:
        if self.done:
            self.rest += data
            return b""
        self._buf += data
        if not self.started and not self._find_start():
            return b""
        return self._take_output()

    def flush(self) -> bytes:
        """The output held back so far, for a command that will not finish (timeout, lost link)."""
        if not self.started or self.done:
            return b""
        held = bytes(self._buf)
        self._buf.clear()
        return normalize_newlines(held) if self.translate_crlf else held

    def _find_start(self) -> bool:
        buf = self._buf
        i = buf.find(self._start)
        if i < 0:
            # Keep only what could be the first part of the start marker.
            keep = len(self._start) - 1
            if len(buf) > keep:
                del buf[: len(buf) - keep]
            return False
        line_end = buf.find(b"\n", i + len(self._start))
        if line_end < 0:
            del buf[:i]
            return False
        del buf[: line_end + 1]
        self.started = True
        return True

    def _take_output(self) -> bytes:
        buf = self._buf
        k = buf.find(self._end)
        if k < 0:
            # Hold back only a last line that could still become the end marker (it starts a line).
            cut = len(buf)
            nl = buf.rfind(b"\n", max(0, len(buf) - len(self._end) - 1))
            if nl >= 0 and self._end.startswith(bytes(buf[nl + 1 :])):
                cut = nl
            if self.translate_crlf:
                # A trailing \r may be half of a \r\n still on its way.
                while cut > 0 and buf[cut - 1] == 0x0D:
                    cut -= 1
            if cut <= 0:
                return b""
            out = bytes(buf[:cut])
            del buf[:cut]
            return normalize_newlines(out) if self.translate_crlf else out
        line_end = buf.find(b"\n", k + len(self._end))
        if line_end < 0:
            # The end marker is here but not yet its exit code: hand on what precedes it, minus the
            # newline we added, and wait.
            body = self._finish_body(bytes(buf[:k]))
            del buf[:k]
            return body
        code = bytes(buf[k + len(self._end) : line_end]).strip(b"\r ")
        if not code.isdigit():
            raise ParseError(f"end marker without an exit code: {code[:40]!r}")
        body = self._finish_body(bytes(buf[:k]))
        self.exit_code = int(code)
        self.rest = bytes(buf[line_end + 1 :])
        self.done = True
        buf.clear()
        return body

    def _finish_body(self, body: bytes) -> bytes:
        if self.translate_crlf:
            body = normalize_newlines(body)
        # The one newline the end printf put before the marker is ours, not the command's.
        return body[:-1] if body.endswith(b"\n") else body


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
