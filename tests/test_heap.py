"""The relay process's garbage collector (codexpanel.heap): a full collection scans only
what came since the last one, and the hourly rescan still frees what ended meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys

from daphne.server import Server

from codexpanel import heap
from codexpanel.serve import RelayServer

from .live import ROOT

# In a process of its own: settling changes the collector for the rest of the process.
SCRIPT = """
import gc, json, weakref
from codexpanel import heap

class Node:
    pass

def cycle():
    first, second = Node(), Node()
    first.other, second.other = second, first
    return first

heap.settle()
held = [cycle() for _ in range(1000)]
probe = weakref.ref(held[0])
gc.collect()
survivors_frozen = len(gc.get_objects(generation=2)) == 0
frozen = gc.get_freeze_count()
held.clear()  # garbage now, but frozen: only a rescan looks at it
gc.collect()
kept_within_the_hour = probe() is not None
heap.RESCAN_SECONDS = 0  # an hour has passed
gc.collect()  # this one leaves its survivors unfrozen ...
left_unfrozen = gc.get_freeze_count() == 0
gc.collect()  # ... so this one scans everything, and freezes again
print(json.dumps({
    "survivors_frozen": survivors_frozen,
    "frozen_grew": frozen >= 2000,
    "kept_within_the_hour": kept_within_the_hour,
    "left_unfrozen": left_unfrozen,
    "freed_by_the_rescan": probe() is None,
    "frozen_again": len(gc.get_objects(generation=2)) == 0 and gc.get_freeze_count() > 0,
}))
"""


def test_a_full_collection_freezes_its_survivors_and_the_hourly_rescan_frees_what_ended():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "survivors_frozen": True,
        "frozen_grew": True,
        "kept_within_the_hour": True,
        "left_unfrozen": True,
        "freed_by_the_rescan": True,
        "frozen_again": True,
    }


def test_the_relay_server_settles_the_heap_before_it_serves(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(heap, "settle", lambda: calls.append("settle"))
    monkeypatch.setattr(Server, "run", lambda self: calls.append("serve"))
    RelayServer.run(object.__new__(RelayServer))
    assert calls == ["settle", "serve"]
