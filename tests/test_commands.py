"""The command gateway (SPEC DEV-3, DEV-6): from the console's API to the device's socket
and back, through the real ASGI app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import Group, Permission
from django.test import AsyncClient, override_settings

from agent import protocol
from codexpanel import clock as relay_clock
from devices.models import Command, Event
from devices.realtime.commands import expire_commands
from devices.realtime.groups import publish
from devices.realtime.sweeper import record_held

from .realtime import connect_agent, db, events, next_of_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def commands_url(device) -> str:
    return f"/api/devices/{device.device_id}/commands"


async def send(console: AsyncClient, device, name: str, params=None, **extra):
    body = {"name": name, "params": params or {}, **extra}
    return await console.post(commands_url(device), body, content_type="application/json")


async def test_a_command_reaches_the_device_and_its_result_comes_back(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    issued = await send(console, device, "listSessions", {"limit": 5})
    assert issued.status_code == 202, issued.json()
    command_id = issued.json()["commandId"]
    assert issued.json()["status"] == "queued"

    delivered = await next_of_type(socket, "server.command")
    assert delivered == {
        "type": "server.command",
        "commandId": command_id,
        "name": "listSessions",
        "params": {"limit": 5},
    }
    await socket.send_json_to(
        {"type": "command.result", "commandId": command_id, "ok": True, "result": {"data": []}}
    )
    answer = await console.get(f"{commands_url(device)}/{command_id}?wait=5")
    assert answer.status_code == 200
    assert answer.json()["status"] == "done"
    assert answer.json()["result"] == {"data": []}
    logged = await db(Event.objects.get)(event_type="command.updated")
    assert logged.payload["status"] == "done"
    await socket.disconnect()


async def test_a_failed_command_carries_the_agents_error(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    command_id = (await send(console, device, "readSession", {"threadId": "t"})).json()["commandId"]
    await next_of_type(socket, "server.command")
    error = {"code": "thread_not_found", "message": "no such thread"}
    await socket.send_json_to(
        {"type": "command.result", "commandId": command_id, "ok": False, "error": error}
    )
    # A repeated result (after a reconnect, say) changes nothing.
    await socket.send_json_to({"type": "command.result", "commandId": command_id, "ok": True})
    answer = (await console.get(f"{commands_url(device)}/{command_id}?wait=5")).json()
    assert answer["status"] == "failed" and answer["error"] == error
    await socket.disconnect()


async def test_a_command_for_an_offline_device_fails_at_once(paired, console):
    device, _token = paired
    refused = await send(console, device, "listSessions")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "device_offline"
    assert await db(Command.objects.count)() == 0


async def test_a_command_accepted_while_the_channel_layer_is_down_still_reaches_the_device(
    paired, console, monkeypatch
):
    device, token = paired
    socket, _welcome = await connect_agent(token)

    async def unreachable(group, message):
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(get_channel_layer(), "group_send", unreachable)
    issued = await send(console, device, "listSessions")
    assert issued.status_code == 202, issued.json()
    # No nudge arrived; the process's next look for its devices' commands finds it.
    await record_held()
    delivered = await next_of_type(socket, "server.command")
    assert delivered["commandId"] == issued.json()["commandId"]
    await socket.disconnect()


async def test_a_queued_turn_waits_for_the_device_and_runs_when_it_returns(paired, console):
    device, token = paired
    not_queueable = await send(console, device, "listSessions", queue=True)
    assert not_queueable.status_code == 409
    params = {"threadId": "thr_1", "input": [{"type": "text", "text": "hi"}]}
    queued = await send(console, device, "startTurn", params, queue=True)
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    socket, _welcome = await connect_agent(token)
    delivered = await next_of_type(socket, "server.command")
    assert delivered["commandId"] == queued.json()["commandId"]
    await socket.disconnect()


async def test_a_queued_turn_expires_if_the_device_does_not_return(paired, console, clock):
    device, _token = paired
    params = {"threadId": "thr_1", "input": "hi"}
    command_id = (await send(console, device, "startTurn", params, queue=True)).json()["commandId"]
    clock.advance(minutes=11)
    await publish(await db(expire_commands)())
    command = await db(Command.objects.get)(command_id=command_id)
    assert command.status == "expired"
    assert await db(expire_commands)() == []


async def test_an_unanswered_command_is_delivered_again_after_a_reconnect(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    command_id = (await send(console, device, "listSessions")).json()["commandId"]
    await next_of_type(socket, "server.command")
    await socket.disconnect()

    again, _welcome = await connect_agent(token)
    redelivered = await next_of_type(again, "server.command")
    assert redelivered["commandId"] == command_id
    await again.send_json_to({"type": "command.result", "commandId": command_id, "ok": True})
    answer = (await console.get(f"{commands_url(device)}/{command_id}?wait=5")).json()
    assert answer["status"] == "done"
    command = await db(Command.objects.get)(command_id=command_id)
    assert command.deliveries == 2
    await again.disconnect()


@override_settings(CODEXPANEL_COMMANDS_IN_FLIGHT=2)
async def test_a_device_that_does_not_answer_gets_a_bounded_number_of_commands(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    ids = [(await send(console, device, "listSessions")).json()["commandId"] for _ in range(5)]
    first = [(await next_of_type(socket, "server.command"))["commandId"] for _ in range(2)]
    assert first == ids[:2]
    assert await socket.receive_nothing(timeout=0.3)
    await socket.send_json_to({"type": "command.result", "commandId": ids[0], "ok": True})
    assert (await next_of_type(socket, "server.command"))["commandId"] == ids[2]
    statuses = await db(
        lambda: list(Command.objects.order_by("pk").values_list("status", flat=True))
    )()
    assert statuses == ["done", "sent", "sent", "queued", "queued"]
    await socket.disconnect()


@pytest.mark.parametrize(
    ("name", "params", "code"),
    [
        ("formatDisk", {}, "unknown_command"),
        ("readSession", {}, "invalid_params"),
        ("resolveApproval", {"requestId": 1, "decision": "maybe"}, "invalid_params"),
        ("startTurn", {"threadId": "t", "input": []}, "invalid_params"),
    ],
)
async def test_bad_commands_are_refused_and_stored_nowhere(paired, console, name, params, code):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    refused = await send(console, device, name, params)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == code
    assert await db(Command.objects.count)() == 0
    await socket.disconnect()


async def test_the_seeds_task_names_map_onto_commands(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    issued = await send(console, device, "run.cancel", {"threadId": "thr_1"})
    assert issued.json()["name"] == "interruptTurn"
    await socket.disconnect()


async def test_another_users_device_cannot_be_commanded_or_read(paired, make_user):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    mallory = AsyncClient()
    await mallory.aforce_login(await db(make_user)("mallory"))
    refused = await send(mallory, device, "listSessions")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "device_not_found"
    assert await db(Command.objects.count)() == 0
    owner = AsyncClient()
    await owner.aforce_login(device.owner)
    command_id = (await send(owner, device, "listSessions")).json()["commandId"]
    peek = await mallory.get(f"{commands_url(device)}/{command_id}")
    assert peek.status_code == 404
    history = await mallory.get(f"/api/devices/{device.device_id}/events")
    assert history.status_code == 404
    await socket.disconnect()


async def test_operators_may_command_any_device(paired, make_user):
    device, token = paired
    socket, _welcome = await connect_agent(token)

    def operator():
        user = make_user("operator")
        group = Group.objects.create(name="Operators")
        group.permissions.add(Permission.objects.get(codename="operate_any_device"))
        user.groups.add(group)
        return user

    client = AsyncClient()
    await client.aforce_login(await db(operator)())
    assert (await send(client, device, "listSessions")).status_code == 202
    await socket.disconnect()


async def test_a_disabled_device_is_refused_commands(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await db(type(device).objects.filter(pk=device.pk).update)(enabled=False)
    refused = await send(console, device, "listSessions")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "device_disabled"
    await socket.disconnect()


async def test_anonymous_callers_get_401(paired):
    device, _token = paired
    client = AsyncClient()
    assert (await send(client, device, "listSessions")).status_code in (401, 403)
    answer = await client.get(f"{commands_url(device)}/cmd_x")
    assert answer.status_code == 401


async def test_history_is_readable_while_the_device_is_offline(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    await socket.send_json_to(events(1, 3, thread="thr_9"))
    await next_of_type(socket, "event.ack")
    await socket.disconnect()
    history = await console.get(f"/api/devices/{device.device_id}/events?thread=thr_9")
    assert history.status_code == 200
    body = history.json()
    assert [e["agentSeq"] for e in body["events"]] == [1, 2, 3]
    assert body["position"] == body["events"][-1]["streamSeq"]


@override_settings(CODEXPANEL_COMMANDS_IN_FLIGHT=2)
async def test_commands_that_expired_unanswered_free_their_place(paired, console, clock):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    for _ in range(2):
        await send(console, device, "listSessions")
        await next_of_type(socket, "server.command")
    clock.advance(minutes=11)
    await publish(await db(expire_commands)())
    await record_held()  # the device is still heard from
    late = (await send(console, device, "listSessions")).json()["commandId"]
    assert (await next_of_type(socket, "server.command"))["commandId"] == late
    await socket.disconnect()


async def test_a_stored_command_that_cannot_go_on_the_wire_is_failed_not_resent(paired, ada):
    # Stored before its text was checked (an older relay): nesting no frame may carry.
    device, token = paired
    deep: list = []
    for _level in range(protocol.MAX_JSON_DEPTH + 5):
        deep = [deep]
    now = relay_clock.now()
    await db(Command.objects.create)(
        command_id="cmd_poisoned",
        device=device,
        issued_by=ada,
        name="readSession",
        params={"threadId": "t", "note": deep},
        created_at=now,
        expires_at=now + timedelta(minutes=10),
    )
    await db(Command.objects.create)(
        command_id="cmd_fine",
        device=device,
        issued_by=ada,
        name="readSession",
        params={"threadId": "t"},
        created_at=now + timedelta(seconds=1),
        expires_at=now + timedelta(minutes=10),
    )
    socket, _welcome = await connect_agent(token)
    delivered = await next_of_type(socket, "server.command")
    assert delivered["commandId"] == "cmd_fine"  # the one behind it is not held up
    poisoned = await db(Command.objects.get)(command_id="cmd_poisoned")
    assert poisoned.status == Command.Status.FAILED
    assert poisoned.error["code"] == "undeliverable"
    await socket.disconnect()
    again, _welcome = await connect_agent(token)
    redelivered = await next_of_type(again, "server.command")
    assert redelivered["commandId"] == "cmd_fine"  # only the good one is offered again
    await again.disconnect()
