"""GET /events, the browsers' Server-Sent Events stream (SPEC DEV-5), through the real
ASGI app: who may read it, resuming with Last-Event-ID, the replay/live seam, and gaps the
channel layer leaves."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.test import override_settings

from devices.realtime.eventlog import live_messages, record_agent_events
from devices.realtime.groups import publish, user_events_group, user_group

from .realtime import Stream, connect_agent, db, events, make_device, next_of_type, session_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def record(device, first: int, count: int, thread: str = "thr_1", announce: bool = True):
    recorded = await db(record_agent_events)(device.pk, events(first, count, thread)["events"])
    if announce:
        await publish(live_messages(recorded.device, recorded.events))
    return recorded


async def announced_elsewhere(recorded) -> None:
    """Announce stored events as another relay process would: through the layer alone,
    not also to this process's own streams at once."""
    layer = get_channel_layer()
    for group, message in live_messages(recorded.device, recorded.events):
        await layer.group_send(group, {**message, "group": group})


async def opened(stream: Stream) -> None:
    start = await stream.start()
    assert start["type"] == "http.response.start" and start["status"] == 200, start
    headers = dict(start["headers"])
    assert headers[b"Content-Type"].startswith(b"text/event-stream")
    first = await stream.body()
    assert first["body"] == b"retry: 2000\n\n"


async def test_anonymous_callers_are_refused(paired):
    stream = Stream(None)
    start = await stream.start()
    assert start["status"] == 401
    body = await stream.body()
    assert b'"not_authenticated"' in body["body"]


async def test_a_foreign_origin_is_refused(paired, ada):
    stream = Stream(await db(session_of)(ada), origin="https://evil.example")
    assert (await stream.start())["status"] == 403
    same = Stream(await db(session_of)(ada), origin="http://testserver")
    await opened(same)
    await same.close()


async def test_another_users_device_cannot_be_watched(paired, make_user):
    device, _token = paired
    mallory = await db(make_user)("mallory")
    stream = Stream(await db(session_of)(mallory), query=f"device={device.device_id}")
    assert (await stream.start())["status"] == 404


async def test_the_retired_agent_stream_answers_gone(paired):
    stream = Stream(None, query="role=agent")
    assert (await stream.start())["status"] == 410
    assert b'"retired"' in (await stream.body())["body"]


async def test_live_events_arrive_in_order_with_their_positions(paired, ada):
    device, token = paired
    stream = Stream(await db(session_of)(ada))
    await opened(stream)
    socket, _welcome = await connect_agent(token)  # device.online is position 1
    await socket.send_json_to(events(1, 3))
    await next_of_type(socket, "event.ack")
    seen = [await stream.next_event() for _ in range(4)]
    assert [position for position, _event in seen] == [1, 2, 3, 4]
    assert seen[0][1]["eventType"] == "device.online"
    assert [event["agentSeq"] for _p, event in seen[1:]] == [1, 2, 3]
    assert seen[1][1]["deviceId"] == device.device_id
    await socket.disconnect()
    position, offline = await stream.next_event()
    assert position == 5 and offline["eventType"] == "device.offline"
    await stream.close()


async def test_a_reconnect_with_last_event_id_gets_exactly_the_missed_events(paired, ada):
    device, _token = paired
    session = await db(session_of)(ada)
    await record(device, 1, 3)
    # The browser saw up to position 2, then lost the connection; 3 more happened since.
    await record(device, 4, 3)
    stream = Stream(session, last_event_id="2")
    await opened(stream)
    replayed = [await stream.next_event() for _ in range(4)]
    assert [position for position, _e in replayed] == [3, 4, 5, 6]
    # The seam: the next live event follows with no gap and no repeat.
    await record(device, 7, 1)
    assert (await stream.next_event())[0] == 7
    assert await stream.app.receive_nothing(timeout=0.2)
    await stream.close()


