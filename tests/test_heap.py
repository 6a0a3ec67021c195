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
kept_until_rescan = probe() is not None
heap.rescan()
print(json.dumps({
    "survivors_frozen": survivors_frozen,
    "frozen_grew": frozen >= 2000,
    "kept_until_rescan": kept_until_rescan,
    "freed_by_rescan": probe() is None,
    "refrozen": len(gc.get_objects(generation=2)) == 0 and gc.get_freeze_count() > 0,
}))
"""


def test_a_full_collection_freezes_its_survivors_and_a_rescan_frees_what_ended():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "survivors_frozen": True,
        "frozen_grew": True,
        "kept_until_rescan": True,
        "freed_by_rescan": True,
        "refrozen": True,
    }


def test_the_relay_server_settles_the_heap_before_it_serves(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(heap, "settle", lambda: calls.append("settle"))
    monkeypatch.setattr(Server, "run", lambda self: calls.append("serve"))
    RelayServer.run(object.__new__(RelayServer))
    assert calls == ["settle", "serve"]


def test_a_rescan_before_settling_leaves_the_collector_alone(monkeypatch):
    monkeypatch.setattr(heap, "_settled", False)
    collected: list[int] = []
    monkeypatch.setattr(heap.gc, "collect", lambda *args: collected.append(1) or 0)
    heap.rescan()
    assert collected == []
