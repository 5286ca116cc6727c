"""Power management as sysfs shows it: system sleep and RTC wake (/sys/power, /sys/class/rtc), CPU
idle states (cpuidle), frequency scaling (cpufreq policies, and under load) and thermal trip points
and cooling devices. Pure checks over a harness.checks.sysfs Tree, each returning the problems found."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from .numbers import is_count
from .sysfs import Tree

CPU = "/sys/devices/system/cpu"
SLEEP = ("/sys/power/state", "/sys/power/mem_sleep", "/sys/power/suspend_stats/*",
         "/sys/class/rtc/rtc*/wakealarm", "/sys/class/rtc/rtc*/device/power/wakeup")
IDLE = (f"{CPU}/online", f"{CPU}/cpuidle/current_driver", f"{CPU}/cpu*/cpuidle/state*/name",
        f"{CPU}/cpu*/cpuidle/state*/disable", f"{CPU}/cpu*/cpuidle/state*/usage")
DVFS = (f"{CPU}/online", f"{CPU}/cpufreq/policy*/related_cpus", f"{CPU}/cpufreq/policy*/scaling_governor",
        f"{CPU}/cpufreq/policy*/scaling_available_frequencies", f"{CPU}/cpufreq/policy*/cpuinfo_min_freq",
        f"{CPU}/cpufreq/policy*/cpuinfo_max_freq", f"{CPU}/cpufreq/policy*/scaling_max_freq")
THERMAL = ("/sys/class/thermal/thermal_zone*/type", "/sys/class/thermal/thermal_zone*/temp",
           "/sys/class/thermal/thermal_zone*/trip_point_*_type",
           "/sys/class/thermal/thermal_zone*/trip_point_*_temp",
           "/sys/class/thermal/thermal_zone*/cdev*", "/sys/class/thermal/cooling_device*/type",
           "/sys/class/thermal/cooling_device*/max_state")
DYNAMIC_GOVERNORS = frozenset({"schedutil", "ondemand", "conservative", "interactive"})


def sleep_states(tree: Tree) -> list[str]:
    return (tree.value("/sys/power/state") or "").split()


def sleep_offered(tree: Tree) -> list[str]:
    states = sleep_states(tree)
    if {"freeze", "mem"} & set(states):
        return []
    return [f"/sys/power/state offers no system sleep (freeze or mem): {states}"]


def wake_rtcs(tree: Tree) -> list[str]:
    """RTCs that take a wake alarm and whose device may wake the system."""
    return [r for r in tree.children("/sys/class/rtc")
            if tree.exists(f"/sys/class/rtc/{r}/wakealarm")
            and tree.value(f"/sys/class/rtc/{r}/device/power/wakeup") != "disabled"]


def rtc_wake(tree: Tree) -> list[str]:
    if wake_rtcs(tree):
        return []
    rtcs = tree.children("/sys/class/rtc")
    return [f"no RTC takes a wake alarm with wakeup enabled (rtcs: {rtcs})"]


def no_failed_suspend(tree: Tree) -> list[str]:
    fail = tree.int_value("/sys/power/suspend_stats/fail")
    if fail is None:
        return ["/sys/power/suspend_stats/fail is unreadable"]
    if fail == 0:
        return []
    where = tree.value("/sys/power/suspend_stats/last_failed_dev") or "?"
    step = tree.value("/sys/power/suspend_stats/last_failed_step") or "?"
    return [f"{fail} suspend(s) failed since boot (last: device {where!r}, step {step!r})"]


def suspend_script(rtc: str, mode: str, wake_seconds: int) -> str:
    """Suspend once, woken by `rtc`'s alarm after `wake_seconds`; prints '@@S s0 f0 s1 f1 rc' (suspend_stats
    success and fail before and after, and the write's exit status)."""
    alarm = shlex.quote(f"/sys/class/rtc/{rtc}/wakealarm")
    stats = "/sys/power/suspend_stats"
    return (
        f"s0=$(cat {stats}/success) && f0=$(cat {stats}/fail) || exit 3; "
        f"echo 0 > {alarm} && echo +{int(wake_seconds)} > {alarm} || exit 4; "
        f"echo {shlex.quote(mode)} > /sys/power/state; rc=$?; "
        f'echo "@@S $s0 $f0 $(cat {stats}/success) $(cat {stats}/fail) $rc"'
    )


