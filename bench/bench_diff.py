"""Comparison benchmark (a script, not a test): `python bench/bench_diff.py [--devices 20] [--tests 5000]`.

Two synthetic runs of devices x tests results each (default 100,000, with evidence), the second with
outcomes changed (regressions, fixes, lab errors), tests added and removed and metrics moved, written
as results.json files. Times `harness diff A B` as the command does it (read both files, compare,
render) in this process, text and --json, against the baseline of reading and parsing both files with
json.load and nothing else. Target: the text form within 5 s."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.cli import main  # noqa: E402
from harness.results.load import gc_paused  # noqa: E402
from tests.synthetic_results import synthetic_results  # noqa: E402

TARGET_S = 5.0


def second_build(doc: dict[str, Any]) -> dict[str, Any]:
    """Changes spread over every device: each 50th test regresses, each 70th gets a lab error, the
    failing ones of every 3rd position are fixed, every 100th is removed and replaced by a new one,
    and metrics move by 30%."""
    doc["run"]["run_id"] = "20260102-000000-cafe"
    for device in doc["devices"]:
        tests = []
        for i, t in enumerate(device["tests"]):
            if i % 100 == 99:
                t = {**t, "test_id": t["test_id"] + "_v2"}
            elif i % 50 == 0 and t["outcome"] == "PASS":
                t["outcome"] = "FAIL"
            elif i % 70 == 1 and t["outcome"] == "PASS":
                t["outcome"] = "ERROR"
            elif i % 3 == 0 and t["outcome"] == "FAIL":
                t["outcome"] = "PASS"
            for m in t["metrics"]:
                m["value"] = m["value"] * 1.3
            tests.append(t)
        device["tests"] = tests
        for r in device["requirements"][::4]:
            r["status"] = "fail" if r["status"] != "fail" else "pass"
    return doc


def timed(fn: Any) -> tuple[float, float]:
    """Wall and CPU seconds: on a shared machine the CPU time is the steadier of the two."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_diff(a: Path, b: Path, *extra: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            main(["diff", str(a), str(b), *extra])
        except SystemExit as stop:
            if stop.code not in (0, 1):
                raise RuntimeError(f"harness diff exited {stop.code}") from None
    return out.getvalue()


def main_bench() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--tests", type=int, default=5000, help="tests per device")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    args = parser.parse_args()
    total = args.devices * args.tests
    print(f"two runs of {args.devices} devices x {args.tests} tests = {total:,} results each", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-diff-"))
    try:
        a, b = work / "a.json", work / "b.json"
        first = synthetic_results(args.devices, args.tests).to_dict()
        a.write_text(json.dumps(first), encoding="utf-8")
        b.write_text(json.dumps(second_build(synthetic_results(args.devices, args.tests).to_dict())),
                     encoding="utf-8")
        print(f"  results.json: {a.stat().st_size / 1e6:.0f} MB and {b.stat().st_size / 1e6:.0f} MB")

        def baseline() -> None:
            for path in (a, b):
                with path.open("rb") as fh:
                    json.load(fh)

        def baseline_no_gc() -> None:
            with gc_paused():
                baseline()

        inf = (float("inf"), float("inf"))
        best = {"baseline": inf, "baseline_no_gc": inf, "text": inf, "json": inf}
        texts: list[str] = []
        runs = {
            "baseline": baseline,
            "baseline_no_gc": baseline_no_gc,
            "text": lambda: texts.append(run_diff(a, b)),
            "json": lambda: run_diff(a, b, "--json"),
        }
        for _ in range(args.rounds):  # interleaved, so a busy neighbour slows all three alike
            for name, fn in runs.items():
                wall, cpu = timed(fn)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
        summary = next(line for line in texts[-1].splitlines() if line.startswith("summary:"))
        print(f"  {summary}")
        base_wall, base_cpu = best["baseline"]
        print(f"  {'':38} {'wall':>8} {'cpu':>8}  ratio (cpu) to the baseline")
        labels = {"baseline": "baseline: json.load of both files",
                  "baseline_no_gc": "json.load, the collector paused", "text": "harness diff A B",
                  "json": "harness diff A B --json"}
        for name, (wall, cpu) in best.items():
            print(f"  {labels[name]:<38} {wall:7.2f}s {cpu:7.2f}s  {cpu / base_cpu:.2f}x")
        wall, cpu = best["text"]
        verdict = "within" if cpu <= TARGET_S else "OVER"
        print(f"  target {TARGET_S:.0f} s for {total:,} + {total:,} results: {verdict} ({cpu:.2f} s of CPU, "
              f"{wall:.2f} s wall on this machine now)")
        return 0 if cpu <= TARGET_S else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main_bench())
