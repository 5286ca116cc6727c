"""`harness run --waivers FILE`: the platform's signed waiver file applied by the harness itself, so
a vendor's CI gate sees the verdict the platform will compute. A real run on a real sshd; the waiver
file signed with a platform key made here, as the platform's export makes it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.envelope import seal
from harness.report.signing import public_to_text
from harness.waivers import WAIVERS_FORMAT, Waiver, instant_text, waivers_body
from tests.test_run_cli import Lab, lab_factory  # noqa: F401  (the fixture)

NOW = dt.datetime.now(dt.UTC)


def waiver_file(folder: Path, key: Ed25519PrivateKey, waivers: list[Waiver]) -> Path:
    path = folder / "waivers.json"
    path.write_text(seal(WAIVERS_FORMAT, waivers_body(waivers, "acme", NOW), key).text())
    return path


def key_file(folder: Path, key: Ed25519PrivateKey) -> Path:
    path = folder / "platform.pub"
    path.write_text(public_to_text(key.public_key()) + "\n")
    return path


def w(wid: str, requirement: str, days: float, **scope: str) -> Waiver:
    return Waiver(
        id=wid,
        requirement=requirement,
        reason=f"reason {wid}",
        approved_by="officer",
        expires=instant_text(NOW + dt.timedelta(days=days)),
        **scope,
    )


@pytest.mark.peer("sshd")
def test_a_valid_waiver_turns_the_gate_green_and_every_output_says_waived(lab_factory) -> None:  # noqa: F811
    lab: Lab = lab_factory(1)
    lab.flag("broken")  # LAB-2 (MUST) fails
    platform = Ed25519PrivateKey.generate()
    waivers = waiver_file(
        lab.tmp,
        platform,
        [
            w("W-1", "LAB-2", 30, profile="generic-linux"),
            w("W-2", "LAB-2", -1),  # expired yesterday
            w("W-3", "LAB-2", 30, profile="openharmony"),  # another OS profile
        ],
    )
    key = key_file(lab.tmp, platform)
    done = lab.harness(
        "run",
        "lab",
        "--all",
        "--suites-root",
        str(lab.suites),
        "--run-id",
        "waived",
        "--waivers",
        str(waivers),
        "--platform-key",
        str(key),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run = lab.run_dir("waived")
    results = json.loads((run / "results.json").read_text())
    (device,) = results["devices"]
    assert device["verdict"] == "CERTIFIED"
    lab2 = next(r for r in device["requirements"] if r["id"] == "LAB-2")
    assert (lab2["status"], lab2["waived_status"], lab2["waiver"]) == ("waived", "fail", "W-1")
    fates = {x["id"]: x["applies"] for x in device["waivers"]}
    assert fates == {"W-1": "applied", "W-2": "expired", "W-3": "out-of-scope"}
    failed = next(t for t in device["tests"] if t["test_id"].endswith("test_product"))
    assert failed["outcome"] == "FAIL" and failed["waived_by"] == ["W-1"]  # measured as it was
    assert results["run"]["waiver_file"] == "waivers.json" and results["run"]["waivers_evaluated"]
    junit = (run / "junit.xml").read_text()
    assert 'type="WAIVED"' in junit and "WAIVED by W-1" in junit
    assert 'name="waived" value="LAB-2=W-1' in junit and "W-2 LAB-2: expired" in junit
    report = (run / "report.html").read_text()
    assert 'data-waiver="W-2" data-applies="expired"' in report and 'data-applies="out-of-scope"' in report
    # The signed waiver file travels in the bundle, covered by the lab's signature.
    assert json.loads((run / "manifest.json").read_text())["files"].get("waivers.json")

    # Without the waivers the same product failure fails the gate.
    plain = lab.harness("run", "lab", "--all", "--suites-root", str(lab.suites), "--run-id", "plain")
    assert plain.returncode == 1, plain.stdout + plain.stderr


@pytest.mark.parametrize("problem", ["forged", "edited", "no key", "not json"])
def test_a_waiver_file_the_platform_did_not_sign_is_refused_before_the_run(tmp_path: Path, problem: str) -> None:
    platform, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    waivers = waiver_file(tmp_path, other if problem == "forged" else platform, [w("W-1", "LAB-2", 30)])
    if problem == "edited":
        data = json.loads(waivers.read_text())
        data["body"]["waivers"][0]["expires"] = "2099-01-01T00:00:00Z"
        waivers.write_text(json.dumps(data))
    if problem == "not json":
        waivers.write_text("{not json")
    reports = tmp_path / "reports"
    args = ["run", "--all", "--run-id", "refused", "--reports", str(reports), "--waivers", str(waivers)]
    if problem != "no key":
        args += ["--platform-key", str(key_file(tmp_path, platform))]
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_PLATFORM_KEY"}
    refused = subprocess.run([sys.executable, "-m", "harness", "-i", str(tmp_path / "devices.toml"), *args],
                             capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert ("--platform-key" if problem == "no key" else "waivers.json") in refused.stderr
    assert not (reports / "refused").exists()  # nothing ran, nothing half-written
