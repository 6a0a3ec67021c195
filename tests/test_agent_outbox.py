"""The agent's durable outbox (SPEC DEV-4) and the protocol's chunking, on their own."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agent import protocol
from agent.runtime.outbox import Outbox
from agent.runtime.wss import DeviceWssClient

# The agent has no Django: the relay's database and channel layer change nothing here.
pytestmark = pytest.mark.agent_alone


@pytest.fixture
def outbox(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def event(n: int) -> dict:
    return {"eventType": "x", "payload": {"n": n}}


def test_events_are_numbered_kept_until_acknowledged_and_survive_a_restart(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    assert [box.append(event(n)) for n in range(3)] == [1, 2, 3]
    box.acknowledge(2)
    box.close()
    reopened = Outbox(tmp_path / "o.sqlite3")
    assert [e["seq"] for e in reopened.pending()] == [3]
    assert reopened.append(event(4)) == 4
    reopened.close()


def test_a_fresh_outbox_continues_the_relays_numbering(outbox):
    outbox.reconcile(last_acked=41)
    assert outbox.append(event(1)) == 42


def test_the_welcome_drops_what_the_relay_already_has(outbox):
    outbox.reconcile(last_acked=0)  # the first welcome
    for n in range(5):
        outbox.append(event(n))
    outbox.reconcile(last_acked=3)
    assert [e["seq"] for e in outbox.pending()] == [4, 5]


def test_a_fresh_installs_events_continue_the_relays_numbering_instead_of_vanishing(outbox):
    # Events from before the first welcome, on a device the relay has heard 57 from.
    outbox.append(event(1))
    outbox.append(event(2))
    outbox.reconcile(last_acked=57)
    assert [e["seq"] for e in outbox.pending()] == [58, 59]
    assert outbox.append(event(3)) == 60


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.path.insert(0, sys.argv[2]);"
        "from pathlib import Path; from agent.runtime.outbox import Outbox;"
        "box = Outbox(Path(sys.argv[1]));"
        "[box.append({'eventType': 'x', 'payload': {}}) for _ in range(300)]"
    )
    root = str(Path(__file__).resolve().parent.parent)
    path = str(tmp_path / "shared.sqlite3")
    workers = [subprocess.Popen([sys.executable, "-c", code, path, root]) for _ in range(2)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    box = Outbox(tmp_path / "shared.sqlite3")
    seqs = [e["seq"] for e in box.pending(limit=1000)]
    assert seqs == list(range(1, 601))
    box.close()


def test_events_appended_survive_the_agent_being_killed_outright(tmp_path):
    import signal
    import subprocess
    import sys

    code = (
        "import sys, time; sys.path.insert(0, sys.argv[2]);"
        "from pathlib import Path; from agent.runtime.outbox import Outbox;"
        "box = Outbox(Path(sys.argv[1]));"
        "[box.append({'eventType': 'x', 'payload': {'n': n}}) for n in range(50)];"
        "box.claim_command('cmd_1');"
        "print('kept', flush=True); time.sleep(60)"
    )
    root = str(Path(__file__).resolve().parent.parent)
    path = tmp_path / "killed.sqlite3"
    agent = subprocess.Popen(
        [sys.executable, "-c", code, str(path), root], stdout=subprocess.PIPE, text=True
    )
    assert agent.stdout.readline().strip() == "kept"
    agent.send_signal(signal.SIGKILL)  # no close, no checkpoint: the write-ahead log alone
    agent.wait(timeout=10)
    box = Outbox(path)
    assert [e["payload"]["n"] for e in box.pending(limit=100)] == list(range(50))
    assert box.claim_command("cmd_1") == (False, None)
    box.close()


def test_the_record_that_a_command_ran_is_one_commit(outbox):
    statements: list[str] = []
    outbox.db.set_trace_callback(statements.append)
    assert outbox.claim_command("cmd_1") == (True, None)
    outbox.db.set_trace_callback(None)
    kinds = [statement.split()[0] for statement in statements]
    assert kinds == ["SELECT", "BEGIN", "INSERT", "DELETE", "COMMIT"]


def test_a_seq_gap_renumbers_what_waits_in_order(outbox):
    for n in range(3):
        outbox.append(event(n))
    outbox.renumber_from(10)
    pending = outbox.pending()
    assert [e["seq"] for e in pending] == [10, 11, 12]
    assert [e["payload"]["n"] for e in pending] == [0, 1, 2]
    assert outbox.append(event(3)) == 13


def test_a_large_frame_splits_into_chunks_that_reassemble_exactly():
    text = protocol.encode({"type": "agent.event", "blob": "é" * 600_000})
    frames = protocol.split_frame(text, "res")
    assert len(frames) > 1
    joiner = protocol.Reassembler()
    results = [joiner.add(protocol.parse_frame(f, {protocol.CHUNK})) for f in frames]
    assert results[:-1] == [None] * (len(frames) - 1)
    assert results[-1] == text


@pytest.fixture
def client(outbox) -> DeviceWssClient:
    """The agent's socket client on the outbox, never connected."""
    return DeviceWssClient(
        "ws://relay.invalid/device-wss",
        "cpd_token",
        outbox,
        on_command=lambda message: None,
        hello_info=dict,
        heartbeat_state=dict,
    )


