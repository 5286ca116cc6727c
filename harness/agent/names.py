"""How jobs map onto procrastinate: a queue per lab host, a lock per device (procrastinate never
starts two jobs with the same lock at once, and runs them in order), task names per kind of job. A job
for "any device tagged T" waits on a queue of its tag with no lock, until an agent with a free device of
that tag claims it (the device's lock, its host's queue): it is then an ordinary job of that device."""

from __future__ import annotations

import hashlib

RUN_TASK = "harness.run"
HEALTH_TASK = "harness.health"
RUN_PRIORITY = 0
# A health check overtakes the device's queued runs (procrastinate lets a higher priority pass a waiting
# job of the same lock), so a quarantined device can be checked while its runs wait for it.
HEALTH_PRIORITY = 10
DEFAULT_HEALTH_SUITE = "smoke"


# A host whose agent has not heartbeaten this long is offline: its devices get no jobs picked for
# them, and its running jobs are shown stalled.
HOST_TIMEOUT = 30.0


def host_queue(host: str) -> str:
    return f"host:{host}"


# PostgreSQL's NOTIFY channel names (procrastinate's "procrastinate_queue_v1#" + queue) are at most 63
# bytes: a longer tag has its queue named by a digest (the claim checks the job's own tag anyway).
TAG_QUEUE_MAX = 32
# A host's queue is named by the host (`harness jobs` shows it), so a longer host name is refused.
HOST_NAME_MAX = 63 - len("procrastinate_queue_v1#host:")


def tag_queue(tag: str) -> str:
    if len(tag.encode()) <= TAG_QUEUE_MAX:
        return f"tag:{tag}"
    return f"tag:#{hashlib.sha256(tag.encode()).hexdigest()[:24]}"


def device_lock(device: str) -> str:
    return f"device:{device}"


def health_queueing_lock(device: str) -> str:
    """At most one health check of a device waits in the queue at a time."""
    return f"health:{device}"


def run_id_of(job_id: int) -> str:
    """The run directory of a job: fixed by its id, so a restarted agent finds (and resumes) it."""
    return f"job-{job_id}"
