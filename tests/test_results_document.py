"""The typed results document and its reader: a built document round-trips through its JSON form, the
reader takes a path, bytes or an open binary file, and a document that breaks the shipped schema is one
ConfigError naming the source, the JSON path and why."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.results.build import build_results
from harness.results.document import ResultsDocument, TestEntry
from harness.results.model import Outcome, Verdict
from harness.results.reader import read_results
from harness.results.verdict import Status
from tests.report_runs import make_run


@pytest.fixture
def built(tmp_path: Path) -> dict:
    return build_results(make_run(tmp_path / "reports", tmp_path / "suites"))


def test_a_built_document_round_trips_key_for_key_in_order(built: dict) -> None:
    again = ResultsDocument.from_dict(built).to_dict()
    assert json.dumps(again, ensure_ascii=False) == json.dumps(built, ensure_ascii=False)


def test_the_typed_document_says_what_the_json_says(built: dict) -> None:
    doc = ResultsDocument.from_dict(built)
    for raw, dev in zip(built["devices"], doc.devices, strict=True):
        assert dev.verdict is Verdict(raw["verdict"])
        assert [t.outcome for t in dev.tests] == [Outcome(t["outcome"]) for t in raw["tests"]]
        assert all(isinstance(t, TestEntry) and t.attempts for t in dev.tests)
        assert [r.status for r in dev.requirements] == [Status(r["status"]) for r in raw["requirements"]]
    assert doc.run_id == built["run"]["run_id"]


@pytest.mark.parametrize("how", ["path", "bytes", "file"])
def test_the_reader_takes_a_path_bytes_or_a_binary_file(built: dict, tmp_path: Path, how: str) -> None:
    data = json.dumps(built).encode()
    path = tmp_path / "results.json"
    path.write_bytes(data)
    source = {"path": path, "bytes": data, "file": io.BytesIO(data)}[how]
    assert read_results(source).to_dict() == built  # type: ignore[arg-type]


def test_a_document_against_the_schema_is_one_line_naming_the_path(built: dict, tmp_path: Path) -> None:
    built["devices"][0]["verdict"] = "PASSED"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(built))
    with pytest.raises(ConfigError) as caught:
        read_results(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ") and "$.devices[0].verdict" in text and "PASSED" in text


def test_unchecked_a_document_of_the_wrong_shape_is_still_one_line(built: dict) -> None:
    del built["devices"][0]["verdict"]
    with pytest.raises(ConfigError, match=r"^old: not a harness results.json: KeyError: 'verdict'$"):
        read_results(json.dumps(built).encode(), "old", check=False)
    with pytest.raises(ConfigError, match=r"^old: not a harness results.json: not a JSON object$"):
        read_results(b"[]", "old", check=False)


def test_not_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^upload: not JSON"):
        read_results(b"{", "upload")
