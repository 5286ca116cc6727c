"""harness.checks.osservices on real captured outputs of this machine's Debian (tests/data/devices/debian:
os-files.txt, os-commands.txt, written by scripts/capture_device_reads.py; tests/data/captured: dpkg's
status list) and, for the rpm distributions this machine is not, inline texts in their documented
formats. Each test states the rule it pins."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.checks import osservices as o

DEVICES = Path(__file__).parent / "data" / "devices" / "debian"
CAPTURED = Path(__file__).parent / "data" / "captured"


def debian_files() -> dict[str, str]:
    return o.split_files((DEVICES / "os-files.txt").read_text())


def debian_command(command: str) -> str:
    """One command's answer out of os-commands.txt."""
    blocks = (DEVICES / "os-commands.txt").read_text().split("@@harness-command@@ ")
    for block in blocks:
        head, _, body = block.partition("\n")
        if head == command:
            return body
    raise KeyError(command)


# -- the file dump -----------------------------------------------------------------------------------


def test_files_script_dumps_what_exists_and_split_files_reads_it_back(tmp_path):
    (tmp_path / "a.conf").write_text("x=1\n@not a mark\n")
    (tmp_path / "b.conf").write_text("")
    (tmp_path / "c d.conf").write_text("spaced\n")
    script = o.files_script([f"{tmp_path}/*.conf", f"{tmp_path}/missing"])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    files = o.split_files(out)
    assert list(files) == [f"{tmp_path}/a.conf", f"{tmp_path}/b.conf", f"{tmp_path}/c d.conf"]
    assert files[f"{tmp_path}/c d.conf"].startswith("spaced\n")
    assert files[f"{tmp_path}/a.conf"].startswith("x=1\n@not a mark\n")
    assert f"{tmp_path}/missing" not in files


def test_debian_dump_holds_the_files_the_suite_reads():
    files = debian_files()
    assert {"/etc/os-release", "/etc/ssh/sshd_config", "/etc/apt/sources.list.d/debian.sources",
            "/etc/systemd/journald.conf", "/etc/default/locale", "/proc/cmdline"} <= set(files)


# -- package database and repositories ---------------------------------------------------------------


def test_dpkg_status_counts_installed_and_flags_half_done_packages():
    db = o.dpkg_packages((CAPTURED / "debian-dpkg-status.txt").read_text())
    assert db.installed > 500 and db.broken == ()
    assert o.package_db_problems(db, "dpkg") == []
    half = o.dpkg_packages("install ok installed bash\ninstall ok half-configured libfoo\n"
                           "install reinstreq half-installed bar\ndeinstall ok config-files old\n")
    assert half.installed == 1
    assert half.broken == ("libfoo: ok half-configured", "bar: reinstreq half-installed")  # config-files is fine


def test_rpm_list_and_a_damaged_database():
    good = o.rpm_packages("bash-5.1.8-6.oe2203sp3.aarch64\nkernel-5.10.0-247.0.0.150.oe2203sp3.aarch64\n", "")
    assert good == o.PackageDb(2, ())
    damaged = o.rpm_packages("", "error: rpmdb: BDB0113 Thread/process 1/2 failed\nerror: cannot open Packages index\n")
    assert o.package_db_problems(damaged, "rpm")[0] == "rpm lists no installed package"
    assert len(damaged.broken) == 2


def test_apt_deb822_sources_of_debian_are_enabled_and_signed():
    apt = {p: t for p, t in debian_files().items() if "/apt/" in p}
    repos = o.apt_sources(apt)
    assert [r.url for r in repos] == ["http://deb.debian.org/debian", "http://deb.debian.org/debian-security"]
    assert all(r.enabled and r.signed for r in repos)
    assert o.unsigned_repos(repos) == []


def test_apt_one_line_trusted_yes_is_unsigned_and_enabled_no_is_off():
    repos = o.apt_sources({
        "/etc/apt/sources.list": "deb http://a/debian bookworm main\n# deb http://commented\n"
                                 "deb [arch=amd64 trusted=yes] http://b/x stable main\n",
        "/etc/apt/sources.list.d/c.sources": "Types: deb\nURIs: http://c/\nSuites: s\nEnabled: no\n",
    })
    assert [(r.url, r.enabled, r.signed) for r in repos] == [
        ("http://a/debian", True, True), ("http://b/x", True, False), ("http://c/", False, True)]
    assert o.unsigned_repos(repos) == ["/etc/apt/sources.list:3 (http://b/x)"]


