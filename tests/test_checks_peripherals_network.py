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


# -- rules of the bus checks on planted trees -----------------------------------------------------------
def test_a_gpio_chip_with_a_single_line_is_enough_and_none_readable_is_not() -> None:
    chip = {"/sys/bus/gpio/devices/gpiochip0": "/", "/sys/class/gpio/gpiochip0/ngpio": "=1"}
    assert buses.gpio_present(sysfs.Tree(chip)) == []
    unreadable = {"/sys/bus/gpio/devices/gpiochip0": "/", "/sys/class/gpio/gpiochip0/ngpio": "!",
                  "/sys/class/gpio/gpiochip8/ngpio": "=0"}
    assert buses.gpio_present(sysfs.Tree(unreadable)) == [
        "the GPIO chips under /sys/class/gpio offer no line (ngpio [None, 0])"]


def test_without_a_controller_every_bus_check_says_which_is_missing() -> None:
    empty = sysfs.Tree({})
    assert buses.gpio_char_devices(empty) == ["no GPIO controller: /sys/bus/gpio/devices has no gpiochipN"]
    assert buses.i2c_dev_nodes(empty) == ["no I2C adapter: /sys/bus/i2c/devices has no i2c-N"]
    assert buses.iio_channels_readable(empty) == ["no IIO device (iio:deviceN) under /sys/bus/iio/devices"]


def test_i2c_adapters_with_their_dev_nodes_and_clients_at_hex_addresses() -> None:
    planted = sysfs.Tree({"/sys/bus/i2c/devices/i2c-1": "/", "/sys/bus/i2c/devices/i2c-1/name": "=DesignWare",
                          "/dev/i2c-1": "c", "/sys/bus/i2c/devices/1-003a": "/",
                          "/sys/bus/i2c/devices/1-0050": "/", "/sys/bus/i2c/devices/1-0050/driver": "@at24"})
    assert buses.i2c_dev_nodes(planted) == []
    assert buses.i2c_clients_bound(planted) == ["/sys/bus/i2c/devices/1-003a is bound to no driver"]


def test_an_spi_controller_and_a_can_interface_are_found() -> None:
    planted = sysfs.Tree({"/sys/class/spi_master/spi0": "@../../devices/spi0",
                          "/sys/class/net/can0/type": "=280", "/sys/class/net/eth0/type": "=1"})
    assert buses.spi_present(planted) == []
    assert buses.can_interfaces(planted) == ["can0"] and buses.can_present(planted) == []


def test_no_real_uart_names_the_placeholders_seen() -> None:
    planted = sysfs.Tree({"/sys/class/tty/ttyS0/type": "=0", "/sys/class/tty/ttyS1/type": "=0",
                          "/sys/class/tty/tty1/dev": "=4:1"})
    assert buses.uart_present(planted) == [
        "no serial port with a known UART type (/sys/class/tty/*/type; placeholders: ['ttyS0', 'ttyS1'])"]


def test_pwm_chips_without_a_readable_channel_count() -> None:
    planted = sysfs.Tree({"/sys/class/pwm/pwmchip0/npwm": "!", "/sys/class/pwm/pwmchip1/npwm": "=0"})
    assert buses.pwm_present(planted) == ["no PWM chip offers a channel (npwm {'pwmchip0': None, 'pwmchip1': 0})"]


def test_iio_raw_channels_are_only_in_star_raw_files_each_judged() -> None:
    folder = "/sys/bus/iio/devices/iio:device0"
    no_raw = sysfs.Tree({f"{folder}/name": "=adc", f"{folder}/in_voltage_scale": "=0.8",
                         f"{folder}/out_voltage0_raw": "=7"})
    assert buses.iio_channels_readable(no_raw) == ["no raw input channel (in_*_raw) on ['iio:device0']"]
    # Files that are no channel sort before the channels; each channel after them is still read.
    mixed = sysfs.Tree({f"{folder}/buffer": "/", f"{folder}/in_temp_raw": "=31", f"{folder}/in_voltage0_raw": "!"})
    assert buses.iio_channels_readable(mixed) == ["iio:device0/in_voltage0_raw does not read as an integer"]


