"""/device-wss through the real ASGI app (SPEC DEV-2, DEV-4, DEV-6): hello and its
refusals, heartbeats and presence, frames the relay must survive, and sockets closed
when access ends."""

from __future__ import annotations

import json

import pytest

from accounts.models import User
from agent import protocol
from agent.protocol import Close
from devices.actions import revoke_device_token, set_device_enabled
from devices.models import Device, DeviceToken, Event
from devices.realtime import presence
from devices.realtime.eventlog import record_agent_events
from devices.realtime.groups import publish
from devices.realtime.hub import hub
from devices.realtime.sweeper import record_held

from .realtime import (
    closed_with,
    connect_agent,
    db,
    events,
    hello,
    make_device,
    next_of_type,
    open_socket,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_a_hello_with_a_valid_token_gets_a_welcome_and_the_device_goes_online(paired):
    device, token = paired
    socket, welcome = await connect_agent(token)
    assert welcome == {
        "type": "server.welcome",
        "deviceId": device.device_id,
        "heartbeatIntervalSeconds": 15,
        "lastAckedSeq": 0,
        "agentVersion": "0.2.0",
        "protocolVersion": 1,
    }
    stored = await db(Device.objects.get)(pk=device.pk)
    assert stored.online and stored.connection and stored.last_heartbeat_at
    assert stored.capabilities["capabilities"] == {"approvals": True}
    online = await db(lambda: list(Event.objects.values_list("event_type", flat=True)))()
    assert online == ["device.online"]
    await socket.disconnect()


async def test_the_token_may_come_in_the_handshake_instead(paired):
    _device, token = paired
    socket = await open_socket(headers=[(b"authorization", f"Bearer {token}".encode())])
    await socket.send_json_to(hello(None))
    assert (await socket.receive_json_from())["type"] == "server.welcome"
    await socket.disconnect()


@pytest.mark.parametrize(
    ("spoil", "code", "reason"),
    [
        ("unknown", Close.INVALID_TOKEN, "invalid_token"),
        ("revoked", Close.TOKEN_REVOKED, "token_revoked"),
        ("device_disabled", Close.DEVICE_DISABLED, "device_disabled"),
        ("owner_disabled", Close.OWNER_DISABLED, "owner_disabled"),
    ],
)
async def test_refused_tokens_close_with_their_own_code(paired, ada, spoil, code, reason):
    device, token = paired
    if spoil == "unknown":
        token = "cpd_" + "A" * 43
    elif spoil == "revoked":
        await db(revoke_device_token)(device, ada)
    elif spoil == "device_disabled":
        await db(Device.objects.filter(pk=device.pk).update)(enabled=False)
    else:
        ada.is_active = False
        await db(ada.save)()
    socket = await open_socket()
    await socket.send_json_to(hello(token))
    error = await socket.receive_json_from()
    assert error["type"] == "error" and error["code"] == reason
    assert await closed_with(socket) == code
    assert not (await db(Device.objects.get)(pk=device.pk)).online


async def test_no_hello_in_time_closes_the_socket(paired, monkeypatch):
    monkeypatch.setattr(protocol, "HELLO_TIMEOUT_SECONDS", 0.2)
    socket = await open_socket()
    error = await socket.receive_json_from()
    assert error["code"] == "hello_timeout"
    assert await closed_with(socket) == Close.HELLO_TIMEOUT


async def test_anything_but_a_hello_first_is_a_protocol_error(paired):
    socket = await open_socket()
    await socket.send_json_to({"type": "device.heartbeat"})
    assert (await socket.receive_json_from())["code"] == "hello_required"
    assert await closed_with(socket) == Close.PROTOCOL_ERROR


async def test_an_unsupported_protocol_version_is_refused(paired):
    _device, token = paired
    socket = await open_socket()
    await socket.send_json_to(hello(token, protocolVersion=99))
    assert (await socket.receive_json_from())["code"] == "unsupported_version"
    assert await closed_with(socket) == Close.UNSUPPORTED_VERSION


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "malformed_frame"),
        ("[1, 2]", "malformed_frame"),
        ('{"type": "no.such"}', "unknown_type"),
        ('{"type": "agent.event", "events": [{"seq": 0}]}', "invalid_event"),
        ('{"type": "command.result", "commandId": "x", "ok": false}', "invalid_field"),
        ('{"type": "device.hello", "protocolVersion": 1}', "already_connected"),
        ('{"type": "device.heartbeat", "state": {"codex": []}}', "invalid_field"),
        ('{"type": "device.heartbeat", "state": {"codex": {"notices": [5]}}}', "invalid_field"),
        ('{"type": "device.heartbeat", "state": {"codex": {"shell": "x"}}}', "invalid_field"),
        (
            '{"type": "device.heartbeat", "state": {"codex": {"version": "%s"}}}' % ("9" * 33),
            "invalid_field",
        ),
    ],
)
async def test_malformed_frames_get_an_error_frame_and_the_socket_lives_on(paired, frame, code):
    _device, token = paired
    socket, _welcome = await connect_agent(token)
    await socket.send_to(text_data=frame)
    error = await socket.receive_json_from()
    assert error["type"] == "error" and error["code"] == code
    await socket.send_json_to(events(1, 1))
    assert await next_of_type(socket, "event.ack") == {"type": "event.ack", "seq": 1}
    await socket.disconnect()


