"""A failure inside one request or socket ends that request or socket alone (SPEC §7): the
stream's inputs are checked before its response starts, an exception after that ends the
stream cleanly, a device socket closes at once with the application's internal-error code,
and each is logged once. Last, a real Daphne process shows it stays healthy after them."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import time
from pathlib import Path

import pytest
import websocket

from agent.protocol import Close
from codexpanel.asgi_guard import ContainFailures
from devices.realtime import event_intake
from devices.realtime.eventlog import StreamScope

from .live import Browser, Relay, sqlite_relay
from .realtime import (
    Stream,
    closed_with,
    connect_agent,
    db,
    events,
    hello,
    next_of_type,
    session_of,
)

NINES = "9" * 5000

BAD_REQUESTS = [
    pytest.param({"last_event_id": NINES}, "", id="5000-digit Last-Event-ID"),
    pytest.param({"last_event_id": str(2**63)}, "", id="Last-Event-ID past bigint"),
    pytest.param({"last_event_id": "-1"}, "", id="negative Last-Event-ID"),
    pytest.param({}, f"lastEventId={NINES}", id="5000-digit lastEventId"),
    pytest.param({}, "device=" + "d" * 129, id="over-long device"),
    pytest.param({}, "thread=t%00x", id="NUL in thread"),
    pytest.param({}, "device=a&device=b", id="device twice"),
]


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(("headers", "query"), BAD_REQUESTS)
async def test_a_bad_stream_parameter_is_refused_before_the_stream_starts(
    paired, ada, headers, query
):
    stream = Stream(await db(session_of)(ada), query=query, **headers)
    start = await stream.start()
    assert start["status"] == 400
    assert dict(start["headers"])[b"Content-Type"] == b"application/json"
    body = json.loads((await stream.body())["body"])
    assert body["error"]["code"] == "invalid_request", body
    await stream.app.wait(timeout=5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_failure_after_the_streams_headers_ends_that_stream_cleanly_and_is_logged_once(
    paired, ada, monkeypatch, caplog
):
    def broken(self, position, until):
        raise RuntimeError("the log could not be read")

    monkeypatch.setattr(StreamScope, "after", broken)
    stream = Stream(await db(session_of)(ada), last_event_id="0")
    assert (await stream.start())["status"] == 200
    assert (await stream.body())["body"] == b"retry: 2000\n\n"
    end = await stream.body()
    assert end == {"type": "http.response.body", "body": b"", "more_body": False}
    await stream.app.wait(timeout=5)  # the consumer finished without raising
    assert [record.getMessage() for record in errors_logged(caplog)] == [
        "event stream failed; ending it"
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_device_socket_that_fails_on_the_relays_side_closes_at_once_with_4013(
    paired, monkeypatch, caplog
):
    _device, token = paired
    socket, _welcome = await connect_agent(token)

    def broken(*args, **kwargs):
        raise RuntimeError("the log could not be written")

    monkeypatch.setattr(event_intake, "record_agent_frames", broken)
    await socket.send_json_to(events(1, 1))
    said = await next_of_type(socket, "error")
    assert said["code"] == "internal_error"
    assert await closed_with(socket) == Close.INTERNAL_ERROR == 4013
    assert len(errors_logged(caplog)) == 1


async def run(app, scope_type: str) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    await ContainFailures(app)({"type": scope_type, "path": "/x"}, receive, send)
    return sent


@pytest.mark.asyncio
async def test_an_exception_before_any_response_is_answered_with_the_json_500(caplog):
    async def app(scope, receive, send):
        raise RuntimeError("boom")

    sent = await run(app, "http")
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"])["error"]["code"] == "internal_error"
    assert len(errors_logged(caplog)) == 1


@pytest.mark.asyncio
async def test_an_exception_after_the_response_started_ends_the_body_instead_of_raising(caplog):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise RuntimeError("boom")

    sent = await run(app, "http")
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert len(sent) == 3 and len(errors_logged(caplog)) == 1


@pytest.mark.asyncio
async def test_an_exception_in_a_socket_closes_it_with_the_internal_error_code(caplog):
    async def app(scope, receive, send):
        await send({"type": "websocket.accept"})
        raise RuntimeError("boom")

    sent = await run(app, "websocket")
    assert sent[-1] == {"type": "websocket.close", "code": 4013}
    assert len(errors_logged(caplog)) == 1


# --- a real Daphne process ------------------------------------------------------------------

RENAME = """
import django; django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("ALTER TABLE %s RENAME TO %s")
"""


def rss_kib(relay: Relay) -> int:
    status = Path(f"/proc/{relay.processes[0].pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def growth_over_requests(relay: Relay, count: int) -> int:
    """How much the relay's resident memory grows over `count` ordinary requests (KiB)."""
    connection = http.client.HTTPConnection(relay.hosts[0], timeout=30)
    before = rss_kib(relay)
    for _ in range(count):
        connection.request("GET", "/api/iam/auth/status")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    connection.close()
    # Daphne reaps finished connections on its periodic check, every ~0.1 s.
    time.sleep(1)
    return rss_kib(relay) - before