def test_yum_repos_enabled_by_default_gpgcheck_from_main_else_off():
    files = {"/etc/yum.repos.d/openEuler.repo": "[OS]\nname=OS\nbaseurl=http://repo.openeuler.org/x/OS/$basearch/\n"
                                                 "gpgcheck=1\n[debuginfo]\nbaseurl=http://d/\nenabled=0\n"
                                                 "[everything]\nmetalink=https://m/\n"}
    repos = o.yum_repos(files, "")
    assert [(r.where.split("[")[1], r.enabled, r.signed) for r in repos] == [
        ("OS]", True, True), ("debuginfo]", False, False), ("everything]", True, False)]
    assert o.unsigned_repos(repos) == ["/etc/yum.repos.d/openEuler.repo[everything] (https://m/)"]
    assert o.unsigned_repos(o.yum_repos(files, "[main]\ngpgcheck=True\n")) == []
    assert o.enabled_repos(o.yum_repos({"/etc/yum.repos.d/x.repo": "[x]\nname=no url\n"}, "")) == []


# -- systemd ----------------------------------------------------------------------------------------


def test_a_system_not_under_systemd_is_a_problem_everywhere():
    # This machine's PID 1 is no systemd: every systemctl answer says so, and none reads as healthy.
    assert o.system_state_problem(debian_command("systemctl is-system-running")) == (
        "systemctl is-system-running says 'offline'")
    failed = debian_command("systemctl list-units --state=failed --no-legend --plain --no-pager")
    assert o.systemd_absent(failed).startswith("System has not been booted with systemd")
    assert o.failed_units(failed) == [] or o.systemd_absent(failed)
    assert "not managing" in o.system_state_problem("System has not been booted with systemd as init system\n")


def test_only_running_is_healthy():
    assert o.system_state_problem("running\n") is None
    assert o.system_state_problem("degraded\n") == "systemctl is-system-running says 'degraded'"
    assert o.system_state_problem("") == "systemctl is-system-running says 'nothing'"


def test_failed_units_first_column_with_or_without_the_bullet():
    text = ("\u25cf nc-ota-agent.service loaded failed failed NC OTA agent\n"
            "kdump.service loaded failed failed Crash recovery kernel arming\n")
    assert o.failed_units(text) == ["nc-ota-agent.service", "kdump.service"]
    assert o.failed_units("") == []


def test_default_target_of_debian_and_the_rescue_ones():
    assert o.default_target_problem(debian_command("systemctl get-default")) is None  # graphical.target
    assert o.default_target_problem("multi-user.target\n") is None
    assert "rescue.target" in o.default_target_problem("rescue.target\n")
    assert "not set" in o.default_target_problem("")


def test_unit_states_keep_systemctls_answer_and_only_the_wanted_state_counts():
    states = o.unit_states("chronyd.service active\nntpd.service inactive\n"
                           "kdump.service System has not been booted with systemd as init system (PID 1).\n")
    assert o.units_in(states) == ["chronyd.service"]
    assert states["kdump.service"].startswith("System has not been booted")
    assert o.units_in(states, ("enabled",)) == []
    assert "ntpd.service inactive" in o.describe_states(states)


# -- kdump -------------------------------------------------------------------------------------------


def test_crashkernel_reservation_rules():
    cmdline = debian_files()["/proc/cmdline"]
    assert "no crashkernel=" in o.crash_reservation_problem(cmdline, None)  # this VM reserves nothing
    euler = "BOOT_IMAGE=/vmlinuz root=/dev/mapper/openeuler-root ro crashkernel=512M console=ttyAMA0"
    assert o.crashkernel(euler) == "512M"
    assert o.crash_reservation_problem(euler, "536870912\n") is None
    assert "is '0'" in o.crash_reservation_problem(euler, "0\n")  # asked for, but the reservation failed
    assert "CONFIG_CRASH_DUMP" in o.crash_reservation_problem(euler, None)
    assert o.crash_reservation_problem(None, "1") == "/proc/cmdline is unreadable"
    assert o.crashkernel("nocrashkernel=1 xcrashkernel=2") is None


