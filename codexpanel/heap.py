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
`rescan`, which unfreezes everything for one full collection; the process's sweep calls
it hourly, one pause of the old length an hour instead of one per quarter of growth.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

_settled = False


def settle() -> None:
    """Freeze what starting the process made and every full collection's survivors."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    gc.callbacks.append(_after_collection)


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def rescan() -> None:
    """One full collection over everything frozen so far, then freeze the survivors:
    frees the sockets and streams that ended since the last rescan."""
    if not _settled:
        return
    started = time.perf_counter()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    collected = gc.collect()  # the callback freezes the survivors
    log.info(
        "heap rescan: %d frozen objects, %d collected, %.0f ms",
        frozen,
        collected,
        (time.perf_counter() - started) * 1000,
    )
