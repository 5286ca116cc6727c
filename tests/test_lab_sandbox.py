"""The persona sandbox, with real processes: real namespaces, a real shell inside, real mounts.

Each persona's device is started once per module (start-up is the expensive part) and every test
talks to it through the same argv the simulated adbd, sshd and console use."""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.lab.persona import list_personas, load_persona
from harness.lab.sandbox.namespaces import Sandbox, SandboxUnavailable
from harness.lab.sandbox.rootfs import host_library
from harness.waiting import Deadline, poll_until

REPO = Path(__file__).resolve().parent.parent
HOST_OS_RELEASE = Path("/etc/os-release").read_text()


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Sandbox]]:
    started: dict[str, Sandbox] = {}
    try:
        for name in list_personas():
            box = Sandbox(load_persona(name), tmp_path_factory.mktemp(name))
            box.start()
            started[name] = box
        yield started
    finally:
        for box in started.values():
            box.cleanup()


def sh(box: Sandbox, cmd: str, timeout: float = 10.0) -> str:
    result = box.run(cmd, timeout)
    assert result.returncode == 0, (cmd, result.returncode, result.stderr)
    return result.stdout.decode()


def read_until(fd: int, marker: bytes, timeout: float = 10.0) -> bytes:
    """Read a pipe or pty until `marker` shows up, against a deadline."""
    deadline, got = Deadline(timeout), b""
    while marker not in got:
        ready, _, _ = select.select([fd], [], [], deadline.remaining())
        if not ready:
            raise TimeoutError(f"no {marker!r} within {timeout}s; got {got!r}")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise EOFError(f"stream closed before {marker!r}; got {got!r}")
        got += chunk
    return got


# --- identity -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["euler-ft2000", "handset-hmos", "kylin-v10", "nonconforming-board",
                                  "ohos-rk3568"])
def test_uname_and_hostname_answer_as_the_persona_kernel(devices: dict[str, Sandbox], name: str) -> None:
    box, p = devices[name], devices[name].persona
    assert sh(box, "uname -r").strip() == p.uname.release
    assert sh(box, "uname -m").strip() == "aarch64"
    assert sh(box, "uname -n; hostname").split() == [p.hostname, p.hostname]
    assert sh(box, "uname -a").startswith(f"Linux {p.hostname} {p.uname.release} {p.uname.version} aarch64")
    assert sh(box, "uname").strip() == "Linux"


@pytest.mark.parametrize("name", ["euler-ft2000", "kylin-v10", "nonconforming-board"])
def test_linux_personas_show_their_own_os_release_and_proc_files(devices: dict[str, Sandbox],
                                                                 name: str) -> None:
    box, p = devices[name], devices[name].persona
    own = (p.files_dir / "etc/os-release").read_text()
    assert sh(box, "cat /etc/os-release") == own
    assert sh(box, "cat /usr/lib/os-release") == own  # the host's copy under /usr is covered too
    assert sh(box, "cat /proc/cpuinfo") == (p.files_dir / "proc/cpuinfo").read_text()
    assert sh(box, "cat /proc/meminfo") == (p.files_dir / "proc/meminfo").read_text()
    assert sh(box, f"ls /boot/config-{p.uname.release}").strip() == f"/boot/config-{p.uname.release}"
    assert sh(box, "getenforce").strip() == p.selinux


@pytest.mark.parametrize("name", list_personas())
def test_no_persona_shows_the_hosts_os_release(devices: dict[str, Sandbox], name: str) -> None:
    out = devices[name].run("cat /etc/os-release /usr/lib/os-release 2>/dev/null").stdout.decode()
    assert HOST_OS_RELEASE not in out
    host_name = next(line for line in HOST_OS_RELEASE.splitlines() if line.startswith("PRETTY_NAME="))
    assert host_name not in out


