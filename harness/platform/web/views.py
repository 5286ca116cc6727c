"""What a submission page shows, arranged from the rows (pure: no request, no database)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup

from ...report.i18n import bilingual
from ..db.models import Submission

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_SEVERITY = {
    "fail": 0,
    "incomplete": 1,
    "not-covered": 2,
    "waived": 3,
    "skipped": 4,
    "pass": 5,
    "not-applicable": 6,
}


@dataclass(frozen=True)
class RequirementLine:
    id: str
    level: str
    title_en: str
    title_zh: str
    statuses: tuple[str | None, ...]

    @property
    def worst(self) -> int:
        return min((_SEVERITY.get(s, 7) for s in self.statuses if s), default=8)


def requirement_lines(sub: Submission) -> list[RequirementLine]:
    """One line per requirement across the devices, failures first, then by level and id."""
    rows: dict[str, dict[str, object]] = {}
    devices = sub.devices
    for i, d in enumerate(devices):
        for r in d.requirements:
            row = rows.setdefault(
                r.requirement_id,
                {"level": r.level, "en": r.title_en, "zh": r.title_zh, "statuses": [None] * len(devices)},
            )
            row["statuses"][i] = r.status  # type: ignore[index]
    lines = [
        RequirementLine(rid, str(v["level"]), str(v["en"]), str(v["zh"]), tuple(v["statuses"]))  # type: ignore[arg-type]
        for rid, v in rows.items()
    ]
    lines.sort(key=lambda line: (line.worst, line.level != "MUST", line.id))
    return lines


def bilingual_title(line: RequirementLine) -> Markup:
    return bilingual(line.title_en or line.id, line.title_zh or line.title_en or line.id)


def safe_filename(text: str, suffix: str) -> str:
    base = _SAFE_NAME.sub("_", text).strip("._") or "bundle"
    return f"{base[:120]}{suffix}"


def bundle_filename(sub: Submission) -> str:
    return safe_filename(sub.run_id, ".zip")


def key_filename(sub: Submission) -> str:
    return safe_filename(f"{sub.lab.slug}-{sub.signing_key.key_id.removeprefix('SHA256:')[:12]}", ".pub")


def verify_command(sub: Submission) -> str:
    return f"harness verify {bundle_filename(sub)} --pubkey {key_filename(sub)}"
