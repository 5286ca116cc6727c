"""The one config checker (harness.config_check): one line naming file, table, key, value and a
did-you-mean; unknown keys refused; the lists of device kinds, profiles and link kinds in one place."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.config_check import Where, int_range, list_of, string, table, table_of
from harness.errors import ConfigError
from harness.inventory import load_inventory, parse_inventory
from harness.lab.persona import PERSONAS_DIR, list_personas, load_persona, parse_persona
from harness.links import LINKS
from harness.profiles import FAMILIES, load_profile, parse_profile, profile_names
from harness.specs import DEVICE_KINDS, LINK_KINDS
from harness.suites import default_suites_root, discover_suites, load_suite

PATH = Path("conf/devices.toml")


def message(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_an_unknown_key_names_file_table_key_value_and_the_closest_key() -> None:
    schema = {"address": string, "port": int_range(1, 65535)}
    with pytest.raises(ConfigError) as exc:
        table({"adress": "10.0.0.2"}, Where(PATH, "device 'board1'"), schema)
    assert message(exc) == (
        "conf/devices.toml: device 'board1', key 'adress' = '10.0.0.2': unknown key (did you mean 'address'?)"
    )


def test_a_wrong_type_and_a_missing_key_deep_in_tables_name_the_dotted_key() -> None:
    schema = {"inner": table_of({"port": int_range(1, 65535)}, required=("port",))}
    with pytest.raises(ConfigError) as exc:
        table({"inner": {"port": "22"}}, Where(PATH, "device 'b'", "ssh"), schema)
    assert message(exc) == "conf/devices.toml: device 'b', key 'ssh.inner.port' = '22': expected an integer from 1 to 65535"
    with pytest.raises(ConfigError) as exc:
        table({"inner": {}}, Where(PATH), schema)
    assert message(exc) == "conf/devices.toml: key 'inner.port' = None: required key is missing"


def test_a_bad_list_item_is_named_by_its_index() -> None:
    with pytest.raises(ConfigError) as exc:
        table({"tags": ["a", 3]}, Where(PATH), {"tags": list_of(string)})
    assert "key 'tags[1]' = 3: expected a non-empty string" in message(exc)


def test_a_value_under_a_key_that_may_hold_a_password_is_never_shown() -> None:
    with pytest.raises(ConfigError) as exc:
        table({"pasword": "hunter2-secret"}, Where(PATH, "device 'b'", "ssh"), {"password": string})
    assert "hunter2" not in message(exc) and "did you mean 'password'" in message(exc)


def test_the_inventory_takes_device_and_link_kinds_from_the_shared_lists(tmp_path: Path) -> None:
    assert DEVICE_KINDS == ("handset", "board", "module") and set(LINK_KINDS) == {"ssh", "adb", "hdc", "serial"}
    # A device spec lists its links in the shared order: the link registry's.
    assert LINKS.names() == LINK_KINDS
    for kind in DEVICE_KINDS:
        inv = parse_inventory(f'[devices.d]\nkind = "{kind}"\nprofile = "generic-linux"\n'
                              'ssh = {host = "h"}\nserial = {port = "/dev/ttyS0"}\n', tmp_path / "devices.toml")
        assert inv.get("d").kind == kind and inv.get("d").transports == ["ssh", "serial"]
    with pytest.raises(ConfigError, match=r"key 'kind' = 'modul': expected one of handset, board, module "
                                          r"\(did you mean 'module'\?\)"):
        parse_inventory('[devices.d]\nkind = "modul"\nprofile = "generic-linux"\nssh = {host = "h"}\n',
                        tmp_path / "devices.toml")


# --- suite.toml -----------------------------------------------------------------------------------

SUITE = """id = "x"
version = "1.0"
title_en = "X"
title_zh = "X"