async def test_an_oversized_frame_is_refused_and_the_socket_closed(paired):
    _device, token = paired
    socket, _welcome = await connect_agent(token)
    await socket.send_to(text_data=json.dumps(events(1, 1, blob="x" * (1024 * 1024))))
    assert (await socket.receive_json_from())["code"] == "frame_too_large"
    assert await closed_with(socket) == Close.MESSAGE_TOO_BIG
    assert await db(Event.objects.filter(source="agent").count)() == 0


async def test_a_large_payload_arrives_in_chunks_and_is_stored_whole(paired):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    big = events(1, 1, blob="é" * (700 * 1024))  # ~1.4 MB of UTF-8
    frames = protocol.split_frame(protocol.encode(big), "res-1")
    assert len(frames) > 1
    for frame in frames:
        assert len(frame.encode()) <= protocol.MAX_FRAME_BYTES
        await socket.send_to(text_data=frame)
    assert await next_of_type(socket, "event.ack") == {"type": "event.ack", "seq": 1}
    stored = await db(Event.objects.get)(device=device, agent_seq=1)
    assert stored.payload["blob"] == "é" * (700 * 1024)
    await socket.disconnect()


async def test_heartbeats_keep_the_device_online_and_report_its_control_state(paired, clock):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    clock.advance(seconds=15)
    state = {"controlState": {"workMode": "plan", "permissionPreset": "ask"}}
    await socket.send_json_to({"type": "device.heartbeat", "state": state})
    await socket.send_json_to({"type": "device.heartbeat", "state": state})
    await socket.send_json_to(events(1, 1))  # frames are handled in order
    await next_of_type(socket, "event.ack")
    stored = await db(Device.objects.get)(pk=device.pk)
    assert stored.last_heartbeat_at == clock.current
    assert stored.control_state == state["controlState"]
    kinds = await db(lambda: list(Event.objects.values_list("event_type", flat=True)))()
    assert kinds.count("device.controlState") == 1
    changed = {"controlState": {"workMode": "default", "permissionPreset": "full"}}
    await socket.send_json_to({"type": "device.heartbeat", "state": changed})
    await socket.send_json_to(events(2, 1))
    await next_of_type(socket, "event.ack")
    stored = await db(Device.objects.get)(pk=device.pk)
    assert stored.control_state == changed["controlState"]
    kinds = await db(lambda: list(Event.objects.values_list("event_type", flat=True)))()
    assert kinds.count("device.controlState") == 2
    await socket.disconnect()


