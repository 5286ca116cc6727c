"""How commands run on a serial console: the shell functions the driver defines on the board, the lines
it types, and the pure parsing and checking of what comes back. No I/O.

A console is shared: syslogd (`-O /dev/console`), init, getty, dropbear's log and the kernel write to
it whenever they like, in the middle of a line or of a marker. So a command's output never travels
over the console as it is made. The command runs as a background job of the login shell (its own
process group, stdin /dev/null), its stdout and stderr go to two files in a private folder on the
board, and once it ends the shell prints a *report*:

    __HR<tok> <rc> <crc> <len> <crc> <len>        (twice; the POSIX cksum and size of each file)
    __HB<tok>                                     (only when there is output to send)
    <stdout bytes><stderr bytes>
    __HZ<tok>                                     (twice)
    @HP<tok>#                                     (the prompt: PS1 holds the token too)

Foreign text can only add bytes. The body is accepted only when its length and both checksums match
the status line, so nothing foreign is ever taken for output; a damaged body is fetched again from the
files in checked chunks, a lost status line is asked for again, and every marker has a stand-in (a
second copy, the prompt), so an insertion anywhere costs time, never correctness.

Markers are printed as two words (`printf '%s%s' __HR "$1"`), so the echo of a typed line can never
hold one. Per-shell execution (see `strategy_for`): busybox ash runs applets ~8-11x slower in any
fork of its interactive shell than in a fresh `sh -c` (stdio of the interactive shell is inherited),
so ash gets a `sh -c` child; bash and dash fork a subshell and `eval`, which is cheaper there.
"""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass

from .serial_framing import shell_quote

STATUS_TAG = "__HR"
BODY_TAG = "__HB"
END_TAG = "__HZ"
PROMPT_TAG = "@HP"
# cksum of nothing: what the status line says for an empty stream.
EMPTY_CRC = 4294967295


class Strategy(enum.Enum):
    FORK = "fork"  # `eval` in a forked subshell of the login shell
    CHILD = "child"  # a fresh `sh -c`


def strategy_for(shell_exe: str, bash_version: str = "") -> Strategy:
    """The execution strategy for the board's login shell, from `readlink /proc/$$/exe`.

    Measured (bench/bench_serial_shell.py, QEMU tier, busybox 1.35 ash, medians of 3):
    `seq 1 50000 >/dev/null` takes 7.1 s by eval in the login shell, 8.0 s by eval in a forked
    subshell and 0.8 s in `sh -c` (the interactive shell's stdio is inherited by every fork); a short
    shell loop 0.23 / 0.18 / 0.28 s (the exec costs more than it saves there, but the applet penalty
    is the one that hurts: 9-10x). bash and dash have no such penalty and a fork is cheaper than
    fork+exec, so they fork. Anything unknown (toybox, mksh, ...) gets the child: a fresh
    non-interactive shell is the safe default."""
    name = shell_exe.rsplit("/", 1)[-1]
    if bash_version or name in ("bash", "dash"):
        return Strategy.FORK
    return Strategy.CHILD


def posix_cksum(data: bytes) -> int:
    """The CRC that POSIX `cksum` prints (CRC-32/CKSUM over the data and its length), at zlib speed:
    the bit-reflected CRC-32 of zlib computed over bit-reversed bytes, then reversed back."""
    length = len(data)
    tail = bytearray()
    while length:
        tail.append(length & 0xFF)
        length >>= 8
    crc = zlib.crc32(bytes(tail).translate(_REVERSED), zlib.crc32(data.translate(_REVERSED), 0xFFFFFFFF))
    return _reverse32(crc)


def _reverse32(value: int) -> int:
    return int(f"{value:032b}"[::-1], 2)


_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