def suspend_cycle(output: str) -> list[str]:
    m = re.search(r"^@@S (\d+) (\d+) (\d+) (\d+) (\d+)$", output, re.M)
    if m is None:
        return [f"the suspend cycle printed no statistics: {output[-200:]!r}"]
    s0, f0, s1, f1, rc = (int(g) for g in m.groups())
    problems = []
    if rc != 0:
        problems.append(f"writing /sys/power/state failed (exit {rc})")
    if s1 != s0 + 1:
        problems.append(f"suspend_stats/success went {s0} -> {s1}, not one more")
    if f1 != f0:
        problems.append(f"suspend_stats/fail went {f0} -> {f1}")
    return problems


def cpu_list(text: str | None) -> set[int]:
    """'0-3,6' or '0 1 2' (sysfs CPU lists) -> {0, 1, 2, 3, 6}."""
    cpus: set[int] = set()
    for part in re.split(r"[,\s]+", (text or "").strip()):
        if re.fullmatch(r"\d+-\d+", part):
            low, high = (int(x) for x in part.split("-"))
            cpus |= set(range(low, high + 1))
        elif is_count(part):
            cpus.add(int(part))
    return cpus


def idle_driver(tree: Tree) -> list[str]:
    driver = tree.value(f"{CPU}/cpuidle/current_driver")
    if driver and driver != "none":
        return []
    return [f"no cpuidle driver is registered (current_driver {driver!r})"]


def idle_states(tree: Tree) -> dict[int, list[str]]:
    """Idle state folders (state0, state1, ...) by CPU."""
    found: dict[int, list[str]] = {}
    for cpu in cpu_list(tree.value(f"{CPU}/online")):
        found[cpu] = [s for s in tree.children(f"{CPU}/cpu{cpu}/cpuidle") if re.fullmatch(r"state\d+", s)]
    return found


def deep_idle_enabled(tree: Tree) -> list[str]:
    states = idle_states(tree)
    if not states:
        return [f"{CPU}/online lists no CPU"]
    problems = []
    for cpu, names in sorted(states.items()):
        folder = f"{CPU}/cpu{cpu}/cpuidle"
        deep = [s for s in names if s != "state0" and tree.value(f"{folder}/{s}/disable") == "0"]
        if not deep:
            problems.append(f"cpu{cpu} has no enabled idle state beyond state0 ({names or 'no states'})")
    return problems


def deep_idle_entered(tree: Tree) -> list[str]:
    problems = deep_idle_enabled(tree)
    if problems:
        return problems
    for cpu, names in sorted(idle_states(tree).items()):
        usage = {s: tree.int_value(f"{CPU}/cpu{cpu}/cpuidle/{s}/usage") for s in names if s != "state0"}
        if not any(u and u > 0 for u in usage.values()):
            problems.append(f"cpu{cpu} never entered an idle state beyond state0 (usage {usage})")
    return problems


def policies(tree: Tree) -> list[str]:
    return [p for p in tree.children(f"{CPU}/cpufreq") if re.fullmatch(r"policy\d+", p)]


def _no_policy() -> list[str]:
    return [f"no cpufreq policy under {CPU}/cpufreq"]


def cpus_covered(tree: Tree) -> list[str]:
    found = policies(tree)
    if not found:
        return _no_policy()
    covered: set[int] = set()
    for policy in found:
        covered |= cpu_list(tree.value(f"{CPU}/cpufreq/{policy}/related_cpus"))
    online = cpu_list(tree.value(f"{CPU}/online"))
    missing = sorted(online - covered)
    return [f"online CPUs {missing} are in no cpufreq policy"] if missing else []


def dynamic_governor(tree: Tree) -> list[str]:
    found = policies(tree)
    if not found:
        return _no_policy()
    problems = []
    for policy in found:
        governor = tree.value(f"{CPU}/cpufreq/{policy}/scaling_governor")
        if governor not in DYNAMIC_GOVERNORS:
            problems.append(
                f"{policy} runs the fixed governor {governor!r}, not one of {sorted(DYNAMIC_GOVERNORS)}"
            )
    return problems


def operating_points(tree: Tree) -> list[str]:
    found = policies(tree)
    if not found:
        return _no_policy()
    problems = []
    for policy in found:
        base = f"{CPU}/cpufreq/{policy}"
        low, high = tree.int_value(f"{base}/cpuinfo_min_freq"), tree.int_value(f"{base}/cpuinfo_max_freq")
        listed = (tree.value(f"{base}/scaling_available_frequencies") or "").split()
        table = [int(f) for f in listed if is_count(f)]
        if low is None or high is None or low >= high:
            problems.append(f"{policy} has a single operating point or none ({low}..{high} kHz)")
        elif table and any(not low <= f <= high for f in table):
            problems.append(f"{policy} lists frequencies {table} outside {low}..{high} kHz")
    return problems


