"""harness.checks.power and media on real outputs: the QEMU board's Debian arm64 kernel (s2idle, a PL031
RTC that wakes it, no cpuidle driver, no cpufreq or thermal zone), this machine's Debian (a firecracker VM:
no sleep state at all), and the euler-ft2000 persona's /sys files read by the same dump under a real
shell (two cpufreq policies on the performance governor, thermal zones without trip points)."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
