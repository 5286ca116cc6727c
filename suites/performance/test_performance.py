"""Performance: bounded storage, CPU and memory workloads against per-profile baselines.

Every figure is timed by the device's own clock (harness.checks.perf.timed_script), never by the link: a
device whose clock cannot time a workload precisely SKIPs it with the reason. Files go to a private
scratch folder the profile says where to make (/var/tmp, else /tmp on an initramfs board)."""

from __future__ import annotations

import shlex

import pytest

from harness.checks import perf, reads


@pytest.fixture(scope="module")
def scratch(dut):
    """A private folder for the module's files (or why there is none: each test then FAILs with it)."""
    place = reads.make_scratch(dut, dut.profile.scratch_dirs, tag="harness-perf")
    yield place
    if place.path:
        dut.run(f"rm -rf {shlex.quote(place.path)}")


def _folder(scratch) -> str:
    if scratch.path is None:
        pytest.fail(scratch.problem)
    return scratch.path


def _seconds(what: str, result) -> float:
    """The device's own timing of a timed_script; SKIP when the device has no clock precise enough for
    it (a time seen over the link would not be the device's)."""
    timing = perf.parse_timed(result.stdout_text)
    if timing is None:
        pytest.skip(f"{what}: the device printed no clock reading (date +%s%N, adjtimex, /proc/uptime)")
    if not timing.precise:
        pytest.skip(f"{what} took {timing.describe()}: too short for that clock to time to "
                    f"{perf.PRECISION:.0%}")
    print(f"{what}: {timing.describe()}")
    return timing.seconds


def _timed(dut, what: str, body: str, timeout: float = 120):
    """Run `body` timed on the device: (result, seconds); FAIL with the device's output when it fails."""
    result = dut.run(perf.timed_script(body), timeout=timeout)
    assert result.ok, f"{what} failed {reads.failure_detail(result)}"
    return result, _seconds(what, result)


def _measure(dut, name, value, unit, threshold):
    dut.metric(name, round(value, 2), unit, low=threshold.low, high=threshold.high)
    assert threshold.holds(value), f"{name} {value:.2f} {unit}, baseline {threshold.describe()}"


def _data_file(scratch) -> str:
    return shlex.quote(f"{_folder(scratch)}/storage")


@pytest.fixture(scope="module")
def written(dut, suite_data, scratch):
    """(MiB, result of the timed write): the write is the test of PERF-STO-001, its file PERF-STO-002's."""
    if scratch.path is None:
        return None
    size = int(suite_data["storage_mb"])
    body = f"dd if=/dev/zero of={_data_file(scratch)} bs=1048576 count={size} 2>&1 && sync"
    return size, dut.run(perf.timed_script(body), timeout=120)


def _written(written, scratch):
    _folder(scratch)
    size, result = written
    assert result.ok, f"dd write failed {reads.failure_detail(result)}"
    return size, result


@pytest.mark.requirement("PERF-STO-001")
def test_storage_sequential_write(dut, suite_data, scratch, written):
    size, result = _written(written, scratch)
    # Timed on the device including sync, so the page cache does not flatter the result.
    seconds = _seconds("dd write", result)
    _measure(dut, "storage_write", size / seconds, "MB/s",
             perf.threshold_from(suite_data, "storage_write_mbps"))


@pytest.mark.requirement("PERF-STO-002")
def test_storage_sequential_read(dut, suite_data, scratch, written):
    size, _ = _written(written, scratch)
    # Dropping caches needs root; where it is refused the read may come from the page cache.
    dut.run("sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null")
    result, seconds = _timed(dut, "dd read", f"dd if={_data_file(scratch)} of=/dev/null bs=1048576 2>&1")
    stats = perf.parse_dd_stats(result.stdout_text)
    assert stats is None or stats.bytes == size * 1048576, (
        f"read {stats and stats.bytes} bytes, wrote {size} MiB"
    )
    _measure(dut, "storage_read", size / seconds, "MB/s",
             perf.threshold_from(suite_data, "storage_read_mbps"))


@pytest.mark.requirement("PERF-CPU-001")
def test_sha256_throughput(dut, suite_data, scratch):
    size = int(suite_data["hash_mb"])
    source = shlex.quote(f"{_folder(scratch)}/hash-input")
    made = dut.run(f"dd if=/dev/urandom of={source} bs=1048576 count={size}", timeout=120)
    assert made.ok, f"could not write {size} MiB to hash {reads.failure_detail(made)}"
    result, seconds = _timed(dut, "sha256sum", f"sha256sum {source}")
    assert perf.sha256_digest(result.stdout_text), (
        f"sha256sum printed no digest: {result.stdout_text[:200]!r}"
    )
    _measure(dut, "sha256", size / seconds, "MB/s", perf.threshold_from(suite_data, "sha256_mbps"))


@pytest.mark.requirement("PERF-CPU-002")
def test_busy_loop(dut, suite_data):
    n = int(suite_data["loop_iterations"])
    body = f"i=0; s=0; while [ $i -lt {n} ]; do s=$((s + i % 7)); i=$((i + 1)); done; echo loop=$s"
    result, seconds = _timed(dut, "the busy loop", body)
    expected = sum(i % 7 for i in range(n))
    assert f"loop={expected}" in result.stdout_text, "the busy loop computed a wrong result"
    _measure(dut, "busy_loop", seconds, "s", perf.threshold_from(suite_data, "busy_loop_seconds"))


@pytest.mark.requirement("PERF-MEM-001")
def test_memory_copy_bandwidth(dut, suite_data):
    size = int(suite_data["memcopy_mb"])
    body = f"dd if=/dev/zero of=/dev/null bs=1048576 count={size} 2>&1"
    _result, seconds = _timed(dut, "dd memory copy", body)
    _measure(dut, "memory_copy", size / seconds, "MB/s", perf.threshold_from(suite_data, "memcopy_mbps"))
