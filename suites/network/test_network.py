"""Wireless and networking: loopback, IPv6, the resolver, Ethernet and the radios the device declares.

Three reads per module: one batch of sysfs/procfs entries (harness.checks.sysfs), `ip -o link; ip -o
addr`, and the resolver's files; the judging is in harness.checks.network."""

from __future__ import annotations

import shlex

import pytest

from harness.checks import network, reads


@pytest.fixture(scope="module")
def tree(dut):
    return reads.read_tree(dut, network.NET + network.RADIOS + network.RESOLVER)


@pytest.fixture(scope="module")
def links(dut):
    result = dut.run(network.LINKS_COMMAND)
    assert result.ok, f"{network.LINKS_COMMAND} failed {reads.failure_detail(result)}"
    return network.parse_links(result.stdout_text)


def _holds(problems: list[str]) -> None:
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("NET-LO-001")
def test_loopback_up(links):
    _holds(network.loopback_up(links))


@pytest.mark.requirement("NET-IP6-001")
def test_ipv6_enabled(tree):
    _holds(network.ipv6_enabled(tree))


@pytest.mark.requirement("NET-IP6-002")
def test_ipv6_link_local(tree, links):
    _holds(network.ipv6_enabled(tree) or network.ipv6_link_local(tree, links))


@pytest.mark.requirement("NET-IP6-003")
def test_ipv6_routable(tree):
    _holds(network.ipv6_enabled(tree) or network.ipv6_routable(tree))


@pytest.mark.requirement("NET-DNS-001")
def test_resolver_configured(tree):
    _holds(network.resolver_configured(tree.value("/etc/resolv.conf")))


@pytest.mark.requirement("NET-DNS-002")
def test_hosts_lookup_uses_dns(tree):
    _holds(network.nsswitch_uses_dns(tree.value("/etc/nsswitch.conf")))


@pytest.mark.requirement("NET-DNS-003")
def test_probe_name_resolves(dut, suite_data):
    name = str(suite_data["dns_probe_name"])
    result = dut.run(f"getent hosts {shlex.quote(name)}")
    assert result.ok, f"getent hosts {name} found nothing {reads.failure_detail(result)}"
    found = network.resolved_addresses(result.stdout_text, name)
    assert found, f"getent hosts {name} printed no address for it: {result.stdout_text[:200]!r}"


@pytest.mark.requirement("NET-ETH-001")
def test_ethernet_interface(tree):
    _holds(network.ethernet_present(tree))


@pytest.mark.requirement("NET-ETH-002")
def test_ethernet_link_up(tree):
    _holds(network.ethernet_link_up(tree))


@pytest.mark.requirement("NET-ETH-003")
def test_ethernet_speed_and_duplex(tree):
    _holds(network.ethernet_speed(tree))


@pytest.mark.requirement("NET-ETH-004")
def test_ethernet_mac_stable(tree):
    _holds(network.ethernet_mac_stable(tree))


@pytest.mark.requirement("NET-WIFI-001")
def test_wifi_interface(tree):
    _holds(network.wifi_present(tree))


@pytest.mark.requirement("NET-WIFI-002")
def test_wifi_not_blocked(tree):
    _holds(network.wifi_unblocked(tree))


@pytest.mark.requirement("NET-BT-001")
def test_bluetooth_controller(tree):
    _holds(network.bluetooth_present(tree))


@pytest.mark.requirement("NET-BT-002")
def test_bluetooth_not_blocked(tree):
    _holds(network.bluetooth_unblocked(tree))
