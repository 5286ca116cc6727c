"""Lab hosts and their devices in the queue database. A host is one agent at a time (a second agent
with the same host name is refused while the first one's heartbeat is fresh); a device belongs to one
host (another host claiming it is refused while its owner is alive; a dead owner's device is taken
over, its queued jobs moving with it)."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import HarnessError
from ..specs import DeviceSpec
from .db import Conn
from .names import device_lock, host_queue
from .selection import DeviceState


class ClaimRefused(HarnessError):
    """Another live agent has the host name or a device (exit 3)."""


@dataclass(frozen=True)
class Claim:
    device: str
    owner: str | None  # the host it is registered to now (None: new)
    owner_alive: bool


def claim_refusals(claims: Sequence[Claim], me: str) -> list[str]:
    """Pure rule: the devices this host may not take (registered to another host that is alive)."""
    return [
        f"{c.device!r} (registered to host {c.owner!r}, whose agent is alive)"
        for c in claims
        if c.owner is not None and c.owner != me and c.owner_alive
    ]


def host_in_use(alive: bool, same_instance: bool, same_machine: bool, pid_alive: bool) -> bool:
    """Pure rule: whether another agent holds the host name. A fresh heartbeat says so, unless that
    agent ran on this very machine and its process is gone (killed: no need to wait for the timeout)."""
    if not alive or same_instance:
        return False
    return not (same_machine and not pid_alive)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register_host(conn: Conn, host: str, instance: str, pid: int, host_timeout: float) -> None:
    machine = socket.gethostname()
    with conn.transaction():
        row = conn.execute(
            "SELECT instance, pid, machine,"
            " stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => %s) AS alive"
            " FROM harness_hosts WHERE name = %s FOR UPDATE",
            (host_timeout, host),
        ).fetchone()
        if row is not None and host_in_use(
            bool(row["alive"]),
            row["instance"] == instance,
            row["machine"] == machine,
            _pid_alive(int(row["pid"])),
        ):
            raise ClaimRefused(
                f"host {host!r} already has a live agent (pid {row['pid']} on {row['machine'] or '?'}); "
                "stop it first, or give this one another --host name"
            )
        conn.execute(
            "INSERT INTO harness_hosts (name, instance, pid, machine) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (name) DO UPDATE SET instance = EXCLUDED.instance, pid = EXCLUDED.pid,"
            " machine = EXCLUDED.machine, started_at = now(), heartbeat_at = now(), stopped_at = NULL",
            (host, instance, pid, machine),
        )


def register_devices(conn: Conn, host: str, specs: Sequence[DeviceSpec], host_timeout: float) -> list[str]:
    """Register the inventory's devices to `host`; returns the ones taken over from a dead host."""
    names = [s.name for s in specs]
    with conn.transaction():
        rows = conn.execute(
            "SELECT d.name, d.host,"
            " h.stopped_at IS NULL AND h.heartbeat_at > now() - make_interval(secs => %s) AS alive"
            " FROM harness_devices d JOIN harness_hosts h ON h.name = d.host WHERE d.name = ANY(%s)"
            " ORDER BY d.name FOR UPDATE OF d",
            (host_timeout, names),
        ).fetchall()
        claims = [Claim(r["name"], r["host"], bool(r["alive"])) for r in rows]
        refused = claim_refusals(claims, host)
        if refused:
            raise ClaimRefused(f"host {host!r} cannot claim device {'; '.join(refused)}")
        taken = [c.device for c in claims if c.owner not in (None, host)]
        for spec in specs:
            conn.execute(
                "INSERT INTO harness_devices (name, host, kind, profile, tags) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, kind = EXCLUDED.kind,"
                " profile = EXCLUDED.profile, tags = EXCLUDED.tags",
                (spec.name, host, spec.kind, spec.profile, list(spec.tags)),
            )
        for name in taken:  # its waiting jobs follow it to its new host's queue
            conn.execute(
                "UPDATE procrastinate_jobs SET queue_name = %s WHERE lock = %s AND status = 'todo'",
                (host_queue(host), device_lock(name)),
            )
    return taken


def heartbeat(conn: Conn, host: str, instance: str) -> bool:
    """Renew the host's heartbeat; False when another agent has taken the host name since."""
    row = conn.execute(
        "UPDATE harness_hosts SET heartbeat_at = now() WHERE name = %s AND instance = %s RETURNING name",
        (host, instance),
    ).fetchone()
    return row is not None


def mark_stopped(conn: Conn, host: str, instance: str) -> None:
    conn.execute(
        "UPDATE harness_hosts SET stopped_at = now() WHERE name = %s AND instance = %s", (host, instance)
    )


def device_states(conn: Conn, host_timeout: float) -> list[DeviceState]:
    rows = conn.execute(
        """
        SELECT d.name, d.host, d.tags, d.kind, d.profile, d.health, d.quarantined,
               h.stopped_at IS NULL AND h.heartbeat_at > now() - make_interval(secs => %s) AS alive,
               r.owner AS reserved_by,
               (SELECT count(*) FROM procrastinate_jobs j WHERE j.lock = 'device:' || d.name
                  AND j.status = 'doing') AS running,
               (SELECT count(*) FROM procrastinate_jobs j WHERE j.lock = 'device:' || d.name
                  AND j.status = 'todo') AS queued,
               (SELECT count(*) FROM procrastinate_jobs j WHERE j.status = 'todo' AND j.lock IS NULL
                  AND j.queue_name LIKE 'tag:%%' AND j.args->>'tag' = ANY(d.tags)) AS tag_waiting
          FROM harness_devices d JOIN harness_hosts h ON h.name = d.host
          LEFT JOIN harness_reservations r ON r.device = d.name AND r.expires_at > now()
         ORDER BY d.name
        """,
        (host_timeout,),
    ).fetchall()
    return [
        DeviceState(
            name=r["name"],
            host=r["host"],
            tags=tuple(r["tags"] or ()),
            host_alive=bool(r["alive"]),
            quarantined=bool(r["quarantined"]),
            reserved_by=r["reserved_by"],
            running=int(r["running"]),
            queued=int(r["queued"]),
            tag_waiting=int(r["tag_waiting"]),
            health=r["health"],
            kind=r["kind"],
            profile=r["profile"],
        )
        for r in rows
    ]
