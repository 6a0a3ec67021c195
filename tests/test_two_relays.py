"""Two Daphne processes sharing PostgreSQL and Redis, as production scales out (SPEC DEV-2 …
DEV-5): a device on process A, a browser on process B, nothing lost between them."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import websocket

from .conftest import port_open, require
from .live import Browser, Relay, sqlite_relay

DATABASE = "codexpanel_e2e"
# Its relays run on a database and Redis database of their own, in either run of the suite.
pytestmark = [pytest.mark.service, pytest.mark.own_deployment]

COUNT = """
import django, json
django.setup()
from devices.models import Event, Command
agent = list(Event.objects.filter(source="agent").order_by("agent_seq")
    .values_list("agent_seq", flat=True))
print(json.dumps({"agentSeqs": agent,
    "commands": list(Command.objects.values_list("command_id", "status", "deliveries"))}))
"""


@pytest.fixture(scope="module")
def relays() -> Iterator[tuple[Relay, str, str, dict[str, str]]]:
    require(port_open("127.0.0.1", 5432), "PostgreSQL on 127.0.0.1:5432")
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    import psycopg
    import redis

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        db.execute(f"CREATE DATABASE {DATABASE}")
    redis.Redis(db=3).flushdb()
    relay = Relay(f"postgres://postgres@127.0.0.1:5432/{DATABASE}", "redis://127.0.0.1:6379/3")
    relay.migrate()
    world = relay.paired_device("e2e-desk-000001")
    try:
        yield relay, relay.start(), relay.start(), world
    finally:
        relay.stop()


class FakeDevice:
    """An agent: an outbox of numbered events it re-sends until acknowledged, and the ids
    of commands it already ran."""

    def __init__(self, host: str, token: str) -> None:
        self.host, self.token = host, token
        self.outbox: dict[int, dict[str, Any]] = {}
        self.next_seq = 1
        self.ran: dict[str, int] = {}
        self.connect()

    def connect(self) -> dict[str, Any]:
        self.socket = websocket.create_connection(f"ws://{self.host}/device-wss", timeout=20)
        self.send({"type": "device.hello", "protocolVersion": 1, "token": self.token})
        welcome = self.receive("server.welcome")
        for seq in sorted(self.outbox):
            if seq <= welcome["lastAckedSeq"]:
                del self.outbox[seq]
        if self.outbox:
            self.send(
                {"type": "agent.event", "events": [self.outbox[s] for s in sorted(self.outbox)]}
            )
        return welcome

    def send(self, message: dict[str, Any]) -> None:
        self.socket.send(json.dumps(message))

    def receive(self, kind: str) -> dict[str, Any]:
        while True:
            message = json.loads(self.socket.recv())
            if message["type"] == "event.ack":
                for seq in [s for s in self.outbox if s <= message["seq"]]:
                    del self.outbox[seq]
            if message["type"] == kind:
                return message

    def emit(self, count: int, thread: str = "thr_e2e") -> None:
        batch = []
        for _ in range(count):
            event = {
                "seq": self.next_seq,
                "eventType": "item/agentMessage/delta",
                "threadId": thread,
                "payload": {"delta": f"d{self.next_seq}"},
            }
            self.outbox[self.next_seq] = event
            batch.append(event)
            self.next_seq += 1
        self.send({"type": "agent.event", "events": batch})

    def run(self, command: dict[str, Any]) -> None:
        """Run a command once, however often it is delivered."""
        command_id = command["commandId"]
        if command_id not in self.ran:
            self.ran[command_id] = 1
        self.send({"type": "command.result", "commandId": command_id, "ok": True, "result": {}})

    def drop(self) -> None:
        """The network goes away: no close handshake."""
        self.socket.sock.shutdown(socket.SHUT_RDWR)
        self.socket.sock.close()


def test_a_command_and_its_events_cross_between_two_relay_processes(relays):
    relay, host_a, host_b, world = relays
    device = FakeDevice(host_a, world["token"])
    browser = Browser(host_b)
    devices_url = f"/api/devices/{world['deviceId']}"
    stream = browser.stream()

    issued = browser.call(
        "POST", f"{devices_url}/commands", {"name": "startThread", "params": {"cwd": "/w"}}
    )
    command = device.receive("server.command")
    assert command["commandId"] == issued["commandId"]
    device.emit(3)
    device.receive("event.ack")
    device.run(command)
    answer = browser.call("GET", f"{devices_url}/commands/{issued['commandId']}?wait=20")
    assert answer["status"] == "done"
    seen = stream.agent_events(3)
    assert [event["agentSeq"] for _p, event in seen] == [1, 2, 3]

    # The browser loses its stream; three events happen; it resumes from what it saw.
    last_seen = seen[-1][0]
    stream.close()
    device.emit(3)
    device.receive("event.ack")
    resumed = browser.stream(last_event_id=last_seen)
    missed = resumed.agent_events(3)
    assert [event["agentSeq"] for _p, event in missed] == [4, 5, 6]
    positions = [position for position, _e in missed]
    assert positions == sorted(positions) and positions[0] > last_seen

    # The device's socket dies mid-stream, with events unacknowledged and a command
    # delivered but not answered. After the reconnect, nothing is lost or doubled.
    issued = browser.call("POST", f"{devices_url}/commands", {"name": "listSessions"})
    pending = device.receive("server.command")
    device.emit(3)
    device.drop()
    device.connect()
    redelivered = device.receive("server.command")
    assert redelivered["commandId"] == pending["commandId"] == issued["commandId"]
    device.run(redelivered)
    answer = browser.call("GET", f"{devices_url}/commands/{issued['commandId']}?wait=20")
    assert answer["status"] == "done"
    device.emit(1)
    device.receive("event.ack")
    assert device.outbox == {}
    assert [e["agentSeq"] for _p, e in resumed.agent_events(4)] == [7, 8, 9, 10]

    stored = json.loads(relay.python(COUNT))
    assert stored["agentSeqs"] == list(range(1, 11))
    assert all(status == "done" for _id, status, _n in stored["commands"])
    assert device.ran == {c: 1 for c, _status, _n in stored["commands"]}
    resumed.close()


@pytest.mark.own_deployment
def test_two_deployments_sharing_one_redis_database_never_hear_each_other(tmp_path):
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    import redis

    redis.Redis(db=4).flushdb()
    with ExitStack() as stack:
        deployments = []
        for name in ("north", "south"):
            relay = stack.enter_context(
                sqlite_relay(tmp_path, name=name, redis_url="redis://127.0.0.1:6379/4")
            )
            # The same device id, token and row number in both.
            world = relay.paired_device()
            deployments.append((relay.start(), world))
        (north_host, north_world), (south_host, south_world) = deployments
        north_device = FakeDevice(north_host, north_world["token"])
        south_device = FakeDevice(south_host, south_world["token"])
        south_stream = Browser(south_host).stream()
        north = Browser(north_host)
        issued = north.call(
            "POST",
            f"/api/devices/{north_world['deviceId']}/commands",
            {"name": "startThread", "params": {"cwd": "/w"}},
        )
        assert north_device.receive("server.command")["commandId"] == issued["commandId"]
        north_device.emit(2, thread="thr_north")
        north_device.receive("event.ack")
        # The south's device gets no command and its owner's stream no event from the north.
        south_device.socket.settimeout(2)
        with pytest.raises(websocket.WebSocketTimeoutException):
            south_device.receive("server.command")
        south_device.emit(1, thread="thr_south")
        seen = south_stream.agent_events(1)
        assert [event["threadId"] for _position, event in seen] == ["thr_south"]
        keys = {key.decode().split(":", 1)[0] for key in redis.Redis(db=4).keys("*")}
        assert len(keys) >= 2 and all(key.startswith("codexpanel-") for key in keys), keys
