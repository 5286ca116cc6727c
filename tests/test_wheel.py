"""The distribution as a user gets it: the wheel built from this checkout, installed into a fresh venv
outside the checkout, lists every suite and runs one on the simulated lab.

Lean on purpose (it runs in CI): the wheel is built once, installed without its dependencies, and the
venv borrows them from the test's own environment through a path file (no download), so what is tested
is exactly what the wheel holds: the package, its data and the suites."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.suites import INSTALLED_SUITES, discover_suites
from tests.lab_inventory import write_lab

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("harness", "suites", "pyproject.toml", "README.md")

pytestmark = pytest.mark.peer("pip")


@dataclass(frozen=True)
class Installed:
    venv: Path
    work: Path  # a folder outside the checkout with no suites/ in it

    def harness(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HARNESS_LOCK_DIR": str(self.work / "locks"), "HARNESS_KEY_DIR": str(self.work / "keys")}
        env.pop("HARNESS_INVENTORY", None)
        return subprocess.run([str(self.venv / "bin" / "harness"), *args], cwd=self.work, env=env,
                              capture_output=True, text=True, timeout=timeout)


def _copy_sources(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    _copy_sources(base / "src")  # built outside the checkout: nothing written into it
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"),
                            str(base / "src")], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (base / "dist").glob("harness-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies, borrowed: a plain path entry (its .pth files, our editable install among them,
    # are not run), after the venv's own site-packages where the wheel goes.
    (site / "zz_borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    work = base / "elsewhere"
    work.mkdir()
    yield Installed(venv, work)


def test_the_wheel_is_what_runs(installed: Installed) -> None:
    where = subprocess.run([str(installed.venv / "bin" / "python"), "-c", "import harness; print(harness.__file__)"],
                           cwd=installed.work, capture_output=True, text=True, timeout=60)
    assert where.stdout.startswith(str(installed.venv)), where.stdout + where.stderr


def test_installed_harness_lists_every_suite(installed: Installed) -> None:
    out = installed.harness("suites", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    suites = listed["suites"] if isinstance(listed, dict) else listed
    ids = {s["id"] for s in suites}
    assert ids == set(discover_suites(REPO / "suites")), ids
    # Every file of every suite shipped, byte for byte.
    shipped = installed.venv / INSTALLED_SUITES
    ours = {p.relative_to(REPO / "suites") for p in (REPO / "suites").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}
    theirs = {p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert ours == theirs, (sorted(ours - theirs), sorted(theirs - ours))


def test_installed_harness_runs_a_suite_on_the_lab(installed: Installed) -> None:
    (installed.work / "lab").mkdir()
    inventory, _ports = write_lab(installed.work / "lab", only=("kylin-v10",))
    up = installed.harness("-i", str(inventory), "lab", "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        run = installed.harness("-i", str(inventory), "run", "smoke", "--device", "kylin-v10",
                                "--reports", str(installed.work / "reports"), "--plain")
        assert run.returncode == 0, run.stdout + run.stderr
        bundle = Path(run.stdout.strip().splitlines()[-1])  # the last line: the signed bundle
        assert bundle.suffix == ".zip" and bundle.is_file(), run.stdout
        results = bundle.with_suffix("") / "results.json"
        summary = json.loads(results.read_text())["summary"]
        assert summary["verdicts"] == {"CERTIFIED": 1}, summary
        assert summary["outcomes"]["PASS"] == 3 and sum(summary["outcomes"].values()) == 3, summary
        info = json.loads((results.parent / "run.json").read_text())
        assert str(installed.venv / INSTALLED_SUITES) in json.dumps(info), info
    finally:
        installed.harness("-i", str(inventory), "lab", "down")
