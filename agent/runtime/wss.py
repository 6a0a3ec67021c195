"""DeviceWssClient (SPEC AGT-5, DEV-2): the agent's one outbound socket to the relay.

A session is: connect, hello, welcome, re-send whatever the relay has not acknowledged,
then a loop that sends new events (one frame in flight, so bursts batch themselves),
command results and heartbeats, while a reader thread hands incoming frames over. A lost
session is retried with exponential backoff and jitter; close codes that no retry can fix
(a revoked token, a disabled device) wait the longest and are reported.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import websocket

from .. import protocol
from .outbox import Outbox

log = logging.getLogger(__name__)

BATCH_WINDOW = 0.05  # seconds the loop waits when nothing wakes it
BATCH_BYTES = 512 * 1024
# Waits between attempts double from BACKOFF_START up to BACKOFF_MAX, each shortened by a
# random jitter of up to half: an agent is back within BACKOFF_MAX of its relay returning,
# however many faults came before, and many agents do not return in step.
BACKOFF_START, BACKOFF_MAX, BACKOFF_FATAL = 0.5, 5.0, 300.0
# A session that lasted this long after its welcome was healthy: the next fault starts the
# waits over. One cut short sooner (two agents on one token replacing each other, say)
# keeps them growing.
HEALTHY_SECONDS = 10.0


class SessionEnded(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class DeviceWssClient:
    def __init__(
        self,
        url: str,
        token: str,
        outbox: Outbox,
        *,
        on_command: Callable[[dict[str, Any]], None],
        hello_info: Callable[[], dict[str, Any]],
        heartbeat_state: Callable[[], dict[str, Any]],
        on_welcome: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.outbox = outbox
        self.on_command = on_command
        self.hello_info = hello_info
        self.heartbeat_state = heartbeat_state
        self.on_welcome = on_welcome or (lambda welcome: None)
        self.outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self.wakeup = threading.Event()
        self.stop_event = threading.Event()
        self.restart_session = threading.Event()
        self.leaving = False
        self.beat_soon = False
        self.welcomed = False  # whether the current session got past its hello, and when
        self.welcomed_at = 0.0
        self.status: dict[str, Any] = {
            "state": "starting",
            "lastHeartbeatAt": None,
            "lastHeartbeatError": None,
            "lastCloseCode": None,
            "connectedAt": None,
        }

    # --- control from other threads -------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Queue a frame (a command result) for the current or next session."""
        self.outgoing.put(message)
        self.wakeup.set()

    def events_ready(self) -> None:
        self.wakeup.set()

    def heartbeat_now(self) -> None:
        """Report state at once (a control-state change) instead of at the next beat."""
        self.beat_soon = True
        self.wakeup.set()

    def reconnect(self) -> None:
        self.restart_session.set()
        self.wakeup.set()

    def stop(self, *, leaving: bool = True) -> None:
        """End the connection; `leaving` tells the relay not to expect this agent back."""
        self.leaving = leaving
        self.stop_event.set()
        self.wakeup.set()

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        delay = BACKOFF_START
        while not self.stop_event.is_set():
            self.welcomed = False
            try:
                self._session()
                delay = BACKOFF_START
                continue
            except SessionEnded as ended:
                self.status.update(lastCloseCode=ended.code, lastHeartbeatError=ended.reason)
                fatal = ended.code in protocol.Close.FATAL
                log.warning("relay session ended (%s): %s", ended.code, ended.reason)
            except (OSError, websocket.WebSocketException) as exc:
                fatal = False
                self.status["lastHeartbeatError"] = f"cannot reach the relay: {exc}"
                log.warning("relay unreachable: %s", exc)
            except Exception as exc:
                # Whatever went wrong (a frame the agent cannot read, a local error), the
                # socket thread lives on and tries again.
                fatal = False
                self.status["lastHeartbeatError"] = f"session failed: {exc}"
                log.exception("relay session failed")
            if self.welcomed and time.monotonic() - self.welcomed_at >= HEALTHY_SECONDS:
                delay = BACKOFF_START  # a session that held: this is a new fault
            wait = BACKOFF_FATAL if fatal else delay
            self.status["state"] = "refused" if fatal else "reconnecting"
            # Jitter spreads the reconnects of many agents after a relay restart.
            self.stop_event.wait(wait * random.uniform(0.5, 1.0))  # noqa: S311
            delay = min(delay * 2, BACKOFF_MAX)
        self.status["state"] = "stopped"

    def _session(self) -> None:
        self.status["state"] = "connecting"
        ws = websocket.create_connection(self.url, timeout=30, enable_multithread=True)
        try:
            self._hello(ws)
            incoming: queue.Queue[Any] = queue.Queue()
            reader = threading.Thread(target=self._read, args=(ws, incoming), daemon=True)
            reader.start()
            self._loop(ws, incoming)
        finally:
            leaving = self.stop_event.is_set() and self.leaving
            with contextlib.suppress(Exception):
                ws.close(status=protocol.Close.AGENT_STOPPED if leaving else protocol.Close.NORMAL)

    def _hello(self, ws: websocket.WebSocket) -> None:
        ws.send(
            protocol.encode(
                {
                    "type": protocol.HELLO,
                    "protocolVersion": protocol.PROTOCOL_VERSION,
                    "token": self.token,
                    **self.hello_info(),
                }
            )
        )
        ws.settimeout(protocol.HELLO_TIMEOUT_SECONDS + 5)
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise SessionEnded(_close_code(data), "the relay refused the hello")
        message = protocol.parse_frame(data.decode(), protocol.RELAY_MESSAGES)
        if message["type"] == protocol.ERROR:
            opcode, data = ws.recv_data(control_frame=True)
            raise SessionEnded(_close_code(data), message.get("message", message["code"]))
        if message["type"] != protocol.WELCOME:
            raise SessionEnded(None, f"expected a welcome, got {message['type']}")
        interval = message.get("heartbeatIntervalSeconds")
        self.interval = (
            float(interval) if isinstance(interval, int | float) and interval > 0 else 15
        )
        # Pings go out with every heartbeat and the relay answers each, so silence for three
        # intervals means the link is dead (sleep, a network change) even if TCP has not
        # noticed; sends are bounded by the same timeout.
        ws.settimeout(self.interval * protocol.STALE_AFTER_INTERVALS)
        self.outbox.reconcile(message["lastAckedSeq"])
        self.sent_upto = self.acked_upto = message["lastAckedSeq"]
        self.status.update(state="connected", connectedAt=time.time(), lastHeartbeatAt=time.time())
        self.status["lastHeartbeatError"] = None
        self.welcomed, self.welcomed_at = True, time.monotonic()
        self.on_welcome(message)

    def _read(self, ws: websocket.WebSocket, incoming: queue.Queue[Any]) -> None:
        try:
            while True:
                opcode, data = ws.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    incoming.put(SessionEnded(_close_code(data), "the relay closed the socket"))
                    self.wakeup.set()
                    return
                if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                    incoming.put(data)
                    self.wakeup.set()
        except Exception as exc:
            incoming.put(SessionEnded(None, f"connection lost: {exc}"))
            self.wakeup.set()

    def _loop(self, ws: websocket.WebSocket, incoming: queue.Queue[Any]) -> None:
        # The first heartbeat goes out at once: it reports the control state, so the console
        # shows what Codex runs with from the moment the device is online.
        next_heartbeat = time.monotonic()
        self.restart_session.clear()
        while not self.stop_event.is_set():
            if self.restart_session.is_set():
                raise SessionEnded(protocol.Close.NORMAL, "reconnect requested")
            while True:
                try:
                    item = incoming.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, SessionEnded):
                    raise item
                self._handle(item)
            self._send_events(ws)
            while True:
                try:
                    message = self.outgoing.get_nowait()
                except queue.Empty:
                    break
                self._send(ws, message)
            if time.monotonic() >= next_heartbeat or self.beat_soon:
                self.beat_soon = False
                self._send(ws, {"type": protocol.HEARTBEAT, "state": self.heartbeat_state()})
                ws.ping()
                self.status["lastHeartbeatAt"] = time.time()
                next_heartbeat = time.monotonic() + self.interval
            self.wakeup.wait(BATCH_WINDOW)
            self.wakeup.clear()

    def _handle(self, data: str | bytes) -> None:
        try:
            message = protocol.parse_frame(data, protocol.RELAY_MESSAGES)
        except protocol.ProtocolError as error:
            log.warning("relay sent a frame the agent cannot read: %s", error.message)
            return
        kind = message["type"]
        if kind == protocol.EVENT_ACK:
            self.outbox.acknowledge(message["seq"])
            self.acked_upto = max(self.acked_upto, message["seq"])
        elif kind == protocol.COMMAND:
            self.on_command(message)
        elif kind == protocol.ERROR and message.get("code") == "seq_gap":
            expected = message.get("expectedSeq")
            if isinstance(expected, int) and expected >= 1:
                self.outbox.renumber_from(expected)
                self.sent_upto = self.acked_upto = expected - 1
        elif kind == protocol.ERROR and _event_seq(message.get("seq")) > self.acked_upto:
            # The relay refused one event of the frame and stored none of it: that event is
            # replaced by a note saying so, and everything after it is sent again.
            log.warning("relay refused event %s: %s", message["seq"], message.get("message"))
            self.outbox.replace_refused(message["seq"], message.get("code"), message.get("message"))
            self.sent_upto = self.acked_upto
        elif kind == protocol.ERROR:
            log.warning("relay reported %s: %s", message.get("code"), message.get("message"))

    def _send_events(self, ws: websocket.WebSocket) -> None:
        # One frame in flight: while the relay stores it, new events gather for the next
        # frame, so a burst costs the relay a few writes instead of one per event, and the
        # first event of a quiet spell still leaves at once.
        if self.sent_upto > self.acked_upto:
            return
        pending = self.outbox.pending(after=self.sent_upto, limit=protocol.MAX_EVENTS_PER_FRAME)
        if not pending:
            return
        # A frame carries events up to BATCH_BYTES (at least one), so a burst of large
        # events never makes a message the relay must refuse.
        batch, size = [], 0
        for event in pending:
            weight = len(protocol.encode(event))
            if batch and size + weight > BATCH_BYTES:
                break
            batch.append(event)
            size += weight
        self._send(ws, {"type": protocol.AGENT_EVENT, "events": batch})
        self.sent_upto = batch[-1]["seq"]

    def _send(self, ws: websocket.WebSocket, message: dict[str, Any]) -> None:
        # Events were repaired as the outbox took them (agent/events.py); the rest (hello,
        # heartbeats, results) is repaired here.
        if message.get("type") != protocol.AGENT_EVENT:
            message = protocol.repaired(message)
        text = protocol.encode(message)
        for frame in protocol.split_frame(text, "r" + secrets.token_hex(6)):
            ws.send(frame)


def _event_seq(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _close_code(data: bytes) -> int | None:
    if len(data) >= 2:
        return int.from_bytes(data[:2], "big")
    return None
