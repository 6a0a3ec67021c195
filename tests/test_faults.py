"""The fault suite (SPEC §9): a deployment on PostgreSQL + Redis with a real agent on the
real `codex app-server`, hit during an active turn by a relay restart, a Redis restart, a
PostgreSQL restart, a reset or silently dead device link, or a browser that stops reading.
Afterwards, everything the agent produced has been acknowledged, the log holds each event
exactly once in order, and a browser that resumes with Last-Event-ID has seen the whole
turn with no gap and no repeat.

PostgreSQL and Redis are private servers of this module (tests/services.py), so stopping
them leaves the suite's own alone."""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import threading
import time
import urllib.error
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from .codex_world import World, codex_world, history
from .console_scenarios import turn_done
from .live import Browser, Relay, sse_records
from .services import Link, PrivatePostgres, PrivateRedis

pytestmark = pytest.mark.own_deployment

SLOW_TEXT = "".join(f"chunk {n} " for n in range(60))
TEMPLATE = "relay_template"
_databases = itertools.count(1)


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    postgres = PrivatePostgres()
    redis = PrivateRedis()
    try:
        postgres.create_database(TEMPLATE)
        Relay(postgres.url(TEMPLATE)).migrate()
        yield postgres, redis
    finally:
        redis.close()
        postgres.close()


@contextmanager
def deployment(
    services: tuple[PrivatePostgres, PrivateRedis], env: dict[str, str], log_dir: Path
) -> Iterator[Relay]:
    postgres, redis = services
    number = next(_databases)
    postgres.create_database(f"relay_{number}", template=TEMPLATE)
    relay = Relay(
        postgres.url(f"relay_{number}"), redis.url.replace("/0", f"/{number % 16}"), log_dir
    )
    # Short heartbeats, so a dead link is noticed in seconds rather than in 45.
    relay.env.update({"CODEXPANEL_HEARTBEAT_INTERVAL_SECONDS": "1", **env})
    try:
        yield relay
    finally:
        relay.stop()


@contextmanager
def faulty_world(
    tmp_path: Path,
    services: tuple[PrivatePostgres, PrivateRedis],
    env: dict[str, str] | None = None,
    route: Callable[[str], str] = lambda host: host,
) -> Iterator[World]:
    with codex_world(
        tmp_path, deployment=deployment(services, env or {}, tmp_path), route=route
    ) as world:
        yield world


