"""The garbage collector while `runwatch run` imports its modules: paused, then what the
imports made frozen out of its sight.

Importing the run path makes tens of thousands of objects that live as long as the
process (modules, classes, functions), so the collector, run every 700 of them, scans
them again and again while they are made and finds almost nothing: about 7 ms of a
one-task run (bench/README.md). Paused until the modules are in, then frozen
(``gc.freeze``: kept out of every later collection), the collector sees only what the
run allocates. Only the imports: reading a large job's definitions makes cyclic garbage
(a 10,000-task job file, about 160 MiB of it), which must be collected.
"""

from __future__ import annotations

import gc


def pause() -> None:
    """Stop collecting: the process is starting (call before its imports)."""
    gc.disable()


def resume() -> None:
    """The modules are in: freeze what they made and collect again; nothing when ``pause``
    was not called (``runwatch`` run inside another program leaves its collector be)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
