"""The `hdc` link in devices.toml: parsed, defaulted and refused as precisely as the other links."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.inventory import parse_inventory

BASE = """
[devices.nx-handset]
kind = "handset"
profile = "harmonyos"
hdc = {{ {link} }}
"""


def parse(link: str, path: Path = Path("/lab/devices.toml")):  # type: ignore[no-untyped-def]
    return parse_inventory(BASE.format(link=link), path).get("nx-handset")


def test_defaults_and_every_key() -> None:
    spec = parse('target = "FMR0223C13000649"')
    assert spec.hdc is not None and spec.transports == ["hdc"] and spec.primary_transport == "hdc"
    assert (spec.hdc.target, spec.hdc.server_host, spec.hdc.server_port) == ("FMR0223C13000649", "127.0.0.1", 8710)
    assert spec.hdc.connect is None and spec.hdc.client is None
    full = parse('target = "192.168.3.7:5555", server = "lab-c:18710", connect = "192.168.3.7:5555", '
                 'client = "sdk/toolchains/hdc"').hdc
    assert full is not None
    assert (full.server_host, full.server_port, full.connect) == ("lab-c", 18710, "192.168.3.7:5555")
    assert full.client == Path("/lab/sdk/toolchains/hdc")  # relative to the inventory, like key files


BAD = [
    ('targt = "X"', ["hdc.targt", "unknown key", "did you mean 'target'"]),
    ('server = "lab-c:18710"', ["hdc.target", "required key is missing"]),
    ('target = "has space"', ["hdc.target", "'has space'", "no spaces"]),
    ('target = "' + "x" * 32 + '"', ["hdc.target", "at most 31"]),
    ('target = "A", server = "me@lab-c:1"', ["hdc.server", "no user"]),
    ('target = "A", server = "lab-c:99999"', ["hdc.server", "'lab-c:99999'"]),
    ('target = "A", connect = "10.0.0.2"', ["hdc.connect", "'10.0.0.2'", "IP:PORT"]),
    ('target = "A", connect = "10.0.0.2:5555"', ["hdc.target", "'A'", "expected '10.0.0.2:5555'"]),
    ('target = 7', ["hdc.target", "7", "non-empty string"]),
]


@pytest.mark.parametrize(("link", "expected"), BAD, ids=[b[0][:30] for b in BAD])
def test_bad_hdc_link_is_one_precise_line(link: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse(link)
    message = str(info.value)
    assert "\n" not in message and "/lab/devices.toml" in message and "'nx-handset'" in message
    for part in expected:
        assert part in message, (part, message)


def test_primary_hdc() -> None:
    text = BASE.format(link='target = "A"') + 'serial = { port = "/dev/ttyUSB3" }\nprimary = "hdc"\n'
    assert parse_inventory(text.replace('primary = "hdc"', ""), Path("x.toml")).get("nx-handset").transports \
        == ["hdc", "serial"]
    spec = parse_inventory(text, Path("x.toml")).get("nx-handset")
    assert spec.transports == ["hdc", "serial"] and spec.primary_transport == "hdc"
