"""run.json through its one reader (harness.results.run_info): what the runner writes comes back whole,
keys a newer harness added survive a rewrite, and a broken file is one line naming it and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.results.run_info import Invocation, RunInfo, SuiteRef, read_run_info
from harness.run.rundir import RunDir

INFO = RunInfo(
    run_id="r-1", harness_version="1.2", suites=[SuiteRef("demo", "2", "sha256:ab")], command_line=["harness", "run"],
    host="lab", operator="li", start=100.0, inventory="/lab/devices.toml", devices=["a", "b"], suites_root="/s",
    repeat=2, invocations=[Invocation("run", ["harness", "run"], 100.0, 150.0, devices=["a"])],
    waiver_file="waivers.json", declared={"a": {"model": "X1"}},
)


def test_what_the_runner_writes_comes_back_whole(tmp_path: Path) -> None:
    RunDir(tmp_path).write_info(INFO)
    assert read_run_info(tmp_path) == INFO == RunDir(tmp_path).read_info()
    assert read_run_info(tmp_path, lenient=True) == INFO


def test_keys_this_version_does_not_know_survive_a_rewrite(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({**INFO.to_dict(), "sharding": {"hosts": 3}}))
    info = read_run_info(tmp_path)
    assert info.extra == {"sharding": {"hosts": 3}}
    info.end = 200.0
    RunDir(tmp_path).write_info(info)
    again = json.loads((tmp_path / "run.json").read_text())
    assert again["sharding"] == {"hosts": 3} and again["end"] == 200.0


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (None, "not a run directory (no run.json)"),
        ("{", "run.json: unreadable: Expecting property name"),
        ("[1]", "run.json: unreadable: not a JSON object"),
        (json.dumps({k: v for k, v in INFO.to_dict().items() if k not in ("inventory", "devices")}),
         "run.json: unreadable: no inventory, devices"),
        (json.dumps({**INFO.to_dict(), "suites": [{"version": "1"}]}), "run.json: unreadable: "),
    ],
)
def test_a_broken_run_json_is_one_line_naming_it(tmp_path: Path, text: str | None, why: str) -> None:
    if text is not None:
        (tmp_path / "run.json").write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_run_info(tmp_path)
    assert why in str(caught.value) and str(tmp_path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_builder_reads_whatever_a_run_left(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"run_id": "r-9", "suites": [{"id": "demo"}]}))
    info = read_run_info(tmp_path, lenient=True)
    assert (info.run_id, info.suites, info.devices, info.inventory) == ("r-9", [SuiteRef("demo")], [], "")


INVENTORY = """
[devices.a]
kind = "board"
model = "EM-3568"
soc = "RK3568"
profile = "openharmony"
ssh = { host = "127.0.0.1", user = "root", key_file = "k" }
"""


@pytest.mark.parametrize(("run_json", "declared"), [
    (None, {"a": {"model": "EM-3568", "soc": "RK3568"}}),  # what the runner wrote
    ('{"devices": ["a"], "inventory": "%s"}', {"a": {"model": "EM-3568", "soc": "RK3568"}}),  # partial
    ("{", {}),  # garbled: the platform uses what the devices reported
    ('{"devices": 7, "inventory": "%s"}', {}),
])
def test_publishing_reads_the_bundles_run_json_through_the_same_reader(
    tmp_path: Path, run_json: str | None, declared: dict[str, dict[str, str]]
) -> None:
    import zipfile

    from harness.platform.client import declared_devices

    inventory = tmp_path / "devices.toml"
    inventory.write_text(INVENTORY)
    info = RunInfo(**{**INFO.to_dict(), "suites": [], "invocations": [], "inventory": str(inventory)})
    text = json.dumps(info.to_dict()) if run_json is None else run_json.replace("%s", str(inventory))
    bundle = tmp_path / "r-1.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("r-1/run.json", text)
    assert declared_devices(None, bundle) == declared