# -- what the driver types ---------------------------------------------------------------------------
# Each setup line stays well under busybox's 1024-byte line-editing limit.
def setup_lines(token: str) -> list[tuple[str, str]]:
    """The console's setup, typed into the login shell one line at a time (each ends by giving the
    prompt a new token, so its own prompt says it is done). Saves what it changes for `restore_line`."""
    lines = [
        # The terminal: no echo, no output translation, background jobs may write; state kept to restore.
        "__hy=$(stty -g 2>/dev/null); stty -echo -onlcr -tostop 2>/dev/null; __h1=$PS1; __h2=$PS2; "
        "PS2=''; unset PROMPT_COMMAND; bind 'set enable-bracketed-paste off' 2>/dev/null; "
        f"set -m 2>/dev/null; set +b 2>/dev/null; __ht={token}a; PS1='{PROMPT_TAG}''${{__ht}}# '",
        # Console printk silenced (its level kept), a private folder for command output, the checksum.
        "__hk=; read __hk __hv 2>/dev/null </proc/sys/kernel/printk; dmesg -n 1 2>/dev/null; __hd=; "
        'for __hv in "${TMPDIR:-/tmp}" /tmp /dev/shm /data/local/tmp /var/tmp "$HOME"; do '
        '__hd=$(mktemp -d "$__hv/.harness.XXXXXX" 2>/dev/null) && break; '
        '__hd=$__hv/.harness.$$; mkdir -m 700 "$__hd" 2>/dev/null && break; __hd=; done; '
        f"if command -v cksum >/dev/null 2>&1; then __hq=c; else __hq=w; fi; __ht={token}b",
        # The report of two files: status twice, then (when small enough) the bytes and the end twice.
        '__hx() { __ht=$1; if [ ! -s "$3" ] && [ ! -s "$4" ]; then set -- "$@" 4294967295 0 x 4294967295 0; '
        'elif [ $__hq = c ]; then set -- "$@" $(cksum "$3" "$4"); '
        'else set -- "$@" - $(wc -c <"$3") x - $(wc -c <"$4"); fi; '
        f"printf '\\n%s%s %s %s %s %s %s\\n%s%s %s %s %s %s %s\\n' {STATUS_TAG} \"$1\" \"$2\" \"$6\" \"$7\" "
        f"\"$9\" \"${{10}}\" {STATUS_TAG} \"$1\" \"$2\" \"$6\" \"$7\" \"$9\" \"${{10}}\"; "
        '__hn=$(($7 + ${10})); if [ "$__hn" -gt 0 ] && [ "$__hn" -le "$5" ]; then '
        f"printf '%s%s\\n' {BODY_TAG} \"$1\"; cat \"$3\" \"$4\"; "
        f"printf '\\n%s%s\\n%s%s\\n' {END_TAG} \"$1\" {END_TAG} \"$1\"; fi; }}; __ht={token}c",
        # A driver command in the login shell itself; a chunk of a file; whether the last job lives.
        '__hl() { __ht=$1; eval "$2" </dev/null >"$__hd/p" 2>"$__hd/q"; __hm=$?; '
        '__hx "$1" "$__hm" "$__hd/p" "$__hd/q" 1048576; }; '
        '__hc() { __ht=$1; dd if="$2" of="$__hd/c" bs="$3" skip="$4" count=1 2>/dev/null; '
        ': >"$__hd/n"; __hx "$1" 0 "$__hd/c" "$__hd/n" "$3"; }; '
        # Alive: the job's leader is (not a zombie), or another member of its group is; the cheap
        # checks first, since a slow board scans /proc slowly.
        '__hg() { [ -n "$__hp" ] || return 1; '
        '{ read -r __hv <"/proc/$__hp/stat"; } 2>/dev/null && '
        'case ${__hv##*) } in Z*|X*) ;; *) return 0;; esac; '
        'kill -0 -"$__hp" 2>/dev/null || return 1; for __hf in /proc/[0-9]*/stat; do '
        '{ read -r __hv <"$__hf"; } 2>/dev/null || continue; __hv=${__hv##*) }; set -- $__hv; '
        f'[ "$3" = "$__hp" ] || continue; [ "$1" = Z ] || [ "$1" = X ] || return 0; done; return 1; }}; '
        f'__ht={token}d',
    ]
    return [(line, token + "abcd"[i]) for i, line in enumerate(lines)]


