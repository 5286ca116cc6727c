"""Device text made fit for an HTML page: code points HTML forbids (controls, surrogates, noncharacters)
become visible escapes such as \\x1b, so the page is valid and nothing is silently hidden. Escaping of
markup (<, &, quotes) is Jinja's autoescape's job, not this module's."""

from __future__ import annotations

import re

_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    "\U0001fffe\U0001ffff\U0002fffe\U0002ffff\U0010fffe\U0010ffff]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def html_text(text: str) -> str:
    # search first: most text has nothing to replace and sub with a callback costs more.
    return _FORBIDDEN.sub(_visible, text) if _FORBIDDEN.search(text) else text
