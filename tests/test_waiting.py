"""Deadlines and private ports."""

from __future__ import annotations

import socket
from pathlib import Path

from harness.waiting import PRIVATE_PORTS_START, free_port


def test_private_ports_stay_below_the_kernels_ephemeral_range() -> None:
    # A peer's port inside the ephemeral range can be taken as some client's source port while the
    # peer is down (a rebooting simulated device), or even self-connected by a retrying client.
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = free_port()
        assert PRIVATE_PORTS_START <= port < low
        assert not 5555 <= port <= 5585
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # and it is really free
