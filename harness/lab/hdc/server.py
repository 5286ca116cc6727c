"""Launches the REAL hdc server (`hdc -m -s 127.0.0.1:PORT`) on a private port with a private HOME
(its key lives in $HOME/.harmony) and TMPDIR (its log and pid), as a child we own. Every client
command it runs names the server (`-s`): a bare `hdc` would start a second server on 8710."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
from pathlib import Path

from harness.waiting import free_port, wait_for_port

DEFAULT_PORT = 8710  # never used here: the lab and tests always pick their own


class HdcServer:
    def __init__(self, hdc: Path, port: int | None = None, home: Path | None = None, *,
                 own_group: bool = True) -> None:
        self.hdc = Path(hdc)
        # False: stay in the caller's process group (the lab's supervisor), so killing it kills both.
        self.own_group = own_group
        self.port = port or free_port()
        if self.port == DEFAULT_PORT:
            raise ValueError("the lab never runs an hdc server on the default port 8710")
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if home is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="hdc-home-")
            home = Path(self._tmp.name)
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "hdc-server.log"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OHOS_HDC")}
        (self.home / "tmp").mkdir(parents=True, exist_ok=True)
        env.update(HOME=str(self.home), TMPDIR=str(self.home / "tmp"))
        return env

    def start(self, timeout: float = 20.0) -> HdcServer:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:  # a server left behind, or anyone's
                raise OSError(f"port {self.port} is already taken")
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.hdc), "-m", "-s", self.address], env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=self.own_group, cwd=self.home,
            )
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
            if self.proc.poll() is not None:
                raise OSError(f"hdc server exited at start (exit {self.proc.returncode}; "
                              f"log {self.log_path})")
        except (TimeoutError, OSError):
            self.stop()
            raise
        return self

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[bytes]:
        """The real hdc client against this server: `hdc -s 127.0.0.1:PORT ARGS...`."""
        return subprocess.run([str(self.hdc), "-s", self.address, *args], env=self.env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, cwd=self.home)

    def tconn(self, address: str, timeout: float = 15.0) -> None:
        out = self.cli("tconn", address, timeout=timeout)
        text = (out.stdout + out.stderr).decode(errors="replace").strip()
        if "Connect OK" not in text and "Target is connected" not in text:
            raise RuntimeError(f"hdc tconn {address} failed: {text}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> HdcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
