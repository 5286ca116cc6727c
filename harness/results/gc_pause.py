"""No cyclic garbage collection while a results document's millions of objects are made (parsed,
built or turned into JSON): they hold no cycles, and the collector would walk them again and again
(at 100,000 results, a third of the parse time and half of the time to write results.json)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