def test_openeuler_identity_files(devices: dict[str, Sandbox]) -> None:
    box = devices["euler-ft2000"]
    assert sh(box, "cat /etc/openEuler-release").strip() == "openEuler release 22.03 (LTS-SP3)"
    assert "openeulerversion=openEuler-22.03-LTS-SP3" in sh(box, "cat /etc/openEuler-latest")
    assert sh(box, "grep -c 'CPU part' /proc/cpuinfo").strip() == "8"
    assert sh(box, "systemctl is-system-running").strip() == "running"
    assert "Reached target Multi-User System" in sh(box, "journalctl -b --no-pager")
    assert sh(box, "echo $0").strip() == "/bin/bash"


def test_kylin_identity_files(devices: dict[str, Sandbox]) -> None:
    box = devices["kylin-v10"]
    assert "(Lance)" in sh(box, "cat /etc/kylin-release")
    assert "V10 (SP3)" in sh(box, "cat /etc/.productinfo")


def test_openharmony_param_answers_like_begetctl(devices: dict[str, Sandbox]) -> None:
    box, props = devices["ohos-rk3568"], devices["ohos-rk3568"].persona.properties
    assert sh(box, "param get const.ohos.apiversion").strip() == "11"
    assert sh(box, "param get const.ohos.fullname").strip() == props["const.ohos.fullname"]
    assert sh(box, "param get bootevent.boot.completed").strip() == "true"
    listing = sh(box, "param get").splitlines()
    assert f"const.product.model = {props['const.product.model']}" in listing
    assert len(listing) == len(props)
    missing = box.run("param get no.such.key")
    assert missing.returncode != 0 and b"fail" in missing.stdout
    assert "bootevent.boot.completed = true" in sh(box, "hilog -x")
    assert sh(box, "ls /system/etc/param").split() == ["ohos.para", "ohos.para.dac"]
    assert sh(box, "command -v param").strip() == "/system/bin/param"


def test_handset_getprop_and_logcat(devices: dict[str, Sandbox]) -> None:
    box, props = devices["handset-hmos"], devices["handset-hmos"].persona.properties
    assert sh(box, "getprop ro.build.fingerprint").strip() == props["ro.build.fingerprint"]
    assert sh(box, "getprop ro.build.version.sdk").strip() == "31"
    assert sh(box, "getprop sys.boot_completed").strip() == "1"
    assert sh(box, "getprop no.such.key fallback").strip() == "fallback"
    assert "[ro.build.type]: [user]" in sh(box, "getprop").splitlines()
    assert sh(box, "grep ro.build.version.security_patch /system/build.prop").strip().endswith(
        box.persona.security_patch)
    assert "Boot is finished" in sh(box, "logcat -d")
    assert sh(box, "getenforce").strip() == "Enforcing"


def test_nonconforming_board_shows_its_defects_from_inside(devices: dict[str, Sandbox]) -> None:
    box = devices["nonconforming-board"]
    assert sh(box, "getenforce").strip() == "Permissive"
    assert sh(box, "cat /sys/fs/selinux/enforce").strip() == "0"
    config = sh(box, "cat /boot/config-$(uname -r)")
    assert "# CONFIG_STACKPROTECTOR_STRONG is not set" in config
    # find as a suite would: world-writable regular files in the system folders
    assert sh(box, "find /etc -xdev -type f -perm -0002").split() == ["/etc/nc-board/ota-update.conf"]
    assert sh(box, "find /etc -xdev -type f -perm -0002 | wc -l", ).strip() == "1"
    for name in ("euler-ft2000", "kylin-v10"):
        assert sh(devices[name], "find /etc -xdev -type f -perm -0002 | wc -l").strip() == "0"


# --- shell semantics ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ohos-rk3568", "euler-ft2000", "nonconforming-board"])  # dash, bash, ash
def test_shell_semantics(devices: dict[str, Sandbox], name: str) -> None:
    box = devices[name]
    assert sh(box, "for i in 1 2 3; do echo $i; done | wc -l").strip() == "3"
    assert sh(box, "false; echo $?").strip() == "1"
    assert sh(box, "(exit 3); echo $?").strip() == "3"
    assert sh(box, "x=outer; (x=inner); echo $x").strip() == "outer"
    assert sh(box, "printf 'b\\na\\n' | sort | head -n 1").strip() == "a"
    assert sh(box, "echo $(echo nested)").strip() == "nested"
    assert box.run("exit 7").returncode == 7
    result = box.run("echo out; echo err >&2; exit 2")
    assert (result.returncode, result.stdout, result.stderr) == (2, b"out\n", b"err\n")


