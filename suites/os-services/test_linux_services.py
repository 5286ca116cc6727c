"""A Linux OS's own services: its package base and repositories, systemd, kdump, time sync, locales,
journald and log rotation, sshd's configuration, the host name and os-release.

Each test reads through the `dut` fixture and judges with harness.checks.osservices; a file or command
that is missing is a FAIL saying so, never a pass. The requirements apply to the Linux profiles only."""

from __future__ import annotations

import shlex

import pytest

from harness.checks import osservices, reads


def _files(dut, patterns) -> dict[str, str]:
    result = dut.run(osservices.files_script(patterns), timeout=60)
    return osservices.split_files(result.stdout_text)


def _systemctl(dut, args: str) -> str:
    result = dut.run(f"systemctl {args} 2>&1", timeout=60)
    return result.stdout_text


def _unit_states(dut, verb: str, units) -> dict[str, str]:
    names = " ".join(shlex.quote(u) for u in units)
    answer = f'"$(systemctl {verb} "$u" 2>&1 | head -n 1)"'
    script = f"for u in {names}; do printf '%s %s\\n' \"$u\" {answer}; done"
    return osservices.unit_states(dut.run(script, timeout=60).stdout_text)


def _package_manager(dut, suite_data) -> str:
    wanted = suite_data["package_manager"]
    if wanted != "auto":
        return wanted
    databases = (("rpm", "/var/lib/rpm"), ("rpm", "/usr/lib/sysimage/rpm"), ("dpkg", "/var/lib/dpkg/status"))
    for tool, database in databases:
        if reads.exists(dut, database):
            return tool
    pytest.fail(f"no package database: none of {[d for _, d in databases]} exists")


@pytest.mark.requirement("OSS-PKG-001")
def test_package_database(dut, suite_data):
    tool = _package_manager(dut, suite_data)
    if tool == "rpm":
        result = dut.run("rpm -qa", timeout=120)
        assert result.ok or result.stdout_text.strip(), f"rpm -qa failed {reads.failure_detail(result)}"
        db = osservices.rpm_packages(result.stdout_text, result.stderr_text)
    else:
        result = dut.run("dpkg-query -W -f='${Status} ${Package}\\n'", timeout=120)
        assert result.ok, f"dpkg-query failed {reads.failure_detail(result)}"
        db = osservices.dpkg_packages(result.stdout_text)
    problems = osservices.package_db_problems(db, tool)
    assert not problems, "; ".join(problems)


def _repos(dut, suite_data) -> list[osservices.Repo]:
    files = _files(dut, suite_data["repo_files"])
    yum = {p: t for p, t in files.items() if p.endswith(".repo")}
    apt = {p: t for p, t in files.items() if not p.endswith(".repo")}
    main = "".join(_files(dut, ["/etc/dnf/dnf.conf", "/etc/yum.conf"]).values()) if yum else ""
    return osservices.yum_repos(yum, main) + osservices.apt_sources(apt)


@pytest.mark.requirement("OSS-PKG-002")
def test_repository_configured(dut, suite_data):
    repos = _repos(dut, suite_data)
    enabled = osservices.enabled_repos(repos)
    assert enabled, (f"no enabled repository with a URL in {suite_data['repo_files']} "
                     f"({len(repos)} configured, all disabled or without a URL)")


@pytest.mark.requirement("OSS-PKG-003")
def test_repositories_signed(dut, suite_data):
    repos = osservices.enabled_repos(_repos(dut, suite_data))
    assert repos, "no enabled repository to check the signatures of"
    unsigned = osservices.unsigned_repos(repos)
    assert not unsigned, f"packages are not signature-checked from: {unsigned}"


@pytest.mark.requirement("OSS-SYSD-001")
def test_system_running(dut):
    problem = osservices.system_state_problem(_systemctl(dut, "is-system-running"))
    assert problem is None, problem


@pytest.mark.requirement("OSS-SYSD-002")
def test_no_failed_units(dut):
    result = dut.run("systemctl list-units --state=failed --no-legend --plain --no-pager 2>&1", timeout=60)
    absent = osservices.systemd_absent(result.stdout_text)
    assert absent is None, f"cannot list the failed units, systemd is not managing the system: {absent}"
    assert result.ok, f"systemctl list-units failed {reads.failure_detail(result)}"  # an error lists no unit
    failed = osservices.failed_units(result.stdout_text)
    assert not failed, f"failed units: {failed}"


@pytest.mark.requirement("OSS-SYSD-003")
def test_default_target(dut):
    problem = osservices.default_target_problem(_systemctl(dut, "get-default"))
    assert problem is None, problem


@pytest.mark.requirement("OSS-KDUMP-001")
def test_crash_memory_reserved(dut):
    cmdline = reads.read_file(dut, "/proc/cmdline")
    size = reads.read_file(dut, "/sys/kernel/kexec_crash_size")
    problem = osservices.crash_reservation_problem(cmdline, size)
    assert problem is None, problem


@pytest.mark.requirement("OSS-KDUMP-002")
def test_crash_kernel_loaded(dut):
    problem = osservices.crash_loaded_problem(reads.read_file(dut, "/sys/kernel/kexec_crash_loaded"))
    assert problem is None, problem