# -- rules of the network checks -------------------------------------------------------------------
LO6 = "00000000000000000000000000000001 01 80 10 80 lo"
ETH = {"/sys/class/net/eth0/type": "=1", "/sys/class/net/eth0/device": "@../../../virtio0",
       "/sys/class/net/eth0/address": "=52:54:00:12:34:56", "/sys/class/net/eth0/carrier": "=1",
       "/sys/class/net/eth0/operstate": "=up", "/sys/class/net/eth0/speed": "=1000",
       "/sys/class/net/eth0/duplex": "=full"}


def test_links_keep_their_names_and_a_missing_loopback_is_named() -> None:
    parsed = network.parse_links("2: eth0: <BROADCAST,UP,LOWER_UP> mtu 1500\n")
    assert parsed["eth0"].name == "eth0" and parsed["eth0"].up
    assert network.loopback_up(parsed) == ["no loopback interface among ['eth0']"]
    assert network.ipv6_link_local(sysfs.Tree(), {}) == ["no non-loopback interface is up ([])"]


def test_if_inet6_lines_that_are_not_whole_are_skipped_and_the_rest_read() -> None:
    table = "\n".join(["fe800000000000000000000000000001 02 40 20 80",  # a field short
                       "zz800000000000000000000000000001 02 40 20 80 eth0",  # not hex
                       "fe800000000000005054 02 40 20 80 eth0",  # address cut short
                       "fe800000000000005054000000000001 02 40 20 80 eth0"])
    got = network.parse_if_inet6(table)
    assert [(str(a.address), a.interface, a.scope) for a in got] == [("fe80::5054:0:0:1", "eth0", 0x20)]


def test_ipv6_needs_the_loopback_address_itself() -> None:
    only_eth = "fe800000000000005054000000000001 02 40 20 80 eth0"
    tree6 = sysfs.Tree({"/proc/net/if_inet6": "=" + only_eth, "/proc/sys/net/ipv6/conf/all/disable_ipv6": "=0"})
    assert network.ipv6_enabled(tree6) == ["lo has no ::1"]


def test_a_global_address_on_lo_is_no_routable_address() -> None:
    lo_global = "20010db8000000000000000000000001 01 80 00 80 lo"
    assert network.ipv6_routable(sysfs.Tree({"/proc/net/if_inet6": f"={LO6}\n{lo_global}"})) == [
        "no global or unique-local IPv6 address on any interface"]
    eth_global = lo_global.replace(" lo", " eth0")
    assert network.ipv6_routable(sysfs.Tree({"/proc/net/if_inet6": f"={eth_global}"})) == []


def test_ethernet_is_a_device_backed_wired_interface_whatever_sorts_before_it() -> None:
    planted = sysfs.Tree({**ETH, "/sys/class/net/can0/type": "=280", "/sys/class/net/can0/device": "@x",
                          "/sys/class/net/ath0/type": "=1", "/sys/class/net/ath0/device": "@x",
                          "/sys/class/net/ath0/wireless": "/",
                          "/sys/class/net/eth9/type": "=1", "/sys/class/net/eth9/device": "@x",
                          "/sys/class/net/eth9/phy80211": "@phy0",
                          "/sys/class/net/br0/type": "=1"})
    assert network.ethernet_interfaces(planted) == ["eth0"]


def test_no_ethernet_is_one_problem_for_every_ethernet_check() -> None:
    none = sysfs.Tree({"/sys/class/net/lo/type": "=772"})
    expected = ["no Ethernet interface backed by a device among ['lo']"]
    for check in (network.ethernet_present, network.ethernet_link_up, network.ethernet_speed,
                  network.ethernet_mac_stable):
        assert check(none) == expected, check.__name__