def stream_answer(relay: Relay, browser: Browser, last_event_id: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(relay.hosts[0], timeout=20)
    connection.request(
        "GET",
        "/events",
        headers={
            "Cookie": f"codexpanel_session={browser.cookie('codexpanel_session')}",
            "Last-Event-ID": last_event_id,
        },
    )
    response = connection.getresponse()
    body = response.read()  # to the end: the stream must end, not hang
    connection.close()
    return response.status, body


@pytest.mark.own_deployment
def test_after_a_hostile_stream_and_failing_requests_the_relay_process_stays_healthy(tmp_path):
    with sqlite_relay(tmp_path) as relay:
        relay.log_dir = tmp_path
        desk = relay.paired_device()
        relay.start()
        browser = Browser(relay.hosts[0])
        growth_over_requests(relay, 100)  # warm the process up
        baseline = growth_over_requests(relay, 400)

        status, body = stream_answer(relay, browser, NINES)
        assert status == 400 and json.loads(body)["error"]["code"] == "invalid_request"

        # With the event log's table gone, both the stream (after its headers) and the
        # device socket fail inside the relay.
        relay.python(RENAME % ("devices_event", "devices_event_away"))
        status, body = stream_answer(relay, browser, "0")
        assert status == 200 and body == b"retry: 2000\n\n"

        agent = websocket.create_connection(f"ws://{relay.hosts[0]}/device-wss", timeout=10)
        # Its hello records the device coming online in that log.
        agent.send(json.dumps(hello(desk["token"])))
        # The socket's 10 s timeout bounds "at once": a broken process left it open 60 s+.
        frames, code = frames_until_close(agent)
        assert code == Close.INTERNAL_ERROR
        assert [frame["code"] for frame in frames if frame["type"] == "error"] == ["internal_error"]
        relay.python(RENAME % ("devices_event_away", "devices_event"))

        after = growth_over_requests(relay, 400)
        assert after <= baseline + 4096, (baseline, after)
        log = (tmp_path / f"relay-{relay.hosts[0].split(':')[1]}.log").read_text()
        assert "HTTP response has already been started" not in log
        assert "invalid close code" not in log
        # Each failure logged once, by the part that failed, and none left to Daphne.
        assert log.count("event stream failed; ending it") == 1, log
        assert log.count("failed; closing it") == 1, log
        assert "Exception inside application" not in log


def frames_until_close(agent: websocket.WebSocket) -> tuple[list[dict], int]:
    """The text frames a socket receives until the relay closes it, and the close code."""
    frames = []
    while True:
        opcode, frame = agent.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return frames, int.from_bytes(frame.data[:2], "big")
        if opcode == websocket.ABNF.OPCODE_TEXT:
            frames.append(json.loads(frame.data))
