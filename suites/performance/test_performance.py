"""Performance: bounded storage, CPU and memory workloads against per-profile baselines."""

from __future__ import annotations

import secrets
import shlex

import pytest

from harness.checks import perf


@pytest.fixture(scope="module")
def scratch(dut, suite_data):
    """A file path in the data folder; removed after the module."""
    path = f"{suite_data['data_dir']}/.harness-perf-{secrets.token_hex(4)}"
    yield path
    dut.run(f"rm -f {shlex.quote(path)} {shlex.quote(path)}.hash")


def _timed(dut, body: str, timeout: float = 120):
    """Run `body`, return (result, seconds): the device's own clock when it has nanoseconds, else the
    command's duration as the link saw it (which includes one round trip)."""
    result = dut.run(perf.timed_script(body), timeout=timeout)
    seconds = perf.parse_timed(result.stdout_text)
    return result, seconds if seconds is not None else result.duration


def _measure(dut, name, value, unit, threshold):
    dut.metric(name, round(value, 2), unit, low=threshold.low, high=threshold.high)
    assert threshold.holds(value), f"{name} {value:.2f} {unit}, baseline {threshold.describe()}"


@pytest.fixture(scope="module")
def written(dut, suite_data, scratch):
    size = int(suite_data["storage_mb"])
    body = f"dd if=/dev/zero of={shlex.quote(scratch)} bs=1048576 count={size} 2>&1 && sync"
    result, seconds = _timed(dut, body)
    assert result.ok, f"dd write failed (exit {result.exit_code}): {result.stdout_text[-300:]}"
    return size, seconds


@pytest.mark.requirement("PERF-STO-001")
def test_storage_sequential_write(dut, suite_data, written):
    size, seconds = written
    # Timed on the device including sync, so the page cache does not flatter the result.
    _measure(
        dut, "storage_write", size / seconds, "MB/s", perf.threshold_from(suite_data, "storage_write_mbps")
    )


@pytest.mark.requirement("PERF-STO-002")
def test_storage_sequential_read(dut, suite_data, scratch, written):
    size, _ = written
    # Dropping caches needs root; where it is refused the read may come from the page cache.
    dut.run("sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null")
    result, seconds = _timed(dut, f"dd if={shlex.quote(scratch)} of=/dev/null bs=1048576 2>&1")
    assert result.ok, f"dd read failed (exit {result.exit_code}): {result.stdout_text[-300:]}"
    stats = perf.parse_dd_stats(result.stdout_text)
    assert stats is None or stats.bytes == size * 1048576, (
        f"read {stats and stats.bytes} bytes, wrote {size} MiB"
    )
    _measure(
        dut, "storage_read", size / seconds, "MB/s", perf.threshold_from(suite_data, "storage_read_mbps")
    )


@pytest.mark.requirement("PERF-CPU-001")
def test_sha256_throughput(dut, suite_data, scratch):
    size = int(suite_data["hash_mb"])
    source = shlex.quote(f"{scratch}.hash")
    made = dut.run(f"dd if=/dev/urandom of={source} bs=1048576 count={size} 2>/dev/null", timeout=120)
    assert made.ok, f"could not generate {size} MiB to hash (exit {made.exit_code})"
    result, seconds = _timed(dut, f"sha256sum {source}")
    assert result.ok, f"sha256sum failed (exit {result.exit_code}): {result.stderr_text[-200:]}"
    assert len(result.stdout_text.split("@@T1")[0].split()[-2]) == 64, "sha256sum printed no digest"
    _measure(dut, "sha256", size / seconds, "MB/s", perf.threshold_from(suite_data, "sha256_mbps"))


@pytest.mark.requirement("PERF-CPU-002")
def test_busy_loop(dut, suite_data):
    n = int(suite_data["loop_iterations"])
    body = f"i=0; s=0; while [ $i -lt {n} ]; do s=$((s + i % 7)); i=$((i + 1)); done; echo loop=$s"
    result, seconds = _timed(dut, body)
    expected = sum(i % 7 for i in range(n))
    assert f"loop={expected}" in result.stdout_text, "the busy loop computed a wrong result"
    _measure(dut, "busy_loop", seconds, "s", perf.threshold_from(suite_data, "busy_loop_seconds"))


@pytest.mark.requirement("PERF-MEM-001")
def test_memory_copy_bandwidth(dut, suite_data):
    size = int(suite_data["memcopy_mb"])
    result, seconds = _timed(dut, f"dd if=/dev/zero of=/dev/null bs=1048576 count={size} 2>&1")
    assert result.ok, f"dd failed (exit {result.exit_code})"
    _measure(dut, "memory_copy", size / seconds, "MB/s", perf.threshold_from(suite_data, "memcopy_mbps"))
