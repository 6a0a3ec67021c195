"""Agent events travel in batches where that is cheaper and nobody can tell: frames that
arrive while one is being stored are stored together, each still answered as if it came
alone; a stream that fell behind writes what waits in one go (SPEC §9)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.db import connection

from devices.models import Event, UserEventCounter
from devices.realtime import event_intake
from devices.realtime.eventlog import live_messages, record_agent_frames
from devices.realtime.groups import user_events_group
from devices.realtime.hub import hub

from .realtime import Stream, connect_agent, db, events, make_device, session_of

pytestmark = pytest.mark.django_db(transaction=True)


def stored_seqs(device) -> list[int]:
    return list(
        Event.objects.filter(device=device, source=Event.Source.AGENT)
        .order_by("stream_seq")
        .values_list("agent_seq", flat=True)
    )


def test_an_owners_devices_writing_at_once_never_share_a_position_nor_skip_one(ada):
    """Run on PostgreSQL in CI, where the counter's row lock is real."""
    desks = [make_device(ada, f"desk-{n:04d}-abcdef")[0] for n in range(4)]
    barrier = threading.Barrier(len(desks))

    def write(device) -> None:
        try:
            barrier.wait()
            for first in range(1, 41, 2):
                record_agent_frames(device.pk, [events(first, 2)["events"]])
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(desk,)) for desk in desks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    rows = list(Event.objects.filter(user=ada).values_list("device_id", "user_seq", "stream_seq"))
    assert sorted(user_seq for _d, user_seq, _s in rows) == list(range(1, 161))
    for desk in desks:
        assert sorted(s for d, _u, s in rows if d == desk.pk) == list(range(1, 41))
    assert UserEventCounter.objects.get(user=ada).last_seq == 160


def test_frames_stored_together_are_each_judged_as_if_they_came_alone(paired):
    device, _token = paired
    frames = [
        events(1, 2)["events"],
        events(2, 2)["events"],  # seq 2 again: a re-send, skipped; seq 3 is new
        events(5, 1)["events"],  # beyond the next expected seq: refused whole
        events(4, 1)["events"],
        events(1, 1)["events"],  # nothing new at all
    ]
    recorded = record_agent_frames(device.pk, frames)
    assert [(frame.acked_seq, frame.expected_seq) for frame in recorded] == [
        (2, None),
        (3, None),
        (3, 4),
        (4, None),
        (4, None),
    ]
    assert [[event.agent_seq for event in frame.events] for frame in recorded] == [
        [1, 2],
        [3],
        [],
        [4],
        [],
    ]
    assert stored_seqs(device) == [1, 2, 3, 4]
    positions = [event.stream_seq for frame in recorded for event in frame.events]
    assert positions == list(range(positions[0], positions[0] + 4))
    device.refresh_from_db()
    assert device.last_acked_seq == 4


class HeldFirstWrite:
    """record_agent_frames whose first call waits until the test lets it go, so what the
    agent sends meanwhile queues on the socket."""

    def __init__(self) -> None:
        self.calls: list[list[list[int]]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, device_pk: int, frames: list) -> list:
        self.calls.append([[event["seq"] for event in frame] for frame in frames])
        if len(self.calls) == 1:
            self.started.set()
            assert self.release.wait(10)
        return record_agent_frames(device_pk, frames)


async def holding_the_first_frame(token: str, monkeypatch) -> tuple[Any, HeldFirstWrite]:
    """A connected agent whose first frame (event 1) the socket is storing, held there."""
    held = HeldFirstWrite()
    monkeypatch.setattr(event_intake, "record_agent_frames", held)
    socket, _welcome = await connect_agent(token)
    await socket.send_json_to(events(1, 1))
    for _ in range(200):
        if held.started.is_set():
            return socket, held
        await asyncio.sleep(0.01)
    raise AssertionError("the socket never started storing")


@pytest.mark.asyncio
async def test_frames_sent_while_one_is_stored_are_stored_in_one_write_and_each_answered(
    paired, monkeypatch
):
    device, token = paired
    socket, held = await holding_the_first_frame(token, monkeypatch)
    for frame in (events(2, 1), events(4, 1), events(3, 1)):
        await socket.send_json_to(frame)
    await asyncio.sleep(0.3)  # the socket reads them while the first write is held
    held.release.set()

    replies = [await socket.receive_json_from(timeout=5) for _ in range(5)]
    assert [(reply["type"], reply.get("seq", reply.get("expectedSeq"))) for reply in replies] == [
        ("event.ack", 1),
        ("event.ack", 2),
        ("error", 3),
        ("event.ack", 2),
        ("event.ack", 3),
    ]
    assert replies[2]["code"] == "seq_gap"
    assert held.calls == [[[1]], [[2], [4], [3]]]
    assert await db(stored_seqs)(device) == [1, 2, 3]
    await socket.disconnect()


@pytest.mark.asyncio
async def test_anything_else_the_agent_sends_waits_until_the_events_before_it_are_stored(
    paired, monkeypatch
):
    _device, token = paired
    socket, held = await holding_the_first_frame(token, monkeypatch)
    await socket.send_json_to({"type": "device.heartbeat", "state": {}})
    await socket.send_json_to(events(2, 1))
    await asyncio.sleep(0.3)
    # The heartbeat waited for the first write, so the second frame was not read yet:
    # nothing has overtaken the agent's own order.
    assert held.calls == [[[1]]]
    held.release.set()
    assert (await socket.receive_json_from(timeout=5))["seq"] == 1
    assert (await socket.receive_json_from(timeout=5))["seq"] == 2
    assert held.calls == [[[1]], [[2]]]
    await socket.disconnect()


@pytest.mark.asyncio
async def test_frames_queued_when_the_agent_goes_away_are_still_stored(paired, monkeypatch):
    device, token = paired
    socket, held = await holding_the_first_frame(token, monkeypatch)
    await socket.send_json_to(events(2, 2))
    await asyncio.sleep(0.3)
    await socket.send_input({"type": "websocket.disconnect", "code": 1006})
    held.release.set()
    await socket.wait(timeout=5)
    assert await db(stored_seqs)(device) == [1, 2, 3]


@pytest.mark.asyncio
async def test_a_stream_that_fell_behind_writes_the_waiting_events_in_one_body(paired, ada):
    device, _token = paired
    stream = Stream(await db(session_of)(ada))
    start = await stream.start()
    assert start["status"] == 200
    assert (await stream.body())["body"] == b"retry: 2000\n\n"
    await asyncio.sleep(0.1)  # the stream has read the log's end and waits live
    announced = []
    for first in (1, 3, 5):
        recorded = await db(record_agent_frames)(device.pk, [events(first, 2)["events"]])
        announced.append(live_messages(recorded[0].device, recorded[0].events))
    # The hub hands all three to the stream before it gets to run, as when it is busy.
    [member] = hub().groups[user_events_group(ada.pk)].members
    for messages in announced:
        member.hand(dict(messages)[user_events_group(ada.pk)])
    body = (await stream.body())["body"].decode()
    assert body.count("data: ") == 6
    seen = [int(line[4:]) for line in body.split("\n") if line.startswith("id: ")]
    assert seen == sorted(seen) and len(set(seen)) == 6
    await stream.close()
