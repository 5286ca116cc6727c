"""Peripherals and buses: the controllers the inventory declares are registered and usable.

One read-only batch of sysfs/devfs entries per module (harness.checks.sysfs); the judging is in
harness.checks.buses. A bus the device does not declare is SKIPped by the plugin before any read."""

from __future__ import annotations

import pytest

from harness.checks import buses, reads

PATTERNS = buses.GPIO + buses.I2C + buses.SPI + buses.UART + buses.PWM + buses.IIO + buses.CAN


@pytest.fixture(scope="module")
def tree(dut):
    return reads.read_tree(dut, PATTERNS)


def _holds(problems: list[str]) -> None:
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("PER-GPIO-001")
def test_gpio_controller(tree):
    _holds(buses.gpio_present(tree))


@pytest.mark.requirement("PER-GPIO-002")
def test_gpio_character_devices(tree):
    _holds(buses.gpio_char_devices(tree))


@pytest.mark.requirement("PER-I2C-001")
def test_i2c_adapter(tree):
    _holds(buses.i2c_present(tree))


@pytest.mark.requirement("PER-I2C-002")
def test_i2c_dev_nodes(tree):
    _holds(buses.i2c_dev_nodes(tree))


@pytest.mark.requirement("PER-I2C-003")
def test_i2c_clients_bound(tree):
    _holds(buses.i2c_present(tree) or buses.i2c_clients_bound(tree))


@pytest.mark.requirement("PER-SPI-001")
def test_spi_controller(tree):
    _holds(buses.spi_present(tree))


@pytest.mark.requirement("PER-SPI-002")
def test_spi_devices_bound(tree):
    _holds(buses.spi_present(tree) or buses.spi_devices_bound(tree))


@pytest.mark.requirement("PER-UART-001")
def test_uart_present(tree):
    _holds(buses.uart_present(tree))


@pytest.mark.requirement("PER-UART-002")
def test_console_on_uart(tree):
    _holds(buses.console_on_uart(tree))


@pytest.mark.requirement("PER-PWM-001")
def test_pwm_chip(tree):
    _holds(buses.pwm_present(tree))


@pytest.mark.requirement("PER-IIO-001")
def test_iio_device(tree):
    _holds(buses.iio_present(tree))


@pytest.mark.requirement("PER-IIO-002")
def test_iio_channels_readable(tree):
    _holds(buses.iio_channels_readable(tree))


@pytest.mark.requirement("PER-CAN-001")
def test_can_interface(tree):
    _holds(buses.can_present(tree))