def test_the_device_env_does_not_inherit_the_host_env(devices: dict[str, Sandbox],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_HOST_ONLY", "leak")
    box = devices["euler-ft2000"]
    proc = subprocess.run(box.command_argv("env"), capture_output=True, env=dict(os.environ), check=True)
    env = dict(line.split("=", 1) for line in proc.stdout.decode().splitlines() if "=" in line)
    assert "HARNESS_HOST_ONLY" not in env
    assert env["PATH"].startswith(f"{box.persona.bin_dir}:")
    assert env["HOME"] == "/root" and env["HOSTNAME"] == "euler-ft2000"


# --- isolation ----------------------------------------------------------------------------------


def test_writes_to_data_and_tmp_land_in_the_device_folder_not_on_the_host(
        devices: dict[str, Sandbox]) -> None:
    box = devices["handset-hmos"]
    marker = f"sandbox-probe-{os.getpid()}"
    sh(box, f"echo d > /data/local/tmp/{marker}; echo t > /tmp/{marker}; mkdir -p /data/{marker}")
    assert box.host_path(f"/data/local/tmp/{marker}").read_text() == "d\n"
    assert (box.root / "tmp" / marker).read_text() == "t\n"
    assert not Path(f"/tmp/{marker}").exists()
    assert not Path(f"/data/{marker}").exists()
    assert sh(box, f"cat /data/local/tmp/{marker}") == "d\n"  # and the next command sees it


def test_the_host_is_out_of_sight_and_out_of_reach(devices: dict[str, Sandbox]) -> None:
    box = devices["euler-ft2000"]
    assert box.run(f"test -e {REPO}").returncode == 1
    assert box.run("test -e /work || test -e /.oldroot").returncode == 1
    processes = sh(box, "ps -e -o comm=").split()
    # Only the device's own: its init, the command and its pipeline, and the persona's key services.
    services = len(load_persona("euler-ft2000").services)
    assert "python" not in " ".join(processes) and len(processes) <= 5 + services, processes
    readonly = box.run("touch /usr/sandbox-probe")
    assert readonly.returncode != 0 and b"Read-only file system" in readonly.stderr
    assert box.run("mount -o remount,bind,rw /usr").returncode != 0  # no mount power inside
    assert not Path("/usr/sandbox-probe").exists()
    system = devices["ohos-rk3568"].run("touch /system/probe")
    assert system.returncode != 0 and b"Read-only file system" in system.stderr


def test_two_devices_of_different_personas_side_by_side_see_different_files(
        devices: dict[str, Sandbox]) -> None:
    euler, kylin = devices["euler-ft2000"], devices["kylin-v10"]
    assert "openEuler" in sh(euler, "cat /etc/os-release")
    assert "Kylin" in sh(kylin, "cat /etc/os-release")
    assert euler.run("test -e /etc/kylin-release").returncode == 1
    sh(euler, "echo euler > /root/whoami")
    assert kylin.run("cat /root/whoami").returncode != 0
    assert sh(euler, "cat /root/whoami") == "euler\n"
    assert sh(euler, "uname -r") != sh(kylin, "uname -r")


# --- processes ----------------------------------------------------------------------------------


def test_long_lived_shell_keeps_state_across_commands(devices: dict[str, Sandbox]) -> None:
    box = devices["ohos-rk3568"]
    shell = box.spawn_shell()
    assert shell.stdin is not None and shell.stdout is not None
    try:
        shell.stdin.write(b"cd /system/etc; v=kept\necho \"$PWD $v $(param get const.ohos.apiversion)\"\n")
        shell.stdin.write(b"echo __done__\n")
        shell.stdin.flush()
        out = read_until(shell.stdout.fileno(), b"__done__\n")
        assert out.startswith(b"/system/etc kept 11\n")
        shell.stdin.write(b"exit 4\n")
        shell.stdin.flush()
        assert shell.wait(10) == 4
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
        for pipe in (shell.stdin, shell.stdout, shell.stderr):
            if pipe is not None:
                pipe.close()


@pytest.mark.parametrize("name", ["ohos-rk3568", "nonconforming-board"])
def test_pty_shell_is_interactive_on_its_own_terminal(devices: dict[str, Sandbox], name: str) -> None:
    box = devices[name]
    proc, master = box.spawn_pty_shell()
    try:
        os.write(master, b"tty; uname -r; echo __$((6*7))__\n")
        out = read_until(master, b"__42__")
        assert b"/dev/pts/" in out
        assert box.persona.uname.release.encode() in out
        os.write(master, b"exit 5\n")
        assert proc.wait(10) == 5
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)