def runner_line(token: str, strategy: Strategy) -> str:
    """Defines `__hr TOKEN CMD MAX`: the command as a background job with its output in the folder."""
    # The command must not see the function's arguments as its own $1, $2.
    run = '{ __hv=$2; set --; eval "$__hv"; }' if strategy is Strategy.FORK else 'sh -c "$2"'
    return (
        '__hr() { __ht=$1; __hw=$1; __hp=; { ' + run + ' </dev/null >"$__hd/o" 2>"$__hd/e" & } 2>/dev/null; '
        '__hp=$!; wait "$__hp" 2>/dev/null; __hc=$?; __hp=; jobs >/dev/null 2>&1; '
        '__hx "$1" "$__hc" "$__hd/o" "$__hd/e" "$3"; } 2>/dev/null; '
        f"__ht={token}"
    )


def run_line(token: str, cmd: str, inline_max: int) -> str:
    """Run `cmd`; `__hw` then names the token of the command that ran last (or runs)."""
    return f"__hr {token} {shell_quote(cmd)} {inline_max}"


def control_line(token: str, cmd: str) -> str:
    """A driver command run in the login shell itself (its variables, its jobs)."""
    return f"__hl {token} {shell_quote(cmd)}"


@dataclass(frozen=True)
class Capture:
    """Where a report's two streams are kept on the board, and the variable holding the exit code."""

    out: str
    err: str
    code_var: str


COMMAND = Capture('"$__hd/o"', '"$__hd/e"', "__hc")
CONTROL = Capture('"$__hd/p"', '"$__hd/q"', "__hm")
CONTROL_MAX = 1048576  # what __hl sends inline


def report_line(token: str, capture: Capture, inline_max: int) -> str:
    """Ask for a report again (the first one's status lines were lost); inline_max 0: status only."""
    return f'__hx {token} "${{{capture.code_var}:-0}}" {capture.out} {capture.err} {inline_max}'


def chunk_line(token: str, path: str, size: int, index: int) -> str:
    """Chunk `index` (of `size` bytes) of a capture file, as its own report."""
    return f"__hc {token} {path} {size} {index}"


def restore_line(token: str, log_out: bool) -> str:
    """Undo the setup, say so with `__HQ<token>`, then log out when the driver logged in."""
    return RESTORE + f"; printf '%s%s\\n' __HQ {token}" + ("; exit" if log_out else "")


RESTORE = (
    'stty "$__hy" 2>/dev/null; [ -n "$__hk" ] && dmesg -n "$__hk" 2>/dev/null; '
    '[ -n "$__hd" ] && rm -rf "$__hd"; PS1=$__h1; PS2=$__h2; '
    "unset -f __hr __hx __hl __hc __hg 2>/dev/null; "
    "unset __hy __h1 __h2 __hk __hv __hd __hq __ht __hw __hp __hc __hm __hn __hf 2>/dev/null"
)


# -- what comes back -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Status:
    code: int
    out_crc: int | None  # None: the board has no cksum (sizes only)
    out_len: int
    err_crc: int | None
    err_len: int

    @property
    def total(self) -> int:
        return self.out_len + self.err_len


@dataclass(frozen=True)
class Report:
    status: Status | None  # None: both status lines were damaged
    body: bytes | None  # the bytes between the body markers, when both were seen whole

    def streams(self) -> tuple[bytes, bytes] | None:
        """(stdout, stderr) when the body is exactly what the board sent, else None."""
        status, body = self.status, self.body
        if status is None:
            return None
        if status.total == 0:
            return b"", b""
        if body is None or len(body) != status.total:
            return None
        out, err = body[: status.out_len], body[status.out_len :]
        if not (_matches(out, status.out_crc) and _matches(err, status.err_crc)):
            return None
        return out, err


def _matches(data: bytes, crc: int | None) -> bool:
    return crc is None or posix_cksum(data) == crc


def undo_onlcr(data: bytes) -> bytes:
    """What the board wrote, from what a tty with ONLCR sent (it made every \\n into \\r\\n)."""
    return data.replace(b"\r\n", b"\n")