@pytest.mark.requirement("OSS-KDUMP-003")
def test_kdump_service_enabled(dut, suite_data):
    states = _unit_states(dut, "is-enabled", suite_data["kdump_units"])
    assert osservices.units_in(states, ("enabled",)), (
        f"no kdump service is enabled: {osservices.describe_states(states)}"
    )


@pytest.mark.requirement("OSS-TIME-001")
def test_time_sync_active(dut, suite_data):
    states = _unit_states(dut, "is-active", suite_data["time_sync_units"])
    assert osservices.units_in(states), (
        f"no time synchronisation service is active: {osservices.describe_states(states)}"
    )


@pytest.mark.requirement("OSS-TIME-002")
def test_clock_synchronised(dut):
    shown = dut.run("timedatectl show 2>&1", timeout=30).stdout_text
    tracking = dut.run("chronyc tracking 2>&1", timeout=30).stdout_text
    problem = osservices.clock_sync_problem(shown, tracking)
    assert problem is None, problem


@pytest.mark.requirement("OSS-TIME-003")
def test_timezone_configured(dut):
    link = reads.first_line(dut, "readlink /etc/localtime")
    exists = bool(link) and reads.exists(dut, "/etc/localtime", "-f")
    problem = osservices.timezone_problem(link, exists)
    assert problem is None, problem


def _locales(dut) -> str:
    # In the test body, not a fixture: a device without `locale` fails the requirement (a FAIL), it is
    # no lab trouble (a fixture's failure is an ERROR).
    result = dut.run("locale -a", timeout=30)
    assert result.ok, f"locale -a failed {reads.failure_detail(result)}"
    return result.stdout_text


@pytest.mark.requirement("OSS-LOC-001")
def test_chinese_locale(dut, suite_data):
    locales = _locales(dut)
    wanted = suite_data["required_locale"]
    assert osservices.has_locale(locales, wanted), f"locale -a does not list {wanted}: {locales.split()}"


@pytest.mark.requirement("OSS-LOC-002")
def test_system_locale(dut, suite_data):
    locales = _locales(dut)
    lang = osservices.system_lang(_files(dut, suite_data["locale_files"]))
    problem = osservices.system_locale_problem(lang, locales)
    assert problem is None, problem


@pytest.mark.requirement("OSS-LOG-001")
def test_journal_persistent(dut):
    files = _files(dut, ["/etc/systemd/journald.conf", "/etc/systemd/journald.conf.d/*.conf",
                         "/usr/lib/systemd/journald.conf.d/*.conf"])
    storage = osservices.journald_storage(files)
    problem = osservices.journald_problem(storage, reads.exists(dut, "/var/log/journal", "-d"))
    assert problem is None, problem


@pytest.mark.requirement("OSS-LOG-002")
def test_log_rotation(dut):
    conf = reads.read_file(dut, "/etc/logrotate.conf")
    scheduled = []
    if osservices.units_in(_unit_states(dut, "is-enabled", ["logrotate.timer"]), ("enabled",)):
        scheduled.append("logrotate.timer")
    if reads.exists(dut, "/etc/cron.daily/logrotate", "-f"):
        scheduled.append("/etc/cron.daily/logrotate")
    problem = osservices.logrotate_problem(conf, scheduled)
    assert problem is None, problem


def _sshd_options(dut) -> dict[str, str]:
    files = _files(dut, ["/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/*.conf"])
    if "/etc/ssh/sshd_config" not in files:
        if reads.which(dut, "sshd") is None and not reads.exists(dut, "/usr/sbin/sshd", "-x"):
            pytest.skip("no OpenSSH server is installed (no sshd, no /etc/ssh/sshd_config)")
        pytest.fail("sshd is installed but /etc/ssh/sshd_config is missing or unreadable")
    return osservices.sshd_options(files)


@pytest.mark.requirement("OSS-SSH-001")
def test_sshd_no_root_password_login(dut):
    problem = osservices.root_login_problem(_sshd_options(dut))
    assert problem is None, problem


@pytest.mark.requirement("OSS-SSH-002")
def test_sshd_no_empty_passwords_protocol_2(dut):
    problems = osservices.sshd_auth_problems(_sshd_options(dut))
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("OSS-HOST-001")
def test_hostname_set(dut):
    problem = osservices.hostname_problem(reads.read_file(dut, "/proc/sys/kernel/hostname"))
    assert problem is None, problem


@pytest.mark.requirement("OSS-REL-001")
def test_os_release_fields(dut, suite_data):
    text = reads.read_file(dut, "/etc/os-release") or reads.read_file(dut, "/usr/lib/os-release")
    assert text, "neither /etc/os-release nor /usr/lib/os-release is readable"
    fields = osservices.parse_os_release(text)
    problems = osservices.os_release_problems(fields, suite_data["os_release_vendor_ids"])
    assert not problems, "; ".join(problems)


@pytest.mark.requirement("OSS-SCHED-001")
def test_job_scheduler(dut, suite_data):
    timers = osservices.timer_units(_systemctl(dut, "list-timers --all --no-legend --no-pager"))
    cron = osservices.units_in(_unit_states(dut, "is-active", suite_data["cron_units"]))
    daemons = ", ".join(suite_data["cron_units"])
    assert timers or cron, f"no systemd timer and no active cron daemon ({daemons})"
