"""One run (or one exec/push/pull) per device at a time on a lab host (harness.locks): the lock itself
with real processes (flock released by a crash, not kept by forked children, stale files taken over),
then through the CLI against the real sshd of the runner tests (tests/test_run_cli.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.locks import LOCK_DIR_ENV, FileLock, LockBusy, LockHolder, device_lock, hold_devices, lock_dir
from tests.run_records import results_of, verdicts
from tests.test_run_cli import DEADLINE, TEST_IDS, lab_factory  # noqa: F401  (the fixture)


@pytest.fixture
def locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "locks"
    monkeypatch.setenv(LOCK_DIR_ENV, str(folder))
    return folder


def test_lock_dir_is_the_environments_or_a_shared_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCK_DIR_ENV, "/somewhere/else")
    assert lock_dir() == Path("/somewhere/else")
    monkeypatch.delenv(LOCK_DIR_ENV)
    assert lock_dir() == Path("/tmp/harness-locks")


def test_a_held_device_refuses_a_second_holder_naming_the_first(locks: Path) -> None:
    first, second = device_lock("board/1"), device_lock("board/1")
    assert first.path.parent == locks and "/" not in first.path.name  # any device name is one file name
    first.acquire(LockHolder.me("run", "r-17"))
    try:
        with pytest.raises(LockBusy) as busy:
            second.acquire(LockHolder.me("run", "r-18"), wait=0.2)
        text = str(busy.value)
        assert "device 'board/1' is in use by `harness run r-17`" in text
        assert f"pid {os.getpid()}" in text and "waited 0.2s" in text
        assert len(text.splitlines()) == 1
    finally:
        first.release()
    second.acquire(LockHolder.me("exec"))  # free once released
    assert second.stale is None  # a lock let go properly leaves nothing stale behind
    second.release()


def test_a_crashed_holder_frees_the_lock_and_its_leftover_is_taken_as_stale(locks: Path) -> None:
    code = ("import sys, time; from harness.locks import device_lock, LockHolder; "
            "device_lock('dev').acquire(LockHolder.me('run', 'crashing')); print('held', flush=True); "
            "time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        lock = device_lock("dev")
        assert not lock.try_acquire(LockHolder.me("run", "mine"))
        assert lock.holder() is not None and lock.holder().pid == holder.pid  # type: ignore[union-attr]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock.acquire(LockHolder.me("run", "mine"))  # the kernel let go of the dead holder's lock
    assert lock.stale is not None and lock.stale.pid == holder.pid and not lock.stale.alive
    assert json.loads(lock.path.read_text())["run_id"] == "mine"
    lock.release()


def test_a_forked_child_does_not_keep_a_crashed_parents_lock(locks: Path) -> None:
    """A run's workers are forked from it: when the runner dies (kill -9) the device must be free even
    if a worker lingers for a moment."""
    # The child says "forked" on stderr once fork() has returned in it (its at-fork hook has run); the
    # parent prints the child's pid on stdout: two pipes, so the two lines cannot interleave.
    code = ("import os, sys, time; from harness.locks import device_lock, LockHolder; "
            "device_lock('dev').acquire(LockHolder.me('run', 'parent')); child = os.fork(); "
            "child == 0 and (print('forked', file=sys.stderr, flush=True), time.sleep(600)); "
            "print(child, flush=True); time.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None and parent.stderr is not None
    child = int(parent.stdout.readline())
    assert parent.stderr.readline().strip() == "forked"
    try:
        assert not device_lock("dev").try_acquire(LockHolder.me("run", "next"))
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        lock = device_lock("dev")
        assert lock.try_acquire(LockHolder.me("run", "next")), "the forked child kept its parent's lock"
        lock.release()
    finally:
        os.kill(child, signal.SIGKILL)


def test_holding_several_devices_takes_all_or_none(locks: Path) -> None:
    blocker = device_lock("b")
    blocker.acquire(LockHolder.me("exec"))
    try:
        with pytest.raises(LockBusy, match="device 'b'"), hold_devices(["c", "b", "a"], LockHolder.me("run", "x")):
            pass
        assert device_lock("a").try_acquire(LockHolder.me("exec"))  # "a" was let go again
    finally:
        blocker.release()


def test_a_garbage_lock_file_is_only_an_unknown_holder(locks: Path) -> None:
    lock = device_lock("dev")
    lock.path.write_bytes(b"\xff not json")
    other = FileLock(lock.path, "device 'dev'")
    other.acquire(LockHolder.me("exec"))
    try:
        with pytest.raises(LockBusy):
            lock.acquire(LockHolder.me("exec"))
        lock.path.write_bytes(b"[1, 2]")  # anyone may write to the file: never a crash
        with pytest.raises(LockBusy, match="did not say who"):
            lock.acquire(LockHolder.me("exec"))
    finally:
        other.release()


# -- through the CLI ---------------------------------------------------------------------------------

@pytest.mark.peer("sshd")
def test_second_run_on_a_held_device_refuses_or_waits_and_exec_needs_force(lab_factory) -> None:  # noqa: F811
    lab = lab_factory(2)
    with lab.held_lock():
        first = lab.start("run", "--suites-root", str(lab.suites), "--run-id", "holder")
        lab.wait_arrived()
        # A second run wanting one of its devices is refused at once, naming the holder, with nothing written.
        refused = lab.harness("run", "--device", "dev1", "--suites-root", str(lab.suites), "--run-id", "second")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        line = refused.stderr.strip()
        assert len(line.splitlines()) == 1 and "device 'dev1' is in use by `harness run holder`" in line, line
        assert f"pid {first.pid}" in line and "--wait-lock" in line
        assert not lab.run_dir("second").exists()
        # exec, push and pull refuse too (their lab-trouble code, 255), unless --force.
        for args in (["exec", "dev0", "--", "true"], ["push", "dev0", str(lab.inventory), "/tmp/x"],
                     ["pull", "dev0", "/etc/hostname", str(lab.tmp / "h")]):
            busy = lab.harness(*args, common=False)
            assert busy.returncode == 255, busy.stdout + busy.stderr
            assert "in use by `harness run holder`" in busy.stderr and "--force" in busy.stderr
        forced = lab.harness("exec", "--force", "dev0", "--", "echo", "forced", common=False)
        assert forced.returncode == 0 and forced.stdout == "forced\n", forced.stderr
        # A run told to wait gets the device once the first run is done.
        waiting = lab.start("run", "--device", "dev1", "--suites-root", str(lab.suites), "--run-id", "waited",
                            "--wait-lock", str(DEADLINE))
        assert waiting.stdout is not None
        note = waiting.stdout.readline()  # its first word: it waits, and for whom
        assert "device 'dev1' is in use by `harness run holder`" in note and "waiting up to" in note, note
        assert waiting.poll() is None and not lab.run_dir("waited").exists()
    out, err = first.communicate(timeout=DEADLINE)
    assert first.returncode == 0, out + err
    out, err = waiting.communicate(timeout=DEADLINE)
    assert waiting.returncode == 0, out + err
    assert sorted(r["test_id"] for r in results_of(lab.run_dir("waited"), "dev1")) == sorted(TEST_IDS)
    assert verdicts(lab.run_dir("waited")) == {"dev1": "CERTIFIED"}
    # Free again: exec needs no --force.
    free = lab.harness("exec", "dev0", "--", "true", common=False)
    assert free.returncode == 0, free.stderr


@pytest.mark.peer("sshd")
def test_a_run_killed_outright_leaves_its_devices_free(lab_factory) -> None:  # noqa: F811
    lab = lab_factory(1)
    with lab.held_lock():
        proc = lab.start("run", "--suites-root", str(lab.suites), "--run-id", "killed")
        lab.wait_arrived()
        proc.kill()
        proc.communicate(timeout=DEADLINE)
    resumed = lab.harness("run", "--resume", "killed")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "device 'dev0': took over the lock left by `harness run killed` of user" in resumed.stdout
    assert f"(pid {proc.pid} on " in resumed.stdout
    after = lab.harness("exec", "dev0", "--", "true", common=False)
    assert after.returncode == 0, after.stderr