def test_crash_kernel_loaded_only_when_1():
    assert o.crash_loaded_problem("1\n") is None
    assert "no crash kernel is loaded" in o.crash_loaded_problem("0\n")
    assert "missing" in o.crash_loaded_problem(None)


# -- time --------------------------------------------------------------------------------------------


def test_clock_sync_from_timedatectl_or_chrony_and_debian_has_neither():
    problem = o.clock_sync_problem(debian_command("timedatectl show"), debian_command("chronyc tracking"))
    assert problem.startswith("the clock is not synchronised (timedatectl: System has not been booted")
    assert "chronyc: not found" in problem
    assert o.clock_sync_problem("Timezone=Asia/Shanghai\nNTP=yes\nNTPSynchronized=yes\n", "") is None
    assert o.clock_sync_problem("NTPSynchronized=no\n", "Reference ID    : C0A80001 (ntp)\nLeap status     : Normal\n") is None
    assert "Not synchronised" in o.clock_sync_problem("NTPSynchronized=no\n", "Leap status     : Not synchronised\n")


def test_timezone_is_a_link_into_zoneinfo_that_exists():
    link = debian_command("readlink /etc/localtime").strip()
    assert o.timezone_problem(link, True) is None  # /usr/share/zoneinfo/Etc/UTC
    assert "no time zone" in o.timezone_problem(None, False)
    assert "outside a zoneinfo" in o.timezone_problem("/etc/mytime", True)
    assert "does not exist" in o.timezone_problem("../usr/share/zoneinfo/Asia/Shanghai", False)


# -- locales -----------------------------------------------------------------------------------------


def test_locale_names_match_either_spelling():
    assert o.normal_locale("zh_CN.UTF-8") == "zh_CN.utf8" == o.normal_locale("zh_CN.utf8")
    assert o.normal_locale("sr_RS.UTF-8@latin") == "sr_RS.utf8@latin"
    listing = debian_command("locale -a")  # C, C.utf8, POSIX
    assert not o.has_locale(listing, "zh_CN.UTF-8")
    assert o.has_locale(listing + "zh_CN.utf8\n", "zh_CN.UTF-8")
    assert not o.has_locale("zh_CN.gb18030\n", "zh_CN.UTF-8")


def test_system_locale_rules():
    # Debian's /etc/default/locale is only a comment here: no LANG.
    assert o.system_lang({"/etc/default/locale": debian_files()["/etc/default/locale"]}) is None
    assert "no system locale" in o.system_locale_problem(None, "C\n")
    assert o.system_lang({"/etc/locale.conf": 'LANG="zh_CN.UTF-8"\n'}) == "zh_CN.UTF-8"
    assert o.system_locale_problem("zh_CN.UTF-8", "C\nzh_CN.utf8\n") is None
    assert "not installed" in o.system_locale_problem("en_US.UTF-8", "C\nzh_CN.utf8\n")
    assert "not UTF-8" in o.system_locale_problem("zh_CN.GB18030", "zh_CN.gb18030\n")


# -- logs --------------------------------------------------------------------------------------------


def test_journald_storage_last_setting_wins_drop_ins_after_the_main_file():
    assert o.journald_storage({"/etc/systemd/journald.conf": debian_files()["/etc/systemd/journald.conf"]}) == "auto"
    files = {"/etc/systemd/journald.conf.d/10-v.conf": "[Journal]\nStorage=volatile\n",
             "/etc/systemd/journald.conf": "[Journal]\nStorage=persistent\n"}
    assert o.journald_storage(files) == "volatile"
    assert o.journald_problem("persistent", False) is None
    assert o.journald_problem("auto", True) is None
    assert "does not exist" in o.journald_problem("auto", False)
    assert "Storage=volatile" in o.journald_problem("volatile", True)


def test_logrotate_needs_its_config_and_a_schedule():
    assert "does not exist" in o.logrotate_problem(None, ["logrotate.timer"])
    assert "empty" in o.logrotate_problem("# nothing\n", ["logrotate.timer"])
    assert "nothing runs logrotate" in o.logrotate_problem("weekly\ninclude /etc/logrotate.d\n", [])
    assert o.logrotate_problem("weekly\ninclude /etc/logrotate.d\n", ["/etc/cron.daily/logrotate"]) is None