async def test_what_the_agent_says_of_its_codex_is_kept_on_the_device_and_not_logged(paired):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    codex = {
        "state": "running",
        "error": None,
        "version": "0.171.0",
        "versionNote": None,
        "notices": ["`includeTurns` is deprecated"],
    }
    for _ in range(2):
        await socket.send_json_to({"type": "device.heartbeat", "state": {"codex": codex}})
    await socket.send_json_to(events(1, 1))
    await next_of_type(socket, "event.ack")
    assert (await db(Device.objects.get)(pk=device.pk)).codex == codex
    kinds = await db(lambda: list(Event.objects.values_list("event_type", flat=True)))()
    assert kinds == ["device.online", "item/agentMessage/delta"]
    # A notice holding a lone surrogate is refused with the frame; the device keeps its word.
    await socket.send_to(
        text_data='{"type": "device.heartbeat", "state": {"codex": {"notices": ["\\udc00"]}}}'
    )
    assert (await socket.receive_json_from())["type"] == "error"
    assert (await db(Device.objects.get)(pk=device.pk)).codex == codex
    await socket.disconnect()


async def test_a_heartbeat_with_nothing_new_waits_for_the_process_batch(paired, clock, monkeypatch):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    connected = (await db(Device.objects.get)(pk=device.pk)).last_heartbeat_at
    looked = []
    monkeypatch.setattr(presence, "heartbeat", lambda *args: looked.append(args))
    clock.advance(seconds=15)
    await socket.send_json_to({"type": "device.heartbeat", "state": {}})
    await socket.send_json_to(events(1, 1))  # frames are handled in order
    await next_of_type(socket, "event.ack")
    assert looked == []
    assert (await db(Device.objects.get)(pk=device.pk)).last_heartbeat_at == connected
    await record_held()
    assert (await db(Device.objects.get)(pk=device.pk)).last_heartbeat_at == clock.current
    await socket.disconnect()


async def test_a_socket_whose_agent_went_quiet_is_left_out_of_the_batch_and_closed(paired, clock):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    consumer = hub().held[device.pk]
    consumer.last_heartbeat -= 46  # as if its last beat came 46 s ago
    connected = (await db(Device.objects.get)(pk=device.pk)).last_heartbeat_at
    clock.advance(seconds=15)
    await record_held()
    assert await closed_with(socket) == Close.HEARTBEAT_TIMEOUT
    stored = await db(Device.objects.get)(pk=device.pk)
    assert stored.last_heartbeat_at == connected
    assert not stored.online and stored.offline_reason == "heartbeat_timeout"
    assert device.pk not in hub().held


async def test_closing_the_socket_makes_the_device_offline_at_once(paired):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await socket.disconnect()
    stored = await db(Device.objects.get)(pk=device.pk)
    assert not stored.online and stored.connection == ""
    last = await db(lambda: Event.objects.order_by("-stream_seq").first())()
    assert last.event_type == "device.offline"


async def test_a_dropped_connection_shows_the_device_reconnecting_for_two_minutes(paired, clock):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await socket.disconnect(code=1006)
    stored = await db(Device.objects.get)(pk=device.pk)
    until = presence.reconnecting_until(stored)
    assert until == stored.offline_at + presence.RECONNECT_WINDOW
    last = await db(lambda: Event.objects.order_by("-stream_seq").first())()
    assert last.payload["reason"] == "disconnected"
    assert last.payload["reconnectingUntil"] == until.isoformat().replace("+00:00", "Z")
    clock.advance(seconds=119)
    assert presence.reconnecting_until(stored) == until
    clock.advance(seconds=2)
    assert presence.reconnecting_until(stored) is None


async def test_an_agent_that_says_it_stops_is_offline_at_once_not_reconnecting(paired):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await socket.disconnect(code=Close.AGENT_STOPPED)
    stored = await db(Device.objects.get)(pk=device.pk)
    assert not stored.online and stored.offline_reason == "agent_stopped"
    assert presence.reconnecting_until(stored) is None
    last = await db(lambda: Event.objects.order_by("-stream_seq").first())()
    assert last.payload["reconnectingUntil"] is None


async def test_a_revoked_device_is_not_expected_back(paired, ada):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await db(revoke_device_token)(device, ada)
    assert await closed_with(socket) == Close.TOKEN_REVOKED
    stored = await db(Device.objects.get)(pk=device.pk)
    assert stored.offline_reason == "revoked"
    assert presence.reconnecting_until(stored) is None


