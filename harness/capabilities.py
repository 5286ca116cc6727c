"""What a device can declare it has (devices.toml `declared.capabilities`), and what a requirement
needs (suite.toml `applies_to.capabilities`). A requirement whose capability the device does not
declare is SKIPped with that reason: an absent bus on a board that never claimed one is no failure,
and an undeclared one is never a pass."""

from __future__ import annotations

from typing import Any

from .config_check import Where

CAPABILITIES: dict[str, str] = {
    "gpio": "GPIO controllers",
    "i2c": "I2C adapters",
    "spi": "SPI controllers",
    "uart": "hardware serial ports",
    "pwm": "PWM controllers",
    "iio": "ADC and other IIO sensors",
    "can": "CAN bus interfaces",
    "ethernet": "wired Ethernet",
    "wifi": "Wi-Fi",
    "bluetooth": "Bluetooth",
    "usb-host": "USB host controllers",
    "usb-gadget": "a USB device (gadget) controller",
    "display": "a display through DRM/KMS",
    "audio": "ALSA sound cards",
    "camera": "V4L2 cameras",
    "suspend": "system suspend with an RTC wake alarm",
    "cpuidle": "CPU idle states",
    "dvfs": "CPU frequency scaling (DVFS)",
    "thermal": "thermal trip points and cooling devices (throttling)",
    # Destructive: the stability suite lets the watchdog fire, so the device resets by itself.
    "watchdog-reboot": "a hardware watchdog that resets the device when no longer fed",
    # Declared only where a forced kernel crash is acceptable: the capture test crashes the device.
    "kdump-capture": "a kernel crash is captured by kdump (the test forces one and reboots the device)",
}


def unknown(names: tuple[str, ...] | list[str]) -> list[str]:
    """The names that are no known capability, in their order."""
    return [n for n in names if n not in CAPABILITIES]


def check_names(value: Any, where: Where) -> tuple[str, ...]:
    """A config checker: a list of known capability names (`declared.capabilities` in devices.toml,
    `applies_to.capabilities` in suite.toml)."""
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise where.fail(value, "expected a list of capability names")
    bad = unknown(value)
    if bad:
        raise where.fail(bad[0], f"not a known capability (known: {', '.join(sorted(CAPABILITIES))})")
    return tuple(value)
