"""How committed changes are announced on the channel layer (devices.realtime.groups)."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from devices.realtime import groups
from devices.realtime.groups import publish, publish_after_commit, run_then_publish

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
