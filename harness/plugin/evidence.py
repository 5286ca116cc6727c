"""Evidence of what a test did on the device: a bounded excerpt in the test's record, the full output
in logs/<device>/commands.log. The command line is masked (mask_command); its output comes masked from
the Dut (mask_output, which knows the command) and passes through redact once more."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ..results.model import Evidence
from ..secrets import mask_command, redact, redact_bytes

EXCERPT_LIMIT = 8 * 1024  # bytes of each stream kept in the record; the head says what ran, the
# tail usually what went wrong


def excerpt(data: bytes, limit: int = EXCERPT_LIMIT) -> tuple[str, bool]:
    """(text, cut): the head and tail of `data` when it is longer than `limit` bytes. Secrets are
    masked before the cut: one straddling it would leave half in the head and half in the tail."""
    data = redact_bytes(data)
    if len(data) <= limit:
        return data.decode("utf-8", errors="replace"), False
    head, tail = data[: limit * 3 // 4], data[-(limit - limit * 3 // 4) :]
    omitted = len(data) - len(head) - len(tail)
    text = (
        head.decode("utf-8", errors="replace")
        + f"\n[... {omitted} bytes omitted; full output in commands.log ...]\n"
        + tail.decode("utf-8", errors="replace")
    )
    return text, True


def make_evidence(
    command: str,
    *,
    started: float,
    duration: float,
    exit_code: int | None,
    stdout: bytes = b"",
    stderr: bytes = b"",
    truncated: bool = False,
    error: str | None = None,
) -> Evidence:
    out, out_cut = excerpt(stdout)
    err, err_cut = excerpt(stderr)
    return Evidence(
        command=mask_command(command),
        exit_code=exit_code,
        stdout=out,
        stderr=err,
        duration=round(duration, 6),
        started=started,
        truncated=truncated or out_cut or err_cut,
        error=redact(error) if error else None,
    )


class CommandLog:
    """logs/<device>/commands.log: every command in full, under a header naming the test. Opened at the
    first command and kept open (an open and a close per command cost more than the write), each entry
    flushed as it is written, so a killed worker's log holds every command it finished."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, test_id: str, evidence: Evidence, stdout: bytes, stderr: bytes) -> None:
        if self.path is None:
            return
        when = datetime.fromtimestamp(evidence.started, UTC).isoformat(timespec="milliseconds")
        status = f"exit {evidence.exit_code}" if evidence.exit_code is not None else "did not finish"
        lines = [
            f"===== {test_id or '(outside a test)'} | {when} | {status} | {evidence.duration:.3f}s",
            f"$ {evidence.command}",
        ]
        if evidence.error:
            lines.append(f"! {evidence.error}")
        body = "\n".join(lines) + "\n"
        for name, data in (("stdout", stdout), ("stderr", stderr)):
            if data:
                text = redact(data.decode("utf-8", errors="replace"))
                body += f"--- {name} ({len(data)} bytes)\n{text}"
                if not text.endswith("\n"):
                    body += "\n"
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._file.write(body)
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