async def test_a_device_whose_heartbeats_stopped_is_reconnecting_from_when_it_was_noticed(
    paired, clock
):
    device, token = paired
    _socket, _welcome = await connect_agent(token)
    clock.advance(seconds=46)
    await publish(await db(presence.sweep_stale)())
    stored = await db(Device.objects.get)(pk=device.pk)
    assert presence.reconnecting_until(stored) == clock() + presence.RECONNECT_WINDOW


async def test_a_silent_device_goes_offline_and_its_socket_is_closed(paired, clock):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    clock.advance(seconds=44)
    assert await db(presence.sweep_stale)() == []
    clock.advance(seconds=2)
    messages = await db(presence.sweep_stale)()
    await publish(messages)
    assert await closed_with(socket) == Close.HEARTBEAT_TIMEOUT
    stored = await db(Device.objects.get)(pk=device.pk)
    assert not stored.online
    offline = await db(Event.objects.filter(event_type="device.offline").count)()
    assert offline == 1
    assert await db(presence.sweep_stale)() == []  # once, whoever sweeps


async def test_a_second_connection_of_the_same_device_replaces_the_first(paired):
    device, token = paired
    first, _welcome = await connect_agent(token)
    second, _welcome = await connect_agent(token)
    assert await closed_with(first) == Close.REPLACED
    stored = await db(Device.objects.get)(pk=device.pk)
    assert stored.online
    # Handed over, never shown offline in between.
    kinds = Event.objects.filter(device=device).values_list("event_type", flat=True)
    assert list(await db(list)(kinds)) == ["device.online"]
    await second.disconnect()


async def test_revoking_the_token_closes_the_live_socket(paired, ada):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await db(revoke_device_token)(device, ada)
    assert await closed_with(socket) == Close.TOKEN_REVOKED
    assert not (await db(Device.objects.get)(pk=device.pk)).online


async def test_disabling_the_device_closes_the_live_socket(paired):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await db(set_device_enabled)(device, False)
    assert await closed_with(socket) == Close.DEVICE_DISABLED


async def test_an_operator_moving_the_device_reconnects_it_as_the_new_owners(
    paired, ada, make_user
):
    from devices.actions import assign_owner

    device, token = paired
    bob = await db(make_user)("bob")
    socket, _welcome = await connect_agent(token)
    await db(assign_owner)(device, bob, ada)
    assert await closed_with(socket) == Close.SESSIONS_ENDED
    again, welcome = await connect_agent(token)
    assert welcome["deviceId"] == device.device_id
    assert (await db(Device.objects.get)(pk=device.pk)).owner_id == bob.pk
    await again.disconnect()


async def test_disabling_the_owner_closes_the_socket_and_keeps_the_device_out(paired, ada):
    _device, token = paired
    socket, _welcome = await connect_agent(token)
    ada.is_active = False
    await db(ada.save)()
    assert await closed_with(socket) == Close.SESSIONS_ENDED
    again = await open_socket()
    await again.send_json_to(hello(token))
    assert (await again.receive_json_from())["code"] == "owner_disabled"
    assert await closed_with(again) == Close.OWNER_DISABLED


async def test_a_completed_reinstall_closes_the_socket_of_the_old_token(paired, ada):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    _same_device, new_token = await db(make_device)(ada, device.device_id)
    assert await closed_with(socket) == Close.TOKEN_REVOKED
    fresh, welcome = await connect_agent(new_token)
    assert welcome["deviceId"] == device.device_id
    await fresh.disconnect()


