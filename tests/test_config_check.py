"""The one config checker (harness.config_check): one line naming file, table, key, value and a
did-you-mean; unknown keys refused; the lists of device kinds, profiles and link kinds in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config_check import Where, int_range, list_of, string, table, table_of
from harness.errors import ConfigError
from harness.inventory import parse_inventory
from harness.specs import DEVICE_KINDS, LINK_KINDS, DeviceSpec

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
    # A device spec lists its links in the shared order, and has a field for each kind.
    assert set(LINK_KINDS) <= set(DeviceSpec.__dataclass_fields__)
    for kind in DEVICE_KINDS:
        inv = parse_inventory(f'[devices.d]\nkind = "{kind}"\nprofile = "generic-linux"\n'
                              'ssh = {host = "h"}\nserial = {port = "/dev/ttyS0"}\n', tmp_path / "devices.toml")
        assert inv.get("d").kind == kind and inv.get("d").transports == ["ssh", "serial"]
    with pytest.raises(ConfigError, match=r"key 'kind' = 'modul': expected one of handset, board, module "
                                          r"\(did you mean 'module'\?\)"):
        parse_inventory('[devices.d]\nkind = "modul"\nprofile = "generic-linux"\nssh = {host = "h"}\n',
                        tmp_path / "devices.toml")