def device_pids(box: Sandbox, name: str) -> list[str]:
    return sh(box, f"ps -e -o pid=,comm= | grep -w {name} || true").split()


def test_killing_a_commands_process_group_stops_it_inside_the_device(devices: dict[str, Sandbox]) -> None:
    box = devices["kylin-v10"]
    proc = subprocess.Popen(box.command_argv("sleep 300 | cat"), stdout=subprocess.PIPE,
                            start_new_session=True)
    poll_until(lambda: len(device_pids(box, "sleep")) > 0, 10, what="sleep to start in the device")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.stdout is not None
    proc.stdout.close()
    poll_until(lambda: device_pids(box, "sleep") == [], 10, what="sleep to be gone from the device")
    assert sh(box, "echo still-usable").strip() == "still-usable"


def test_run_timeout_kills_the_command_and_the_device_stays_usable(devices: dict[str, Sandbox]) -> None:
    box = devices["euler-ft2000"]
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        box.run("sleep 60", timeout=0.5)
    # Ended by its timeout, not by the sleep ending: half the sleep is a margin no load reaches.
    assert 0.5 <= time.monotonic() - started < 30
    assert device_pids(box, "sleep") == []
    assert sh(box, "echo ok").strip() == "ok"


# --- device control: reboot, properties, logs ---------------------------------------------------


def test_reboot_shim_requests_and_reboot_power_cycles(tmp_path: Path) -> None:
    with Sandbox(load_persona("handset-hmos"), tmp_path / "dev") as box:
        assert box.reboot_requested() is None
        marker = f"lose-{os.getpid()}"
        sh(box, f"echo keep > /data/keep; echo lose > /tmp/{marker}")
        shell = box.spawn_shell()
        result = box.run("reboot bootloader")
        assert result.returncode == 0
        assert box.reboot_requested() == "bootloader"
        assert not Path(f"/tmp/{marker}").exists()

        box.reboot()
        assert shell.wait(10) != 0  # the power cut took every process of the device
        for pipe in (shell.stdin, shell.stdout, shell.stderr):
            if pipe is not None:
                pipe.close()
        assert box.reboot_requested() is None
        assert sh(box, "cat /data/keep") == "keep\n"
        assert box.run(f"test -e /tmp/{marker}").returncode == 1
        sh(box, "reboot")
        assert box.reboot_requested() == ""


def test_properties_set_by_the_device_process_and_by_setprop(devices: dict[str, Sandbox]) -> None:
    box = devices["handset-hmos"]
    box.set_property("sys.boot_completed", "0")
    assert sh(box, "getprop sys.boot_completed").strip() == "0"
    sh(box, "setprop sys.boot_completed 1")
    assert sh(box, "getprop sys.boot_completed").strip() == "0"  # what init (the host side) set wins
    box.set_property("sys.boot_completed", "1")
    sh(box, "setprop debug.sim.flag first; setprop debug.sim.flag second")
    assert sh(box, "getprop debug.sim.flag").strip() == "second"
    assert sh(box, "getprop").count("[debug.sim.flag]") == 1
    ohos = devices["ohos-rk3568"]
    assert "success" in sh(ohos, "param set persist.sim.flag on")
    assert sh(ohos, "param get persist.sim.flag").strip() == "on"


