"""Long-run memory of the key system services: the device samples each service's resident memory
(RssAnon and VmRSS from /proc/PID/status, Pss from /proc/PID/smaps_rollup) several times, stamped with its own
/proc/uptime, and a pure judgement says whether any service rose steadily beyond the bound.

A service is matched by its process name as the kernel keeps it (/proc/PID/comm, at most 15
characters: systemd-journald shows as "systemd-journal"); of several processes with that name only
those whose parent has another name are the service (sshd's listener, not each session's sshd)."""

from __future__ import annotations

import dataclasses
import itertools
import re
import shlex
from dataclasses import dataclass, field

from .numbers import is_count

COMM_LENGTH = 15  # TASK_COMM_LEN - 1: what /proc/PID/comm keeps of a longer name
MIN_SAMPLES = 3  # two points make any change look steady
# The figure judged, first readable of: RssAnon (the service's own anonymous memory, where a leak lands),
# Pss (smaps_rollup; it also moves when another process maps or drops the same pages, a session forked
# and gone) and VmRSS.
SOURCES = ("RssAnon", "Pss", "VmRSS")
_LINE = re.compile(r"@@M (\d+) (\d+(?:\.\d+)?) (\d+) (\d+) (\S+) (\d+|-) (\d+|-) (\d+|-)$")


def comm_of(name: str) -> str:
    return name[:COMM_LENGTH]


def sample_script(services: list[str], samples: int, interval_s: float) -> str:
    """POSIX sh (busybox and toybox too): `samples` rounds, `interval_s` apart by the device's `sleep`,
    each round one line per matching process: "@@M round uptime pid ppid comm anon_kb pss_kb rss_kb" ("-"
    where unreadable). Only shell builtins per process, so a round forks nothing per process. A process
    in a PID namespace below the sampler's (NSpid longer than its own: a container's, or a simulated
    device's on a lab host), or in another user namespace where that can be told, is not one of this
    system's services and is left out."""
    names = shlex.quote(" " + " ".join(comm_of(s) for s in services) + " ")
    return f"""names={names}
own=0
{{ while read -r k v; do
  case "$k" in NSpid:) set -- $v; own=$# ;; esac
done < /proc/self/status; }} 2>/dev/null
n=0
while [ "$n" -lt {int(samples)} ]; do
  n=$((n+1))
  read -r up _ < /proc/uptime
  for d in /proc/[0-9]*; do
    c=''; {{ read -r c < "$d/comm"; }} 2>/dev/null || continue
    case "$names" in *" $c "*) ;; *) continue ;; esac
    st=''; {{ read -r st < "$d/stat"; }} 2>/dev/null || continue
    set -- ${{st##*) }}
    ppid=$2; anon=-; pss=-; rss=-; ns=0
    {{ while read -r k v _; do case "$k" in Pss:) pss=$v ;; esac; done < "$d/smaps_rollup"; }} 2>/dev/null
    {{ while read -r k v _; do
      case "$k" in VmRSS:) rss=$v ;; RssAnon:) anon=$v ;; NSpid:) set -- $v; ns=$# ;; esac
    done < "$d/status"; }} 2>/dev/null
    [ "$own" -gt 0 ] && [ "$ns" -gt "$own" ] && continue
    # Another user namespace (a container; a lab host's simulated device): not this system's service.
    [ -e "$d/ns/user" ] && [ /proc/self/ns/user -ef /proc/self/ns/user ] 2>/dev/null &&
      ! [ "$d/ns/user" -ef /proc/self/ns/user ] && continue
    echo "@@M $n $up ${{d#/proc/}} $ppid $c $anon $pss $rss"
  done
  [ "$n" -lt {int(samples)} ] && sleep {interval_s:g}
done
echo "@@M-END $n"
"""


@dataclass(frozen=True)
class Sample:
    round: int
    uptime: float
    kib: int
    source: str  # one of SOURCES


@dataclass
class Process:
    pid: int
    comm: str
    samples: list[Sample] = field(default_factory=list)


@dataclass(frozen=True)
class Sampling:
    rounds: int  # rounds the device finished ("@@M-END n"); 0 when it never got to the end
    processes: dict[int, Process]  # the services' main processes by pid
    ppids: dict[int, int]

    def of(self, service: str) -> list[Process]:
        return [p for p in self.processes.values() if p.comm == comm_of(service)]