# -- sshd --------------------------------------------------------------------------------------------


def test_debian_sshd_config_keeps_the_safe_defaults():
    ssh = {p: t for p, t in debian_files().items() if p.startswith("/etc/ssh/")}
    options = o.sshd_options(ssh)
    assert options["permitrootlogin"] == "prohibit-password" and options["usepam"] == "yes"
    assert o.root_login_problem(options) is None and o.sshd_auth_problems(options) == []


def test_sshd_first_value_wins_includes_read_in_place_and_match_is_not_global():
    files = {
        "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n"
                                "Match User build\n  PermitRootLogin yes\n",
        "/etc/ssh/sshd_config.d/50-vendor.conf": "permitrootlogin=yes\nPermitEmptyPasswords yes\n",
    }
    options = o.sshd_options(files)
    assert options["permitrootlogin"] == "yes"  # the drop-in is read first, at the Include line
    assert "PermitRootLogin yes" in o.root_login_problem(options)
    assert o.sshd_auth_problems(options) == ["PermitEmptyPasswords yes: accounts without a password log in"]
    del files["/etc/ssh/sshd_config.d/50-vendor.conf"]
    assert o.root_login_problem(o.sshd_options(files)) is None  # the Match block's yes is not global
    assert "protocol 1" in o.sshd_auth_problems(o.sshd_options({"/etc/ssh/sshd_config": "Protocol 2,1\n"}))[0]


# -- host name, os-release, scheduling ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "(none)", "localhost", "localhost.localdomain", "bad_name!"])
def test_placeholder_or_invalid_host_names(name):
    assert o.hostname_problem(name + "\n") is not None


def test_real_host_names_pass():
    assert o.hostname_problem("vm\n") is None  # this machine's
    assert o.hostname_problem("euler-ft2000.lab.example\n") is None
    assert o.hostname_problem(None) is not None