[[requirements]]
id = "X-1"
level = "MUST"
title_en = "t"
title_zh = "t"
source = "a rule"
applies_to = { kinds = ["board"], profiles = ["openeuler"], capabilities = ["gpio"] }
"""


def write_suite(root: Path, text: str) -> Path:
    (root / "x").mkdir(parents=True, exist_ok=True)
    (root / "x" / "suite.toml").write_text(text, encoding="utf-8")
    return root / "x" / "suite.toml"


def test_a_good_suite_keeps_every_key_it_has_today(tmp_path: Path) -> None:
    write_suite(tmp_path, SUITE.replace('source = "a rule"', 'source = "a rule"\nrationale = "why"'))
    req = load_suite(tmp_path / "x").requirements["X-1"]
    assert (req.kinds, req.profiles, req.capabilities) == (("board",), ("openeuler",), ("gpio",))
    assert (req.source, req.rationale, req.suite) == ("a rule", "why", "x")


SUITE_BAD = [
    # (replace this, with that, the one line names these)
    ("applies_to =", "applies-to =",
     "requirement 'X-1', key 'applies-to' = {'kinds': ['board'], 'profiles': ['openeuler'], 'capabilities': "
     "['gpio']}: unknown key (did you mean 'applies_to'?)"),
    ('kinds = ["board"]', 'kind = ["board"]',
     "requirement 'X-1', key 'applies_to.kind' = ['board']: unknown key (did you mean 'kinds'?)"),
    ('profiles = ["openeuler"]', 'profiles = ["openeulr"]',
     "requirement 'X-1', key 'applies_to.profiles[0]' = 'openeulr': expected one of android, anolis, deepin, "),
    ('kinds = ["board"]', 'kinds = "board"',
     "requirement 'X-1', key 'applies_to.kinds' = 'board': expected a list of device kinds"),
    ('level = "MUST"', 'level = "MAY"', "requirement 'X-1', key 'level' = 'MAY': expected one of MUST, SHOULD"),
    ('title_en = "X"', 'titel_en = "X"', "key 'titel_en' = 'X': unknown key (did you mean 'title_en'?)"),
    ('id = "X-1"', "id = 1", "requirement #1, key 'id' = 1: expected a non-empty string"),
    ('title_zh = "t"', "", "requirement 'X-1', key 'title_zh' = None: required key is missing"),
]


@pytest.mark.parametrize(("old", "new", "expected"), SUITE_BAD, ids=[b[1][:20] or "missing" for b in SUITE_BAD])
def test_a_bad_suite_is_one_line_naming_file_requirement_and_key(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in SUITE
    path = write_suite(tmp_path, SUITE.replace(old, new, 1))
    with pytest.raises(ConfigError) as exc:
        load_suite(tmp_path / "x")
    assert message(exc).startswith(f"{path}: {expected}"), message(exc)
    if "openeulr" in new:
        assert message(exc).endswith("(did you mean 'openeuler'?)")


def test_a_misspelt_suite_key_is_exit_2_on_the_command_line(tmp_path: Path) -> None:
    path = write_suite(tmp_path, SUITE.replace("applies_to =", "applies-to =", 1))
    out = subprocess.run([sys.executable, "-m", "harness", "suites", "--root", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and str(path) in out.stderr
    assert "key 'applies-to'" in out.stderr and "did you mean 'applies_to'?" in out.stderr


def test_every_shipped_suite_loads() -> None:
    suites = discover_suites(default_suites_root())
    on_disk = {p.parent.name for p in default_suites_root().glob("*/suite.toml")}
    assert len(suites) == len(on_disk) >= 12 and all(s.requirements for s in suites.values())


# --- profiles -------------------------------------------------------------------------------------

PROFILE = """inherits = "android"
title = "Mine"

[identity]
os_name = "echo Mine"

