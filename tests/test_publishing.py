"""How committed changes are announced on the channel layer (devices.realtime.groups)."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from devices.realtime import groups
from devices.realtime.groups import publish, publish_after_commit, run_then_publish
from devices.realtime.hub import hub

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def listening(*names: str) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    for name in names:
        await layer.group_add(name, channel)
    return channel


async def received(channel: str, count: int) -> list[dict]:
    layer = get_channel_layer()
    return [await layer.receive(channel) for _ in range(count)]


async def test_work_run_for_the_loop_announces_after_commit_from_the_loop_not_its_thread(
    monkeypatch,
):
    channel = await listening("t.one")
    from_thread = []
    monkeypatch.setattr(groups, "publish_now", lambda messages: from_thread.append(messages))

    def work() -> str:
        with transaction.atomic():
            publish_after_commit([("t.one", {"type": "x.done", "n": 1})])
        return "stored"

    assert await run_then_publish(work) == "stored"
    assert from_thread == []
    [message] = await received(channel, 1)
    assert message["n"] == 1 and message["group"] == "t.one"


async def test_what_committed_before_the_work_failed_is_still_announced():
    channel = await listening("t.one")

    def work() -> None:
        with transaction.atomic():
            publish_after_commit([("t.one", {"type": "x.done", "n": 1})])
        with transaction.atomic():
            publish_after_commit([("t.one", {"type": "x.done", "n": 2})])
            raise RuntimeError("the second change rolled back")

    with pytest.raises(RuntimeError):
        await run_then_publish(work)
    [message] = await received(channel, 1)
    assert message["n"] == 1
    with pytest.raises(TimeoutError):  # the change that rolled back is never announced
        await asyncio.wait_for(get_channel_layer().receive(channel), timeout=0.3)


async def test_messages_for_one_group_keep_their_order_while_groups_go_out_together():
    channel = await listening("t.one", "t.two")
    await publish(
        [
            ("t.one", {"type": "x", "n": 1}),
            ("t.two", {"type": "x", "n": 2}),
            ("t.one", {"type": "x", "n": 3}),
        ]
    )
    messages = await received(channel, 3)
    assert sorted(message["n"] for message in messages) == [1, 2, 3]
    from_one = [message["n"] for message in messages if message["group"] == "t.one"]
    assert from_one == [1, 3]


class Member:
    """What the hub asks of a member: take what it is handed."""

    def __init__(self) -> None:
        self.handed: list[dict] = []

    def hand(self, message: dict) -> None:
        self.handed.append(message)


async def settled() -> None:
    for _ in range(20):  # the hub's listening task runs whatever the layer delivered
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)


async def test_members_in_the_publishing_process_have_a_message_before_the_layer_carries_it(
    monkeypatch,
):
    member = Member()
    await hub().join("t.here", member)
    elsewhere = await listening("t.here")  # another process's subscription
    sends: list[dict] = []
    layer = get_channel_layer()
    group_send = layer.group_send

    async def slow_send(group: str, message: dict) -> None:
        sends.append({"member_had_it": len(member.handed)})
        await group_send(group, message)

    monkeypatch.setattr(layer, "group_send", slow_send)
    await publish([("t.here", {"type": "x.news", "n": 1})])
    assert sends == [{"member_had_it": 1}]
    assert (await received(elsewhere, 1))[0]["n"] == 1
    await settled()
    assert [message["n"] for message in member.handed] == [1]  # not again from the layer
    await hub().leave("t.here", member)


async def test_members_here_hear_a_message_while_the_layer_is_down(monkeypatch):
    member = Member()
    await hub().join("t.down", member)
    layer = get_channel_layer()

    async def refused(group: str, message: dict) -> None:
        raise ConnectionError("the layer is down")

    monkeypatch.setattr(layer, "group_send", refused)
    await publish([("t.down", {"type": "x.news", "n": 1})])
    assert [message["n"] for message in member.handed] == [1]
    monkeypatch.undo()
    await hub().leave("t.down", member)


async def test_a_message_from_another_process_reaches_the_members_here_once():
    member = Member()
    await hub().join("t.there", member)
    layer = get_channel_layer()
    await layer.group_send("t.there", {"type": "x.news", "n": 7, "group": "t.there"})
    await settled()
    assert [message["n"] for message in member.handed] == [7]
    await hub().leave("t.there", member)


async def test_what_members_here_do_with_a_message_never_reaches_the_layers_copy(monkeypatch):
    loop = asyncio.get_running_loop()

    class Caching(Member):
        def hand(self, message: dict) -> None:
            # As a stream does in its own task: keep each event's encoded text in it.
            super().hand(message)
            loop.call_soon(lambda: message["events"][0].update(encoded="x" * 1000))

    member = Caching()
    await hub().join("t.copy", member)
    layer = get_channel_layer()
    encoded: list[str] = []

    async def encodes_late(group: str, message: dict) -> None:
        await asyncio.sleep(0.01)  # as channels_redis: a round trip to Redis comes first
        encoded.append(json.dumps(message))

    monkeypatch.setattr(layer, "group_send", encodes_late)
    await publish([("t.copy", {"type": "stream.events", "events": [{"id": 1}]})])
    assert member.handed[0]["events"][0]["encoded"]  # the member did its work ...
    assert json.loads(encoded[0])["events"] == [{"id": 1}]  # ... on a copy of its own
    monkeypatch.undo()
    await hub().leave("t.copy", member)
