"""One worker process per device: pytest with the harness plugin, journaling into the run dir and
copying each journal line to a pipe the runner reads for live progress."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import select
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results.journal_records import JournalLine, decode_text
from ..secrets import redact

PR_SET_PDEATHSIG = 1
# A journal line longer than this is not progress we can use (evidence is bounded well below it).
MAX_LINE = 8 * 1024 * 1024
READ_SIZE = 64 * 1024
# The most one read() takes from a worker's pipe at once (it drains the pipe up to this), so that one
# worker streaming long lines cannot keep the runner from the others.
DRAIN_LIMIT = 4 * 1024 * 1024
PLUGIN = "harness.plugin"
# pytest settings every worker gets. importlib mode lets two suites hold test files with the same name.
# pytest-timeout, if installed, stays out: the per-test timeout is the harness's own (--test-timeout), and
# an ini file near the suites (this project's own pyproject.toml) must not impose another.
BASE_FLAGS = ("-p", "no:cacheprovider", "-p", "no:timeout", "-q", "--import-mode=importlib")


# Workers load the harness plugin and the plugins a lab names here (comma-separated module names),
# never every pytest plugin installed beside the harness: a developer tool's plugin must not change
# how a certification run behaves, and autoloading them all cost each worker seconds of start-up.
PLUGINS_ENV = "HARNESS_PYTEST_PLUGINS"
NO_AUTOLOAD = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


def pytest_flags() -> list[str]:
    extra = [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]
    return [*(arg for name in (PLUGIN, *extra) for arg in ("-p", name)), *BASE_FLAGS]


def pytest_env() -> dict[str, str]:
    """The environment of a pytest the harness starts: installed plugins are not autoloaded."""
    return {**os.environ, NO_AUTOLOAD: "1"}


@dataclass
class WorkerArgs:
    device: str
    inventory: Path
    run_dir: Path
    suites_root: Path
    suite_paths: list[Path]
    keyword: str | None = None
    attempt: int = 1
    repeat: int = 1
    only_file: Path | None = None
    shard: str | None = None
    test_timeout: float | None = None
    via: str | None = None


def worker_argv(a: WorkerArgs) -> list[str]:
    argv = [sys.executable, "-m", "pytest", *pytest_flags(), f"--rootdir={a.suites_root}",
            *(str(p) for p in a.suite_paths),
            "--device", a.device, "--inventory", str(a.inventory), "--harness-run-dir", str(a.run_dir),
            "--harness-attempt", str(a.attempt)]
    if a.repeat > 1:
        argv += ["--harness-repeat", str(a.repeat)]
    if a.keyword:
        argv += ["-k", a.keyword]
    if a.only_file:
        argv += ["--harness-only", str(a.only_file)]
    if a.shard:
        argv += ["--harness-shard", a.shard]
    if a.test_timeout:
        argv += ["--harness-test-timeout", f"{a.test_timeout:g}"]
    if a.via:
        argv += ["--via", a.via]
    return argv


def _die_with_parent(parent: int) -> None:
    # Runs in the child between fork and exec: a worker must not outlive a killed harness.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class ForkedWorker:
    """A worker forked from the runner, pytest already imported: the `Popen` subset the runner uses.

    Forking instead of exec'ing `python -m pytest` saves each worker the ~0.3 s of CPU that importing
    Python, pytest, paramiko and the plugin costs; with 20 devices on 2 cores that was a third of the
    run. The runner forks before its progress display starts any thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is not None:
            return self.returncode  # type: ignore[return-value]
        if timeout is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode
        # A pidfd becomes readable when the process exits: wait on it against the deadline.
        fd = os.pidfd_open(self.pid)
        try:
            ready, _, _ = select.select([fd], [], [], timeout)
        finally:
            os.close(fd)
        if not ready or self.poll() is None:
            raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
        return self.returncode  # type: ignore[return-value]


