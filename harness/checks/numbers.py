"""Numbers in device text (pure). str.isdigit() is not the test for "int() takes this": it is true of
"²" and other digit signs int() refuses, and int() refuses over 4300 digits; a device's odd value must
come out as the check's honest FAIL, never as an exception that makes the test an ERROR."""

from __future__ import annotations

MAX_DIGITS = 18  # any count, size or frequency a device reports fits in this many


def is_count(text: str) -> bool:
    """Whether `text` is a plain non-negative integer: ASCII digits only, 1 to MAX_DIGITS of them."""
    return 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()
