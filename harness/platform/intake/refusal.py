"""Why an upload was refused: the step that refused it and one line of reason."""

from __future__ import annotations

import enum


class Step(enum.StrEnum):
    """The checks, in the order they run. The first that fails names the refusal."""

    SIZE = "size"
    ZIP = "zip"
    MANIFEST = "manifest"
    SIGNATURE = "signature"
    RESULTS = "results"
    PUBLISH = "publish"  # the request itself: vendor, declarations


HTTP_STATUS = {Step.SIZE: 413}  # every other refusal: 422


class Refused(Exception):
    def __init__(self, step: Step, reason: str) -> None:
        super().__init__(f"{step.value}: {reason}")
        self.step = step
        self.reason = reason

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.step, 422)


def summarise(problems: list[str], most: int = 5) -> str:
    shown = "; ".join(problems[:most])
    return shown + (f"; and {len(problems) - most} more" if len(problems) > most else "")
