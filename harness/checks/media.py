"""USB, display and media as sysfs and procfs show them: USB root hubs and interfaces, USB device
controllers (gadget), DRM cards and connectors, ALSA cards and PCMs, V4L2 video nodes. Pure checks
over a harness.checks.sysfs Tree, each returning the problems found."""

from __future__ import annotations

import re

from .sysfs import Tree

USB = ("/sys/bus/usb/devices/*", "/sys/bus/usb/devices/*/driver", "/sys/bus/usb/devices/*/speed",
       "/sys/class/udc/*", "/sys/kernel/config/usb_gadget")
DISPLAY = ("/sys/class/drm/card*", "/sys/class/drm/card*-*/status", "/sys/class/drm/card*-*/modes",
           "/dev/dri/card*")
SOUND = ("/proc/asound/cards", "/proc/asound/pcm")
CAMERA = ("/sys/class/video4linux/*/name", "/dev/video*")


def root_hubs(tree: Tree) -> list[str]:
    return [n for n in tree.children("/sys/bus/usb/devices") if re.fullmatch(r"usb\d+", n)]


def usb_host(tree: Tree) -> list[str]:
    return [] if root_hubs(tree) else ["no USB host controller: /sys/bus/usb/devices has no root hub usbN"]


def usb_interfaces_bound(tree: Tree) -> list[str]:
    if not root_hubs(tree):
        return usb_host(tree)
    interfaces = [n for n in tree.children("/sys/bus/usb/devices") if re.fullmatch(r"\d+-[\d.]+:\d+\.\d+", n)]
    return [f"USB interface {n} is bound to no driver" for n in interfaces
            if not tree.link(f"/sys/bus/usb/devices/{n}/driver")]


def udc(tree: Tree) -> list[str]:
    return [] if tree.children("/sys/class/udc") else ["no USB device controller under /sys/class/udc"]


def gadget_configfs(tree: Tree) -> list[str]:
    if tree.exists("/sys/kernel/config/usb_gadget"):
        return []
    return ["/sys/kernel/config/usb_gadget is missing (configfs not mounted, or no USB_CONFIGFS)"]


def drm_cards(tree: Tree) -> list[str]:
    return [n for n in tree.children("/sys/class/drm") if re.fullmatch(r"card\d+", n)]


def drm_card(tree: Tree) -> list[str]:
    cards = drm_cards(tree)
    if not cards:
        return ["no DRM card under /sys/class/drm"]
    return [f"{c} has no /dev/dri/{c}" for c in cards if not tree.is_device_node(f"/dev/dri/{c}")]


def connectors(tree: Tree) -> dict[str, str | None]:
    return {n: tree.value(f"/sys/class/drm/{n}/status") for n in tree.children("/sys/class/drm")
            if re.fullmatch(r"card\d+-.+", n)}


def connected(tree: Tree) -> list[str]:
    found = connectors(tree)
    if not found:
        return drm_card(tree) or ["no DRM connector under /sys/class/drm"]
    if any(status == "connected" for status in found.values()):
        return []
    return [f"no DRM connector is connected ({found})"]


def connected_modes(tree: Tree) -> list[str]:
    problems = connected(tree)
    if problems:
        return problems
    return [f"{n} is connected but lists no mode" for n, status in connectors(tree).items()
            if status == "connected" and not tree.value(f"/sys/class/drm/{n}/modes")]


def sound_cards(text: str | None) -> list[str]:
    """Card lines of /proc/asound/cards: ' 0 [PCH            ]: HDA-Intel - HDA Intel PCH'."""
    return [m[1].strip() for m in re.finditer(r"^\s*\d+\s+\[([^\]]+)\]", text or "", re.M)]


def sound_card(tree: Tree) -> list[str]:
    text = tree.value("/proc/asound/cards")
    if text is None:
        return ["/proc/asound/cards is missing: no ALSA"]
    return [] if sound_cards(text) else [f"ALSA lists no sound card ({text[:80]!r})"]


def playback_pcm(tree: Tree) -> list[str]:
    problems = sound_card(tree)
    if problems:
        return problems
    pcm = tree.value("/proc/asound/pcm") or ""
    return [] if re.search(r"playback \d+", pcm) else [f"no playback PCM in /proc/asound/pcm ({pcm[:120]!r})"]


def camera(tree: Tree) -> list[str]:
    nodes = [n for n in tree.children("/sys/class/video4linux") if re.fullmatch(r"video\d+", n)]
    if not nodes:
        return ["no V4L2 video device under /sys/class/video4linux"]
    problems = [f"{n} has no name" for n in nodes if not tree.value(f"/sys/class/video4linux/{n}/name")]
    return problems + [f"{n} has no /dev/{n}" for n in nodes if not tree.is_device_node(f"/dev/{n}")]