def test_a_link_needs_carrier_and_operstate_up_and_a_negotiated_mode() -> None:
    no_oper = sysfs.Tree({**ETH, "/sys/class/net/eth0/operstate": "=dormant"})
    assert network.linked_ethernet(no_oper) == []
    assert network.ethernet_speed(no_oper) == [
        "no Ethernet interface has carrier and operstate up (operstate, carrier: {'eth0': ('dormant', '1')})"]
    for speed, duplex, ok in [("=1", "=full", True), ("=10", "=half", True), ("=0", "=full", False),
                              ("=-1", "=full", False), ("!", "=full", False), ("=1000", "=unknown", False)]:
        planted = sysfs.Tree({**ETH, "/sys/class/net/eth0/speed": speed, "/sys/class/net/eth0/duplex": duplex})
        assert (network.ethernet_speed(planted) == []) is ok, (speed, duplex)


@pytest.mark.parametrize(("mac", "problem"), [
    (None, "eth0 has no readable MAC address ('')"),
    ("52:54:00:12:34", "eth0 has no readable MAC address ('52:54:00:12:34')"),
    ("52:54:00:12:34:5G", "eth0 has no readable MAC address ('52:54:00:12:34:5G')"),
    ("00:00:00:00:00:00", "eth0 has the unusable address 00:00:00:00:00:00"),
    ("01:00:5e:00:00:01", "eth0 has the unusable address 01:00:5e:00:00:01"),  # multicast
    ("0b:01:00:00:00:00", "eth0 has the unusable address 0b:01:00:00:00:00"),  # multicast, hex 0b
])
def test_a_mac_address_must_be_readable_unicast_and_not_zero(mac: str | None, problem: str) -> None:
    entries = {k: v for k, v in ETH.items() if not k.endswith("/address")}
    if mac is not None:
        entries["/sys/class/net/eth0/address"] = f"={mac}"
    assert network.ethernet_mac_stable(sysfs.Tree(entries)) == [problem]


def test_every_interface_s_mac_is_judged() -> None:
    eth1 = {k.replace("eth0", "eth1"): v for k, v in ETH.items()}
    planted = sysfs.Tree({**ETH, **eth1, "/sys/class/net/eth0/address": "=?",
                          "/sys/class/net/eth1/addr_assign_type": "=1"})
    assert network.ethernet_mac_stable(planted) == [
        "eth0 has no readable MAC address ('?')",
        "eth1's MAC 52:54:00:12:34:56 is made up at every boot (addr_assign_type 1)"]


def test_wifi_interfaces_and_their_rfkill_switches() -> None:
    board = sysfs.Tree({"/sys/class/ieee80211/phy0": "@x", "/sys/class/net/wlan0/wireless": "/",
                        "/sys/class/rfkill/rfkill0/type": "=wlan", "/sys/class/rfkill/rfkill0/name": "=phy0",
                        "/sys/class/rfkill/rfkill0/soft": "=1", "/sys/class/rfkill/rfkill0/hard": "=1"})
    assert network.wifi_interfaces(board) == ["wlan0"] and network.wifi_present(board) == []
    assert network.wifi_unblocked(board) == ["rfkill0 (phy0) blocked: soft/hard"]
    phy_only = sysfs.Tree({"/sys/class/ieee80211/phy0": "@x"})
    assert network.wifi_present(phy_only) == ["Wi-Fi PHYs ['phy0'] but no wireless network interface"]


@pytest.mark.parametrize(("text", "problems"), [
    (None, ["/etc/nsswitch.conf is missing"]),
    ("passwd: files\n", ["nsswitch.conf has no hosts: line"]),
    ("hosts: files resolve [!UNAVAIL=return]\n", []),
    ("hosts: files myhostname # no dns: see the ticket\n", ["nsswitch.conf hosts: 'files myhostname' asks no "
                                                            "DNS resolver (dns or resolve)"]),
    ("hosts: files # dns # off for now\n", ["nsswitch.conf hosts: 'files' asks no DNS resolver (dns or resolve)"]),
])
def test_nsswitch_hosts_line_and_its_comments(text: str | None, problems: list[str]) -> None:
    assert network.nsswitch_uses_dns(text) == problems


def test_getent_lines_with_a_bad_address_are_passed_over() -> None:
    assert network.resolved_addresses("bogus localhost\n::1 localhost\n", "localhost") == ["::1"]
