"""Listening TCP sockets from /proc/net/tcp and /proc/net/tcp6."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

TCP_LISTEN = "0A"


@dataclass(frozen=True, order=True)
class ListeningPort:
    proto: str  # tcp | tcp6
    address: str
    port: int

    @property
    def loopback_only(self) -> bool:
        return ipaddress.ip_address(self.address).is_loopback

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.proto} {host}:{self.port}"


def _decode_address(hex_addr: str) -> str:
    """The kernel prints addresses as host-order 32-bit words in hex (little-endian on most SoCs)."""
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    if len(raw) == 16:
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        return str(ipaddress.IPv6Address(words))
    raise ValueError(f"bad address {hex_addr!r}")


def parse_proc_net(text: str, proto: str) -> list[ListeningPort]:
    """Sockets in LISTEN state from one /proc/net/tcp* table."""
    ports: list[ListeningPort] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or ":" not in fields[1]:
            continue
        local, state = fields[1], fields[3]
        if state != TCP_LISTEN:
            continue
        addr_hex, port_hex = local.rsplit(":", 1)
        ports.append(ListeningPort(proto, _decode_address(addr_hex), int(port_hex, 16)))
    return sorted(set(ports))


def unexpected_ports(
    ports: list[ListeningPort], allowed: list[int], ignore_loopback: bool
) -> list[ListeningPort]:
    return [p for p in ports if p.port not in allowed and not (ignore_loopback and p.loopback_only)]
