"""The platform's comparison of two submissions, served by `harness platform serve`: the page, the API
(the same document as `harness diff --json` of the two bundles), the product page's link, device
choice, and who may compare what (both submissions must be the viewer's)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.diff_runs import write_run
from tests.platform_peers import PlatformServer, Seeded, api, login, seed, upload

T = "demo/test_demo.py::"
HOSTILE = "<script>window.__pwned=1</script>\x1b[31m"


@dataclass
class World:
    seeded: Seeded
    server: PlatformServer
    bundles: dict[str, Path]
    ids: dict[str, int]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("compare")
    seeded = seed(base)
    lab_a, lab_b = seeded.keys["lab-a"], seeded.keys["lab-b"]
    builds = {
        "old": ({"board": {T + "test_a": "PASS", T + "test_b": "FAIL", T + "test_c": "PASS"},
                 "spare": {T + "test_a": "PASS"}}, lab_a, "build-1"),
        "new": ({"board": {T + "test_a": "FAIL", T + "test_b": "PASS", T + "test_d": "PASS"},
                 "spare": {T + "test_a": "PASS"}}, lab_a, "build-2"),
        "foreign": ({"board": {T + "test_a": "PASS"}}, lab_b, "build-x"),
    }
    bundles = {
        name: write_run(base / name / "reports", base / name / "suites", f"run-{name}", devices,
                        requirements={T + "test_a": ["DEMO-2"]}, fingerprint=fp, message=HOSTILE, sign_with=key)
        for name, (devices, key, fp) in builds.items()
    }
    server = PlatformServer(base / "data").start()
    try:
        ids = {}
        for name, bundle in bundles.items():
            lab, vendor = ("lab-b-user", "vendor-b") if name == "foreign" else ("lab-a-user", "vendor-a")
            declared = {"board": {"model": f"{vendor}-board"}}
            if name != "foreign":
                declared["spare"] = {"model": f"{vendor}-spare"}
            made = upload(server, seeded.tokens[lab], bundle, vendor=vendor, declared=declared)
            assert made.status_code == 201, made.text
            ids[name] = made.json()["id"]
        yield World(seeded, server, bundles, ids)
    finally:
        server.stop()


def test_the_api_gives_what_harness_diff_gives(world: World) -> None:
    a, b = world.ids["old"], world.ids["new"]
    got = api(world.server, world.seeded.tokens["officer"]).get(f"/api/v1/submissions/{a}/compare/{b}")
    assert got.status_code == 200, got.text
    doc = got.json()
    local = subprocess.run([sys.executable, "-m", "harness", "diff", str(world.bundles["old"]),
                            str(world.bundles["new"]), "--json"], capture_output=True, text=True, timeout=60)
    assert local.returncode == 1, local.stderr  # a regression
    expected = json.loads(local.stdout)
    for doc_ in (doc, expected):
        doc_.pop("a_source"), doc_.pop("b_source")
    assert doc == expected
    board = next(d for d in doc["devices"] if d["a"] == "board")
    assert [c["test_id"] for c in board["newly_failing"]] == [T + "test_a"]
    assert [c["test_id"] for c in board["fixed"]] == [T + "test_b"]
    assert doc["regression"] is True


def test_the_page_shows_each_list_escaped(world: World) -> None:
    a, b = world.ids["old"], world.ids["new"]
    page = login(world.server, "vendor-a-user").get(f"/submissions/{a}/compare/{b}")
    assert page.status_code == 200, page.text[:300]
    html = page.text
    for css in ("diff-newly_failing", "diff-fixed", "diff-added", "diff-removed", "diff-requirements"):
        assert css in html, css
    assert "test_demo.py::test_a" in html and "build-1/board" in html and "build-2/board" in html
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned" in html
    assert "\x1b" not in html
    assert 'data-a="spare"' in html and "no-changes" in html  # a device with nothing new says so


def test_two_devices_of_one_submission_and_a_device_that_is_not_there(world: World) -> None:
    new = world.ids["new"]
    client = api(world.server, world.seeded.tokens["lab-a-user"])
    both = client.get(f"/api/v1/submissions/{new}/compare/{new}", params={"device_a": "spare", "device_b": "board"})
    assert both.status_code == 200, both.text
    (pair,) = both.json()["devices"]
    assert (pair["a"], pair["b"]) == ("spare", "board")
    assert [c["test_id"] for c in pair["newly_failing"]] == [T + "test_a"]
    bad = client.get(f"/api/v1/submissions/{new}/compare/{new}", params={"device_a": "ghost"})
    assert bad.status_code == 404 and "no device 'ghost'" in bad.json()["detail"]
    page = login(world.server, "officer").get(f"/submissions/{new}/compare/{new}", params={"device_a": "ghost"})
    assert page.status_code == 200 and 'id="compare-error"' in page.text


def test_the_product_page_links_each_build_to_the_one_before(world: World) -> None:
    officer = api(world.server, world.seeded.tokens["officer"])
    detail = officer.get(f"/api/v1/submissions/{world.ids['new']}").json()
    product = next(d["product_id"] for d in detail["devices"] if d["name"] == "board")
    html = login(world.server, "officer").get(f"/products/{product}").text
    link = f'href="/submissions/{world.ids["old"]}/compare/{world.ids["new"]}?device_a=board&amp;device_b=board"'
    assert link in html


@pytest.mark.parametrize(("user", "pair", "status"), [
    ("vendor-a-user", ("old", "foreign"), 404),  # one of the two is another vendor's
    ("vendor-a-user", ("foreign", "new"), 404),
    ("lab-b-user", ("old", "new"), 404),
    ("vendor-b-user", ("foreign", "foreign"), 200),
    ("officer", ("old", "foreign"), 200),
    ("admin", ("foreign", "new"), 200),
])
def test_both_submissions_must_be_the_viewers(world: World, user: str, pair: tuple[str, str], status: int) -> None:
    a, b = world.ids[pair[0]], world.ids[pair[1]]
    got = api(world.server, world.seeded.tokens[user]).get(f"/api/v1/submissions/{a}/compare/{b}")
    assert got.status_code == status, got.text
    page = login(world.server, user).get(f"/submissions/{a}/compare/{b}")
    assert page.status_code == status
    if status == 404:
        assert "build-" not in page.text and "build-" not in got.text