async def test_events_published_while_the_replay_runs_are_neither_lost_nor_repeated(paired, ada):
    device, _token = paired
    session = await db(session_of)(ada)
    await record(device, 1, 5)
    stream = Stream(session, last_event_id="0")
    await stream.app.send_input({"type": "http.request", "body": b"", "more_body": False})
    # These land while the stream is joining and replaying.
    await record(device, 6, 2)
    await record(device, 8, 1)
    assert (await stream.app.receive_output(timeout=5))["status"] == 200
    positions = [(await stream.next_event())[0] for _ in range(8)]
    assert positions == [1, 2, 3, 4, 5, 6, 7, 8]
    assert await stream.app.receive_nothing(timeout=0.3)
    await stream.close()


async def test_a_message_the_channel_layer_dropped_is_read_from_the_log(paired, ada):
    device, _token = paired
    stream = Stream(await db(session_of)(ada))
    await opened(stream)
    await record(device, 1, 2, announce=False)  # as if the channel layer dropped it
    await record(device, 3, 1)
    positions = [(await stream.next_event())[0] for _ in range(3)]
    assert positions == [1, 2, 3]
    await stream.close()


# The in-memory layer whatever the run uses, so the test can empty groups behind their
# members' backs; the fault suite restarts a real Redis under open streams.
@override_settings(
    CODEXPANEL_STREAM_KEEPALIVE_SECONDS=1,
    CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
)
async def test_a_stream_whose_groups_the_channel_layer_lost_catches_up_and_rejoins(paired, ada):
    device, _token = paired
    stream = Stream(await db(session_of)(ada))
    await opened(stream)
    layer = get_channel_layer()
    assert isinstance(layer, InMemoryChannelLayer)
    groups = [user_group(ada.pk), user_events_group(ada.pk)]
    for group in groups:  # as a restarted Redis: nobody is in any group
        layer.groups.pop(group, None)
    # From another process, so the layer is the only way: announced to nobody.
    await announced_elsewhere(await record(device, 1, 2, announce=False))
    # Keep-alives arrive every second, so each wait is bounded as a whole.
    positions = [(await asyncio.wait_for(stream.next_event(), 10))[0] for _ in range(2)]
    assert positions == [1, 2]
    assert all(len(layer.groups.get(group, {})) == 1 for group in groups)
    await announced_elsewhere(await record(device, 3, 1, announce=False))
    assert (await asyncio.wait_for(stream.next_event(), 10))[0] == 3
    with pytest.raises(TimeoutError):  # keep-alives and resyncs, but nothing sent twice
        await asyncio.wait_for(stream.next_event(), timeout=2.5)
    await stream.close()


async def test_filters_by_device_and_thread(ada):
    first, _t = await db(make_device)(ada, "desk-0001-aaaaaa")
    second, _t = await db(make_device)(ada, "desk-0002-bbbbbb")
    session = await db(session_of)(ada)
    by_thread = Stream(session, query="thread=thr_b")
    by_device = Stream(session, query=f"device={second.device_id}")
    await opened(by_thread)
    await opened(by_device)
    await record(first, 1, 2, thread="thr_a")
    await record(first, 3, 1, thread="thr_b")
    await record(second, 1, 1, thread="thr_c")
    position, event = await by_thread.next_event()
    assert (position, event["threadId"]) == (3, "thr_b")
    position, event = await by_device.next_event()
    assert (position, event["deviceId"], event["threadId"]) == (1, second.device_id, "thr_c")
    assert await by_thread.app.receive_nothing(timeout=0.2)
    await by_thread.close()
    await by_device.close()


async def test_a_users_streams_end_when_the_user_is_disabled(paired, ada):
    stream = Stream(await db(session_of)(ada))
    await opened(stream)
    ada.is_active = False
    await db(ada.save)()
    with pytest.raises(EOFError):
        await stream.next_event()