class Follower:
    """A browser tab's EventSource: whenever the stream ends or fails, it reconnects with
    the last id it saw, as the console does. `paused` holds reading, as a stalled phone
    would, without closing anything."""

    def __init__(self, host: str, session: str, receive_buffer: int | None = None) -> None:
        self.host, self.session, self.receive_buffer = host, session, receive_buffer
        self.seen: list[tuple[int, dict[str, Any]]] = []
        self.connections = 0
        self.reading = threading.Event()
        self.reading.set()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            with suppress(OSError, http.client.HTTPException, ValueError):
                self._follow()
            self.stopped.wait(0.3)

    def _follow(self) -> None:
        connection = http.client.HTTPConnection(self.host, timeout=60)
        connection.connect()
        if self.receive_buffer:
            connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        headers = {"Cookie": f"codexpanel_session={self.session}"}
        if self.seen:
            headers["Last-Event-ID"] = str(self.seen[-1][0])
        try:
            connection.request("GET", "/events", headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                return
            self.connections += 1
            for record in sse_records(response, before_line=self.reading.wait):
                self.seen.append(record)
                if self.stopped.is_set():
                    return
        finally:
            connection.close()

    def wait_connected(self) -> None:
        deadline = time.monotonic() + 30
        while not self.connections:
            assert time.monotonic() < deadline, "the stream never opened"
            time.sleep(0.05)

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not any(predicate(event) for _id, event in list(self.seen)):
            assert time.monotonic() < deadline, "the browser never saw it"
            time.sleep(0.1)

    def stop(self) -> None:
        self.stopped.set()
        self.reading.set()


def patiently(action: Callable[[], Any], timeout: float = 90) -> Any:
    """Retry while the relay or its services come back."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except OSError:
            assert time.monotonic() < deadline, "the relay never came back"
            time.sleep(0.3)


def start_slow_turn(world: World) -> tuple[str, Follower]:
    browser, device = world.browser, world.device_id
    follower = Follower(world.host, browser.cookie("codexpanel_session"))
    follower.wait_connected()
    thread_id = browser.command(device, "startThread")["result"]["thread"]["id"]
    turn = browser.command(device, "startTurn", threadId=thread_id, input="[slow:0.1]")
    assert turn["status"] == "done", turn
    follower.wait_for(lambda event: event["eventType"] == "item/agentMessage/delta")
    return thread_id, follower


def assert_nothing_lost_or_repeated(world: World, thread_id: str, follower: Follower) -> None:
    browser = patiently(lambda: Browser(world.host))
    device = world.device_id
    patiently(lambda: _completed(browser, device, thread_id))
    follower.wait_for(turn_done)
    deadline = time.monotonic() + 30
    while world.runtime.outbox.count():
        assert time.monotonic() < deadline, "the agent still holds unacknowledged events"
        time.sleep(0.2)

    events = history(browser, device)
    seqs = [event["agentSeq"] for event in events if event["source"] == "agent"]
    assert seqs == list(range(1, len(seqs) + 1)), "the log has a gap or a repeat"
    assert _text(events, thread_id) == SLOW_TEXT
    assert sum(1 for e in events if turn_done(e) and e["threadId"] == thread_id) == 1

    follower.stop()
    ids = [position for position, _event in follower.seen]
    assert ids == list(range(ids[0], ids[-1] + 1)), "the browser saw a gap or a repeat"
    assert _text([event for _id, event in follower.seen], thread_id) == SLOW_TEXT


def start_second_thread(world: World) -> str:
    return world.browser.command(world.device_id, "startThread")["result"]["thread"]["id"]


def queue_turn(world: World, thread_id: str) -> Any:
    """Ask for a turn on another thread while the fault lasts, as a person would."""
    body = {"name": "startTurn", "params": {"threadId": thread_id, "input": "say hi"}}
    return world.browser.call(
        "POST", f"/api/devices/{world.device_id}/commands", {**body, "queue": True}
    )


def assert_ran_once(world: World, thread_id: str) -> None:
    browser = patiently(lambda: Browser(world.host))
    patiently(lambda: _completed(browser, world.device_id, thread_id))
    time.sleep(1)  # a repeat would be on its way by now
    events = history(browser, world.device_id)
    assert sum(1 for e in events if turn_done(e) and e["threadId"] == thread_id) == 1
    assert _text(events, thread_id) == "Hello from the fake model."


def _completed(browser: Browser, device: str, thread_id: str) -> None:
    events = history(browser, device)
    if not any(turn_done(event) and event["threadId"] == thread_id for event in events):
        raise TimeoutError("the turn has not completed on the relay yet")


def _text(events: list[dict[str, Any]], thread_id: str) -> str:
    return "".join(
        event["payload"]["delta"]
        for event in events
        if event["eventType"] == "item/agentMessage/delta" and event["threadId"] == thread_id
    )


def test_a_relay_process_killed_mid_turn_loses_and_repeats_nothing(tmp_path, services):
    with faulty_world(tmp_path, services) as world:
        thread_id, follower = start_slow_turn(world)
        port = int(world.host.rsplit(":", 1)[1])
        world.relay.kill(world.host)
        time.sleep(1.5)  # the turn streams on into the agent's outbox meanwhile
        world.relay.start(port)
        assert_nothing_lost_or_repeated(world, thread_id, follower)
        assert follower.connections >= 2


PROBES = """
import time, django; django.setup()
from django.db import transaction
from devices.realtime.eventlog import live_messages, record_relay_event_locked
from devices.realtime.groups import publish_now
from devices.models import Device
for n in range(20):
    with transaction.atomic():
        device = Device.objects.select_for_update().get(device_id=%r)
        event = record_relay_event_locked(device, "relay.probe", {"n": n})
        messages = live_messages(device, [event])
    publish_now(messages)
    time.sleep(0.3)
"""


def probed(follower: Follower) -> bool:
    return any(event["eventType"] == "relay.probe" for _id, event in list(follower.seen))


def test_a_redis_restart_mid_turn_loses_and_repeats_nothing(tmp_path, services):
    _postgres, redis = services
    with faulty_world(tmp_path, services) as world:
        other = start_second_thread(world)
        thread_id, follower = start_slow_turn(world)
        redis.stop()
        # The command is stored, so it is accepted; only the nudge to the socket fails.
        assert queue_turn(world, other)["status"] == "queued"
        time.sleep(2)
        redis.start()  # empty: every group membership is gone
        back = time.monotonic()
        connections = follower.connections
        fresh = Follower(world.host, world.browser.cookie("codexpanel_session"))
        # Within 5 s the open stream and a new one both get events live again: the relay
        # records one every 0.3 s from another process (the agent's own reconnect is
        # measured apart, in test_agent_outbox).
        probes = threading.Thread(target=world.relay.python, args=(PROBES % world.device_id,))
        probes.start()
        while not (probed(follower) and probed(fresh)):
            assert time.monotonic() - back < 5, (probed(follower), probed(fresh))
            time.sleep(0.05)
        probes.join()
        # Live on the stream that was open all along, not replayed to a new one.
        assert follower.connections == connections
        fresh.stop()
        assert_nothing_lost_or_repeated(world, thread_id, follower)
        assert_ran_once(world, other)


def test_a_postgresql_restart_mid_turn_loses_and_repeats_nothing(tmp_path, services):
    postgres, _redis = services
    with faulty_world(tmp_path, services) as world:
        other = start_second_thread(world)
        thread_id, follower = start_slow_turn(world)
        postgres.stop()
        with pytest.raises(urllib.error.HTTPError) as refused:
            queue_turn(world, other)
        time.sleep(2)
        postgres.start()
        assert_nothing_lost_or_repeated(world, thread_id, follower)
        assert refused.value.code == 503, refused.value.read()
        assert json.loads(refused.value.read())["error"]["code"] == "unavailable"
        assert not any(
            e["threadId"] == other and e["eventType"] == "turn/started"
            for e in history(world.browser, world.device_id)
        )


class Route:
    def __init__(self) -> None:
        self.link: Link | None = None

    def __call__(self, host: str) -> str:
        self.link = Link(host)
        return self.link.address


def test_a_reset_device_socket_mid_turn_loses_and_repeats_nothing(tmp_path, services):
    route = Route()
    with faulty_world(tmp_path, services, route=route) as world:
        assert route.link is not None
        other = start_second_thread(world)
        thread_id, follower = start_slow_turn(world)
        route.link.cut()
        assert queue_turn(world, other)["status"] in ("queued", "sent")
        assert_nothing_lost_or_repeated(world, thread_id, follower)
        assert_ran_once(world, other)
        assert route.link.accepted >= 2
        route.link.close()


def test_a_device_link_gone_silent_mid_turn_is_noticed_and_loses_nothing(tmp_path, services):
    route = Route()
    with faulty_world(tmp_path, services, route=route) as world:
        assert route.link is not None
        other = start_second_thread(world)
        thread_id, follower = start_slow_turn(world)
        route.link.freeze()
        # Sent into the dead link before anyone notices, so it is sent again on reconnect.
        assert queue_turn(world, other)["status"] in ("queued", "sent")
        # Both ends notice by missed heartbeats alone; the agent dials again.
        follower.wait_for(lambda event: event["eventType"] == "device.offline")
        assert_nothing_lost_or_repeated(world, thread_id, follower)
        assert_ran_once(world, other)
        assert route.link.accepted >= 2
        route.link.close()


def test_a_stalled_browser_holds_up_no_one_and_misses_nothing(tmp_path, services):
    # A small cap on a stream's bytes, so the stalled stream is ended while it is stalled.
    with faulty_world(tmp_path, services, {"CODEXPANEL_STREAM_MAX_BYTES": "8192"}) as world:
        session = world.browser.cookie("codexpanel_session")
        stalled = Follower(world.host, session, receive_buffer=4096)
        stalled.wait_connected()
        thread_id, follower = start_slow_turn(world)
        stalled.reading.clear()
        follower.wait_for(turn_done)
        assert not any(turn_done(event) for _id, event in stalled.seen)
        stalled.reading.set()
        assert_nothing_lost_or_repeated(world, thread_id, stalled)
        assert stalled.connections >= 2
        assert_nothing_lost_or_repeated(world, thread_id, follower)
