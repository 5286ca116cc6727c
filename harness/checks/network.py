"""Networking as the device shows it: interfaces (`ip -o link`, `ip -o addr`, /sys/class/net), IPv6
(/proc/net/if_inet6), radios (/sys/class/ieee80211, /sys/class/bluetooth, /sys/class/rfkill) and the
resolver (/etc/resolv.conf, nsswitch.conf, getent). Pure checks returning the problems found."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from .sysfs import Tree

NET = ("/sys/class/net/*", "/sys/class/net/*/type", "/sys/class/net/*/carrier", "/sys/class/net/*/operstate",
       "/sys/class/net/*/speed", "/sys/class/net/*/duplex", "/sys/class/net/*/address",
       "/sys/class/net/*/addr_assign_type", "/sys/class/net/*/device", "/sys/class/net/*/wireless",
       "/sys/class/net/*/phy80211", "/proc/net/if_inet6", "/proc/sys/net/ipv6/conf/all/disable_ipv6")
RADIOS = ("/sys/class/ieee80211/*", "/sys/class/bluetooth/*", "/sys/class/rfkill/rfkill*/type",
          "/sys/class/rfkill/rfkill*/soft", "/sys/class/rfkill/rfkill*/hard",
          "/sys/class/rfkill/rfkill*/name",
          "/sys/class/net/*/phy80211", "/sys/class/net/*/wireless")
RESOLVER = ("/etc/resolv.conf", "/etc/nsswitch.conf")
LINKS_COMMAND = "ip -o link; ip -o addr"
ARPHRD_ETHER = 1
NET_ADDR_RANDOM = 1  # addr_assign_type: the MAC was made up at boot
# /proc/net/if_inet6 scope field (IPV6_ADDR_* >> 16 as the kernel prints it).
SCOPE_GLOBAL, SCOPE_LINK, SCOPE_SITE, SCOPE_HOST = 0x00, 0x20, 0x40, 0x10


@dataclass(frozen=True)
class Link:
    name: str
    flags: frozenset[str]
    addresses: tuple[str, ...] = ()  # "inet 10.0.2.15/24", "inet6 fe80::1/64"

    @property
    def up(self) -> bool:
        return "UP" in self.flags and "LOWER_UP" in self.flags


_LINK = re.compile(r"^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>")
_ADDR = re.compile(r"^\d+:\s+(\S+)\s+(inet6?)\s+(\S+)")


def parse_links(text: str) -> dict[str, Link]:
    """`ip -o link` then `ip -o addr` (iproute2 or busybox): interfaces with their flags and addresses."""
    flags: dict[str, frozenset[str]] = {}
    addresses: dict[str, list[str]] = {}
    for line in text.splitlines():
        if m := _LINK.match(line):
            flags[m[1]] = frozenset(f for f in m[2].split(",") if f)
        elif m := _ADDR.match(line):
            addresses.setdefault(m[1], []).append(f"{m[2]} {m[3]}")
    return {n: Link(n, f, tuple(addresses.get(n, ()))) for n, f in flags.items()}


def loopback_up(links: dict[str, Link]) -> list[str]:
    lo = links.get("lo")
    if lo is None:
        return [f"no loopback interface among {sorted(links)}"]
    problems = [] if "UP" in lo.flags else [f"lo is down (flags {sorted(lo.flags)})"]
    if not any(a.startswith("inet 127.") for a in lo.addresses):
        problems.append(f"lo has no 127.0.0.0/8 address ({list(lo.addresses)})")
    return problems


@dataclass(frozen=True)
class Inet6:
    address: ipaddress.IPv6Address
    interface: str
    scope: int


def parse_if_inet6(text: str) -> list[Inet6]:
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 6 and len(parts[0]) == 32:
            try:
                address = ipaddress.IPv6Address(int(parts[0], 16))
                found.append(Inet6(address, parts[5], int(parts[3], 16)))
            except ValueError:
                continue
    return found


def ipv6_enabled(tree: Tree) -> list[str]:
    table = tree.value("/proc/net/if_inet6")
    if table is None:
        return ["/proc/net/if_inet6 is missing: the kernel has no IPv6"]
    problems = []
    if tree.value("/proc/sys/net/ipv6/conf/all/disable_ipv6") != "0":
        problems.append(f"net.ipv6.conf.all.disable_ipv6 is "
                        f"{tree.value('/proc/sys/net/ipv6/conf/all/disable_ipv6')!r}, not 0")
    if not any(a.address == ipaddress.IPv6Address("::1") for a in parse_if_inet6(table)):
        problems.append("lo has no ::1")
    return problems


def up_interfaces(links: dict[str, Link]) -> list[str]:
    return [n for n, link in links.items() if link.up and "LOOPBACK" not in link.flags]


def ipv6_link_local(tree: Tree, links: dict[str, Link]) -> list[str]:
    up = up_interfaces(links)
    if not up:
        return [f"no non-loopback interface is up ({sorted(links)})"]
    table = parse_if_inet6(tree.value("/proc/net/if_inet6") or "")
    have = {a.interface for a in table if a.address.is_link_local}
    return [f"{n} is up without an IPv6 link-local (fe80::/10) address" for n in up if n not in have]


def ipv6_routable(tree: Tree) -> list[str]:
    table = [a for a in parse_if_inet6(tree.value("/proc/net/if_inet6") or "") if a.interface != "lo"]
    if any(a.scope == SCOPE_GLOBAL for a in table):
        return []
    site = [str(a.address) for a in table if a.scope == SCOPE_SITE]
    extra = f"; only deprecated site-local (RFC 3879) {site}" if site else ""
    return [f"no global or unique-local IPv6 address on any interface{extra}"]


def ethernet_interfaces(tree: Tree) -> list[str]:
    """Ethernet-type interfaces backed by a device (not lo, bridges, veth, ifb) and not wireless."""
    found = []
    for name in tree.children("/sys/class/net"):
        base = f"/sys/class/net/{name}"
        if tree.int_value(f"{base}/type") != ARPHRD_ETHER or not tree.exists(f"{base}/device"):
            continue
        if tree.exists(f"{base}/wireless") or tree.exists(f"{base}/phy80211"):
            continue
        found.append(name)
    return found


def ethernet_present(tree: Tree) -> list[str]:
    if ethernet_interfaces(tree):
        return []
    return [f"no Ethernet interface backed by a device among {tree.children('/sys/class/net')}"]


def linked_ethernet(tree: Tree) -> list[str]:
    return [n for n in ethernet_interfaces(tree)
            if tree.value(f"/sys/class/net/{n}/carrier") == "1"
            and tree.value(f"/sys/class/net/{n}/operstate") == "up"]


def ethernet_link_up(tree: Tree) -> list[str]:
    interfaces = ethernet_interfaces(tree)
    if not interfaces:
        return ethernet_present(tree)
    if linked_ethernet(tree):
        return []
    states = {n: (tree.value(f"/sys/class/net/{n}/operstate"), tree.value(f"/sys/class/net/{n}/carrier"))
              for n in interfaces}
    return [f"no Ethernet interface has carrier and operstate up (operstate, carrier: {states})"]


def ethernet_speed(tree: Tree) -> list[str]:
    linked = linked_ethernet(tree)
    if not linked:
        return ethernet_link_up(tree)  # says why none is linked: never empty here
    problems = []
    for name in linked:
        speed = tree.int_value(f"/sys/class/net/{name}/speed")
        duplex = tree.value(f"/sys/class/net/{name}/duplex")
        if speed is None or speed <= 0 or duplex not in ("full", "half"):
            problems.append(f"{name} reports speed {speed} Mb/s, duplex {duplex!r}: no negotiated link mode")
    return problems


def ethernet_mac_stable(tree: Tree) -> list[str]:
    interfaces = ethernet_interfaces(tree)
    if not interfaces:
        return ethernet_present(tree)
    problems = []
    for name in interfaces:
        mac = tree.value(f"/sys/class/net/{name}/address") or ""
        octets = mac.split(":")
        if len(octets) != 6 or not all(re.fullmatch(r"[0-9a-f]{2}", o) for o in octets):
            problems.append(f"{name} has no readable MAC address ({mac!r})")
            continue
        if mac == "00:00:00:00:00:00" or int(octets[0], 16) & 1:
            problems.append(f"{name} has the unusable address {mac}")
        if tree.int_value(f"/sys/class/net/{name}/addr_assign_type") == NET_ADDR_RANDOM:
            problems.append(f"{name}'s MAC {mac} is made up at every boot (addr_assign_type 1)")
    return problems


def rfkill_blocked(tree: Tree, kind: str) -> list[str]:
    """Switches of `kind` (wlan, bluetooth) that block their radio, as 'rfkillN (name): soft/hard'."""
    blocked = []
    for switch in tree.children("/sys/class/rfkill"):
        base = f"/sys/class/rfkill/{switch}"
        if tree.value(f"{base}/type") != kind:
            continue
        how = [k for k in ("soft", "hard") if tree.value(f"{base}/{k}") != "0"]
        if how:
            blocked.append(f"{switch} ({tree.value(f'{base}/name')}) blocked: {'/'.join(how)}")
    return blocked


def wifi_interfaces(tree: Tree) -> list[str]:
    return [n for n in tree.children("/sys/class/net")
            if tree.exists(f"/sys/class/net/{n}/phy80211") or tree.exists(f"/sys/class/net/{n}/wireless")]


def wifi_present(tree: Tree) -> list[str]:
    phys = tree.children("/sys/class/ieee80211")
    if not phys:
        return ["no Wi-Fi PHY under /sys/class/ieee80211"]
    return [] if wifi_interfaces(tree) else [f"Wi-Fi PHYs {phys} but no wireless network interface"]


def wifi_unblocked(tree: Tree) -> list[str]:
    return wifi_present(tree) or rfkill_blocked(tree, "wlan")


def bluetooth_present(tree: Tree) -> list[str]:
    if [n for n in tree.children("/sys/class/bluetooth") if n.startswith("hci")]:
        return []
    return ["no Bluetooth controller (hciN) under /sys/class/bluetooth"]


def bluetooth_unblocked(tree: Tree) -> list[str]:
    return bluetooth_present(tree) or rfkill_blocked(tree, "bluetooth")


def resolver_configured(resolv_conf: str | None) -> list[str]:
    if resolv_conf is None:
        return ["/etc/resolv.conf is missing"]
    servers, bad = [], []
    for line in resolv_conf.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                servers.append(str(ipaddress.ip_address(parts[1].split("%")[0])))
            except ValueError:
                bad.append(parts[1])
    if bad:
        return [f"/etc/resolv.conf names invalid nameservers {bad}"]
    return [] if servers else ["/etc/resolv.conf names no nameserver"]


def nsswitch_uses_dns(nsswitch: str | None) -> list[str]:
    if nsswitch is None:
        return ["/etc/nsswitch.conf is missing"]
    for line in nsswitch.splitlines():
        key, _, sources = line.partition(":")
        if key.strip() == "hosts":
            words = sources.split("#", 1)[0].split()
            if {"dns", "resolve"} & set(words):
                return []
            return [f"nsswitch.conf hosts: {' '.join(words)!r} asks no DNS resolver (dns or resolve)"]
    return ["nsswitch.conf has no hosts: line"]


def resolved_addresses(output: str, name: str) -> list[str]:
    """Addresses `getent hosts NAME` printed for the name (one 'ADDRESS NAME [ALIAS...]' a line)."""
    found = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and name in parts[1:]:
            try:
                found.append(str(ipaddress.ip_address(parts[0])))
            except ValueError:
                continue
    return found
