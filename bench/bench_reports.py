"""Report benchmark (a script, not a test): `python bench/bench_reports.py [--devices 20] [--tests 5000]`.

Synthesizes devices x tests results (default 100,000, every test with an evidence command, failures with
hostile output) and times what the end of a run does with them, through the real code:
results.json (results.build.save_results), junit.xml, report.html, manifest.json (SHA-256 of every file)
and its Ed25519 signature. Target: those phases together within 10 s. The bundle zip is timed as well,
apart (it compresses everything again). Baseline, in the same run: one json.dumps of the same document
(the C encoder, nothing else, on its JSON form made beforehand), so the ratio says how far above plain
serialisation the reports are."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.bundle import MANIFEST, write_manifest, zip_bundle  # noqa: E402
from harness.report.html import write_report  # noqa: E402
from harness.report.junit import write_junit  # noqa: E402
from harness.report.signing import init_key  # noqa: E402
from harness.results.build import save_results  # noqa: E402
from tests.synthetic_results import synthetic_results  # noqa: E402

TARGET_S = 10.0
HOSTILE = "\x00\x1b[31m<script>window.__pwned=1</script>\ufffe"


def timed(label: str, fn: Callable[[], Any], phases: dict[str, float]) -> Any:
    started = time.perf_counter()
    value = fn()
    phases[label] = time.perf_counter() - started
    print(f"  {label:<22} {phases[label]:7.2f} s", flush=True)
    return value


def mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--tests", type=int, default=5000, help="tests per device")
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument("--keep", action="store_true", help="keep the output folder and print its path")
    args = parser.parse_args()

    total_tests = args.devices * args.tests
    print(f"synthesizing {args.devices} devices x {args.tests} tests = {total_tests:,} results", flush=True)
    document = synthetic_results(args.devices, args.tests, hostile=HOSTILE)
    work = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    run = work / "reports" / "20260101-000000-beef"
    run.mkdir(parents=True)
    key = init_key(work / "keys")
    phases: dict[str, float] = {}
    try:
        print("phases:")
        base: dict[str, float] = {}
        as_json = document.to_dict()  # the baseline serialises the JSON form; results.json includes making it
        timed("baseline json.dumps", lambda: len(json.dumps(as_json)), base)
        baseline = base["baseline json.dumps"]
        timed("results.json", lambda: save_results(run, document), phases)
        timed("junit.xml", lambda: write_junit(document, run / "junit.xml"), phases)
        timed("report.html", lambda: write_report(document, run / "report.html", args.lang, key.id), phases)
        timed("manifest + signature", lambda: write_manifest(run, key), phases)
        manifest_bytes = (run / MANIFEST).read_bytes()
        sign_only = time.perf_counter()
        key.sign(manifest_bytes)
        sign_only = time.perf_counter() - sign_only
        total = sum(phases.values())
        extra: dict[str, float] = {}
        bundle = timed("zip bundle (apart)", lambda: zip_bundle(run, run.parent / f"{run.name}.zip"), extra)

        print(f"  (of which the signature alone: {sign_only * 1000:.2f} ms)")
        print(
            f"sizes: results.json {mb(run / 'results.json'):.1f} MB, "
            f"junit.xml {mb(run / 'junit.xml'):.1f} MB, report.html {mb(run / 'report.html'):.1f} MB, "
            f"bundle zip {mb(bundle):.1f} MB"
        )
        verdict = "met" if total <= TARGET_S else "MISSED"
        print(
            f"total (json + junit + html + manifest + signature): {total:.2f} s for {total_tests:,} "
            f"results (target {TARGET_S:.0f} s: {verdict})"
        )
        print(
            f"baseline json.dumps of the same document: {baseline:.2f} s; ratio total/baseline: "
            f"{total / baseline:.1f}x"
        )
        print(f"with the zip: {total + extra['zip bundle (apart)']:.2f} s")
        if args.keep:
            print(f"output kept in {work}")
        return 0 if total <= TARGET_S else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
