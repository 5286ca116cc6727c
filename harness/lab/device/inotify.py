"""Watch one folder for files that appear in it (inotify through ctypes), so a simulated device reacts
to its control files (the reboot shim's request) the moment they land, without polling.

    watcher = FolderWatcher(folder, on_file)   # on_file(name) on its own thread
    watcher.start(); ...; watcher.stop()
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import struct
import threading
from collections.abc import Callable
from pathlib import Path

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then the name, NUL padded)

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class FolderWatcher:
    def __init__(self, folder: Path, on_file: Callable[[str], None]) -> None:
        self.folder = folder
        self.on_file = on_file
        self._fd = -1
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._loop, name=f"watch-{folder.name}", daemon=True)

    def start(self) -> FolderWatcher:
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._fd = fd
        # Written whole and closed (IN_CLOSE_WRITE) or renamed into place (IN_MOVED_TO, as the shims do).
        if _libc.inotify_add_watch(fd, os.fsencode(self.folder), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, f"inotify_add_watch {self.folder} failed")
        self._thread.start()
        return self

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)
        for fd in (self._fd, self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._wake_r = self._wake_w = -1

    def _loop(self) -> None:
        while True:
            ready, _, _ = select.select([self._fd, self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                continue
            for name in _names(data):
                self.on_file(name)


def _names(data: bytes) -> list[str]:
    names = []
    at = 0
    while at + _EVENT.size <= len(data):
        _wd, _mask, _cookie, length = _EVENT.unpack_from(data, at)
        raw = data[at + _EVENT.size : at + _EVENT.size + length]
        names.append(raw.rstrip(b"\0").decode(errors="replace"))
        at += _EVENT.size + length
    return names
