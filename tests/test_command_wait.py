"""Waiting for a command's result (SPEC DEV-3): `GET …/commands/<id>?wait=N` and the one
request form `POST …/commands?wait=N`, through the real ASGI app."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import AsyncClient

from devices.models import Command
from devices.realtime import command_views

from .realtime import connect_agent, db, next_of_type
from .test_commands import commands_url, send

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_a_result_landing_just_before_the_wait_listens_is_answered_at_once(
    paired, console, monkeypatch
):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    command_id = (await send(console, device, "listSessions")).json()["commandId"]
    await next_of_type(socket, "server.command")
    layer = get_channel_layer()
    subscribe = layer.group_add

    async def result_lands_meanwhile(group, channel):
        # The result is stored, and its news published, before this waiter listens.
        await subscribe(group, channel)
        await db(Command.objects.filter(command_id=command_id).update)(
            status=Command.Status.DONE, result={"data": []}
        )

    async def never_told(*args):
        raise AssertionError("the waiter waited for news that had already gone out")

    monkeypatch.setattr(layer, "group_add", result_lands_meanwhile)
    monkeypatch.setattr(command_views._Waiter, "outcome", never_told)
    answer = (await console.get(f"{commands_url(device)}/{command_id}?wait=5")).json()
    assert answer["status"] == "done"
    await socket.disconnect()


async def test_waiting_is_bounded(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    command_id = (await send(console, device, "listSessions")).json()["commandId"]
    too_long = await console.get(f"{commands_url(device)}/{command_id}?wait=31")
    assert too_long.status_code == 400
    pending = await console.get(f"{commands_url(device)}/{command_id}?wait=0.3")
    assert pending.json()["status"] == "sent"
    await socket.disconnect()


async def answer_when_asked(socket, result: dict) -> None:
    delivered = await next_of_type(socket, "server.command")
    await socket.send_json_to(
        {
            "type": "command.result",
            "commandId": delivered["commandId"],
            "ok": True,
            "result": result,
        }
    )


async def answered_in_one_request(console, device, socket, params: dict | None = None):
    """POST ?wait=5 while the agent on `socket` answers with {"data": ["t1"]}."""
    agent = asyncio.create_task(answer_when_asked(socket, {"data": ["t1"]}))
    answer = await console.post(
        f"{commands_url(device)}?wait=5",
        {"name": "listSessions", "params": params or {}},
        content_type="application/json",
    )
    await agent
    return answer


async def layer_down(*args):
    raise ConnectionError("the channel layer is down")


async def test_post_with_wait_answers_with_the_result_in_one_request(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    answer = await answered_in_one_request(console, device, socket, {"limit": 5})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["status"] == "done" and answer.json()["result"] == {"data": ["t1"]}
    await socket.disconnect()


async def test_a_result_from_a_socket_in_this_process_reaches_the_waiter_without_the_layer(
    paired, console, monkeypatch
):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    reads: list[str] = []
    read_again = command_views._command_for

    def counted(user, device_id, command_id):
        reads.append(command_id)
        return read_again(user, device_id, command_id)

    # Nothing crosses the layer and the waiter never falls back to reading the database:
    # the command reaches the socket, and its result the waiter, inside the process.
    monkeypatch.setattr(get_channel_layer(), "group_send", layer_down)
    monkeypatch.setattr(command_views, "_command_for", counted)
    answer = await answered_in_one_request(console, device, socket)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["result"] == {"data": ["t1"]}
    assert reads == []
    await socket.disconnect()


async def test_post_with_wait_answers_202_when_the_result_is_not_there_in_time(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    answer = await send(console, device, "listSessions", {"limit": 5})  # the two-request form
    assert answer.status_code == 202
    waited = await console.post(
        f"{commands_url(device)}?wait=0.3",
        {"name": "listSessions", "params": {}},
        content_type="application/json",
    )
    assert waited.status_code == 202 and waited.json()["status"] in ("queued", "sent")
    await socket.disconnect()


@pytest.mark.parametrize(
    ("query", "body", "status", "code"),
    [
        ("wait=99999", {"name": "listSessions"}, 400, "invalid_request"),
        ("wait=soon", {"name": "listSessions"}, 400, "invalid_request"),
        ("wait=1", {"name": "readSession", "params": {"threadId": 5}}, 400, "invalid_params"),
        ("wait=1", {"params": {}}, 400, "invalid_request"),
        ("wait=1", "[" * 1000, 400, "too_deep"),
        ("wait=1", {"name": "listSessions"}, 409, "device_offline"),
        ("wait=1", '{"name": "listSessions", "params": {"n": 1e400}}', 400, "malformed_request"),
    ],
)
async def test_post_with_wait_refuses_what_the_two_request_form_refuses(
    paired, console, query, body, status, code
):
    device, _token = paired
    answer = await console.post(
        f"{commands_url(device)}?{query}", body, content_type="application/json"
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert await db(Command.objects.count)() == 0


async def test_post_with_wait_takes_only_json(paired, console):
    device, _token = paired
    answer = await console.post(f"{commands_url(device)}?wait=1", {"name": "listSessions"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (415, "unsupported_media_type")
    assert await db(Command.objects.count)() == 0


async def test_post_with_wait_checks_csrf_sign_in_and_whose_device_it_is(paired, make_user):
    device, _token = paired
    url = f"{commands_url(device)}?wait=1"
    body = {"name": "listSessions"}
    anonymous = await AsyncClient().post(url, body, content_type="application/json")
    assert anonymous.status_code == 401
    # A session cookie that names no session is no one, whatever else is wrong.
    stranger = AsyncClient(enforce_csrf_checks=True)
    stranger.cookies[settings.SESSION_COOKIE_NAME] = "no-such-session"
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        answer = await stranger.post(url, body, content_type=content_type)
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "not_authenticated")
    strict = AsyncClient(enforce_csrf_checks=True)
    await strict.aforce_login(device.owner)
    no_token = await strict.post(url, body, content_type="application/json")
    assert (no_token.status_code, no_token.json()["error"]["code"]) == (403, "csrf_failed")
    mallory = AsyncClient()
    await mallory.aforce_login(await db(make_user)("mallory"))
    theirs = await mallory.post(url, body, content_type="application/json")
    assert theirs.status_code == 404
    assert await db(Command.objects.count)() == 0


async def test_a_wait_that_runs_out_answers_with_the_command_as_it_stands_now(paired, console):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    waited = await console.post(
        f"{commands_url(device)}?wait=0.3",
        {"name": "listSessions", "params": {}},
        content_type="application/json",
    )
    # The device has it and has not answered: delivered, not still queued.
    assert waited.status_code == 202 and waited.json()["status"] == "sent", waited.json()
    await socket.disconnect()


async def test_a_command_sent_and_waited_for_while_the_layer_is_away_is_still_answered(
    paired, console, monkeypatch
):
    device, token = paired
    socket, _welcome = await connect_agent(token)
    layer = get_channel_layer()
    monkeypatch.setattr(layer, "group_add", layer_down)
    monkeypatch.setattr(layer, "group_send", layer_down)
    answer = await answered_in_one_request(console, device, socket)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["result"] == {"data": ["t1"]}
    monkeypatch.undo()
    await socket.disconnect()