def test_linux_boot_state_follows_the_boot_completed_property(devices: dict[str, Sandbox]) -> None:
    box = devices["kylin-v10"]
    box.set_property("sys.boot_completed", "0")
    starting = box.run("systemctl is-system-running")
    assert (starting.returncode, starting.stdout) == (1, b"starting\n")
    box.set_property("sys.boot_completed", "1")
    assert sh(box, "systemctl is-system-running").strip() == "running"


def test_dmesg_console_level_and_clear(devices: dict[str, Sandbox]) -> None:
    box = devices["kylin-v10"]
    assert box.run("dmesg -n 1").returncode == 0  # the console driver silences printk this way
    assert "Booting Linux" in sh(box, "dmesg")
    sh(box, "dmesg -C")
    assert sh(box, "dmesg") == ""
    (box.control_dir / "log.kmsg").write_text("[   42.000000] usb 1-1: new device\n")
    assert sh(box, "dmesg -t") == "usb 1-1: new device\n"


# --- failures are loud --------------------------------------------------------------------------


def test_a_failed_setup_step_is_a_clear_error_and_nothing_runs(tmp_path: Path) -> None:
    persona = dataclasses.replace(load_persona("euler-ft2000"), readonly_dirs=("/no-such-dir",))
    box = Sandbox(persona, tmp_path / "dev")
    with pytest.raises(SandboxUnavailable, match=r"sandbox setup failed: bind /no-such-dir read-only"):
        box.start()
    assert not box.running
    box.cleanup()


def test_without_user_namespaces_the_error_names_unshare(tmp_path: Path) -> None:
    # A real refusal: inside a user namespace whose limit of nested user namespaces is 0.
    code = ("from harness.lab.persona import load_persona\n"
            "from harness.lab.sandbox.namespaces import Sandbox, SandboxUnavailable\n"
            f"box = Sandbox(load_persona('kylin-v10'), {str(tmp_path / 'dev')!r})\n"
            "try:\n    box.run('echo ran-on-host')\nexcept SandboxUnavailable as e:\n    print('ERROR', e)\n")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                           'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "limit",
                           sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ERROR cannot build the sandbox for persona kylin-v10")
    assert "unshare" in proc.stdout and "ran-on-host" not in proc.stdout


