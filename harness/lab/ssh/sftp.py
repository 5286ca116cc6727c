"""The simulated device's SFTP subsystem: the client sees the device's file system from `/`; each
device path is normalised (so `..` cannot climb out) and then mapped onto the host by the device's
`map_path`, usually into a per-device scratch folder holding its writable places (/data, /tmp, ...).

Fault: with `truncate_transfers`, reads stop at half the file and a written file is cut to half its
size when the client closes it, so put/get land a shorter file than was sent."""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko
from paramiko.sftp import SFTP_EOF, SFTP_OK

from harness.lab.faults import Faults

if TYPE_CHECKING:
    from typing_extensions import Buffer

# Device path (absolute, normalised) -> host path.
PathMap = Callable[[str], Path]


def map_within(root: Path) -> PathMap:
    """The default map: the device's `/` is `root` on the host."""

    def map_path(device_path: str) -> Path:
        return root / device_path.lstrip("/")

    return map_path


def normalise(path: str) -> str:
    """An absolute device path with no `.`/`..` left in it. The SFTP session's cwd is `/`."""
    # normpath keeps a leading "//"; collapse it like every other run of slashes.
    return "/" + posixpath.normpath("/" + path).lstrip("/")


def _sftp_errno(exc: OSError) -> int:
    return paramiko.SFTPServer.convert_errno(exc.errno or 0)


def _mode_for(flags: int) -> str:
    append = bool(flags & os.O_APPEND)
    if flags & os.O_WRONLY:
        return "ab" if append else "wb"
    if flags & os.O_RDWR:
        return "a+b" if append else "r+b"
    return "rb"


class DeviceFileHandle(paramiko.SFTPHandle):
    def __init__(self, flags: int, fd: int, host_path: Path, truncate: bool) -> None:
        super().__init__(flags)
        self.host_path = host_path
        self.file = os.fdopen(fd, _mode_for(flags))
        self.readfile = self.file
        self.writefile = self.file
        self.truncate = truncate
        self.wrote = False
        # Under the fault, reads end at half of the size the file had when opened.
        self.read_limit = os.fstat(fd).st_size // 2 if truncate else None

    def read(self, offset: int, length: int) -> bytes | int:
        if self.read_limit is not None:
            if offset >= self.read_limit:
                return SFTP_EOF
            length = min(length, self.read_limit - offset)
        return super().read(offset, length)

    def write(self, offset: int, data: Buffer) -> int:
        self.wrote = True
        return super().write(offset, data)

    def stat(self) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.file.fileno()))
        except OSError as exc:
            return _sftp_errno(exc)

    def chattr(self, attr: paramiko.SFTPAttributes) -> int:
        try:
            paramiko.SFTPServer.set_file_attr(str(self.host_path), attr)
        except OSError as exc:
            return _sftp_errno(exc)
        return SFTP_OK

    def close(self) -> None:
        if self.truncate and self.wrote and not self.file.closed:
            self.file.flush()
            os.ftruncate(self.file.fileno(), os.fstat(self.file.fileno()).st_size // 2)
        self.file.close()


class DeviceSftpServer(paramiko.SFTPServerInterface):
    """Built by paramiko's SFTPServer for each `sftp` subsystem request. `server` is the device's
    ServerInterface, which carries `map_path` and `current_faults()`."""

    def __init__(self, server: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        self.map_path: PathMap = server.map_path
        self.current_faults: Callable[[], Faults] = server.current_faults

    def _host(self, path: str) -> Path:
        device_path = normalise(path)
        try:
            return self.map_path(device_path)
        except ValueError:
            # A place the map does not give the device (read-only system dirs, say): access denied.
            raise PermissionError(errno.EACCES, "not a path the device owns", device_path) from None

    @staticmethod
    def _errno(exc: OSError) -> int:
        return _sftp_errno(exc)

    def canonicalize(self, path: str) -> str:
        return normalise(path)

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> DeviceFileHandle | int:
        mode = attr.st_mode if attr is not None and attr.st_mode is not None else 0o644
        try:
            host = self._host(path)
            fd = os.open(host, flags, mode & 0o7777)
            if flags & os.O_CREAT and attr is not None:
                paramiko.SFTPServer.set_file_attr(str(host), attr)  # times, owner, mode the client asked
        except OSError as exc:
            return self._errno(exc)
        return DeviceFileHandle(flags, fd, host, self.current_faults().truncate_transfers)

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        try:
            host = self._host(path)
            entries = []
            for name in sorted(os.listdir(host)):
                attr = paramiko.SFTPAttributes.from_stat(os.lstat(host / name))
                attr.filename = name
                entries.append(attr)
            return entries
        except OSError as exc:
            return self._errno(exc)

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(self._host(path)))
        except OSError as exc:
            return self._errno(exc)

    def lstat(self, path: str) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.lstat(self._host(path)))
        except OSError as exc:
            return self._errno(exc)

    def remove(self, path: str) -> int:
        return self._call(lambda: os.remove(self._host(path)))

    def rename(self, oldpath: str, newpath: str) -> int:
        def rename_if_free() -> None:
            # SFTP v3 rename must not replace an existing file; posix_rename (below) may.
            target = self._host(newpath)
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "exists", newpath)
            os.rename(self._host(oldpath), target)

        return self._call(rename_if_free)

    def posix_rename(self, oldpath: str, newpath: str) -> int:
        return self._call(lambda: os.replace(self._host(oldpath), self._host(newpath)))

    def mkdir(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        mode = attr.st_mode if attr is not None and attr.st_mode is not None else 0o755
        return self._call(lambda: os.mkdir(self._host(path), mode & 0o7777))

    def rmdir(self, path: str) -> int:
        return self._call(lambda: os.rmdir(self._host(path)))

    def chattr(self, path: str, attr: paramiko.SFTPAttributes) -> int:
        return self._call(lambda: paramiko.SFTPServer.set_file_attr(str(self._host(path)), attr))

    def readlink(self, path: str) -> str | int:
        try:
            return os.readlink(self._host(path))
        except OSError as exc:
            return self._errno(exc)

    def _call(self, action: Callable[[], object]) -> int:
        """Run a file operation; an OSError becomes the matching SFTP status code."""
        try:
            action()
        except OSError as exc:
            return self._errno(exc)
        return SFTP_OK
