"""harness.checks.sysfs, buses and network on real captured outputs: this machine's Debian (a
firecracker VM: virtio NIC, 16550A UART, no GPIO) and the QEMU board's Debian arm64 kernel (PL061 GPIO,
PL011 UART, virtio-mmio NIC, slirp's site-local IPv6). scripts/capture_device_reads.py made them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.checks import buses, network, sysfs

DATA = Path(__file__).resolve().parent / "data" / "devices"


def tree(source: str, area: str) -> sysfs.Tree:
    return sysfs.parse_dump((DATA / source / f"{area}.txt").read_text())


def links(source: str) -> dict[str, network.Link]:
    return network.parse_links((DATA / source / "links.txt").read_text())


def test_dump_script_runs_under_a_real_shell_and_never_reads_device_nodes(tmp_path: Path) -> None:
    (tmp_path / "a b").mkdir()
    (tmp_path / "a b" / "value").write_text("one\ntwo\n")
    (tmp_path / "a b" / "link").symlink_to("value")
    (tmp_path / "unreadable").write_text("x")
    (tmp_path / "unreadable").chmod(0)
    script = sysfs.dump_script([f"{tmp_path}/a b/*", f"{tmp_path}/unreadable", f"{tmp_path}/none*",
                                "/dev/null", f"{tmp_path}/$(touch {tmp_path}/pwned)"])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    got = sysfs.parse_dump(out)
    assert got.value(f"{tmp_path}/a b/value") == "one\ntwo"
    assert got.link(f"{tmp_path}/a b/link") == "value"
    assert got.is_device_node("/dev/null") and got.value("/dev/null") is None
    assert not got.exists(f"{tmp_path}/none*")
    assert not (tmp_path / "pwned").exists()  # a pattern is quoted except for its * and ?
    assert got.children(f"{tmp_path}/a b") == ["link", "value"]


def test_qemu_gpio_pl061_and_its_character_device() -> None:
    qemu = tree("qemu", "buses")
    assert buses.gpio_chips(qemu) == ["gpiochip0"]
    assert buses.gpio_present(qemu) == [] and buses.gpio_char_devices(qemu) == []
    missing_node = sysfs.Tree({k: v for k, v in qemu.entries.items() if k != "/dev/gpiochip0"})
    assert buses.gpio_char_devices(missing_node) == ["gpiochip0 has no character device /dev/gpiochip0"]
    no_lines = sysfs.Tree({**qemu.entries, "/sys/class/gpio/gpiochip504/ngpio": "=0"})
    assert buses.gpio_present(no_lines)[0].startswith("the GPIO chips under /sys/class/gpio offer no line")


def test_debian_has_no_gpio_i2c_spi_pwm_iio_or_can() -> None:
    debian = tree("debian", "buses")
    assert buses.gpio_present(debian) == ["no GPIO controller: /sys/bus/gpio/devices has no gpiochipN"]
    assert buses.i2c_present(debian) == ["no I2C adapter: /sys/bus/i2c/devices has no i2c-N"]
    assert buses.spi_present(debian) == ["no SPI controller under /sys/class/spi_master"]
    assert buses.pwm_present(debian) == ["no PWM chip under /sys/class/pwm"]
    assert buses.iio_present(debian) == ["no IIO device (iio:deviceN) under /sys/bus/iio/devices"]
    assert buses.can_present(debian) == ["no CAN interface (type 280) under /sys/class/net"]


def test_uarts_on_both_and_the_8250_placeholders_are_no_hardware() -> None:
    qemu, debian = tree("qemu", "buses"), tree("debian", "buses")
    # QEMU's kernel registers ttyS0-3 placeholders (type 0) beside the real PL011.
    assert buses.uart_ports(qemu) == ["ttyAMA0"]
    assert buses.uart_ports(debian) == ["ttyS0"]
    assert buses.console_on_uart(qemu) == [] and buses.console_on_uart(debian) == []
    placeholders_only = sysfs.Tree({k: v for k, v in qemu.entries.items() if "ttyAMA0" not in k})
    assert buses.uart_present(placeholders_only)[0].startswith("no serial port with a known UART type")
    assert buses.console_on_uart(placeholders_only) == [
        "the kernel console runs on ['ttyAMA0'], none of them a hardware UART []"
    ]
    no_console = sysfs.Tree({k: v for k, v in qemu.entries.items() if "console" not in k})
    assert buses.console_on_uart(no_console) == ["/sys/class/tty/console/active is missing or empty"]
    on_vt = sysfs.Tree({**qemu.entries, "/sys/class/tty/console/active": "=tty0"})
    assert buses.console_on_uart(on_vt) == ["the kernel console runs on ['tty0'], none of them a hardware UART "
                                            "['ttyAMA0']"]


def test_bus_devices_without_a_driver() -> None:
    planted = sysfs.Tree({
        "/sys/bus/i2c/devices/i2c-0": "@../../../devices/platform/i2c@fe5a0000/i2c-0",
        "/sys/bus/i2c/devices/i2c-0/name": "=rk3x-i2c",
        "/sys/bus/i2c/devices/0-0020": "@../../../devices/platform/i2c@fe5a0000/i2c-0/0-0020",
        "/sys/bus/i2c/devices/0-0051": "@../../../devices/platform/i2c@fe5a0000/i2c-0/0-0051",
        "/sys/bus/i2c/devices/0-0051/driver": "@../../../../../bus/i2c/drivers/rtc-hym8563",
        "/sys/class/spi_master/spi0": "@../../devices/platform/spi@fe610000/spi_master/spi0",
        "/sys/bus/spi/devices/spi0.0": "@../../../devices/platform/spi@fe610000/spi_master/spi0/spi0.0",
    })
    assert buses.i2c_present(planted) == [] and buses.i2c_dev_nodes(planted) == ["i2c-0 has no /dev/i2c-0 (i2c-dev)"]
    assert buses.i2c_clients_bound(planted) == ["/sys/bus/i2c/devices/0-0020 is bound to no driver"]
    assert buses.spi_devices_bound(planted) == ["/sys/bus/spi/devices/spi0.0 is bound to no driver"]


def test_iio_channels_and_pwm_counts() -> None:
    adc = sysfs.Tree({"/sys/bus/iio/devices/iio:device0/name": "=fe720000.saradc",
                      "/sys/bus/iio/devices/iio:device0/in_voltage0_raw": "=1023",
                      "/sys/bus/iio/devices/iio:device0/in_voltage1_raw": "!",
                      "/sys/class/pwm/pwmchip0/npwm": "=1"})
    assert buses.iio_present(adc) == [] and buses.pwm_present(adc) == []
    assert buses.iio_channels_readable(adc) == ["iio:device0/in_voltage1_raw does not read as an integer"]


def test_links_parse_iproute2_and_busybox() -> None:
    debian, qemu = links("debian"), links("qemu")
    assert sorted(debian) == ["eth0", "ifb0", "ifb1", "lo"] and sorted(qemu) == ["eth0", "lo"]
    assert network.loopback_up(debian) == [] and network.loopback_up(qemu) == []
    assert network.up_interfaces(debian) == ["eth0"]  # ifb0/1 are down
    down = {"lo": network.Link("lo", frozenset({"LOOPBACK"}), ())}
    assert network.loopback_up(down) == ["lo is down (flags ['LOOPBACK'])", "lo has no 127.0.0.0/8 address ([])"]


def test_ipv6_debian_has_a_unique_local_address_qemu_only_slirps_site_local() -> None:
    debian, qemu = tree("debian", "net"), tree("qemu", "net")
    assert network.ipv6_enabled(debian) == [] and network.ipv6_enabled(qemu) == []
    assert network.ipv6_link_local(debian, links("debian")) == []
    assert network.ipv6_link_local(qemu, links("qemu")) == []
    assert network.ipv6_routable(debian) == []
    assert network.ipv6_routable(qemu) == [
        "no global or unique-local IPv6 address on any interface; only deprecated site-local (RFC 3879) "
        "['fec0::5054:ff:fe12:3456']"
    ]
    disabled = sysfs.Tree({"/proc/net/if_inet6": "=", "/proc/sys/net/ipv6/conf/all/disable_ipv6": "=1"})
    assert network.ipv6_enabled(disabled) == ["net.ipv6.conf.all.disable_ipv6 is '1', not 0", "lo has no ::1"]
    assert network.ipv6_enabled(sysfs.Tree()) == ["/proc/net/if_inet6 is missing: the kernel has no IPv6"]


def test_ethernet_virtio_links_without_speed_on_both() -> None:
    for source in ("debian", "qemu"):
        eth = tree(source, "net")
        assert network.ethernet_interfaces(eth) == ["eth0"]  # not lo, not the ifb devices
        assert network.ethernet_link_up(eth) == []
        assert network.ethernet_mac_stable(eth) == []
        assert network.ethernet_speed(eth) == [
            "eth0 reports speed -1 Mb/s, duplex 'unknown': no negotiated link mode"
        ]
    qemu = tree("qemu", "net")
    unplugged = sysfs.Tree({**qemu.entries, "/sys/class/net/eth0/carrier": "=0",
                            "/sys/class/net/eth0/operstate": "=down"})
    assert network.ethernet_link_up(unplugged) == [
        "no Ethernet interface has carrier and operstate up (operstate, carrier: {'eth0': ('down', '0')})"
    ]
    random_mac = sysfs.Tree({**qemu.entries, "/sys/class/net/eth0/addr_assign_type": "=1"})
    assert network.ethernet_mac_stable(random_mac) == [
        "eth0's MAC 52:54:00:12:34:56 is made up at every boot (addr_assign_type 1)"
    ]
    gigabit = sysfs.Tree({**qemu.entries, "/sys/class/net/eth0/speed": "=1000",
                          "/sys/class/net/eth0/duplex": "=full"})
    assert network.ethernet_speed(gigabit) == []


def test_no_radios_on_either_and_rfkill_blocks() -> None:
    for source in ("debian", "qemu"):
        radios = tree(source, "net")
        assert network.wifi_present(radios) == ["no Wi-Fi PHY under /sys/class/ieee80211"]
        assert network.bluetooth_present(radios) == ["no Bluetooth controller (hciN) under /sys/class/bluetooth"]
    board = sysfs.Tree({
        "/sys/class/ieee80211/phy0": "@../../devices/platform/wifi/ieee80211/phy0",
        "/sys/class/net/wlan0/phy80211": "@../../phy0",
        "/sys/class/bluetooth/hci0": "@../../devices/platform/bt/hci0",
        "/sys/class/rfkill/rfkill0/type": "=wlan", "/sys/class/rfkill/rfkill0/name": "=phy0",
        "/sys/class/rfkill/rfkill0/soft": "=0", "/sys/class/rfkill/rfkill0/hard": "=0",
        "/sys/class/rfkill/rfkill1/type": "=bluetooth", "/sys/class/rfkill/rfkill1/name": "=hci0",
        "/sys/class/rfkill/rfkill1/soft": "=1", "/sys/class/rfkill/rfkill1/hard": "=0",
    })
    assert network.wifi_present(board) == [] and network.wifi_unblocked(board) == []
    assert network.bluetooth_unblocked(board) == ["rfkill1 (hci0) blocked: soft"]


def test_resolver_files() -> None:
    debian, qemu = tree("debian", "net"), tree("qemu", "net")
    assert network.resolver_configured(debian.value("/etc/resolv.conf")) == []
    assert network.nsswitch_uses_dns(debian.value("/etc/nsswitch.conf")) == []
    # The busybox board has no resolv.conf and an nsswitch.conf of files only.
    assert network.resolver_configured(qemu.value("/etc/resolv.conf")) == ["/etc/resolv.conf is missing"]
    assert network.nsswitch_uses_dns(qemu.value("/etc/nsswitch.conf")) == [
        "nsswitch.conf hosts: 'files' asks no DNS resolver (dns or resolve)"
    ]
    assert network.resolver_configured("search lab\n") == ["/etc/resolv.conf names no nameserver"]
    assert network.resolver_configured("nameserver dns.lab\n") == [
        "/etc/resolv.conf names invalid nameservers ['dns.lab']"
    ]
    assert network.resolver_configured("nameserver fe80::1%eth0\n") == []


@pytest.mark.parametrize("name", ["localhost"])
def test_getent_output(name: str) -> None:
    assert network.resolved_addresses((DATA / "debian" / "getent.txt").read_text(), name) in (
        ["127.0.0.1"], ["::1"]
    )
    assert network.resolved_addresses("127.0.0.1 localhost.lab\n", "localhost") == []
    assert network.resolved_addresses("", name) == []