@pytest.fixture
def world_traversable_dir() -> Iterator[Path]:
    # pytest's tmp_path sits under a 0700 folder of the user running pytest; nobody cannot enter it.
    folder = Path(tempfile.mkdtemp(prefix="harness-sandbox-user-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _interpreter_outside_the_checkout() -> str:
    """The Python install the venv was made from: the venv itself lives in the checkout, which another
    user may not be able to enter (a checkout under a 0700 mkdtemp folder)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def test_works_as_an_ordinary_user(world_traversable_dir: Path) -> None:
    # Everything the unprivileged process touches is outside the checkout: its own copy of the package
    # (the sandbox needs nothing but the standard library), the base interpreter, a state folder.
    package = world_traversable_dir / "pkg"
    shutil.copytree(REPO / "harness", package / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in (package, *package.rglob("*")):
        if folder.is_dir():
            folder.chmod(0o755)
    state = world_traversable_dir / "user-dev"
    state.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # CI runs as root: drop to nobody to prove the unprivileged path
        os.chown(state, 65534, 65534)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    code = ("import os\nimport harness\nfrom harness.lab.persona import load_persona\n"
            "from harness.lab.sandbox.namespaces import Sandbox\n"
            "assert harness.__file__.startswith(os.environ['PYTHONPATH']), harness.__file__\n"
            f"with Sandbox(load_persona('ohos-rk3568'), {str(state)!r}) as box:\n"
            "    r = box.run('id -u; param get const.ohos.apiversion; echo x > /data/x')\n"
            "    print(os.geteuid(), r.returncode, r.stdout.decode().split(), r.stderr.decode())\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/", "PYTHONPATH": str(package),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([*prefix, _interpreter_outside_the_checkout(), "-B", "-c", code],
                          capture_output=True, text=True, cwd=world_traversable_dir, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    uid, rc, *rest = proc.stdout.split(" ", 2)
    assert uid != "0" or os.geteuid() != 0
    assert rc == "0" and rest[0].startswith("['0', '11']"), proc.stdout


def test_a_device_sees_only_its_own_listening_sockets(devices: dict[str, Sandbox]) -> None:
    import socket

    # A service listening on the lab machine must not show up in the device's port inventory.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as host_service:
        host_service.bind(("0.0.0.0", 0))
        host_service.listen()
        port_hex = f":{host_service.getsockname()[1]:04X}"
        box = devices["kylin-v10"]
        tables = sh(box, "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null")
        assert port_hex not in tables
        assert "127.0.0.1" in sh(box, "ip -4 addr show lo 2>/dev/null || echo 127.0.0.1")


def test_a_device_has_a_unique_local_ipv6_address_and_route_of_its_own(devices: dict[str, Sandbox]) -> None:
    box = devices["kylin-v10"]
    if "eth0" not in sh(box, "cat /proc/net/if_inet6"):
        pytest.skip("this kernel gave the sandbox no veth pair: the device has loopback only")
    # /proc/net/if_inet6: address, ifindex, prefix length, scope (00: global, which a ULA is), flags, name.
    table = [line.split() for line in sh(box, "cat /proc/net/if_inet6").splitlines()]
    assert ["fd000010000000020000000000000015", "40", "00", "eth0"] in [[t[0], t[2], t[3], t[5]] for t in table]
    assert "default via fd00:10:0:2::2 dev eth0" in sh(box, "ip -6 route")


def test_an_openharmony_device_carries_the_hosts_real_openssl_as_its_system_library(
        devices: dict[str, Sandbox]) -> None:
    host = host_library("libcrypto.so.3")
    if host is None:
        pytest.skip("this host has no libcrypto.so.3 under /usr: the device's link dangles (CRYPTO-OHOS-001 FAILs)")
    box = devices["ohos-rk3568"]
    assert sh(box, "readlink /system/lib64/libcrypto_openssl.z.so").strip() == host
    symbols = sh(box, "grep -ao 'EVP_sm[34][a-z0-9_]*' /system/lib64/libcrypto_openssl.z.so | sort -u").split()
    assert {"EVP_sm3", "EVP_sm4_cbc"} <= set(symbols), symbols


def test_a_host_library_is_found_in_the_first_folder_that_has_it(tmp_path: Path) -> None:
    (tmp_path / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
    (tmp_path / "lib64").mkdir()
    (tmp_path / "lib64" / "libcrypto.so.3").write_bytes(b"\x7fELF")
    dirs = (f"{tmp_path}/lib/*-linux-gnu", f"{tmp_path}/lib64")
    assert host_library("libcrypto.so.3", dirs) == str(tmp_path / "lib64" / "libcrypto.so.3")
    (tmp_path / "lib" / "x86_64-linux-gnu" / "libcrypto.so.3").write_bytes(b"\x7fELF")
    assert host_library("libcrypto.so.3", dirs) == str(tmp_path / "lib" / "x86_64-linux-gnu" / "libcrypto.so.3")
    assert host_library("libnothing.so.1", dirs) is None


def test_the_package_holds_no_dangling_link() -> None:
    """A link into the host's tree (a persona's /etc/localtime into /usr/share/zoneinfo) dangles in the
    checkout, and the wheel build and every copy of the tree refuse it: personas declare such links in
    persona.toml, and the sandbox makes them at boot."""
    dangling = [str(p.relative_to(REPO)) for p in (REPO / "harness").rglob("*") if p.is_symlink() and not p.exists()]
    assert dangling == []
