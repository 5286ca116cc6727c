"""devices.toml validation: good input parses; bad input is one precise line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.inventory import load_inventory, parse_inventory

GOOD = """
[devices.em3568-ohos]
kind = "board"
vendor = "Example Modules"
model = "EM-3568"
soc = "RK3568"
profile = "openharmony"
tags = ["arm64", "ohos-4"]
serial = { port = "rfc2217://lab-a:4001", baud = 1500000, user = "root", password_env = "EM3568_PASS" }

[devices.euler-ft2000]
kind = "board"
profile = "openeuler"
declared = { os_version = "22.03", arch = "aarch64", cpu_count = 8, memory_mb = 16384 }
ssh = { host = "10.20.0.12", user = "root", key_file = "keys/lab_ed25519", host_key = "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", jump = "ops@gw.lab:2222" }

[devices.handset-07]
kind = "handset"
profile = "harmonyos"
adb = { serial = "A1B2C3D4", server = "lab-b:5038" }

[devices.devboard]
kind = "module"
profile = "generic-linux"
primary = "serial"
ssh = { host = "127.0.0.1", password = "hunter2-dev-board" }
serial = { port = "/dev/ttyUSB0" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "devices.toml"
    path.write_text(text)
    return path


def harness_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def test_good_inventory_parses_every_field(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, GOOD))
    assert list(inv.devices) == ["em3568-ohos", "euler-ft2000", "handset-07", "devboard"]
    ohos = inv.get("em3568-ohos")
    assert (
        ohos.serial is not None and ohos.serial.baud == 1500000 and ohos.serial.password.env == "EM3568_PASS"
    )
    assert ohos.tags == ("arm64", "ohos-4") and ohos.soc == "RK3568"
    euler = inv.get("euler-ft2000")
    assert euler.ssh is not None and euler.ssh.jump is not None
    assert (euler.ssh.jump.user, euler.ssh.jump.host, euler.ssh.jump.port) == ("ops", "gw.lab", 2222)
    assert euler.ssh.key_file == tmp_path / "keys/lab_ed25519"  # relative to the inventory file
    assert euler.declared.cpu_count == 8 and euler.declared.arch == "aarch64"
    handset = inv.get("handset-07")
    assert handset.adb is not None and (handset.adb.server_host, handset.adb.server_port) == ("lab-b", 5038)
    assert inv.get("devboard").primary_transport == "serial"
    assert [d.name for d in inv.select(tags=["arm64"])] == ["em3568-ohos"]


def test_inline_password_never_shows(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, GOOD))
    spec = inv.get("devboard")
    assert "hunter2" not in repr(spec) and "hunter2" not in str(spec)
    out = harness_cli("-i", str(write(tmp_path, GOOD)), "devices", "--no-probe", "--json")
    assert out.returncode == 0, out.stderr
    assert "hunter2" not in out.stdout + out.stderr
    assert {d["name"] for d in json.loads(out.stdout)} == {
        "em3568-ohos",
        "euler-ft2000",
        "handset-07",
        "devboard",
    }


BAD = [
    # (replace this, with that, the message must contain all of these)
    ("baud = 1500000", 'baud = "fast"', ["em3568-ohos", "serial.baud", "'fast'", "integer"]),
    ("password_env =", "pasword_env =", ["em3568-ohos", "serial.pasword_env", "did you mean 'password_env'"]),
    (
        'profile = "openeuler"',
        'profile = "openeulr"',
        ["euler-ft2000", "profile", "'openeulr'", "did you mean 'openeuler'"],
    ),
    ('kind = "handset"', 'kind = "phone"', ["handset-07", "kind", "'phone'", "handset, board, module"]),
    ('server = "lab-b:5038"', 'server = "lab-b:99999"', ["handset-07", "adb.server", "lab-b:99999"]),
    (
        "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "MD5:00",
        ["euler-ft2000", "ssh.host_key", "'MD5:00'"],
    ),
    ('tags = ["arm64", "ohos-4"]', 'tags = "arm64"', ["em3568-ohos", "tags", "list"]),
    (
        'vendor = "Example Modules"',
        'vendr = "Example Modules"',
        ["em3568-ohos", "'vendr'", "did you mean 'vendor'"],
    ),
    ('primary = "serial"', 'primary = "adb"', ["devboard", "primary", "no [adb] table"]),
    (
        'password = "hunter2-dev-board"',
        'password = "hunter2-dev-board", password_env = "X"',
        ["devboard", "either password or password_env"],
    ),
    ("[devices.handset-07]", "[device.handset-07]", ["'device'", "did you mean 'devices'"]),
    ('adb = { serial = "A1B2C3D4", server = "lab-b:5038" }', "", ["handset-07", "at least one transport"]),
    ("[devices.devboard]", "[devices.devboard\n", ["not valid TOML", "line"]),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD, ids=[b[1][:24] or "no-transport" for b in BAD])