class ReportParser:
    """Finds one report in the console stream, whatever else the stream holds. Memory is bounded:
    at most `inline_max` body bytes plus `slack` for foreign text are kept."""

    def __init__(self, token: str, inline_max: int, *, translate_crlf: bool = False,
                 slack: int = 1 << 20) -> None:
        tok = token.encode()
        self._status_mark = STATUS_TAG.encode() + tok + b" "
        self._body_mark = BODY_TAG.encode() + tok + b"\n"
        self._end_mark = b"\n" + END_TAG.encode() + tok + b"\n"
        self._prompt = PROMPT_TAG.encode() + tok + b"# "
        self._inline_max = inline_max
        self._limit = inline_max + slack
        self._translate = translate_crlf
        self._held_cr = False
        self._buf = bytearray()
        self._status: Status | None = None
        self._body_at = -1  # where the body starts in _buf
        self._body: bytes | None = None
        self._overflow = False
        self._scan = 0  # search for the end marker from here
        self._prompt_scan = 0
        self.done = False

    def feed(self, data: bytes) -> bool:
        """Take more of the stream; True once the report is complete or provably over."""
        if self.done or not data:
            return self.done
        if self._translate:
            if self._held_cr:
                data = b"\r" + data
            self._held_cr = data.endswith(b"\r")
            data = undo_onlcr(data[:-1] if self._held_cr else data)
        self._buf += data
        if len(self._buf) > self._limit:
            # Flooded: the body is lost (chunks will fetch it); keep only enough to find the end.
            self._overflow, self._body_at = True, -1
            del self._buf[: -(len(self._end_mark) + len(self._prompt))]
            self._scan = self._prompt_scan = 0
        self.done = self._advance()
        return self.done

    def _advance(self) -> bool:
        buf = self._buf
        if self._status is None and self._body_at < 0:
            status = self._status = _find_status(buf, self._status_mark)
            if status is not None and (status.total == 0 or status.total > self._inline_max):
                return True
        if self._body_at < 0 and not self._overflow:
            at = buf.find(self._body_mark)
            if at >= 0:
                self._body_at = self._scan = at + len(self._body_mark)
        if self._body_at >= 0 or self._overflow:
            end = buf.find(self._end_mark, max(self._scan - len(self._end_mark), self._body_at, 0))
            if end >= 0:
                if self._body_at >= 0:
                    self._body = bytes(buf[self._body_at : end])
                return True
            self._scan = len(buf)
        found_prompt = buf.find(self._prompt, max(self._prompt_scan - len(self._prompt), 0)) >= 0
        self._prompt_scan = len(buf)
        return found_prompt

    def report(self) -> Report:
        return Report(self._status, self._body)


def _find_status(buf: bytearray, mark: bytes) -> Status | None:
    """The first whole status line in `buf` (a damaged copy is passed over for the next)."""
    at = buf.find(mark)
    while at >= 0:
        start = at + len(mark)
        end = buf.find(b"\n", start)
        if end < 0:
            return None
        status = _parse_status(bytes(buf[start:end]).rstrip(b"\r"))
        if status is not None:
            return status
        at = buf.find(mark, start)
    return None


def _parse_status(line: bytes) -> Status | None:
    fields = line.split(b" ")
    if len(fields) != 5 or not all(f.isdigit() for f in fields[::2]) or len(fields[0]) > 3:
        return None
    crcs = [None if f == b"-" else int(f) if f.isdigit() else -1 for f in fields[1::2]]
    if -1 in crcs:
        return None
    return Status(int(fields[0]), crcs[0], int(fields[2]), crcs[1], int(fields[4]))


class PromptWatch:
    """Waits for one prompt (`@HP<token># `) in the stream, keeping only a marker-sized tail."""

    def __init__(self, token: str) -> None:
        self.prompt = prompt_bytes(token)
        self._tail = b""
        self.done = False

    def feed(self, data: bytes) -> bool:
        if not self.done:
            seen = self._tail + data
            self.done = self.prompt in seen
            self._tail = seen[-len(self.prompt) :]
        return self.done


def prompt_bytes(token: str) -> bytes:
    return f"{PROMPT_TAG}{token}# ".encode()