async def test_events_are_stored_once_acknowledged_and_gaps_refused(paired):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await socket.send_json_to(events(1, 3))
    assert await next_of_type(socket, "event.ack") == {"type": "event.ack", "seq": 3}
    await socket.send_json_to(events(2, 3))  # 2 and 3 again, then 4
    assert await next_of_type(socket, "event.ack") == {"type": "event.ack", "seq": 4}
    await socket.send_json_to(events(9, 1))
    gap = await socket.receive_json_from()
    assert gap["code"] == "seq_gap" and gap["expectedSeq"] == 5
    assert await next_of_type(socket, "event.ack") == {"type": "event.ack", "seq": 4}
    seqs = await db(
        lambda: list(
            Event.objects.filter(device=device, source="agent")
            .order_by("agent_seq")
            .values_list("agent_seq", flat=True)
        )
    )()
    assert seqs == [1, 2, 3, 4]
    await socket.disconnect()
    _again, welcome = await connect_agent(token)
    assert welcome["lastAckedSeq"] == 4
    await _again.disconnect()


async def test_stream_positions_are_contiguous_per_user_and_per_device(ada):
    first, _token = await db(make_device)(ada, "desk-0001-aaaaaa")
    second, _token = await db(make_device)(ada, "desk-0002-bbbbbb")
    await db(record_agent_events)(first.pk, events(1, 2)["events"])
    await db(record_agent_events)(second.pk, events(1, 2)["events"])
    await db(record_agent_events)(first.pk, events(3, 1)["events"])
    rows = await db(
        lambda: list(
            Event.objects.order_by("user_seq").values_list(
                "user_seq", "device__device_id", "stream_seq"
            )
        )
    )()
    assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
    assert [row[2] for row in rows if row[1] == "desk-0001-aaaaaa"] == [1, 2, 3]
    assert [row[2] for row in rows if row[1] == "desk-0002-bbbbbb"] == [1, 2]


async def test_an_impossible_time_does_not_stop_the_event_stream(paired):
    _device, token = paired
    socket, _welcome = await connect_agent(token)
    frame = events(1, 1)
    frame["events"][0]["at"] = "2024-02-30T00:00:00Z"
    await socket.send_json_to(frame)
    assert await next_of_type(socket, "event.ack") == {"type": "event.ack", "seq": 1}
    await socket.disconnect()


POISONS = {
    "a NUL in the payload": lambda event: event["payload"].update(output="binary\u0000out"),
    "a lone surrogate in the payload": lambda event: event["payload"].update(text="half \udc00"),
    "a lone surrogate in a key": lambda event: event["payload"].update({"\ud800": 1}),
    "a lone surrogate in threadId": lambda event: event.update(threadId="thr_\udc00"),
    "a lone surrogate in eventType": lambda event: event.update(eventType="item/\ud83d"),
    "absurd nesting": lambda event: event["payload"].update(deep=json.loads("[" * 80 + "]" * 80)),
}


@pytest.mark.parametrize("poison", POISONS.values(), ids=POISONS.keys())
async def test_an_event_with_text_nothing_can_store_is_refused_by_its_seq_and_nothing_stored(
    paired, poison
):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    frame = events(1, 3)
    poison(frame["events"][1])
    await socket.send_json_to(frame)
    refused = await next_of_type(socket, "error")
    assert refused["seq"] == 2
    assert refused["code"] in ("invalid_text", "too_deep")
    stored = await db(lambda: Event.objects.filter(device=device, agent_seq__gt=0).count())()
    assert stored == 0
    # The agent sends the frame again with that event repaired: it goes on past it.
    frame["events"][1] = protocol.repaired(frame["events"][1], max_depth=protocol.MAX_JSON_DEPTH)
    await socket.send_json_to(json.loads(json.dumps(frame)))
    assert await next_of_type(socket, "event.ack") == {"type": "event.ack", "seq": 3}
    await socket.disconnect()


async def test_a_hello_or_a_result_with_text_nothing_can_store_is_refused(paired):
    _device, token = paired
    socket = await open_socket()
    await socket.send_json_to({**hello(token), "provider": {"name": "codex\u0000"}})
    assert (await socket.receive_json_from())["code"] == "invalid_text"
    assert await closed_with(socket) == Close.PROTOCOL_ERROR
    socket, _welcome = await connect_agent(token)
    result = {"type": "command.result", "commandId": "cmd_x", "ok": True, "result": "\udfff"}
    await socket.send_json_to(result)
    assert (await next_of_type(socket, "error"))["code"] == "invalid_text"
    await socket.disconnect()


