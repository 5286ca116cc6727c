"""Security patch level ('2024-03-05' or '2024-03') and its age in whole months."""

from __future__ import annotations

import datetime as dt
import re

_PATCH = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def parse_patch_level(text: str) -> dt.date:
    match = _PATCH.match(text.strip())
    if not match:
        raise ValueError(f"not a security patch level (YYYY-MM[-DD]): {text.strip()!r}")
    year, month, day = (int(g) if g else 1 for g in match.groups())
    return dt.date(year, month, day)  # raises ValueError for month 13 or day 32


def age_in_months(patch: dt.date, today: dt.date) -> int:
    """Whole months from the patch date to today; a month counts once its day is reached."""
    months = (today.year - patch.year) * 12 + (today.month - patch.month)
    if today.day < patch.day:
        months -= 1
    return months


def too_old(patch_text: str, today: dt.date, max_months: int) -> tuple[bool, int]:
    age = age_in_months(parse_patch_level(patch_text), today)
    return age > max_months, age


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_UNAME_DATE = re.compile(r"\b([A-Z][a-z]{2}) +(\d{1,2}) [\d:]{8} (?:[A-Z]{2,5}[+-]?\d* )?(\d{4})\b")
# Debian puts the package's date last, in parentheses, after the package version.
_UNAME_ISO_DATE = re.compile(r"\((\d{4})-(\d{2})-(\d{2})\)\s*$")
_ISO_PREFIX = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def kernel_build_date(uname_v: str) -> dt.date:
    """The build date in `uname -v`: '#1 SMP PREEMPT Tue Mar 26 10:12:41 CST 2024' -> 2024-03-26;
    Debian's '#1 SMP Debian 6.1.192-2 (2026-11-16)' -> 2026-11-16."""
    if debian := _UNAME_ISO_DATE.search(uname_v):
        try:
            return dt.date(*(int(g) for g in debian.groups()))
        except ValueError:
            raise ValueError(f"no valid build date in {uname_v.strip()!r}") from None
    match = _UNAME_DATE.search(uname_v)
    if not match or match.group(1).lower() not in _MONTHS:
        raise ValueError(f"no build date in {uname_v.strip()!r}")
    month = _MONTHS.index(match.group(1).lower()) + 1
    return dt.date(int(match.group(3)), month, int(match.group(2)))


def date_prefix(text: str) -> dt.date:
    """A leading ISO date, as in openEuler-latest's compiletime=2023-12-27-18-46-31."""
    match = _ISO_PREFIX.match(text.strip())
    if not match:
        raise ValueError(f"no date at the start of {text.strip()!r}")
    return dt.date(*(int(g) for g in match.groups()))