[links.hdc]
family = "ohos"
"""


PROFILE_BAD = [
    ('title = "Mine"', 'titel = "Mine"', "key 'titel' = 'Mine': unknown key (did you mean 'title'?)"),
    ('inherits = "android"', 'inherits = "androd"', "key 'inherits' = 'androd': expected one of android, anolis, "),
    ('family = "ohos"', 'famly = "ohos"', "key 'links.hdc.famly' = 'ohos': unknown key (did you mean 'family'?)"),
    ('family = "ohos"', 'family = "harmony"', "key 'links.hdc.family' = 'harmony': expected one of linux, ohos, "
                                              "android"),
    ("[links.hdc]", "[links.hdcd]", "key 'links.hdcd' = 'hdcd': expected a link kind (ssh, adb, hdc, serial) "
                                    "(did you mean 'hdc'?)"),
    ('os_name = "echo Mine"', "os_name = 3", "key 'identity.os_name' = 3: expected a non-empty string"),
    ('inherits = "android"\n', "", "key 'family' = None: required key is missing (and not inherited)"),
]


@pytest.mark.parametrize(("old", "new", "expected"), PROFILE_BAD, ids=[b[1][:20] or "no-base" for b in PROFILE_BAD])
def test_a_bad_profile_is_one_line_naming_file_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in PROFILE
    path = tmp_path / "mine.toml"
    path.write_text(PROFILE.replace(old, new, 1))
    with pytest.raises(ConfigError) as exc:
        parse_profile(path)
    assert message(exc).startswith(f"{path}: {expected}"), message(exc)
    if "androd" in new:
        assert message(exc).endswith("(did you mean 'android'?)")


def test_a_good_profile_file_merges_over_the_one_it_inherits(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(PROFILE)
    mine = parse_profile(path)
    assert (mine.name, mine.title, mine.family) == ("mine", "Mine", "android")
    assert mine.identity["os_name"] == "echo Mine" and mine.identity["kernel"] == "uname -r"
    assert mine.for_link("hdc").family == "ohos"


def test_every_shipped_profile_loads_and_names_only_known_link_kinds() -> None:
    names = profile_names()
    assert {"openharmony", "harmonyos", "android", "openeuler", "kylin", "uos", "deepin", "anolis",
            "generic-linux"} <= set(names)
    for name in names:
        profile = load_profile(name)
        assert profile.name == name and profile.family in FAMILIES and set(profile.links) <= set(LINK_KINDS)


# --- personas -------------------------------------------------------------------------------------

EULER = (PERSONAS_DIR / "euler-ft2000" / "persona.toml").read_text(encoding="utf-8")

PERSONA_BAD = [
    ('hostname = "euler-ft2000"', 'hostnme = "euler-ft2000"',
     "key 'hostnme' = 'euler-ft2000': unknown key (did you mean 'hostname'?)"),
    ('device_kind = "board"', 'device_kind = "bord"',
     "key 'device_kind' = 'bord': expected one of handset, board, module (did you mean 'board'?)"),
    ('os_profile = "openeuler"', 'os_profile = "openeulr"', "key 'os_profile' = 'openeulr': expected one of "),
    ('release = "5.10', 'relase = "5.10', "key 'uname.relase' = '5.10.0-247.0.0.150.oe2203sp3.aarch64': unknown key "
                                          "(did you mean 'release'?)"),
    ("boot_seconds = 40.0", 'boot_seconds = "40"', "key 'boot_seconds' = '40': expected a number of seconds >= 0"),
    ('selinux = "Enforcing"', 'selinux = "enforcing"',
     "key 'security.selinux' = 'enforcing': expected one of Enforcing, Permissive, Disabled "
     "(did you mean 'Enforcing'?)"),
    ('soc = "FT-2000+"', "", "key 'soc' = None: required key is missing"),
    ('bin_dir = "/opt/sim/bin"', 'bin_dir = "/usr/local/bin"',
     "key 'bin_dir' = '/usr/local/bin': expected an absolute path the sandbox composes"),
    ('id = "euler-ft2000"', 'id = "euler"', "key 'id' = 'euler': does not match its folder 'euler-ft2000'"),
    ('default_target = "multi-user.target"', 'default_targt = "multi-user.target"',
     "key 'systemd.default_targt' = 'multi-user.target': unknown key (did you mean 'default_target'?)"),
    ("failed = []", 'failed = "nc-ota-agent.service"', "key 'systemd.failed' = 'nc-ota-agent.service': expected "),
    ('locales = ["en_US.utf8"', 'locales = [1, "en_US.utf8"', "key 'locales"),
]


@pytest.mark.parametrize(("old", "new", "expected"), PERSONA_BAD, ids=[b[1][:20] or "no-soc" for b in PERSONA_BAD])
def test_a_bad_persona_is_one_line_naming_file_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in EULER
    folder = tmp_path / "euler-ft2000"
    folder.mkdir()
    (folder / "persona.toml").write_text(EULER.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        parse_persona(folder)
    assert message(exc).startswith(f"{folder / 'persona.toml'}: {expected}"), message(exc)


def test_a_persona_takes_kinds_and_profiles_from_the_harness_lists(tmp_path: Path) -> None:
    # The lab once had its own lists, without `module` and `deepin`: a persona may be either now.
    folder = tmp_path / "euler-ft2000"
    folder.mkdir()
    (folder / "persona.toml").write_text(
        EULER.replace('device_kind = "board"', 'device_kind = "module"')
        .replace('os_profile = "openeuler"', 'os_profile = "deepin"'), encoding="utf-8")
    persona = parse_persona(folder)
    assert (persona.device_kind, persona.os_profile) == ("module", "deepin")
    assert persona == replace(load_persona("euler-ft2000"), device_kind="module", os_profile="deepin")


def test_a_personas_systemd_table_and_locales_are_read() -> None:
    units = load_persona("nonconforming-board").systemd
    assert units is not None and units.failed == ("nc-ota-agent.service",)
    assert "kdump.service" not in units.enabled and units.default_target == "multi-user.target"
    assert "zh_CN.utf8" in load_persona("euler-ft2000").locales
    assert load_persona("ohos-rk3568").systemd is None  # no table: the shim answers as it always did


def test_every_shipped_persona_loads_with_a_shipped_profile_and_kind() -> None:
    names = list_personas()
    assert len(names) == len(list(PERSONAS_DIR.glob("[!_]*/persona.toml"))) >= 6
    for name in names:
        persona = load_persona(name)
        assert persona.os_profile in profile_names() and persona.device_kind in DEVICE_KINDS


# --- the examples people copy ---------------------------------------------------------------------


def test_the_shipped_inventory_and_every_readme_inventory_example_load(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    assert load_inventory(root / "devices.toml").lab is not None
    readme = (root / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[devices." in b]
    assert len(blocks) >= 2
    for block in blocks:
        assert parse_inventory(block, tmp_path / "devices.toml").devices, block


# --- the inventory's [lab] ------------------------------------------------------------------------

LAB = """[devices.kylin-v10]
kind = "board"
profile = "kylin"
ssh = { host = "127.0.0.1", port = 27301 }

