"""The record of one link kind and the registry of them all.

Everything that differs between kinds outside the wire itself is one `LinkKind`: the name (the
inventory's table, `--via KIND`), the spec class and the checker of its inventory table, what only
this host can check before connecting, a one-line description, and where its transport is built.
The inventory, `--via`, `harness devices`, preflight, `open_transport` and the lab read these records
rather than naming kinds."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..config_check import Where

if TYPE_CHECKING:
    from ..transports.base import Transport

S = TypeVar("S")


@dataclass(frozen=True)
class LinkProblem:
    """A link setting that cannot work on this host (a key file that is not there, a password
    variable that is not set): `key` is within the link's table (`key_file`), `value` is shown."""

    key: str
    value: str
    problem: str


@dataclass(frozen=True)
class LinkKind(Generic[S]):
    name: str
    spec_class: type[S]
    # (the raw table, where it is, the inventory's folder for relative paths) -> the spec
    parse: Callable[[Any, Where, Path], S]
    # Where to stand, secrets left out ("root@10.0.0.2:22", "emulator-5554 @ 127.0.0.1:5037").
    describe: Callable[[S], str]
    # "module:function" taking (spec, profile) and returning the (unconnected) Transport. Named, not
    # imported: the transport imports its spec from the kind's module, and listing devices or parsing
    # `--via` must not load paramiko or pyserial.
    transport: str
    preflight: Callable[[S], Iterator[LinkProblem]] = field(default=lambda spec: no_problems())

    def open(self, spec: S, profile: Any) -> Transport:
        """The transport over this link (not yet connected), with the harness.profiles.Profile as seen
        over it (Any here: profiles check their [links.KIND] tables against this registry)."""
        opener: Callable[[S, Any], Transport] = load_opener(self.transport)
        return opener(spec, profile)


def no_problems() -> Iterator[LinkProblem]:
    return iter(())


def load_opener(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class Registry:
    """The link kinds in their order of preference: a device's links are listed (and its default
    link chosen) in this order."""

    def __init__(self, kinds: tuple[LinkKind[Any], ...]) -> None:
        self._kinds = {k.name: k for k in kinds}
        if len(self._kinds) != len(kinds):
            raise ValueError("two link kinds share a name")

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def __iter__(self) -> Iterator[LinkKind[Any]]:
        return iter(self._kinds.values())

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def get(self, name: str) -> LinkKind[Any]:
        return self._kinds[name]

    def of_spec(self, spec: object) -> LinkKind[Any]:
        """The kind whose spec class `spec` is."""
        for kind in self._kinds.values():
            if isinstance(spec, kind.spec_class):
                return kind
        raise KeyError(type(spec).__name__)
