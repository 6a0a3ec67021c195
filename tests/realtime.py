"""Helpers for driving the real ASGI app's sockets and streams in-process."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import ApplicationCommunicator, WebsocketCommunicator
from django.test import Client

from codexpanel.asgi import application
from devices.actions import bind_device, mint_device_token
from devices.models import Device

AGENT_VERSION = "0.2.0"


def make_device(owner: Any, device_id: str = "desk-0001-abcdef") -> tuple[Device, str]:
    """A paired device and its plaintext token, as SET-7 leaves them."""
    minted = mint_device_token()
    binding = bind_device(
        owner=owner,
        device_id=device_id,
        name=f"{owner.username}'s desk",
        platform="linux",
        agent_version=AGENT_VERSION,
        workspace="/work",
        token_hash=minted.digest,
        token_hint=minted.plaintext[:12],
        bound_by=owner,
        allow_rebind=True,
    )
    return binding.device, minted.plaintext


def hello(token: str | None, **extra: Any) -> dict[str, Any]:
    message = {
        "type": "device.hello",
        "protocolVersion": 1,
        "agentVersion": AGENT_VERSION,
        "provider": {"transport": "stdio://"},
        "capabilities": {"approvals": True},
        **extra,
    }
    if token is not None:
        message["token"] = token
    return message


async def open_socket(headers: list[tuple[bytes, bytes]] | None = None) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, "/device-wss", headers=headers or [])
    connected, _ = await socket.connect()
    assert connected
    return socket


async def connect_agent(token: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """A socket past its hello; returns it and the welcome."""
    socket = await open_socket()
    await socket.send_json_to(hello(token))
    welcome = await socket.receive_json_from(timeout=5)
    assert welcome["type"] == "server.welcome", welcome
    return socket, welcome


async def closed_with(socket: WebsocketCommunicator, timeout: float = 5) -> int:
    """Read until the relay closes the socket, then let the consumer finish; returns the
    close code."""
    while True:
        output = await socket.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            await socket.disconnect(output.get("code", 1000))
            return output.get("code", 1000)


async def next_of_type(socket: WebsocketCommunicator, kind: str, timeout: float = 5) -> Any:
    while True:
        message = await socket.receive_json_from(timeout=timeout)
        if message["type"] == kind:
            return message


def events(first: int, count: int, thread: str = "thr_1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "agent.event",
        "events": [
            {
                "seq": seq,
                "eventType": "item/agentMessage/delta",
                "threadId": thread,
                "turnId": "turn_1",
                "payload": {"delta": f"part {seq}", **extra},
            }
            for seq in range(first, first + count)
        ],
    }


db = database_sync_to_async


def session_of(user: Any) -> str:
    """The session cookie of a browser signed in as user, for a stream to present."""
    client = Client()
    client.force_login(user)
    return client.cookies["codexpanel_session"].value


class Stream:
    """GET /events through the real ASGI app, read as a browser's EventSource would."""

    def __init__(self, session_key: str | None, query: str = "", **headers: str) -> None:
        raw = [(b"host", b"testserver")]
        if session_key:
            raw.append((b"cookie", f"codexpanel_session={session_key}".encode()))
        raw += [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
        self.app = ApplicationCommunicator(
            application,
            {
                "type": "http",
                "method": "GET",
                "path": "/events",
                "query_string": query.encode(),
                "headers": raw,
                "http_version": "1.1",
                "scheme": "http",
                "server": ("testserver", 80),
                "client": ("127.0.0.1", 5555),
            },
        )
        self.buffer = ""

    async def start(self) -> dict[str, Any]:
        await self.app.send_input({"type": "http.request", "body": b"", "more_body": False})
        return await self.app.receive_output(timeout=5)

    async def body(self, timeout: float = 5) -> dict[str, Any]:
        return await self.app.receive_output(timeout=timeout)

    async def next_event(self, timeout: float = 5) -> tuple[int, dict[str, Any]]:
        """The next `id:`/`data:` record, skipping comments and the retry line."""
        while True:
            while "\n\n" in self.buffer:
                record, self.buffer = self.buffer.split("\n\n", 1)
                fields = dict(line.split(": ", 1) for line in record.split("\n") if ": " in line)
                if "data" in fields:
                    return int(fields["id"]), json.loads(fields["data"])
            chunk = await self.body(timeout)
            assert chunk["type"] == "http.response.body", chunk
            if not chunk.get("more_body", False) and not chunk["body"]:
                raise EOFError("the stream ended")
            self.buffer += chunk["body"].decode()

    async def close(self) -> None:
        await self.app.send_input({"type": "http.disconnect"})
        await self.app.wait(timeout=5)
