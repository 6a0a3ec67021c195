"""The relay process's garbage collector, kept from pausing the process for seconds.

Python's cycle collector scans the whole heap in a full collection, and runs one each
time the objects that outlived the younger generations grow by a quarter. A process
holding thousands of device sockets keeps millions of such objects (each socket's
protocol, consumer and tasks), so while they connect — a relay restart, every agent at
once — the pauses grow to seconds, and every hello and command of the process waits
them out.

What survives a full collection is what the process holds: its sockets, streams and
caches. `settle` freezes it after each full collection, so the next one scans only what
came since, and pauses stay proportional to what changed rather than to what is held.
A frozen object that later becomes cyclic garbage (a socket that closed) is kept until
a rescan: once an hour, a full collection's survivors are left unfrozen, so the next
full collection scans everything once and frees what ended. That is one pause of the
old length an hour instead of one per quarter of growth, and at most an hour of ended
connections held.
"""

from __future__ import annotations

import gc
import time
from typing import Any

RESCAN_SECONDS = 3600.0

_settled = False
_last_rescan = 0.0
_rescanning = False


def settle() -> None:
    """Freeze what starting the process made and, from now on, every full collection's
    survivors, with an hourly rescan."""
    global _settled, _last_rescan
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _last_rescan = time.monotonic()
    gc.callbacks.append(_after_collection)


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    # Called by the collector, under the GIL, in whichever thread it ran; after a full
    # collection the younger generations are empty, so freezing takes its survivors.
    global _rescanning, _last_rescan
    if phase != "stop" or info["generation"] != 2:
        return
    if _rescanning:
        _rescanning = False  # this collection scanned everything: freeze its survivors
        _last_rescan = time.monotonic()
    elif time.monotonic() - _last_rescan >= RESCAN_SECONDS:
        _rescanning = True
        gc.unfreeze()  # the next full collection sees all that was frozen
        return
    gc.freeze()
