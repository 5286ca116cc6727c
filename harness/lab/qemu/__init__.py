"""The emulated tier of the simulated lab: a real arm64 Debian kernel under QEMU with a small
busybox + OpenSSH initramfs wearing an openEuler persona. `build_image()` makes (and caches) the kernel
and base initramfs with apt; `QemuBoard` boots one board and says how to reach it."""

from .board import QemuBoard
from .image import BoardImage, build_image, default_state_dir

__all__ = ["BoardImage", "QemuBoard", "build_image", "default_state_dir"]