class RecordingSocket:
    def __init__(self) -> None:
        self.frames: list[dict] = []

    def send(self, text: str) -> None:
        self.frames.append(json.loads(text))


def test_events_gather_while_a_frame_awaits_its_acknowledgement(outbox, client):
    client.sent_upto = client.acked_upto = 0
    socket = RecordingSocket()
    outbox.append(event(1))
    client._send_events(socket)
    for n in range(2, 6):
        outbox.append(event(n))
        client._send_events(socket)
    assert [[e["seq"] for e in frame["events"]] for frame in socket.frames] == [[1]]
    client._handle(protocol.encode({"type": protocol.EVENT_ACK, "seq": 1}))
    client._send_events(socket)
    client._send_events(socket)
    assert [[e["seq"] for e in frame["events"]] for frame in socket.frames] == [
        [1],
        [2, 3, 4, 5],
    ]


def test_an_event_the_relay_refuses_is_replaced_by_a_note_and_the_stream_goes_on(outbox, client):
    client.sent_upto = client.acked_upto = 0
    socket = RecordingSocket()
    for n in range(1, 4):
        outbox.append({**event(n), "threadId": "thr_1"})
    client._send_events(socket)
    refusal = {"type": "error", "code": "invalid_text", "message": "x holds a NUL", "seq": 2}
    client._handle(protocol.encode(refusal))
    client._send_events(socket)  # the whole frame again, its second event replaced
    again = socket.frames[-1]["events"]
    assert [e["seq"] for e in again] == [1, 2, 3]
    assert again[0] == socket.frames[0]["events"][0]
    assert again[1]["eventType"] == protocol.EVENT_REFUSED
    assert again[1]["threadId"] == "thr_1"
    assert again[1]["payload"] == {
        "eventType": socket.frames[0]["events"][1]["eventType"],
        "code": "invalid_text",
        "message": "x holds a NUL",
    }
    assert protocol.parse_frame(protocol.encode(socket.frames[-1]), {protocol.AGENT_EVENT})


def test_what_codex_reports_is_repaired_before_the_outbox_keeps_it(outbox):
    from agent.runtime.events import EventWriter

    writer = EventWriter(outbox, on_ready=lambda: None)
    deep: list = []
    for _level in range(100):
        deep = [deep]
    writer.emit("item/x\udc00", {"out": "a\x00b", "\ud83d": "half", "deep": deep}, "t\udfff", None)
    (kept,) = outbox.pending()
    assert kept["eventType"] == "item/x\ufffd" and kept["threadId"] == "t\ufffd"
    assert kept["payload"]["out"] == "a\ufffdb" and kept["payload"]["\ufffd"] == "half"
    frame = {"type": protocol.AGENT_EVENT, "events": [kept]}
    assert protocol.parse_frame(protocol.encode(frame), {protocol.AGENT_EVENT})


def test_the_reconnect_wait_is_capped_and_starts_over_after_a_session_that_held(client):
    from agent.runtime import wss

    steps = iter(["down"] * 10 + ["cut short"] * 3 + ["held"] + ["down"] * 3 + ["stop"])
    waits: list[float] = []

    def session() -> None:
        step = next(steps)
        if step == "stop":
            client.stop_event.set()
        client.welcomed = step in ("cut short", "held")
        # A session that held was welcomed long ago; one cut short, just now.
        client.welcomed_at = time.monotonic() - (60 if step == "held" else 1)
        raise OSError(f"relay {step}")

    client._session = session  # type: ignore[method-assign]
    client.stop_event.wait = lambda timeout: waits.append(timeout) or False  # type: ignore[method-assign]
    client.run()
    # However many faults came first, the agent tries again within BACKOFF_MAX.
    assert max(waits) <= wss.BACKOFF_MAX
    assert waits[9] > wss.BACKOFF_MAX / 2  # ten faults in a row: waiting near the cap
    # Sessions cut short right after their welcome do not start the count over...
    assert all(wait > wss.BACKOFF_MAX / 2 for wait in waits[10:13])
    # ...one that held does: the next fault waits briefly.
    assert waits[13] <= wss.BACKOFF_START
    assert all(wait >= 0.5 * wss.BACKOFF_START for wait in waits)  # jitter, never zero


def test_a_refused_note_is_replaced_by_the_barest_one_so_nothing_loops(outbox):
    outbox.append({"eventType": "x", "at": "t" * 500, "threadId": "thr_1", "payload": {}})
    outbox.replace_refused(1, "invalid_field", "at is too long")
    (note,) = outbox.pending()
    assert "at" not in note and note["threadId"] == "thr_1"
    outbox.replace_refused(1, "invalid_field", "refused again")
    (barest,) = outbox.pending()
    assert barest == {
        "seq": 1,
        "eventType": protocol.EVENT_REFUSED,
        "payload": {
            "eventType": protocol.EVENT_REFUSED,
            "code": "invalid_field",
            "message": "refused again",
        },
    }
    frame = {"type": protocol.AGENT_EVENT, "events": [barest]}
    assert protocol.parse_frame(protocol.encode(frame), {protocol.AGENT_EVENT})
