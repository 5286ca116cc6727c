"""USB, display and media: the controllers and devices the inventory declares are registered.
One read-only batch of sysfs/procfs/devfs entries (harness.checks.sysfs); judging in harness.checks.media."""

from __future__ import annotations

import pytest

from harness.checks import media, reads


@pytest.fixture(scope="module")
def tree(dut):
    return reads.read_tree(dut, media.USB + media.DISPLAY + media.SOUND + media.CAMERA)


def _holds(problems: list[str]) -> None:
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("MED-USB-001")
def test_usb_host(tree):
    _holds(media.usb_host(tree))


@pytest.mark.requirement("MED-USB-002")
def test_usb_interfaces_bound(tree):
    _holds(media.usb_interfaces_bound(tree))


@pytest.mark.requirement("MED-USB-003")
def test_usb_device_controller(tree):
    _holds(media.udc(tree))


@pytest.mark.requirement("MED-USB-004")
def test_usb_gadget_configfs(tree):
    _holds(media.gadget_configfs(tree))


@pytest.mark.requirement("MED-DRM-001")
def test_drm_card(tree):
    _holds(media.drm_card(tree))


@pytest.mark.requirement("MED-DRM-002")
def test_connector_connected(tree):
    _holds(media.connected(tree))


@pytest.mark.requirement("MED-DRM-003")
def test_connector_modes(tree):
    _holds(media.connected_modes(tree))


@pytest.mark.requirement("MED-SND-001")
def test_sound_card(tree):
    _holds(media.sound_card(tree))


@pytest.mark.requirement("MED-SND-002")
def test_playback_pcm(tree):
    _holds(media.playback_pcm(tree))


@pytest.mark.requirement("MED-CAM-001")
def test_camera(tree):
    _holds(media.camera(tree))
