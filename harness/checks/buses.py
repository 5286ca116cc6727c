"""Peripheral buses as sysfs and devfs show them (GPIO, I2C, SPI, UART, PWM, IIO, CAN): pure checks
over a harness.checks.sysfs Tree, each returning the problems found (empty: the requirement holds).
Read-only: nothing here writes a device attribute or opens a device node."""

from __future__ import annotations

import re

from .sysfs import Tree

GPIO = ("/sys/bus/gpio/devices/gpiochip*", "/dev/gpiochip*", "/sys/class/gpio/gpiochip*/ngpio",
        "/sys/class/gpio/gpiochip*/label")
I2C = ("/sys/bus/i2c/devices/*", "/sys/bus/i2c/devices/*/name", "/sys/bus/i2c/devices/*/driver", "/dev/i2c-*")
SPI = ("/sys/class/spi_master/*", "/sys/bus/spi/devices/*", "/sys/bus/spi/devices/*/driver")
UART = ("/sys/class/tty/*/type", "/sys/class/tty/*/uartclk", "/sys/class/tty/console/active")
PWM = ("/sys/class/pwm/pwmchip*/npwm",)
IIO = ("/sys/bus/iio/devices/*/name", "/sys/bus/iio/devices/*/in_*_raw")
CAN = ("/sys/class/net/*/type",)

ARPHRD_CAN = 280
# The serial core's PORT_UNKNOWN: a ttyS placeholder the 8250 driver registers without hardware.
PORT_UNKNOWN = 0


def gpio_chips(tree: Tree) -> list[str]:
    """gpiochipN names on the GPIO bus (the character-device numbering)."""
    return [n for n in tree.children("/sys/bus/gpio/devices") if re.fullmatch(r"gpiochip\d+", n)]


def gpio_present(tree: Tree) -> list[str]:
    if gpio_chips(tree):
        lines = [tree.int_value(f"/sys/class/gpio/{c}/ngpio") for c in tree.children("/sys/class/gpio")]
        if lines and not any(n and n > 0 for n in lines):
            return [f"the GPIO chips under /sys/class/gpio offer no line (ngpio {lines})"]
        return []
    return ["no GPIO controller: /sys/bus/gpio/devices has no gpiochipN"]


def gpio_char_devices(tree: Tree) -> list[str]:
    chips = gpio_chips(tree)
    if not chips:
        return ["no GPIO controller: /sys/bus/gpio/devices has no gpiochipN"]
    return [f"{c} has no character device /dev/{c}" for c in chips if not tree.is_device_node(f"/dev/{c}")]


def i2c_adapters(tree: Tree) -> list[str]:
    return [n for n in tree.children("/sys/bus/i2c/devices") if re.fullmatch(r"i2c-\d+", n)]


def i2c_present(tree: Tree) -> list[str]:
    adapters = i2c_adapters(tree)
    if not adapters:
        return ["no I2C adapter: /sys/bus/i2c/devices has no i2c-N"]
    return [f"{a} has no name" for a in adapters if not tree.value(f"/sys/bus/i2c/devices/{a}/name")]


def i2c_dev_nodes(tree: Tree) -> list[str]:
    adapters = i2c_adapters(tree)
    if not adapters:
        return ["no I2C adapter: /sys/bus/i2c/devices has no i2c-N"]
    return [f"{a} has no /dev/{a} (i2c-dev)" for a in adapters if not tree.is_device_node(f"/dev/{a}")]


def unbound(tree: Tree, folder: str, names: list[str]) -> list[str]:
    return [f"{folder}/{n} is bound to no driver" for n in names if not tree.link(f"{folder}/{n}/driver")]


def i2c_clients_bound(tree: Tree) -> list[str]:
    folder = "/sys/bus/i2c/devices"
    clients = [n for n in tree.children(folder) if re.fullmatch(r"\d+-[0-9a-f]{4}", n)]
    return unbound(tree, folder, clients)


def spi_present(tree: Tree) -> list[str]:
    return [] if tree.children("/sys/class/spi_master") else ["no SPI controller under /sys/class/spi_master"]


def spi_devices_bound(tree: Tree) -> list[str]:
    folder = "/sys/bus/spi/devices"
    return unbound(tree, folder, tree.children(folder))


def uart_ports(tree: Tree) -> list[str]:
    """tty names whose serial-core port type is a real UART (not the 8250 placeholders)."""
    ports = []
    for name in tree.children("/sys/class/tty"):
        kind = tree.int_value(f"/sys/class/tty/{name}/type")
        if kind is not None and kind != PORT_UNKNOWN:
            ports.append(name)
    return ports


def uart_present(tree: Tree) -> list[str]:
    if uart_ports(tree):
        return []
    placeholders = [n for n in tree.children("/sys/class/tty") if tree.exists(f"/sys/class/tty/{n}/type")]
    return [f"no serial port with a known UART type (/sys/class/tty/*/type; placeholders: {placeholders})"]


def console_on_uart(tree: Tree) -> list[str]:
    active = (tree.value("/sys/class/tty/console/active") or "").split()
    if not active:
        return ["/sys/class/tty/console/active is missing or empty"]
    ports = uart_ports(tree)
    if any(name in ports for name in active):
        return []
    return [f"the kernel console runs on {active}, none of them a hardware UART {ports}"]


def pwm_present(tree: Tree) -> list[str]:
    chips = tree.children("/sys/class/pwm")
    if not chips:
        return ["no PWM chip under /sys/class/pwm"]
    counts = {c: tree.int_value(f"/sys/class/pwm/{c}/npwm") for c in chips}
    if any(n and n > 0 for n in counts.values()):
        return []
    return [f"no PWM chip offers a channel (npwm {counts})"]


def iio_devices(tree: Tree) -> list[str]:
    return [n for n in tree.children("/sys/bus/iio/devices") if n.startswith("iio:device")]


def iio_present(tree: Tree) -> list[str]:
    devices = iio_devices(tree)
    if not devices:
        return ["no IIO device (iio:deviceN) under /sys/bus/iio/devices"]
    return [f"{d} has no name" for d in devices if not tree.value(f"/sys/bus/iio/devices/{d}/name")]


def iio_channels_readable(tree: Tree) -> list[str]:
    devices = iio_devices(tree)
    if not devices:
        return ["no IIO device (iio:deviceN) under /sys/bus/iio/devices"]
    problems, channels = [], 0
    for device in devices:
        folder = f"/sys/bus/iio/devices/{device}"
        for name in tree.children(folder):
            if not (name.startswith("in_") and name.endswith("_raw")):
                continue
            channels += 1
            if tree.int_value(f"{folder}/{name}") is None:
                problems.append(f"{device}/{name} does not read as an integer")
    return problems if channels else [f"no raw input channel (in_*_raw) on {devices}"]


def can_interfaces(tree: Tree) -> list[str]:
    folder = "/sys/class/net"
    return [n for n in tree.children(folder) if tree.int_value(f"{folder}/{n}/type") == ARPHRD_CAN]


def can_present(tree: Tree) -> list[str]:
    return [] if can_interfaces(tree) else [f"no CAN interface (type {ARPHRD_CAN}) under /sys/class/net"]
