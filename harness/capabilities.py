"""What a device can declare it has (devices.toml `declared.capabilities`), and what a requirement
needs (suite.toml `applies_to.capabilities`). A requirement whose capability the device does not
declare is SKIPped with that reason: an absent bus on a board that never claimed one is no failure,
and an undeclared one is never a pass."""

from __future__ import annotations

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
}


def unknown(names: tuple[str, ...] | list[str]) -> list[str]:
    """The names that are no known capability, in their order."""
    return [n for n in names if n not in CAPABILITIES]
