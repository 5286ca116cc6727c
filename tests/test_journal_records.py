"""The journal as typed records: what the plugin's writer appends, the reader gives back as the same
records; a crashed worker's torn last line and lines this version does not know are counted, not fatal."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from harness.plugin.journal_writer import JournalWriter
from harness.results.journal import parse_journal, read_journal
from harness.results.journal_records import (
    DeviceLine,
    EndLine,
    JournalLine,
    PlanLine,
    PlannedTest,
    ResultLine,
    decode_line,
    decode_text,
)
from harness.results.model import Evidence, Metric, Outcome, TestRecord
from harness.run.merge import merged_lines
from harness.run.progress import PlainProgress
from harness.secrets import register

A = "demo/test_demo.py::test_a"
B = "demo/test_demo.py::test_b"

PLAN = PlanLine(device="dev", attempt=2, repeat=3, tests=[PlannedTest(A, "demo", ("D-1", "D-2")), PlannedTest(B, "demo")],
                missing=["demo/test_gone.py::test_x"], kind="board", profile="openeuler", shard="1/2", at=10.5)
DEVICE = DeviceLine(device="dev", identity={"os_name": "openEuler", "extra": {"soc": "rk3588"}}, kind="board",
                    profile="openeuler", transport="ssh", at=11.0)
RESULT = ResultLine(TestRecord(
    test_id=A, suite="demo", outcome=Outcome.FAIL, device="dev", requirements=["D-1"], message="boom",
    duration=0.5, started=12.0, ended=12.5, attempt=2, repeat=1,
    evidence=[Evidence("uname -r", 0, "5.10\n", "", 0.01, 12.1, truncated=True)],
    metrics=[Metric("boot", 12.5, "s", high=30.0)],
))
END = EndLine(device="dev", attempt=2, interrupted=True, exit_status=2, at=13.0)
EVERY: list[JournalLine] = [PLAN, DEVICE, RESULT, END]


@pytest.mark.parametrize("record", EVERY, ids=lambda r: r.TYPE)
def test_every_record_comes_back_as_it_was_written(record: JournalLine) -> None:
    line = json.loads(json.dumps(record.to_line()))
    assert line["type"] == record.TYPE
    assert decode_line(line) == record


def test_the_writer_and_the_reader_share_the_records(tmp_path: Path) -> None:
    path = tmp_path / "journal" / "dev.jsonl"
    read_end, write_end = os.pipe()
    writer = JournalWriter(path, write_end)
    for record in EVERY:
        writer.write(record)
    writer.close()
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        piped = pipe.read().decode().splitlines()
    # The progress pipe gets the very lines the file holds, one object a line.
    assert piped == path.read_text(encoding="utf-8").splitlines()
    assert [decode_text(t) for t in piped] == EVERY
    journal = read_journal(path)
    assert journal.device == "dev" and journal.bad_lines == 0
    assert journal.plans == [PLAN] and journal.ends == [END]
    assert journal.results == [RESULT.record] and journal.identity == DEVICE.identity
    assert (journal.kind, journal.profile) == ("board", "openeuler")
    assert journal.planned == {A: PLAN.tests[0], B: PLAN.tests[1]}
    assert journal.interrupted  # the attempt's end line says so


def test_the_writer_masks_secrets_in_every_field(tmp_path: Path) -> None:
    register("hunter22-journal")  # as the inventory registers a device's password
    path = tmp_path / "dev.jsonl"
    writer = JournalWriter(path)
    secret = "PASSWORD=hunter22-journal"
    writer.write(ResultLine(TestRecord(test_id=A, suite="demo", outcome=Outcome.ERROR, device="dev",
                                       message=secret, evidence=[Evidence("login", 1, secret, "", 0, 0)])))
    writer.close()
    text = path.read_text(encoding="utf-8")
    assert "hunter22" not in text
    (record,) = read_journal(path).results
    assert record.outcome is Outcome.ERROR and "hunter22" not in record.message


@pytest.mark.parametrize("secret", ['hu"nt\\er\t22-j', "hünter-22-j"])
def test_a_secret_json_escapes_is_still_masked(tmp_path: Path, secret: str) -> None:
    # The writer looks for a secret in the serialised line before it walks the record's strings: a
    # secret with quotes, backslashes, control or non-ASCII characters must still be found.
    register(secret)
    path = tmp_path / "dev.jsonl"
    writer = JournalWriter(path)
    assignment = f"MY_PASSWORD={secret}"
    writer.write(ResultLine(TestRecord(test_id=A, suite="demo", outcome=Outcome.FAIL, device="dev",
                                       message=f"saw {assignment} in the output")))
    writer.write(DeviceLine(device="dev", kind="board", profile="p", transport="ssh",
                            identity={assignment: "a key carries it"}))
    writer.close()
    text = path.read_text(encoding="utf-8")
    assert secret not in text and json.dumps(secret, ensure_ascii=False)[1:-1] not in text
    assert text.count("MY_PASSWORD=********") == 2
    result, device = (json.loads(line) for line in text.splitlines())
    assert result["message"] == "saw MY_PASSWORD=******** in the output"
    assert device["identity"] == {"MY_PASSWORD=********": "a key carries it"}


def test_a_torn_last_line_and_unknown_lines_are_counted_not_fatal() -> None:
    lines = [json.dumps(r.to_line()) for r in (PLAN, DEVICE, RESULT)]
    garbage = [
        '{"type": "telemetry", "x": 1}',  # a line type this version does not know
        '["not", "an", "object"]',
        '{"type": "result", "test_id": "x"}',  # a result without its outcome
        '{"type": "result", "test_id": "x", "suite": "s", "outcome": "MAYBE", "device": "dev"}',
        '{"type": "plan", "attempt": "two"}',
        '{"type": ["plan"]}',
    ]
    torn = json.dumps(END.to_line())[:30]  # a killed worker stopped mid-line
    journal = parse_journal("\n".join([*lines[:2], *garbage, lines[2], "", torn]), "dev")
    assert journal.bad_lines == len(garbage) + 1
    assert journal.plans == [PLAN] and journal.results == [RESULT.record]
    assert journal.ends == [] and journal.interrupted  # no end line: the worker was killed


def test_a_plan_line_fills_what_an_older_writer_left_out() -> None:
    plan = decode_line({"type": "plan", "device": "dev", "tests": [{"test_id": A}]})
    assert plan == PlanLine(device="dev", tests=[PlannedTest(A, "demo")])  # suite from the test id


@pytest.mark.parametrize("line", [{"type": "end", "attempt": None}, {"type": "end"}])
def test_an_end_line_without_its_attempt_is_the_first_attempts(line: dict[str, object]) -> None:
    assert decode_line(line) == EndLine(device="", attempt=1)


def test_the_runners_progress_shows_the_same_records() -> None:
    out = io.StringIO()
    progress = PlainProgress(out)
    for record in EVERY:
        progress.line("dev", decode_text(json.dumps(record.to_line())))
    assert out.getvalue().splitlines() == [
        "[dev] 6 test run(s) planned",  # two tests, three repeats each
        "[dev] connected: openEuler",
        f"[dev] FAIL {A} (0.50s) [1/6] boom",
    ]


def test_merge_keys_results_as_the_reader_reads_them(tmp_path: Path) -> None:
    first, second = tmp_path / "s1.jsonl", tmp_path / "s2.jsonl"
    failed = ResultLine(TestRecord(test_id=A, suite="demo", outcome=Outcome.FAIL, device="dev"))
    passed = ResultLine(TestRecord(test_id=A, suite="demo", outcome=Outcome.PASS, device="dev"))
    garbled = '{"type": "result", "test_id": "x", "outcome": "PASS", "attempt": "two"}'
    first.write_text(json.dumps(PLAN.to_line()) + "\n" + json.dumps(failed.to_line()) + "\n" + garbled + "\n")
    second.write_text(json.dumps(passed.to_line()) + "\n")
    lines = merged_lines([first, second])
    # The same test, attempt and repeat in a later input replaces the earlier; a line that is no record
    # is copied as it is (it used to stop the merge) and the reader counts it.
    assert [(line["type"], line.get("attempt")) for line in lines] == [("plan", 2), ("result", "two"), ("result", 1)]
    journal = parse_journal("".join(json.dumps(line) + "\n" for line in lines), "dev")
    assert journal.results == [passed.record] and journal.bad_lines == 1


@pytest.mark.parametrize("unreachable", [False, True])
def test_a_record_as_a_dict_is_what_asdict_gives(unreachable: bool) -> None:
    import dataclasses

    record = dataclasses.replace(RESULT.record, unreachable=unreachable)
    expected = {**dataclasses.asdict(record), "outcome": "FAIL"}
    if not unreachable:
        del expected["unreachable"]  # written only when true
    got = record.to_dict()
    assert got == expected and list(got) == list(expected)
    got["evidence"][0]["stdout"] = "changed"
    got["requirements"].append("X")
    assert record.evidence[0].stdout == "5.10\n" and record.requirements == ["D-1"]  # a copy, not a view