def test_os_release_of_debian_and_broken_ones():
    fields = o.parse_os_release(debian_files()["/etc/os-release"])
    assert fields["ID"] == "debian" and fields["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)"
    assert o.os_release_problems(fields) == []
    assert o.os_release_problems(o.parse_os_release('NAME="Kylin Linux Advanced Server"\nID=kylin\n'
                                                    'VERSION_ID="V10"\nPRETTY_NAME="Kylin V10"\n')) == []
    # openEuler's own ID is mixed case, against os-release(5)'s lower case: accepted only where the profile
    # names it as its vendor's spelling.
    euler = o.parse_os_release('NAME="openEuler"\nID="openEuler"\nVERSION_ID="22.03"\n'
                               'PRETTY_NAME="openEuler 22.03 (LTS-SP3)"\n')
    assert o.os_release_problems(euler, ["openEuler"]) == []
    lower_only = "has characters outside lower-case letters, digits, '.', '_' and '-' (os-release(5))"
    assert o.os_release_problems(euler) == [f"ID='openEuler' {lower_only}"]
    assert o.os_release_problems(euler, ["openeuler"]) == [f"ID='openEuler' {lower_only}"]
    assert o.os_release_problems({**euler, "ID": "Kylin"}, ["openEuler"]) == [f"ID='Kylin' {lower_only}"]
    assert o.os_release_problems({**euler, "ID": "uos-20.1_a"}) == []
    bad = o.os_release_problems(o.parse_os_release('NAME=X\nID="Open Euler"\nVERSION_ID="20 03"\n'))
    assert bad == ["PRETTY_NAME is missing or empty", f"ID='Open Euler' {lower_only}",
                   "VERSION_ID='20 03' contains spaces"]


def test_timer_units_and_none_without_systemd():
    text = ("Mon 2026-12-07 00:00:00 CST 3 days left Sun 2026-11-29 00:00:10 CST 4 days ago "
            "logrotate.timer logrotate.service\n")
    assert o.timer_units(text) == ["logrotate.timer"]
    assert o.timer_units(debian_command("systemctl list-timers --all --no-legend --no-pager")) == []



# -- the exact rules, edge by edge (what `make mutate` holds these checks to) ---------------------------


def test_rpm_errors_on_either_stream_in_order_and_blank_lines_are_no_package():
    db = o.rpm_packages("bash-5.1\n\nerror: rpmdb open failed\n  zlib-1.2  \n", "error: db5 error")
    assert db == o.PackageDb(2, ("error: db5 error", "error: rpmdb open failed"))
    assert o.package_db_problems(db, "rpm") == ["rpm: error: db5 error", "rpm: error: rpmdb open failed"]
    assert o.package_db_problems(o.PackageDb(0, ()), "dpkg") == ["dpkg lists no installed package"]
    assert len(o.package_db_problems(o.PackageDb(1, tuple(f"e{i}" for i in range(30))), "rpm")) == 20


def test_dpkg_short_lines_are_skipped_not_fatal():
    assert o.dpkg_packages("install ok\ninstall ok installed bash\n") == o.PackageDb(1, ())
    assert o.dpkg_packages("install ok unpacked foo\n") == o.PackageDb(0, ("foo: ok unpacked",))


def test_ini_sections_comments_and_keys_outside_a_section():
    text = ("junk before any section\nkey=outside\n; a comment\n# another\n\n[OS]\nname=OS [x]\n"
            "baseurl=http://r/os/?arch=aarch64\nnot a key\n[two]\nmirrorlist=http://m/list\n")
    repos = o.yum_repos({"/r.repo": text}, "")
    assert repos == [o.Repo("/r.repo[OS]", "http://r/os/?arch=aarch64", True, False),
                     o.Repo("/r.repo[two]", "http://m/list", True, False)]


def test_yum_skips_a_main_section_and_reads_each_kind_of_url_and_truth():
    text = ("[main]\ngpgcheck=1\n[a]\nbaseurl=http://a/ http://a2/\nenabled=yes\ngpgcheck=on\n"
            "[b]\nmetalink=https://b/\nenabled=\ngpgcheck=YES\n[c]\nmirrorlist=http://c/\nenabled=off\n"
            "gpgcheck=true\n")
    repos = o.yum_repos({"/y.repo": text}, "[main]\ngpgcheck=0\n")
    assert [(r.where, r.url, r.enabled, r.signed) for r in repos] == [
        ("/y.repo[a]", "http://a/", True, True), ("/y.repo[b]", "https://b/", True, True),
        ("/y.repo[c]", "http://c/", False, True)]
    assert o.yum_repos({"/z.repo": "[z]\nbaseurl=http://z/\n"}, "[main]\ngpgcheck=1\n")[0].signed


def test_apt_deb822_stanzas_continuations_and_insecure_fields():
    text = ("# leading comment\nTypes: deb-src\nURIs: http://src/\n\n"
            "Types: deb\nURIs: http://a/ http://a2/\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n"
            " Enabled: no\n\n"
            "Types: deb deb-src\nURIs: http://b/\nTrusted: yes\n\n"
            "Types: deb\nURIs: http://c/\nAllow-Insecure: yes\n\n"
            "Types: deb\n# URIs: http://commented/\n\n"
            "Types: deb\nURIs: http://d/\nEnabled: no\n")
    repos = o.apt_sources({"/etc/apt/sources.list.d/x.sources": text})
    where = "/etc/apt/sources.list.d/x.sources stanza "
    assert repos == [o.Repo(where + "2", "http://a/", True, True), o.Repo(where + "3", "http://b/", True, False),
                     o.Repo(where + "4", "http://c/", True, False), o.Repo(where + "6", "http://d/", False, True)]


def test_apt_one_line_forms():
    text = ("deb http://a/ s main # a comment\n#deb http://off/ s main\ndeb-src http://src/ s main\n"
            "deb [trusted=yes] http://b/ s\ndeb [ allow-insecure=yes ] http://c/ s\n"
            "deb [signed-by=/k.gpg] http://d/ s\ndeb http://no-suite/\n")
    assert o.apt_sources({"/l": text}) == [
        o.Repo("/l:1", "http://a/", True, True), o.Repo("/l:4", "http://b/", True, False),
        o.Repo("/l:5", "http://c/", True, False), o.Repo("/l:6", "http://d/", True, True)]


def test_unit_state_descriptions():
    assert o.describe_states({"a.service": "active", "b.service": ""}) == "a.service active, b.service unknown"
    assert o.describe_states({}) == "no unit asked"
    assert o.unit_states("  a.service   active  \n\nb.service\n") == {"a.service": "active", "b.service": ""}


def test_exact_systemd_messages():
    assert o.default_target_problem("emergency.target\n") == (
        "the default target is 'emergency.target', not one of ['multi-user.target', 'graphical.target']")
    assert o.default_target_problem("Failed to connect to bus: Host is down\n") == (
        "systemctl get-default failed: Failed to connect to bus: Host is down")
    assert o.systemd_absent("running\n") is None
    assert o.systemd_absent("ok\nsh: systemctl: not found\n") == "sh: systemctl: not found"
    assert o.failed_units("x\n\u25cf  a.service loaded failed\n") == ["a.service"]


def test_exact_clock_messages():
    assert o.clock_sync_problem("NTP=no\n", "") == (
        "the clock is not synchronised (timedatectl: no NTPSynchronized; chronyc tracking: no output)")
    assert o.clock_sync_problem("NTPSynchronized=no\n", "Leap status     : Not synchronised\n") == (
        "the clock is not synchronised (timedatectl: no; chronyc tracking: Not synchronised)")
    long_error = "506 Cannot talk to daemon " * 10
    assert o.clock_sync_problem("", long_error).endswith(f"chronyc tracking: {' '.join(long_error.split())[:120]})")
    assert o.key_values("a=1\n=x\nnoeq\n b = 2 \n") == {"a": "1", "b": "2"}


def test_exact_kdump_and_zone_messages():
    euler = "ro crashkernel=512M"
    assert o.crash_reservation_problem(euler, None) == (
        "/sys/kernel/kexec_crash_size is missing: the kernel has no kexec crash support (CONFIG_CRASH_DUMP)")
    assert o.crash_reservation_problem(euler, "x1\n") == (
        "crashkernel=512M is asked for but /sys/kernel/kexec_crash_size is 'x1'")
    assert o.crash_reservation_problem("crashkernel=256M quiet", "1") is None
    assert o.crash_loaded_problem("0") == "/sys/kernel/kexec_crash_loaded is '0': no crash kernel is loaded"
    assert o.crash_loaded_problem(None) == (
        "/sys/kernel/kexec_crash_loaded is missing: the kernel has no kexec crash support")
    assert o.timezone_problem(None, True) == (
        "/etc/localtime is not a link into the zoneinfo database: no time zone is configured")
    assert o.timezone_problem("/usr/share/zoneinfo/", True) == (
        "/etc/localtime points at '/usr/share/zoneinfo/', outside a zoneinfo database")
    assert o.timezone_problem("/a/zoneinfo/posix/zoneinfo/Asia/Shanghai", True) is None
    assert o.timezone_problem("../usr/share/zoneinfo/Asia/Shanghai", False) == (
        "/etc/localtime points at '../usr/share/zoneinfo/Asia/Shanghai', which does not exist")


def test_exact_locale_rules():
    assert o.normal_locale(" de_DE.ISO-8859-1 ") == "de_DE.iso88591"
    assert o.normal_locale("C") == "C" and o.normal_locale("zh_CN") == "zh_CN"
    assert o.normal_locale("be_BY@latin") == "be_BY@latin"
    assert o.normal_locale("ca_ES.UTF-8@valencia.x") == "ca_ES.utf8@valencia.x"
    assert o.system_lang({"/a": "#LANG=x\nLANG=\n", "/b": "LANG='en_US.UTF-8'\n"}) == "en_US.UTF-8"
    assert o.system_lang({"/a": "LANGUAGE=zh_CN\n"}) is None
    assert o.system_locale_problem(None, "") == (
        "no system locale: LANG is set in neither /etc/locale.conf nor /etc/default/locale")
    assert o.system_locale_problem("en_US.UTF-8", "C\n") == (
        "the system locale en_US.UTF-8 is not installed (locale -a does not list it)")
    assert o.system_locale_problem("zh_CN.GB18030", "zh_CN.gb18030\n") == "the system locale zh_CN.GB18030 is not UTF-8"


def test_journald_drop_ins_follow_their_file_names_not_their_folders():
    files = {"/etc/systemd/journald.conf.d/90-z.conf": "Storage=persistent\n",
             "/usr/lib/systemd/journald.conf.d/10-a.conf": "Storage=volatile\n",
             "/etc/systemd/journald.conf": "[Journal]\nStorage=none\n"}
    assert o.journald_storage(files) == "persistent"
    assert o.journald_storage({"/etc/systemd/journald.conf": " Storage= \n#Storage=none\n"}) == "auto"
    assert o.journald_storage({"/etc/systemd/journald.conf": "Storage=Persistent\n"}) == "persistent"
    assert o.journald_storage({}) == "auto"
    assert o.journald_problem("auto", False) == (
        "journald Storage=auto and /var/log/journal does not exist: the journal is lost at reboot")
    assert o.journald_problem("none", True) == "journald Storage=none: the journal is not kept across reboots"


def test_exact_logrotate_messages():
    assert o.logrotate_problem(None, []) == "/etc/logrotate.conf does not exist: logs are never rotated"
    assert o.logrotate_problem("\n  # x\n", ["t"]) == "/etc/logrotate.conf is empty"
    assert o.logrotate_problem("weekly\n", []) == (
        "nothing runs logrotate (no logrotate.timer enabled, no /etc/cron.daily/logrotate)")


def test_sshd_includes_relative_self_and_match_inside_an_include():
    files = {
        "/etc/ssh/sshd_config": "# comment\n\nInclude sshd_config.d/*.conf /etc/ssh/sshd_config\n"
                                "PermitRootLogin yes\n",
        "/etc/ssh/sshd_config.d/10-a.conf": "Match Address 10.0.0.0/8\nPermitRootLogin no\n",
    }
    # The include's Match makes the rest of the whole configuration conditional: the main file's
    # PermitRootLogin after it is no global option either.
    options = o.sshd_options(files)
    assert options == o.SSHD_DEFAULTS
    del files["/etc/ssh/sshd_config.d/10-a.conf"]
    assert o.sshd_options(files)["permitrootlogin"] == "yes"  # the self-include is read once
    assert o.sshd_options({}) == o.SSHD_DEFAULTS
    two = {"/etc/ssh/sshd_config": "Include /x/*.conf\nProtocol 1\n", "/x/a.conf": "ciphers=aes128-ctr\n",
           "/x/b.conf": "PermitEmptyPasswords=yes extra\n"}
    got = o.sshd_options(two)
    assert got["ciphers"] == "aes128-ctr" and got["permitemptypasswords"] == "yes extra"
    assert got["protocol"] == "1" and "include" not in got


def test_exact_sshd_rules():
    assert o.root_login_problem({}) == "sshd permits root to log in with a password (PermitRootLogin unset)"
    for value in ("no", "prohibit-password", "without-password", "forced-commands-only", "No"):
        assert o.root_login_problem({"permitrootlogin": value}) is None, value
    assert o.sshd_auth_problems({}) == []
    assert o.sshd_auth_problems({"permitemptypasswords": "NO", "protocol": "2"}) == []
    assert o.sshd_auth_problems({"permitemptypasswords": "yes", "protocol": "1"}) == [
        "PermitEmptyPasswords yes: accounts without a password log in",
        "Protocol 1: SSH protocol 1 is broken and must not be offered"]
    assert o.sshd_auth_problems({"protocol": "2, 1"})[0].startswith("Protocol 2, 1:")


def test_exact_host_and_os_release_rules():
    assert o.hostname_problem(None) == "the host name is unreadable (/proc/sys/kernel/hostname)"
    assert o.hostname_problem("localhost\n") == (
        "the host name is the placeholder 'localhost': the device cannot be told apart on a network")
    assert o.hostname_problem("EC-Board-01\n") is None
    assert o.hostname_problem("-lead\n") == "the host name '-lead' is not a valid RFC 1123 name"
    text = ('# a comment\n\nNAME="Kylin Linux"\nbroken line\nID=kylin\nVERSION_ID="V10"\n'
            "PRETTY_NAME='Kylin V10 (Lance)'\nBUG_REPORT_URL=\"http://x/?a=b\"\nODD=\"unbalanced\n")
    fields = o.parse_os_release(text)
    assert fields == {"NAME": "Kylin Linux", "ID": "kylin", "VERSION_ID": "V10",
                      "PRETTY_NAME": "Kylin V10 (Lance)", "BUG_REPORT_URL": "http://x/?a=b", "ODD": '"unbalanced'}
    assert o.os_release_problems({}) == [f"{k} is missing or empty" for k in o.OS_RELEASE_FIELDS]


# -- edges the mutation run found unpinned ----------------------------------------------------------------


def test_split_files_ignores_text_before_the_first_mark():
    assert o.split_files(f"stray line\n{o.FILE_MARK}/a\nx\n") == {"/a": "x\n"}


def test_a_yum_repository_without_any_url_has_an_empty_one():
    assert o.yum_repos({"/r.repo": "[r]\nname=r\n"}, "") == [o.Repo("/r.repo[r]", "", True, False)]


def test_apt_reads_every_file_after_a_deb822_one_and_a_comment_never_is_a_uri():
    files = {"/s/a.sources": "Types: deb\nURIs: http://a/\n",
             "/s/b.list": "deb # to be filled in\ndeb http://b/ s main\n"}
    assert o.apt_sources(files) == [o.Repo("/s/a.sources stanza 1", "http://a/", True, True),
                                    o.Repo("/s/b.list:2", "http://b/", True, True)]


def test_exact_default_target_and_crash_reservation_messages():
    assert o.default_target_problem("") == (
        "the default target is 'not set', not one of ['multi-user.target', 'graphical.target']")
    assert o.crash_reservation_problem("ro quiet", "0") == (
        "no crashkernel= on the kernel command line: no memory is reserved for a crash kernel")


def test_key_values_split_at_the_first_separator():
    assert o.key_values("Timezone=Etc/UTC=x\n") == {"Timezone": "Etc/UTC=x"}
    assert o.key_values("Reference ID    : C0A80101 (ntp: a)\n", ":") == {"Reference ID": "C0A80101 (ntp: a)"}


def test_the_zone_is_everything_after_the_first_zoneinfo_folder():
    # A zone folder named zoneinfo again is still a zone, not a link outside the database.
    assert o.timezone_problem("/usr/share/zoneinfo/zoneinfo/UTC", True) is None


def test_a_locale_modifier_is_kept_as_written():
    # glibc normalises only the codeset: sr_RS.UTF-8@Latin is sr_RS.utf8@Latin.
    assert o.normal_locale("sr_RS.UTF-8@Latin") == "sr_RS.utf8@Latin"
    assert o.normal_locale("x.UTF-8@Mod@X") == "x.utf8@Mod@X"


def test_system_lang_takes_the_value_as_written_only_its_quotes_stripped():
    assert o.system_lang({"/etc/locale.conf": "LANG=zh_CN.UTF-8\n"}) == "zh_CN.UTF-8"
    assert o.system_lang({"/etc/locale.conf": 'LANG="XX"\n'}) == "XX"


def test_journald_lines_split_at_the_first_equals_sign():
    # journald.conf(5) is systemd's KEY=VALUE format: a value holding '=' is still Storage's (and invalid).
    assert o.journald_storage({"/etc/systemd/journald.conf": "Storage=persistent=yes\n"}) == "persistent=yes"


def test_sshd_equals_joins_keyword_and_value_once_and_a_nested_match_ends_every_file():
    assert o.sshd_options({"/etc/ssh/sshd_config": "Banner=/etc/issue=net\n"})["banner"] == "/etc/issue=net"
    files = {"/etc/ssh/sshd_config": "Include /a.conf\nPermitRootLogin yes\n",
             "/a.conf": "Include /b.conf\nX11Forwarding yes\n",
             "/b.conf": "Match User guest\nPermitRootLogin no\n"}
    # The Match two includes down makes everything after it conditional, in every file that included it.
    assert o.sshd_options(files) == o.SSHD_DEFAULTS


def test_os_release_keeps_only_its_assignments_and_joins_unquoted_words():
    assert o.parse_os_release("# NAME=commented\n\nID=a\nVARIANT=Server Edition\nnot an assignment\n") == {
        "ID": "a", "VARIANT": "Server Edition"}
