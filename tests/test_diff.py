"""harness diff: two builds of one board, two devices of one run, a bundle zip, and bad input. The runs
are journals turned into results.json by the real builder; the command runs as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.report.signing import init_key
from harness.results.diff import diff_runs, pair_devices
from harness.results.view import DeviceView, RunView, run_view
from tests.diff_runs import write_run

T = "demo/test_demo.py::"
BUILD_1: dict[str, str | list[str]] = {
    T + "test_regressed": "PASS",
    T + "test_repaired": "FAIL",
    T + "test_broken": "FAIL",
    T + "test_lab": "PASS",
    T + "test_dropped": "PASS",
    T + "test_steady": "PASS",
    T + "test_wobbly": "PASS",
}
BUILD_2: dict[str, str | list[str]] = {
    T + "test_regressed": "FAIL",
    T + "test_repaired": "PASS",
    T + "test_broken": "FAIL",
    T + "test_lab": "ERROR",
    T + "test_steady": "PASS",
    T + "test_wobbly": ["PASS", "FAIL"],  # repeats disagree: flaky, and failing in its worst repeat
    T + "test_new": "FAIL",
}
REQS = {T + "test_regressed": ["DEMO-2"], T + "test_repaired": ["DEMO-3"], T + "test_steady": ["DEMO-1"]}
METRICS_1 = {T + "test_steady": [("write_MBps", 88.0, 50.0, None), ("read_MBps", 100.0, None, None),
                                 ("latency_ms", 10.0, None, None)]}
METRICS_2 = {T + "test_steady": [("write_MBps", 31.5, 50.0, None), ("read_MBps", 120.0, None, None),
                                 ("latency_ms", 10.5, None, None)]}


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: a process of its own."""
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The same entry point in this process (a process start costs seconds on a busy machine)."""

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        with pytest.raises(SystemExit) as stop:
            main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, int(stop.value.code or 0), out.out, out.err)

    return run


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("diff")
    write_run(base / "reports", base / "suites", "run-1", {"board": BUILD_1}, requirements=REQS,
              metrics=METRICS_1, fingerprint="openEuler/22.03/build-1")
    write_run(base / "reports", base / "suites", "run-2", {"board": BUILD_2}, requirements=REQS,
              metrics=METRICS_2, fingerprint="openEuler/22.03/build-2")
    return base


def ids(items: list[dict[str, Any]]) -> list[str]:
    return sorted(i["test_id"].removeprefix(T) for i in items)


def test_two_builds_every_change_in_its_list(builds: Path) -> None:
    done = harness("diff", "run-1", "run-2", "--json", cwd=builds)
    assert done.returncode == 1, done.stderr  # a regression
    doc = json.loads(done.stdout)
    (board,) = doc["devices"]
    assert (board["a"], board["b"]) == ("board", "board")
    assert board["build_a"].endswith("build-1/board") and board["build_b"].endswith("build-2/board")
    assert ids(board["newly_failing"]) == ["test_new", "test_regressed", "test_wobbly"]
    assert ids(board["fixed"]) == ["test_repaired"]
    assert ids(board["still_failing"]) == ["test_broken"]
    assert ids(board["changed"]) == ["test_lab"]  # PASS -> ERROR is lab trouble: neither fixed nor failing
    assert ids(board["added"]) == ["test_new"]
    assert ids(board["removed"]) == ["test_dropped"]
    assert [(f["test_id"].removeprefix(T), f["runs"]) for f in board["flaky"]] == [("test_wobbly", ["b"])]
    reqs = {r["id"]: (r["before"], r["after"]) for r in board["requirements"]}
    assert reqs["DEMO-2"] == ("pass", "fail") and reqs["DEMO-3"] == ("fail", "pass")
    moved = {m["name"]: (m["before"], m["after"], m["why"]) for m in board["metrics"]}
    assert moved == {"write_MBps": (88.0, 31.5, "out of bounds"), "read_MBps": (100.0, 120.0, "moved")}
    assert doc["summary"]["newly_failing"] == 3 and doc["regression"] is True


def test_text_form_and_the_tolerance(builds: Path, cli: Any) -> None:
    done = cli("diff", "run-1", "run-2", "--metric-tolerance", "25", cwd=builds)
    assert done.returncode == 1
    out = done.stdout
    for title in ("newly failing (3)", "fixed (1)", "still failing (1)", "other changes (1)", "tests added (1)",
                  "tests removed (1)", "flaky (1)", "requirements changed", "metrics moved (1)"):
        assert title in out, (title, out)
    assert "write_MBps: 88 -> 31.5 MB/s (-64.2%): out of bounds, bounds >= 50" in out
    assert "read_MBps" not in out  # +20% is within a 25% tolerance
    assert "regression: yes" in out


def test_two_devices_of_one_signed_bundle_with_hostile_text(tmp_path: Path) -> None:
    key = tmp_path / "key"
    init_key(key)
    hostile = "\x1b[2J\x1b]0;owned\x07 <b>x</b>"
    bundle = write_run(tmp_path / "reports", tmp_path / "suites", "run-x",
                       {"dev-a": {T + "test_one": "PASS", T + "test_two": "PASS"},
                        "dev-b": {T + "test_one": "FAIL", T + "test_two": "PASS"}},
                       message=hostile, sign_with=key)
    assert bundle.suffix == ".zip"
    done = harness("diff", str(bundle), "--pair", "dev-a=dev-b", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "device dev-a -> dev-b" in done.stdout and "PASS -> FAIL  demo/test_demo.py::test_one" in done.stdout
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "\\x1b[2J" in done.stdout
    assert "devices only in" not in done.stdout  # the pair was chosen: the rest is not news


def test_a_results_json_file_and_the_only_device_of_each(tmp_path: Path, cli: Any) -> None:
    write_run(tmp_path / "reports", tmp_path / "suites", "a", {"old-name": {T + "t": "FAIL"}})
    write_run(tmp_path / "reports", tmp_path / "suites", "b", {"new-name": {T + "t": "PASS"}})
    done = cli("diff", "reports/a/results.json", "reports/b/results.json", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (pair,) = json.loads(done.stdout)["devices"]
    assert (pair["a"], pair["b"]) == ("old-name", "new-name") and ids(pair["fixed"]) == ["t"]
    assert pair["regression"] is False  # only a fix: exit 0


def _run_view(devices: list[str]) -> RunView:
    return RunView("x", "x", {n: DeviceView(n, "CERTIFIED", {}, {}, {}) for n in devices})


def test_pairing_rules() -> None:
    a, b = _run_view(["d1", "d2", "d3"]), _run_view(["d2", "d3", "d4"])
    assert pair_devices(a, b) == [("d2", "d2"), ("d3", "d3")]
    result = diff_runs(a, b)
    assert result.only_a == ("d1",) and result.only_b == ("d4",)
    assert pair_devices(_run_view(["x"]), _run_view(["y", "z"])) == []  # nothing certain to pair


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("diff", "nope", "run-1"), "no run 'nope'"),
        (("diff", "run-1"), "give RUN_B, or --pair"),
        (("diff", "run-1", "run-2", "--pair", "board"), "--pair 'board': give DEVICE_A=DEVICE_B"),
        (("diff", "run-1", "run-2", "--pair", "board=ghost"), "no device 'ghost' (it has board)"),
        (("diff", "run-1", "run-2", "--metric-tolerance", "nan"), "--metric-tolerance nan"),
    ],
)
def test_usage_errors_are_one_line_exit_2(builds: Path, cli: Any, args: tuple[str, ...], expected: str) -> None:
    done = cli(*args, cwd=builds)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""


def test_malformed_documents_name_file_and_path(tmp_path: Path, builds: Path, cli: Any) -> None:
    doc = json.loads((builds / "reports" / "run-1" / "results.json").read_text())
    doc["devices"][0]["tests"][2]["outcome"] = 7
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    done = cli("diff", str(bad), str(builds / "reports" / "run-2"), cwd=tmp_path)
    assert done.returncode == 2
    assert f"{bad}: $.devices[0].tests[2].outcome: not a non-empty string" in done.stderr
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("run/manifest.json", "{}")
    done = cli("diff", str(empty), str(bad), cwd=tmp_path)
    assert done.returncode == 2 and f"{empty}: no results.json in the bundle" in done.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\xff{")
    done = cli("diff", str(garbage), str(bad), cwd=tmp_path)
    assert done.returncode == 2 and f"{garbage}: not JSON" in done.stderr


def test_duplicate_device_names_are_refused() -> None:
    doc = {"run": {"run_id": "r"}, "devices": [{"name": "d"}, {"name": "d"}]}
    with pytest.raises(Exception, match=r"src: \$.devices\[1\].name: device 'd' appears twice"):
        run_view(doc, "src")


def test_a_lone_surrogate_from_a_device_prints_as_an_escape() -> None:
    test = {"test_id": "s/t.py::t\ud800", "suite": "s", "outcome": "FAIL", "message": "bad \udcff byte",
            "requirements": ["R-1"]}
    before = {"run": {"run_id": "a"}, "devices": [{"name": "d", "tests": [{**test, "outcome": "PASS"}]}]}
    after = {"run": {"run_id": "b"}, "devices": [{"name": "d", "tests": [test]}]}
    result = diff_runs(run_view(before, "a"), run_view(after, "b"))
    text = json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")  # would raise on a surrogate
    assert b"t.py::t\\\\ud800" in text and b"bad \\\\udcff byte" in text
