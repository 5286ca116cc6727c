"""harness.checks.power and media on real outputs: the QEMU board's Debian arm64 kernel (s2idle, a PL031
RTC that wakes it, no cpuidle driver, no cpufreq or thermal zone), this machine's Debian (a firecracker VM:
no sleep state at all), and the euler-ft2000 persona's /sys files read by the same dump under a real
shell (two cpufreq policies on the performance governor, thermal zones without trip points)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.checks import media, power, sysfs

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "devices"


def tree(source: str, area: str) -> sysfs.Tree:
    return sysfs.parse_dump((DATA / source / f"{area}.txt").read_text())


def persona_tree(name: str, patterns: tuple[str, ...]) -> sysfs.Tree:
    root = REPO / "harness" / "lab" / "personas" / name / "files"
    script = sysfs.dump_script([f"{root}{p}" for p in patterns])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    return sysfs.parse_dump(out.replace(str(root), ""))


def test_qemu_sleeps_to_idle_and_its_rtc_wakes_it() -> None:
    qemu = tree("qemu", "power")
    assert power.sleep_states(qemu) == ["freeze", "mem", "disk"]
    assert power.sleep_offered(qemu) == [] and power.rtc_wake(qemu) == [] and power.no_failed_suspend(qemu) == []
    assert power.wake_rtcs(qemu) == ["rtc0"]
    wake_off = sysfs.Tree({**qemu.entries, "/sys/class/rtc/rtc0/device/power/wakeup": "=disabled"})
    assert power.rtc_wake(wake_off) == ["no RTC takes a wake alarm with wakeup enabled (rtcs: ['rtc0'])"]
    failed = sysfs.Tree({**qemu.entries, "/sys/power/suspend_stats/fail": "=2",
                         "/sys/power/suspend_stats/last_failed_dev": "=fe2a0000.dwmmc",
                         "/sys/power/suspend_stats/last_failed_step": "=suspend"})
    assert power.no_failed_suspend(failed) == [
        "2 suspend(s) failed since boot (last: device 'fe2a0000.dwmmc', step 'suspend')"
    ]


def test_debian_vm_offers_no_sleep_state() -> None:
    debian = tree("debian", "power")
    assert power.sleep_offered(debian) == ["/sys/power/state offers no system sleep (freeze or mem): []"]
    assert power.rtc_wake(debian) == ["no RTC takes a wake alarm with wakeup enabled (rtcs: [])"]


def test_suspend_cycle_statistics() -> None:
    script = power.suspend_script("rtc0", "mem", 3)
    assert "echo +3 > /sys/class/rtc/rtc0/wakealarm" in script and "echo mem > /sys/power/state" in script
    assert power.suspend_cycle("@@S 0 0 1 0 0\n") == []
    assert power.suspend_cycle("@@S 4 1 4 2 1\n") == [
        "writing /sys/power/state failed (exit 1)", "suspend_stats/success went 4 -> 4, not one more",
        "suspend_stats/fail went 1 -> 2",
    ]
    assert power.suspend_cycle("sh: can't create /sys/power/state")[0].startswith("the suspend cycle printed no")


def test_cpuidle_none_on_both_and_states_judged() -> None:
    for source in ("qemu", "debian"):
        assert power.idle_driver(tree(source, "power")) == ["no cpuidle driver is registered (current_driver 'none')"]
    cpu = "/sys/devices/system/cpu"
    board = sysfs.Tree({
        f"{cpu}/online": "=0-1", f"{cpu}/cpuidle/current_driver": "=psci_idle",
        f"{cpu}/cpu0/cpuidle/state0/name": "=WFI", f"{cpu}/cpu0/cpuidle/state0/disable": "=0",
        f"{cpu}/cpu0/cpuidle/state1/name": "=cpu-sleep", f"{cpu}/cpu0/cpuidle/state1/disable": "=0",
        f"{cpu}/cpu0/cpuidle/state1/usage": "=8123",
        f"{cpu}/cpu1/cpuidle/state0/name": "=WFI", f"{cpu}/cpu1/cpuidle/state0/disable": "=0",
        f"{cpu}/cpu1/cpuidle/state1/name": "=cpu-sleep", f"{cpu}/cpu1/cpuidle/state1/disable": "=1",
        f"{cpu}/cpu1/cpuidle/state1/usage": "=0",
    })
    assert power.idle_driver(board) == []
    assert power.deep_idle_enabled(board) == ["cpu1 has no enabled idle state beyond state0 (['state0', 'state1'])"]
    entered = sysfs.Tree({**board.entries, f"{cpu}/cpu1/cpuidle/state1/disable": "=0"})
    assert power.deep_idle_entered(entered) == ["cpu1 never entered an idle state beyond state0 (usage {'state1': 0})"]
    assert power.cpu_list("0-3,6") == {0, 1, 2, 3, 6} and power.cpu_list("0 1") == {0, 1}


def test_dvfs_on_the_persona_policies_and_none_on_qemu() -> None:
    assert power.cpus_covered(tree("qemu", "power")) == ["no cpufreq policy under /sys/devices/system/cpu/cpufreq"]
    euler = persona_tree("euler-ft2000", power.DVFS)
    assert power.policies(euler) == ["policy0", "policy4"]
    assert power.cpus_covered(euler) == [] and power.operating_points(euler) == []
    assert power.dynamic_governor(euler) == [
        f"{p} runs the fixed governor 'performance', not one of ['conservative', 'interactive', 'ondemand', "
        "'schedutil']" for p in ("policy0", "policy4")
    ]
    half = sysfs.Tree({k: v for k, v in euler.entries.items() if "policy4" not in k})
    assert power.cpus_covered(half) == ["online CPUs [4, 5, 6, 7] are in no cpufreq policy"]
    folder = "/sys/devices/system/cpu/cpufreq/policy"
    samples = power.parse_load(f"@@F {folder}0 2200000\n@@F {folder}4 1000000\n@@F {folder}4 1200000\n")
    max4 = euler.int_value(f"{folder}4/scaling_max_freq")
    assert power.scales_up_under_load(euler, samples, 0.9) == [
        f"policy4 stayed at 1200000 kHz under load, below 90% of {max4} kHz"
    ]


def test_load_script_under_a_real_shell_samples_and_ends(tmp_path: Path) -> None:
    policy = tmp_path / "policy0"
    policy.mkdir()
    (policy / "scaling_cur_freq").write_text("1800000\n")
    out = subprocess.run(["sh", "-c", power.load_script([str(policy)], 1, 1)], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert power.parse_load(out).by_policy == {str(policy): [1800000]}


def test_thermal_on_the_persona_zones_and_planted_trips() -> None:
    euler = persona_tree("euler-ft2000", power.THERMAL)
    assert [z for z in euler.children("/sys/class/thermal")] == ["thermal_zone0", "thermal_zone1"]
    assert power.critical_trips(euler)[0].startswith("thermal_zone0 (")
    assert power.below_critical(euler) == []  # no trip to be over
    assert power.cooling_bound(euler)[0] == "no thermal zone has a cooling device bound (zones ['thermal_zone0', " \
                                            "'thermal_zone1'])"
    base = "/sys/class/thermal/thermal_zone0"
    hot = sysfs.Tree({f"{base}/type": "=soc-thermal", f"{base}/temp": "=96000",
                      f"{base}/trip_point_0_type": "=passive", f"{base}/trip_point_0_temp": "=85000",
                      f"{base}/trip_point_1_type": "=critical", f"{base}/trip_point_1_temp": "=95000",
                      f"{base}/cdev0": "@../cooling_device0",
                      "/sys/class/thermal/cooling_device0/type": "=thermal-cpufreq-0",
                      "/sys/class/thermal/cooling_device0/max_state": "=4"})
    assert power.critical_trips(hot) == [] and power.cooling_bound(hot) == []
    assert power.below_critical(hot) == ["thermal_zone0 is at 96.0 C, at or over its critical trip 95.0 C"]
    assert power.critical_trips(tree("qemu", "power")) == ["no thermal zone under /sys/class/thermal"]


def test_media_absent_on_both_real_systems() -> None:
    for source in ("qemu", "debian"):
        t = tree(source, "media")
        assert media.usb_host(t) == ["no USB host controller: /sys/bus/usb/devices has no root hub usbN"]
        assert media.udc(t) == ["no USB device controller under /sys/class/udc"]
        assert media.drm_card(t) == ["no DRM card under /sys/class/drm"]
        assert media.sound_card(t) == ["/proc/asound/cards is missing: no ALSA"]
        assert media.camera(t) == ["no V4L2 video device under /sys/class/video4linux"]


def test_media_judged_on_a_planted_board() -> None:
    board = sysfs.Tree({
        "/sys/bus/usb/devices/usb1": "@../../../devices/platform/usb@fc800000/usb1",
        "/sys/bus/usb/devices/1-0:1.0": "@../../../devices/platform/usb@fc800000/usb1/1-0:1.0",
        "/sys/bus/usb/devices/1-0:1.0/driver": "@../../../../../bus/usb/drivers/hub",
        "/sys/bus/usb/devices/1-1:1.0": "@../../../devices/platform/usb@fc800000/usb1/1-1/1-1:1.0",
        "/sys/class/udc/fcc00000.usb": "@../../devices/platform/fcc00000.usb/udc/fcc00000.usb",
        "/sys/class/drm/card0": "@../../devices/platform/display-subsystem/drm/card0",
        "/sys/class/drm/card0-HDMI-A-1/status": "=disconnected",
        "/sys/class/drm/card0-DSI-1/status": "=connected", "/sys/class/drm/card0-DSI-1/modes": "=",
        "/dev/dri/card0": "c",
        "/proc/asound/cards": "= 0 [rockchiprk809co]: rockchip_rk809- - rockchip,rk809-codec\037",
        "/proc/asound/pcm": "=00-00: fe410000.i2s-rk817-hifi rk817-hifi-0 : : capture 1",
        "/sys/class/video4linux/video0/name": "=rkisp_mainpath",
    })
    assert media.usb_host(board) == [] and media.udc(board) == []
    assert media.usb_interfaces_bound(board) == ["USB interface 1-1:1.0 is bound to no driver"]
    assert media.gadget_configfs(board)[0].startswith("/sys/kernel/config/usb_gadget is missing")
    assert media.drm_card(board) == [] and media.connected(board) == []
    assert media.connected_modes(board) == ["card0-DSI-1 is connected but lists no mode"]
    assert media.sound_cards(board.value("/proc/asound/cards")) == ["rockchiprk809co"]
    assert media.sound_card(board) == [] and media.playback_pcm(board)[0].startswith("no playback PCM")
    assert media.camera(board) == ["video0 has no /dev/video0"]


# -- rules of the power checks on planted trees ----------------------------------------------------------
CPUS = "/sys/devices/system/cpu"


def test_either_sleep_to_idle_or_suspend_to_ram_is_a_system_sleep() -> None:
    for states, ok in [("freeze", True), ("mem", True), ("disk", False), ("standby disk", False)]:
        got = power.sleep_offered(sysfs.Tree({"/sys/power/state": f"={states}"}))
        assert (got == []) is ok, states


def test_suspend_failures_without_a_named_device_or_step() -> None:
    assert power.no_failed_suspend(sysfs.Tree({})) == ["/sys/power/suspend_stats/fail is unreadable"]
    assert power.no_failed_suspend(sysfs.Tree({"/sys/power/suspend_stats/fail": "=1"})) == [
        "1 suspend(s) failed since boot (last: device '?', step '?')"]


def test_the_suspend_script_reads_the_kernels_own_statistics_around_the_sleep() -> None:
    script = power.suspend_script("rtc1", "freeze", 5)
    assert script.startswith("s0=$(cat /sys/power/suspend_stats/success) && f0=$(cat /sys/power/suspend_stats/fail)")
    assert "$(cat /sys/power/suspend_stats/success) $(cat /sys/power/suspend_stats/fail) $rc" in script


def test_the_suspend_statistics_line_is_found_among_other_output_and_a_missing_one_quoted() -> None:
    assert power.suspend_cycle("[  12.3] PM: suspend entry (s2idle)\n@@S 3 0 4 0 0\n") == []
    noise = "x" * 100 + "y" * 200
    assert power.suspend_cycle(noise) == [f"the suspend cycle printed no statistics: {'y' * 200!r}"]


def test_cpu_lists_with_several_ranges() -> None:
    assert power.cpu_list("0-1,4-5") == {0, 1, 4, 5}
    assert power.cpu_list("2-3") == {2, 3}
    assert power.cpu_list(None) == set()


def test_idle_states_judged_per_cpu() -> None:
    no_states = sysfs.Tree({f"{CPUS}/online": "=0"})
    assert power.deep_idle_enabled(no_states) == ["cpu0 has no enabled idle state beyond state0 (no states)"]
    base = {f"{CPUS}/online": "=0", f"{CPUS}/cpu0/cpuidle/state0/disable": "=0",
            f"{CPUS}/cpu0/cpuidle/state1/disable": "=0", f"{CPUS}/cpu0/cpuidle/state2/disable": "=0"}
    once = sysfs.Tree({**base, f"{CPUS}/cpu0/cpuidle/state1/usage": "!", f"{CPUS}/cpu0/cpuidle/state2/usage": "=1"})
    assert power.deep_idle_entered(once) == []  # entered once is entered; an unreadable count is not
    never = sysfs.Tree({**base, f"{CPUS}/cpu0/cpuidle/state1/usage": "!", f"{CPUS}/cpu0/cpuidle/state2/usage": "=0"})
    assert power.deep_idle_entered(never) == [
        "cpu0 never entered an idle state beyond state0 (usage {'state1': None, 'state2': 0})"]


def policy_tree(low: str | None, high: str | None, listed: str | None = None) -> sysfs.Tree:
    base = f"{CPUS}/cpufreq/policy0"
    entries = {f"{base}/related_cpus": "=0"}
    for name, value in (("cpuinfo_min_freq", low), ("cpuinfo_max_freq", high),
                        ("scaling_available_frequencies", listed)):
        if value is not None:
            entries[f"{base}/{name}"] = f"={value}"
    return sysfs.Tree(entries)


@pytest.mark.parametrize(("low", "high", "listed", "problems"), [
    ("408000", "1800000", "408000 1200000 1800000", []),  # the ends of the range are in it
    ("408000", "1800000", None, []),
    ("408000", "1800000", "300000 1800000",
     ["policy0 lists frequencies [300000, 1800000] outside 408000..1800000 kHz"]),
    ("408000", "1800000", "408000 2000000",
     ["policy0 lists frequencies [408000, 2000000] outside 408000..1800000 kHz"]),
    ("1800000", "1800000", None, ["policy0 has a single operating point or none (1800000..1800000 kHz)"]),
    (None, "1800000", None, ["policy0 has a single operating point or none (None..1800000 kHz)"]),
    ("408000", None, None, ["policy0 has a single operating point or none (408000..None kHz)"]),
])
def test_operating_points(low: str | None, high: str | None, listed: str | None, problems: list[str]) -> None:
    assert power.operating_points(policy_tree(low, high, listed)) == problems


def test_load_script_spins_one_loop_per_cpu_until_the_sampling_is_over(tmp_path: Path) -> None:
    # `date` on PATH records which loop called it: the CPUs are kept busy (each loop goes round more than
    # its first check), by exactly `cpus` loops, and every policy folder is sampled.
    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "date.log"
    real_date = shutil.which("date")
    (shim / "date").write_text(f'#!/bin/sh\necho "$PPID" >>{log}\nexec {real_date} "$@"\n')
    (shim / "date").chmod(0o755)
    folders = []
    for name, khz in (("policy0", "1800000"), ("policy4", "2200000")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "scaling_cur_freq").write_text(khz + "\n")
        folders.append(str(tmp_path / name))
    out = subprocess.run(["sh", "-c", power.load_script(folders, 1, 1)], capture_output=True, text=True,
                         timeout=30, check=True, env=dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}")).stdout
    assert power.parse_load(out).by_policy == {folders[0]: [1800000], folders[1]: [2200000]}
    calls = log.read_text().split()
    # A `date` running when its loop is killed at the end reports no loop (its parent is gone): count the
    # callers that went round, not every caller.
    busy = {caller for caller in calls if calls.count(caller) > 2}
    assert len(busy) == 1, calls


def test_scaling_is_judged_against_the_policy_ceiling() -> None:
    folder = f"{CPUS}/cpufreq/policy0"
    no_scaling_max = sysfs.Tree({f"{folder}/cpuinfo_max_freq": "=2000000"})
    at_half = power.LoadSamples({folder: [1000000]})
    assert power.scales_up_under_load(no_scaling_max, at_half, 0.5) == []  # exactly the fraction is enough
    assert power.scales_up_under_load(no_scaling_max, power.LoadSamples({}), 0.5) == [
        "policy0: no frequency sampled under load (max 2000000)"]
    capped = sysfs.Tree({f"{folder}/scaling_max_freq": "=1000000", f"{folder}/cpuinfo_max_freq": "=2000000"})
    assert power.scales_up_under_load(capped, power.LoadSamples({folder: [900000]}), 0.9) == []


def test_trip_points_need_a_readable_temperature_and_the_zone_is_named() -> None:
    base = "/sys/class/thermal/thermal_zone0"
    planted = sysfs.Tree({f"{base}/type": "=cpu-thermal", f"{base}/temp": "=95000",
                          f"{base}/trip_point_0_type": "=critical", f"{base}/trip_point_0_temp": "!",
                          f"{base}/trip_point_1_type": "!", f"{base}/trip_point_1_temp": "=90000"})
    assert power.trips(planted, "thermal_zone0") == {"?": [90000]}
    assert power.critical_trips(planted) == ["thermal_zone0 (cpu-thermal) has no critical trip point"]
    at_critical = sysfs.Tree({**planted.entries, f"{base}/trip_point_0_temp": "=95000"})
    assert power.below_critical(at_critical) == ["thermal_zone0 is at 95.0 C, at or over its critical trip 95.0 C"]
    unreadable = sysfs.Tree({**planted.entries, f"{base}/temp": "!"})
    assert power.below_critical(unreadable) == ["thermal_zone0 temperature is unreadable"]


@pytest.mark.parametrize(("devices", "problem"), [
    ({}, "no cooling device can throttle (max_state no cooling device)"),
    ({"/sys/class/thermal/cooling_device0/max_state": "!", "/sys/class/thermal/cooling_device1/max_state": "=0"},
     "no cooling device can throttle (max_state {'cooling_device0': None, 'cooling_device1': 0})"),
    ({"/sys/class/thermal/cooling_device0/max_state": "=1"}, None),  # one step of throttling is throttling
])
def test_a_cooling_device_must_offer_a_state(devices: dict[str, str], problem: str | None) -> None:
    planted = sysfs.Tree({"/sys/class/thermal/thermal_zone0/cdev0": "@../cooling_device0", **devices})
    assert power.cooling_bound(planted) == ([problem] if problem else [])


# -- rules of the media checks on planted trees ----------------------------------------------------------
def test_usb_interfaces_behind_hubs_are_judged_and_without_a_root_hub_the_host_is_missing() -> None:
    assert media.usb_interfaces_bound(sysfs.Tree({})) == [
        "no USB host controller: /sys/bus/usb/devices has no root hub usbN"]
    planted = sysfs.Tree({"/sys/bus/usb/devices/usb2": "/", "/sys/bus/usb/devices/2-1.4:1.0": "/",
                          "/sys/bus/usb/devices/2-1.4:1.1": "/", "/sys/bus/usb/devices/2-1.4:1.1/driver": "@usbhid",
                          "/sys/bus/usb/devices/2-1.4": "/"})  # the device itself is no interface
    assert media.root_hubs(planted) == ["usb2"]
    assert media.usb_interfaces_bound(planted) == ["USB interface 2-1.4:1.0 is bound to no driver"]


def test_a_gadget_needs_configfs() -> None:
    assert media.gadget_configfs(sysfs.Tree({"/sys/kernel/config/usb_gadget": "/"})) == []


@pytest.mark.parametrize(("entries", "problems"), [
    ({}, ["no DRM card under /sys/class/drm"]),
    ({"/sys/class/drm/card0": "/"}, ["card0 has no /dev/dri/card0"]),
    ({"/sys/class/drm/card0": "/", "/dev/dri/card0": "c"}, ["no DRM connector under /sys/class/drm"]),
    ({"/sys/class/drm/card0": "/", "/dev/dri/card0": "c", "/sys/class/drm/card0-HDMI-A-1/status": "=disconnected",
      "/sys/class/drm/card0-eDP-1/status": "!"},
     ["no DRM connector is connected ({'card0-HDMI-A-1': 'disconnected', 'card0-eDP-1': None})"]),
    ({"/sys/class/drm/card0": "/", "/dev/dri/card0": "c", "/sys/class/drm/card0-HDMI-A-1/status": "=connected",
      "/sys/class/drm/card0-HDMI-A-1/modes": "=1920x1080"}, []),
])
def test_a_display_needs_a_card_its_node_and_a_connected_connector(entries: dict[str, str],
                                                                   problems: list[str]) -> None:
    tree_ = sysfs.Tree(entries)
    assert media.connected(tree_) == problems
    assert media.connected_modes(tree_) == problems


@pytest.mark.parametrize(("cards", "pcm", "problems"), [
    (None, None, ["/proc/asound/cards is missing: no ALSA"]),
    ("--- no soundcards ---", None, ["ALSA lists no sound card ('--- no soundcards ---')"]),
    (" 0 [PCH            ]: HDA-Intel - HDA Intel PCH", None, ["no playback PCM in /proc/asound/pcm ('')"]),
    (" 0 [PCH            ]: HDA-Intel - HDA Intel PCH", "00-00: ALC269VC Analog : ALC269VC Analog : playback 1 : "
     "capture 1", []),
])
def test_sound_needs_a_card_and_a_playback_pcm(cards: str | None, pcm: str | None, problems: list[str]) -> None:
    entries = {}
    if cards is not None:
        entries["/proc/asound/cards"] = "=" + cards
    if pcm is not None:
        entries["/proc/asound/pcm"] = "=" + pcm
    assert media.playback_pcm(sysfs.Tree(entries)) == problems
    assert media.sound_cards(cards) == (["PCH"] if cards and "PCH" in cards else [])


def test_a_camera_needs_a_name_and_its_node() -> None:
    planted = sysfs.Tree({"/sys/class/video4linux/video0/name": "!", "/sys/class/video4linux/v4l-subdev0/name": "=x",
                          "/sys/class/video4linux/video1/name": "=uvcvideo", "/dev/video1": "c"})
    assert media.camera(planted) == ["video0 has no name", "video0 has no /dev/video0"]


def test_media_problems_quote_what_was_read_cut_short() -> None:
    assert media.gadget_configfs(sysfs.Tree({})) == [
        "/sys/kernel/config/usb_gadget is missing (configfs not mounted, or no USB_CONFIGFS)"]
    assert media.sound_cards(" 0 [PCH            ]: HDA-Intel\n                      HDA Intel PCH\n"
                             " 1 [NVidia         ]: HDA-Intel - HDA NVidia\n") == ["PCH", "NVidia"]
    long = "x" * 300
    assert media.sound_card(sysfs.Tree({"/proc/asound/cards": "=" + long})) == [
        f"ALSA lists no sound card ({'x' * 80!r})"]
    cards = " 0 [PCH            ]: HDA-Intel - HDA Intel PCH"
    assert media.playback_pcm(sysfs.Tree({"/proc/asound/cards": "=" + cards, "/proc/asound/pcm": "=" + long})) == [
        f"no playback PCM in /proc/asound/pcm ({'x' * 120!r})"]
