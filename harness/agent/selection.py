"""Where a submission goes (pure rules). A named device is taken as it is; a tag stays a tag until the
job starts (the first free device of that tag takes it, see loop.py), and must be some registered
device's. A reservation by tag picks a free matching device now (its host alive, not reserved, not
quarantined, nothing running or queued), else the matching device with the shortest queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..config_check import suggest
from ..errors import ConfigError


@dataclass(frozen=True)
class DeviceState:
    name: str
    host: str
    tags: tuple[str, ...] = ()
    host_alive: bool = True
    quarantined: bool = False
    reserved_by: str | None = None
    running: int = 0  # jobs running on it now (0 or 1)
    queued: int = 0  # jobs waiting for it
    health: str = "unknown"
    kind: str = ""
    profile: str = ""
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def free(self) -> bool:
        return (
            self.host_alive
            and not self.quarantined
            and self.reserved_by is None
            and self.running == 0
            and self.queued == 0
        )

    @property
    def usable(self) -> bool:
        return self.host_alive and not self.quarantined


@dataclass(frozen=True)
class Target:
    """One job's place: a device, or any device with a tag."""

    device: DeviceState | None = None
    tag: str | None = None
    matching: tuple[DeviceState, ...] = ()  # a tag's registered devices now (for what submit says)


def matching(devices: Sequence[DeviceState], tag: str) -> list[DeviceState]:
    """The registered devices with `tag`; a usage error naming the tag when there is none."""
    found = [d for d in devices if tag in d.tags]
    if not found:
        known = sorted({t for d in devices for t in d.tags})
        raise ConfigError(f"--tag {tag!r}: no registered device has it{suggest(tag, known)}")
    return found


def pick_for_tag(devices: Sequence[DeviceState], tag: str) -> DeviceState:
    matching_ = matching(devices, tag)
    free = [d for d in matching_ if d.free]
    if free:
        return min(free, key=lambda d: d.name)
    usable = [d for d in matching_ if d.usable] or matching_
    return min(usable, key=lambda d: (d.reserved_by is not None, d.running + d.queued, d.name))


def resolve(
    devices: Sequence[DeviceState], names: Sequence[str], tags: Sequence[str], all_: bool
) -> list[Target]:
    """The jobs of a submission: one per named device, one per tag, one per registered device (--all)."""
    if not (names or tags or all_):
        raise ConfigError("give --device NAME, --tag TAG or --all")
    by_name = {d.name: d for d in devices}
    chosen: list[Target] = []
    for name in names:
        if name not in by_name:
            raise ConfigError(
                f"--device {name!r}: no such registered device{suggest(name, by_name)} "
                "(an agent registers its inventory's devices when it starts)"
            )
        chosen.append(Target(device=by_name[name]))
    for tag in tags:
        chosen.append(Target(tag=tag, matching=tuple(matching(devices, tag))))
    if all_:
        chosen.extend(Target(device=d) for d in sorted(devices, key=lambda d: d.name))
    if not chosen:
        raise ConfigError("no registered devices (start `harness agent` on a lab host first)")
    return chosen