[lab]
state_dir = "state"

[lab.devices.kylin-v10]
persona = "kylin-v10"
boot_time = 0.5
"""

LAB_BAD = [
    ('state_dir = "state"', "state_dir = 3", "key 'lab.state_dir' = 3: expected a non-empty string"),
    ('state_dir = "state"', 'stat_dir = "state"',
     "key 'lab.stat_dir' = 'state': unknown key (did you mean 'state_dir'?)"),
    ("boot_time = 0.5", 'boot_time = "fast"',
     "device 'kylin-v10', key 'lab.devices.kylin-v10.boot_time' = 'fast': expected a number of seconds >= 0"),
    ('persona = "kylin-v10"', "persona = 10",
     "device 'kylin-v10', key 'lab.devices.kylin-v10.persona' = 10: expected one of "),
]


@pytest.mark.parametrize(("old", "new", "expected"), LAB_BAD, ids=[b[1][:20] for b in LAB_BAD])
def test_a_bad_lab_section_is_one_line_naming_file_and_key(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in LAB
    path = tmp_path / "devices.toml"
    assert parse_inventory(LAB, path).lab is not None
    with pytest.raises(ConfigError) as exc:
        parse_inventory(LAB.replace(old, new, 1), path)
    assert message(exc).startswith(f"{path}: {expected}"), message(exc)