LOAD_MARK = "@@F"


def load_script(policy_folders: list[str], seconds: int, cpus: int) -> str:
    """Busy every CPU for `seconds`, sampling each policy's scaling_cur_freq once a second while loaded;
    prints '@@F <policy folder> <kHz>' lines. The loops end by themselves, and are killed after."""
    spin = f"end=$(( $(date +%s) + {int(seconds) + 1} )); while [ $(date +%s) -lt $end ]; do :; done"
    samples = " ".join(shlex.quote(p) for p in policy_folders)
    return (
        f"pids=; for i in $(seq {max(1, int(cpus))}); do ( {spin} ) & pids=\"$pids $!\"; done; "
        f"for s in $(seq {int(seconds)}); do sleep 1; for p in {samples}; do "
        f'echo "{LOAD_MARK} $p $(cat $p/scaling_cur_freq)"; done; done; kill $pids 2>/dev/null; wait'
    )


@dataclass(frozen=True)
class LoadSamples:
    by_policy: dict[str, list[int]]


def parse_load(output: str) -> LoadSamples:
    found: dict[str, list[int]] = {}
    for m in re.finditer(rf"^{LOAD_MARK} (\S+) (\d+)$", output, re.M):
        found.setdefault(m[1], []).append(int(m[2]))
    return LoadSamples(found)


def scales_up_under_load(tree: Tree, samples: LoadSamples, fraction: float) -> list[str]:
    found = policies(tree)
    if not found:
        return _no_policy()
    problems = []
    for policy in found:
        folder = f"{CPU}/cpufreq/{policy}"
        ceiling = tree.int_value(f"{folder}/scaling_max_freq") or tree.int_value(f"{folder}/cpuinfo_max_freq")
        seen = samples.by_policy.get(folder, [])
        if not seen or not ceiling:
            problems.append(f"{policy}: no frequency sampled under load (max {ceiling})")
        elif max(seen) < fraction * ceiling:
            problems.append(
                f"{policy} stayed at {max(seen)} kHz under load, below {fraction:.0%} of {ceiling} kHz"
            )
    return problems


def zones(tree: Tree) -> list[str]:
    return [z for z in tree.children("/sys/class/thermal") if z.startswith("thermal_zone")]


def trips(tree: Tree, zone: str) -> dict[str, list[int]]:
    """Trip temperatures (millidegrees) by type (critical, hot, passive, active)."""
    base = f"/sys/class/thermal/{zone}"
    found: dict[str, list[int]] = {}
    for name in tree.children(base):
        m = re.fullmatch(r"trip_point_(\d+)_type", name)
        temp = tree.int_value(f"{base}/trip_point_{m[1]}_temp") if m else None
        if m and temp is not None:
            found.setdefault(tree.value(f"{base}/{name}") or "?", []).append(temp)
    return found


def _no_zone() -> list[str]:
    return ["no thermal zone under /sys/class/thermal"]


def critical_trips(tree: Tree) -> list[str]:
    found = zones(tree)
    if not found:
        return _no_zone()
    return [f"{z} ({tree.value(f'/sys/class/thermal/{z}/type')}) has no critical trip point"
            for z in found if "critical" not in trips(tree, z)]


def below_critical(tree: Tree) -> list[str]:
    found = zones(tree)
    if not found:
        return _no_zone()
    problems = []
    for zone in found:
        temp = tree.int_value(f"/sys/class/thermal/{zone}/temp")
        critical = min(trips(tree, zone).get("critical", []), default=None)
        if temp is None:
            problems.append(f"{zone} temperature is unreadable")
        elif critical is not None and temp >= critical:
            problems.append(
                f"{zone} is at {temp / 1000:.1f} C, at or over its critical trip {critical / 1000:.1f} C"
            )
    return problems


def cooling_bound(tree: Tree) -> list[str]:
    found = zones(tree)
    if not found:
        return _no_zone()
    bound = [z for z in found
             if any(re.fullmatch(r"cdev\d+", n) for n in tree.children(f"/sys/class/thermal/{z}"))]
    devices = {d: tree.int_value(f"/sys/class/thermal/{d}/max_state")
               for d in tree.children("/sys/class/thermal") if d.startswith("cooling_device")}
    problems = []
    if not bound:
        problems.append(f"no thermal zone has a cooling device bound (zones {found})")
    if not any(n and n > 0 for n in devices.values()):
        problems.append(f"no cooling device can throttle (max_state {devices or 'no cooling device'})")
    return problems