def parse_samples(text: str) -> Sampling:
    """The script's output; lines that are not its own are ignored (device output is untrusted)."""
    rows: list[tuple[int, float, int, int, str, tuple[str, str, str]]] = []
    rounds = 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("@@M-END "):
            rounds = int(line.split()[1]) if is_count(line.split()[1]) else 0
            continue
        m = _LINE.match(line)
        if m:
            rows.append((int(m[1]), float(m[2]), int(m[3]), int(m[4]), m[5], (m[6], m[7], m[8])))
    comm_by_pid = {pid: comm for _r, _u, pid, _pp, comm, _v in rows}
    processes: dict[int, Process] = {}
    ppids: dict[int, int] = {}
    for rnd, up, pid, ppid, comm, values in rows:
        ppids[pid] = ppid
        if comm_by_pid.get(ppid) == comm:
            continue  # a worker of the service (a session's sshd), not the service itself
        readable = [i for i, v in enumerate(values) if v != "-"]
        if not readable:
            continue
        sample = Sample(rnd, up, int(values[readable[0]]), SOURCES[readable[0]])
        processes.setdefault(pid, Process(pid, comm)).samples.append(sample)
    return Sampling(rounds, processes, ppids)


@dataclass(frozen=True)
class Bound:
    """A rise is a leak when it is steady (no round lower than the one before, the last above the first)
    and larger than both `min_growth_kib` (page-sized noise on a short run) and `max_growth_percent` of the
    first sample."""

    min_growth_kib: int
    max_growth_percent: float

    def allowed(self, first_kib: int) -> float:
        return max(float(self.min_growth_kib), first_kib * self.max_growth_percent / 100.0)


@dataclass(frozen=True)
class Judgement:
    service: str
    pids: tuple[int, ...]
    first_kib: int | None
    last_kib: int | None
    seconds: float
    source: str
    problem: str | None  # None: steady within the bound

    @property
    def growth_kib(self) -> int:
        return (self.last_kib or 0) - (self.first_kib or 0)

    def figures(self) -> str:
        if self.first_kib is None:
            return f"{self.service}: no samples"
        pids = ", ".join(map(str, self.pids))
        return (f"{self.service} (pid {pids}): {self.source} {self.first_kib} -> "
                f"{self.last_kib} KiB ({self.growth_kib:+d} KiB) over {self.seconds:.1f} s")


def steady_rise(values: list[int]) -> bool:
    """No value lower than the one before, and the last above the first (so at least two)."""
    return values[-1] > values[0] and all(b >= a for a, b in itertools.pairwise(values))


def judge_service(service: str, sampling: Sampling, wanted_rounds: int, bound: Bound) -> Judgement:
    """One service over the sampling: absent, restarted (a pid gone and another come), too few samples,
    leaking (any of its processes), or steady (problem None)."""
    procs = sampling.of(service)
    if not procs:
        return Judgement(service, (), None, None, 0.0, "", f"{service}: not running (no process named "
                         f"{comm_of(service)!r} in /proc)")
    ordered = sorted(procs, key=lambda p: p.pid)
    rounds = {s.round for p in procs for s in p.samples}
    if any(len(p.samples) < len(rounds) for p in procs):
        pids = ", ".join(str(p.pid) for p in ordered)
        return dataclasses.replace(_judged(service, max(ordered, key=lambda p: len(p.samples))),
                                   problem=f"{service}: restarted during the sampling (pids {pids})")
    if len(rounds) < max(MIN_SAMPLES, wanted_rounds):
        return dataclasses.replace(_judged(service, ordered[0]), problem=(
            f"{service}: too few samples ({len(rounds)} of {wanted_rounds}) to judge a trend"))
    for proc in ordered:
        made = _judged(service, proc)
        allowed = bound.allowed(proc.samples[0].kib)
        if steady_rise([s.kib for s in proc.samples]) and made.growth_kib > allowed:
            return dataclasses.replace(made, problem=f"{made.figures()}: a steady rise beyond the bound of "
                                                     f"{allowed:g} KiB")
    return _judged(service, ordered[0])


def _judged(service: str, proc: Process) -> Judgement:
    first, last = proc.samples[0], proc.samples[-1]
    seconds = last.uptime - first.uptime
    return Judgement(service, (proc.pid,), first.kib, last.kib, seconds, first.source, None)


def judge(services: list[str], sampling: Sampling, wanted_rounds: int, bound: Bound) -> list[Judgement]:
    """Every service judged; the device finishing fewer rounds than asked is a problem of each."""
    if wanted_rounds < MIN_SAMPLES:
        raise ValueError(f"memory sampling needs at least {MIN_SAMPLES} samples, {wanted_rounds} configured")
    return [judge_service(s, sampling, wanted_rounds, bound) for s in services]


def problems(judgements: list[Judgement]) -> list[str]:
    return [j.problem for j in judgements if j.problem is not None]