def test_bad_input_is_one_precise_line_and_exit_2(
    tmp_path: Path, old: str, new: str, expected: list[str]
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    before = sorted(p.name for p in tmp_path.iterdir())
    out = harness_cli("-i", str(path), "devices", "--no-probe")
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert str(path) in lines[0]
    for part in expected:
        assert part in lines[0], (part, lines[0])
    assert "hunter2" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing else touched


def test_parse_error_names_the_secret_key_without_its_value(tmp_path: Path) -> None:
    text = GOOD.replace('password = "hunter2-dev-board"', "password = 12345678")
    with pytest.raises(ConfigError) as err:
        parse_inventory(text, tmp_path / "devices.toml")
    assert "ssh.password" in str(err.value) and "12345678" not in str(err.value)


def test_cli_usage_errors_exit_2_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    for args in (
        ["devices", "--bogus"],
        ["exec", "no-such-device", "--", "true"],
        ["nosuchcommand"],
        ["devices", "--timeout", "soon"],
    ):
        out = harness_cli("-i", str(path), *args)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, (args, out.stderr)
    out = harness_cli("-i", str(path), "exec", "handset-7", "--", "true")
    assert "did you mean 'handset-07'" in out.stderr
    out = harness_cli("-i", str(tmp_path / "missing.toml"), "devices")
    assert out.returncode == 2 and "missing.toml" in out.stderr and "not found" in out.stderr


@pytest.mark.parametrize(
    "link",
    [
        'ssh = { host = "h", pasword = "hunter2-typo-secret" }',
        'ssh = { host = "h", passwd = "hunter2-typo-secret" }',
        'ssh = "root:hunter2-typo-secret@h"',
    ],
)
def test_a_misspelt_or_misplaced_password_is_never_shown(tmp_path: Path, link: str) -> None:
    path = write(tmp_path, f'[devices.x]\nkind = "board"\nprofile = "generic-linux"\n{link}\n')
    out = harness_cli("-i", str(path), "devices", "--no-probe")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "hunter2" not in out.stderr and "not shown" in out.stderr


def test_a_password_from_the_environment_is_masked_before_it_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.secrets import Secret, mask_command, redact

    monkeypatch.setenv("HARNESS_TEST_PW", "env-secret-value-42")
    Secret(env="HARNESS_TEST_PW")  # declared by the inventory, not yet revealed
    # Where it can turn up: an assignment to the variable that carries it, a command line that carries it.
    assert redact("env: HARNESS_TEST_PW=env-secret-value-42") == "env: HARNESS_TEST_PW=********"
    assert mask_command("sshpass -p env-secret-value-42 ssh x") == "sshpass -p ******** ssh x"
    assert redact("postgresql://q:env-secret-value-42@db/x down") == "postgresql://q:********@db/x down"


def test_inventory_option_works_after_the_subcommand_too(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()  # no devices.toml here: only the option can name the inventory
    names = {"em3568-ohos", "euler-ft2000", "handset-07", "devboard"}
    for args in (
        ["devices", "--no-probe", "--json", "-i", str(path)],
        ["devices", "--inventory", str(path), "--no-probe", "--json"],
        ["-i", str(path), "devices", "--no-probe", "--json"],
    ):
        out = harness_cli(*args, cwd=elsewhere)
        assert out.returncode == 0, (args, out.stderr)
        assert {d["name"] for d in json.loads(out.stdout)} == names
    # After the subcommand it wins over the global one, and reaches the commands that load it.
    missing = str(tmp_path / "missing.toml")
    out = harness_cli("-i", missing, "exec", "handset-7", "-i", str(path), "--", "true", cwd=elsewhere)
    assert out.returncode == 2 and "did you mean 'handset-07'" in out.stderr, out.stderr
    out = harness_cli("lab", "status", "-i", missing, cwd=elsewhere)
    assert out.returncode == 2 and "missing.toml" in out.stderr, out.stderr


def test_lab_is_importable_from_the_package_as_the_readme_shows() -> None:
    from harness.lab import Faults, Lab
    from harness.lab.faults import Faults as FaultsClass
    from harness.lab.lab import Lab as LabClass

    assert Lab is LabClass and Faults is FaultsClass
    with pytest.raises(ImportError):
        from harness.lab import NoSuchThing  # type: ignore[attr-defined]  # noqa: F401