async def test_deeply_nested_frames_and_chunks_before_hello_are_refused(paired):
    socket = await open_socket()
    await socket.send_to(text_data="[" * 100_000)
    assert (await socket.receive_json_from())["code"] == "too_deep"
    assert await closed_with(socket) == Close.PROTOCOL_ERROR
    early = await open_socket()
    chunk = {"type": "resource.chunk", "resourceId": "r", "index": 0, "total": 2, "data": ""}
    await early.send_json_to(chunk)
    assert (await early.receive_json_from())["code"] == "hello_required"
    assert await closed_with(early) == Close.PROTOCOL_ERROR


async def test_chunks_that_disagree_or_claim_too_many_parts_are_refused(paired):
    _device, token = paired
    socket, _welcome = await connect_agent(token)
    huge = {"type": "resource.chunk", "resourceId": "r", "index": 0, "total": 10**6, "data": ""}
    await socket.send_json_to(huge)
    assert (await socket.receive_json_from())["code"] == "invalid_field"
    first = {"type": "resource.chunk", "resourceId": "r", "index": 0, "total": 3, "data": "a"}
    await socket.send_json_to(first)
    await socket.send_json_to({**first, "total": 2})
    assert (await socket.receive_json_from())["code"] == "invalid_chunks"
    await socket.disconnect()


def _revoke_token(device) -> None:
    DeviceToken.objects.filter(device=device).update(
        revoked_at=device.created_at, revoked_reason="revoked"
    )


def _disable_device(device) -> None:
    Device.objects.filter(pk=device.pk).update(enabled=False)


def _disable_owner(device) -> None:
    User.objects.filter(pk=device.owner_id).update(is_active=False)


@pytest.mark.parametrize(
    "end, code, close",
    [
        (_revoke_token, "token_revoked", Close.TOKEN_REVOKED),
        (_disable_device, "device_disabled", Close.DEVICE_DISABLED),
        (_disable_owner, "owner_disabled", Close.OWNER_DISABLED),
    ],
)
async def test_access_ended_behind_the_layers_back_ends_the_socket_at_the_next_batch_of_beats(
    paired, end, code, close
):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await socket.send_json_to({"type": "device.heartbeat"})
    await record_held()
    # Ended with no message on the channel layer, as if that message had been dropped.
    await db(end)(device)
    await socket.send_json_to({"type": "device.heartbeat"})
    await record_held()
    assert (await next_of_type(socket, "error"))["code"] == code
    assert await closed_with(socket) == close


async def test_a_socket_that_no_longer_holds_its_device_closes_at_the_next_batch_of_beats(
    paired,
):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await db(Device.objects.filter(pk=device.pk).update)(connection="someone-else")
    await socket.send_json_to({"type": "device.heartbeat"})
    await record_held()
    assert await closed_with(socket) == Close.REPLACED


async def test_a_late_stale_notice_does_not_close_the_newer_socket(paired, clock):
    device, token = paired
    old, _welcome = await connect_agent(token)
    clock.advance(seconds=60)
    notices = await db(presence.sweep_stale)()
    fresh, _welcome = await connect_agent(token)
    assert await closed_with(old) == Close.REPLACED
    await publish(notices)
    await fresh.send_json_to(events(1, 1))
    assert await next_of_type(fresh, "event.ack") == {"type": "event.ack", "seq": 1}
    assert (await db(Device.objects.get)(pk=device.pk)).online
    await fresh.disconnect()


async def test_an_older_socket_in_the_same_process_ends_even_if_the_layer_drops_the_word(
    paired, monkeypatch
):
    from channels.layers import get_channel_layer

    device, token = paired
    first, _welcome = await connect_agent(token)
    layer = get_channel_layer()
    send = layer.group_send

    async def dropping_superseded(group, message):
        if message["type"] != "device.superseded":
            await send(group, message)

    monkeypatch.setattr(layer, "group_send", dropping_superseded)
    second, _welcome = await connect_agent(token)
    assert await closed_with(first) == Close.REPLACED
    assert hub().held[device.pk] is not None
    await second.disconnect()
