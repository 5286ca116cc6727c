"""Launches the REAL adb server (the binary in the adbutils wheel) on a private port with a private
HOME and USB off, for tests and the lab. It runs as `adb -P PORT nodaemon server`, a child we own."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

from harness.waiting import free_port, wait_for_port


def adb_binary() -> Path:
    import adbutils

    path = Path(adbutils.__file__).parent / "binaries" / "adb"
    if not path.exists():
        raise FileNotFoundError(f"the adb binary is missing from the adbutils wheel: {path}")
    return path


class AdbServer:
    def __init__(self, port: int | None = None, home: Path | None = None) -> None:
        self.port = port or free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if home is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="adb-home-")
            home = Path(self._tmp.name)
        self.home = home
        self.binary = adb_binary()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.home),
            ADB_USB="0",  # never touch the machine's USB devices
            ADB_MDNS="0",
            ADB_MDNS_OPENSCREEN="0",
            ANDROID_ADB_SERVER_PORT=str(self.port),
            ANDROID_USER_HOME=str(self.home / ".android"),
        )
        env.pop("ADB_VENDOR_KEYS", None)
        env.pop("ANDROID_SERIAL", None)
        return env

    def start(self, timeout: float = 20.0) -> AdbServer:
        log = open(self.home / "adb-server.log", "wb")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [str(self.binary), "-P", str(self.port), "nodaemon", "server"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            wait_for_port("127.0.0.1", self.port, timeout)
        except TimeoutError:
            self.stop()
            raise
        return self

    def cli(
        self, *args: str, timeout: float = 30.0, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the real adb client against this server: `adb -P PORT ARGS...`."""
        return subprocess.run(
            [str(self.binary), "-P", str(self.port), *args],
            env=self.env,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )

    def connect(self, address: str, timeout: float = 15.0) -> None:
        """`adb connect ADDRESS`, then wait until the device is online (`wait-for-device`)."""
        out = self.cli("connect", address, timeout=timeout)
        text = out.stdout.decode(errors="replace")
        if "connected to" not in text:
            raise RuntimeError(f"adb connect {address} failed: {text.strip()} {out.stderr.decode().strip()}")
        self.cli("-s", address, "wait-for-device", timeout=timeout).check_returncode()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                self.cli("kill-server", timeout=5)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> AdbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