@override_settings(CODEXPANEL_STREAM_MAX_BYTES=600)
async def test_a_stream_ends_after_its_byte_budget_and_resumes_where_it_stopped(paired, ada):
    device, _token = paired
    session = await db(session_of)(ada)
    stream = Stream(session)
    await opened(stream)
    await record(device, 1, 5)
    positions: list[int] = []
    endings = 0
    while len(positions) < 5:
        try:
            positions.append((await stream.next_event())[0])
        except EOFError:
            endings += 1
            # What EventSource does: reconnect with the last id it saw.
            stream = Stream(session, last_event_id=str(positions[-1]))
            await opened(stream)
    assert positions == [1, 2, 3, 4, 5]
    assert endings >= 1
    await stream.close()


async def test_a_device_stream_never_shows_the_next_owners_events(paired, ada, make_user):
    device, _token = paired
    stream = Stream(await db(session_of)(ada), query=f"device={device.device_id}")
    await opened(stream)
    bob = await db(make_user)("bob")
    moved, _bobs_token = await db(make_device)(bob, device.device_id)
    await record(moved, 1, 1, thread="bobs_secret")
    assert await stream.app.receive_nothing(timeout=0.3)
    await stream.close()


async def test_a_last_event_id_that_is_not_a_plain_number_is_refused(paired, ada):
    stream = Stream(await db(session_of)(ada), last_event_id="\u00b2")
    start = await stream.start()
    assert start["status"] == 400


async def test_an_empty_last_event_id_is_no_position_and_starts_at_the_tail(paired, ada):
    stream = Stream(await db(session_of)(ada), last_event_id="")
    await opened(stream)
    await stream.close()


async def _members(group: str) -> int:
    """How many channels the channel layer counts in a group, on either layer."""
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        return len(layer.groups.get(group, {}))
    async with layer.connection(layer.consistent_hash(group)) as connection:
        return await connection.zcard(layer._group_key(group))


async def test_every_tab_of_one_person_in_a_process_is_one_member_of_their_group(paired, ada):
    device, _token = paired
    session = await db(session_of)(ada)
    tabs = [Stream(session) for _ in range(5)]
    for tab in tabs:
        await opened(tab)
    assert await _members(user_events_group(ada.pk)) == 1
    await record(device, 1, 2)
    for tab in tabs:
        assert [(await tab.next_event())[0] for _ in range(2)] == [1, 2]
    for tab in tabs[:-1]:
        await tab.close()
    assert await _members(user_events_group(ada.pk)) == 1  # the last tab still follows
    await record(device, 3, 1)
    assert (await tabs[-1].next_event())[0] == 3
    await tabs[-1].close()
    assert await _members(user_events_group(ada.pk)) == 0


async def test_a_stream_that_fails_before_its_headers_leaves_no_group_in_the_process(
    paired, ada, monkeypatch
):
    from devices.realtime.hub import hub
    from devices.realtime.streams import EventStreamConsumer

    async def broken(self, *args, **kwargs):
        raise RuntimeError("the response could not start")

    monkeypatch.setattr(EventStreamConsumer, "send_headers", broken)
    stream = Stream(await db(session_of)(ada))
    assert (await stream.start())["status"] == 500
    for _ in range(50):
        if not hub().groups:
            break
        await asyncio.sleep(0.02)
    assert hub().groups == {}


async def test_the_hub_renews_memberships_the_channel_layer_would_let_expire(paired, ada):
    from devices.realtime.hub import RENEW_EVERY_SECONDS, hub

    device, _token = paired
    stream = Stream(await db(session_of)(ada))
    await opened(stream)
    group = user_events_group(ada.pk)
    layer = get_channel_layer()
    # As if the day channels_redis keeps a membership had passed.
    if isinstance(layer, InMemoryChannelLayer):
        layer.groups.pop(group)
    else:
        async with layer.connection(layer.consistent_hash(group)) as connection:
            await connection.delete(layer._group_key(group))
    assert await _members(group) == 0
    await hub().renew_if_due()  # not due yet: nothing asked of the layer
    assert await _members(group) == 0
    hub()._renewed -= RENEW_EVERY_SECONDS
    await hub().renew_if_due()
    assert await _members(group) == 1
    await record(device, 1, 1)
    assert (await stream.next_event())[0] == 1
    await stream.close()