class _Redacting:
    """A text stream that masks secrets in what is written through it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _prepare_fork() -> None:
    """Import in the runner what every worker needs, once, so forked workers share it."""
    import pytest  # noqa: F401

    from .. import plugin  # noqa: F401
    from ..links import LINKS
    from ..links.registry import load_opener

    for link in LINKS:
        load_opener(link.transport)  # each transport's module, with its wire libraries

    # What the runner holds now is shared copy-on-write with every worker; kept out of the collector,
    # it is not written to (and so not copied) by each worker's garbage collections.
    gc.freeze()


def _worker_main(args: WorkerArgs, log_fd: int, write_fd: int, read_fd: int, parent: int) -> None:
    """The forked child: become the worker process and run pytest; never returns."""
    code = 1
    try:
        os.close(read_fd)
        os.setsid()  # own session: a terminal's Ctrl-C reaches the runner only (see Worker)
        _die_with_parent(parent)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(null)
        os.close(log_fd)
        # worker.log goes into the signed bundle: pytest's own output (tracebacks, assertion text
        # quoting device output) is masked like every other record.
        sys.stdout = _Redacting(open(1, "w", buffering=1, closefd=False))  # noqa: SIM115
        sys.stderr = _Redacting(open(2, "w", buffering=1, closefd=False))  # noqa: SIM115
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # the runner's hangup handler is not the worker's
        os.environ["HARNESS_PROGRESS_FD"] = str(write_fd)
        os.environ[NO_AUTOLOAD] = "1"
        os.chdir(args.suites_root)
        import pytest

        pytest_args = worker_argv(args)[3:]  # without "python -m pytest"
        sys.argv = ["pytest", *pytest_args]
        code = int(pytest.main(pytest_args))
    except BaseException:  # a worker must end with an exit code, whatever happened
        with contextlib.suppress(Exception):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def read_available(fd: int, limit: int) -> tuple[bytes, bool]:
    """What a non-blocking pipe holds now, up to `limit` bytes, and whether its writer has closed it."""
    chunks: list[bytes] = []
    taken = 0
    while taken < limit:
        try:
            chunk = os.read(fd, min(READ_SIZE, limit - taken))
        except BlockingIOError:
            return b"".join(chunks), False
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        taken += len(chunk)
    return b"".join(chunks), False


class Worker:
    """A running worker. `read()` returns the journal lines that arrived, or None once the pipe closed."""

    def __init__(self, args: WorkerArgs, log_path: Path) -> None:
        self.args = args
        self.device = args.device
        log_path.parent.mkdir(parents=True, exist_ok=True)
        _prepare_fork()
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        try:
            log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    _worker_main(args, log_fd, write_fd, read_fd, parent)
            finally:
                os.close(log_fd)
            self.proc = ForkedWorker(pid)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)  # read() drains what is there and returns
        self.fd: int | None = read_fd
        self.last_read = 0  # bytes the last read() took: a full pipe means the worker is streaming
        self._eof = False
        self._buf = bytearray()
        self._skipping = False  # inside an over-long line

    def fileno(self) -> int:
        assert self.fd is not None
        return self.fd

    def read(self) -> list[JournalLine] | None:
        """The journal records the worker sent since the last read (None: the pipe closed). A line
        that is not one (over-long, or a record this version does not know) is left out: the
        journal file is the record, the pipe only shows progress."""
        assert self.fd is not None
        if self._eof:
            self.close_pipe()
            return None
        chunk, self._eof = read_available(self.fd, DRAIN_LIMIT)
        self.last_read = len(chunk)
        if not chunk and self._eof:
            self.close_pipe()
            return None
        lines: list[JournalLine] = []
        self._buf += chunk
        while (nl := self._buf.find(b"\n")) >= 0:
            line, self._buf = bytes(self._buf[:nl]), self._buf[nl + 1 :]
            if self._skipping:
                self._skipping = False
                continue
            with contextlib.suppress(ValueError):
                lines.append(decode_text(line.decode("utf-8", errors="replace")))
        if len(self._buf) > MAX_LINE:
            self._buf.clear()
            self._skipping = True
        return lines

    def close_pipe(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        # The whole session: a worker's own helpers go with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.signal(signal.SIGKILL)
