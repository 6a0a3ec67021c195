"""/device-wss: the agents' socket (SPEC DEV-2, DEV-3, DEV-4).

Identity comes only from the device token, in the hello or the handshake's Authorization
header. Every frame is checked by agent.protocol before it is acted on; a bad frame gets an
`error` frame (or, before the hello, a close), never an exception. What the relay sends a
device is bounded: commands go out only while fewer than CODEXPANEL_COMMANDS_IN_FLIGHT are
unanswered, so a device that stops reading makes its commands wait in the database, not in
memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from agent import __version__, protocol
from agent.protocol import Close

from ..actions import DeviceTokenRefused, resolve_device_token
from . import commands, presence
from .event_intake import EventIntake
from .groups import device_group, publish, user_group
from .hub import hub
from .listening import Listener
from .sweeper import ensure_sweeper

log = logging.getLogger(__name__)

REFUSAL_CLOSE = {
    "invalid_token": Close.INVALID_TOKEN,
    "token_revoked": Close.TOKEN_REVOKED,
    "device_disabled": Close.DEVICE_DISABLED,
    "owner_disabled": Close.OWNER_DISABLED,
}
REVOKE_CLOSE = {
    "device_disabled": Close.DEVICE_DISABLED,
    "device_removed": Close.DEVICE_REMOVED,
    # An operator moved the device to another account: the agent reconnects as theirs.
    "owner_changed": Close.SESSIONS_ENDED,
}


class DeviceSocketConsumer(EventIntake, Listener, AsyncWebsocketConsumer):
    device_pk: int | None = None
    groups_joined: list[str] = []

    async def connect(self) -> None:
        self.device_pk = None
        self.owner_pk: int | None = None
        self.token_pk: int | None = None
        self.recorded_control: dict[str, Any] | None = None
        self.recorded_codex: dict[str, Any] | None = None
        self.in_flight: set[str] = set()
        # Whether commands may be waiting in the database beyond what this socket sent:
        # until a look finds none, each answer looks again.
        self.backlog = True
        self.chunks = protocol.Reassembler()
        self.closing = False
        self.last_heartbeat = time.monotonic()
        self.tasks: list[asyncio.Task[None]] = []
        self.event_frames = []
        await self.accept()
        self.tasks.append(asyncio.create_task(self._hello_deadline()))

    async def stopped_listening(self) -> None:
        self._drop_held()
        await super().stopped_listening()

    def _drop_held(self) -> None:
        """Out of the process's held devices, unless a newer socket took the place."""
        held = hub().held
        if held.get(getattr(self, "held_pk", None)) is self:
            del held[self.held_pk]

    async def dispatch(self, message: dict[str, Any]) -> None:
        """A failure on the relay's side must not leave a dead socket holding the device:
        it is logged once, the agent is told, and the socket closes at once. The agent
        reconnects and re-sends what was not acknowledged."""
        try:
            await super().dispatch(message)
        except (StopConsumer, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("device socket %s failed; closing it", self.device_pk)
            if message.get("type") == "websocket.disconnect":
                raise StopConsumer() from None  # already closed: nothing to tell or close
            await self._fail()

    async def _fail(self) -> None:
        with contextlib.suppress(Exception):
            await self._send(
                {"type": protocol.ERROR, "code": "internal_error", "message": "relay error"}
            )
        try:
            await self._close(Close.INTERNAL_ERROR, reason="internal_error")
        except Exception as error:
            # Whatever failed may fail the release too (a database gone): the sweeper
            # marks the device offline when its heartbeats stop being recorded.
            log.warning("device socket %s closed without its release: %r", self.device_pk, error)
            await self.close(code=Close.INTERNAL_ERROR)

    # --- receiving ------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        raw = text_data if text_data is not None else bytes_data
        await self._receive(raw or b"")

    async def _receive(self, raw: str | bytes) -> None:
        try:
            message = protocol.parse_frame(raw, protocol.AGENT_MESSAGES)
            if message["type"] == protocol.CHUNK:
                if self.device_pk is None:
                    raise protocol.ProtocolError("hello_required", "the first frame must be hello")
                whole = self.chunks.add(message)
                if whole is None:
                    return
                message = protocol.parse_frame(
                    whole,
                    protocol.AGENT_MESSAGES - {protocol.CHUNK},
                    limit=protocol.MAX_RESOURCE_BYTES,
                )
        except protocol.ProtocolError as error:
            await self._refuse_frame(error)
            return
        try:
            if message["type"] != protocol.AGENT_EVENT:
                # Whatever the agent says next, it said after those events: they are
                # stored and answered first.
                await self._events_stored()
                if self.closing:
                    return  # storing them failed, and the socket is closing
            await self._dispatch(message)
        except protocol.ProtocolError as error:
            await self._refuse_frame(error)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.device_pk is None:
            if kind != protocol.HELLO:
                raise protocol.ProtocolError("hello_required", "the first frame must be hello")
            await self._hello(message)
        elif kind == protocol.HELLO:
            raise protocol.ProtocolError("already_connected", "hello was already received")
        elif kind == protocol.HEARTBEAT:
            await self._heartbeat(message)
        elif kind == protocol.AGENT_EVENT:
            await self._events(message)
        elif kind == protocol.COMMAND_RESULT:
            await self._result(message)
        elif kind == protocol.ERROR:
            log.info("device %s reported %s: %s", self.device_pk, message["code"], message)

    async def _refuse_frame(self, error: protocol.ProtocolError) -> None:
        refusal = {"type": protocol.ERROR, "code": error.code, "message": error.message}
        if error.seq is not None:
            refusal["seq"] = error.seq  # the agent repairs or drops that event and goes on
        await self._send(refusal)
        if error.code in ("frame_too_large", "resource_too_large"):
            await self._close(Close.MESSAGE_TOO_BIG)
        elif error.code == "unsupported_version":
            await self._close(Close.UNSUPPORTED_VERSION)
        elif self.device_pk is None:
            await self._close(Close.PROTOCOL_ERROR)

    # --- hello ----------------------------------------------------------------------------

    def _handshake_token(self) -> str:
        for name, value in self.scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    return token.strip()
        return ""

    async def _hello(self, hello: dict[str, Any]) -> None:
        token = hello.get("token") or self._handshake_token()
        try:
            device_token = await database_sync_to_async(resolve_device_token)(token)
        except DeviceTokenRefused as refused:
            await self._send(
                {"type": protocol.ERROR, "code": refused.reason, "message": refused.message}
            )
            await self._close(REFUSAL_CLOSE[refused.reason])
            return
        device = device_token.device
        self.device_pk, self.owner_pk, self.token_pk = device.pk, device.owner_id, device_token.pk
        await self.follow([device_group(device.pk), user_group(device.owner_id)])
        try:
            connected, deliveries = await database_sync_to_async(commands.hold_and_claim)(
                device.pk, device_token.pk, self.channel_name, hello
            )
        except presence.AccessEnded as ended:
            await self._end_access(ended.reason)
            return
        self.last_heartbeat = time.monotonic()
        hub().held[device.pk] = self
        self.held_pk = device.pk
        await self._send(
            {
                "type": protocol.WELCOME,
                "deviceId": device.device_id,
                "heartbeatIntervalSeconds": presence.heartbeat_interval(),
                "lastAckedSeq": connected.device.last_acked_seq,
                "agentVersion": __version__,
                "protocolVersion": protocol.PROTOCOL_VERSION,
            }
        )
        # One socket per device: an older one (a reconnect racing a dead connection) goes.
        # Told once this one holds the device, so the older one's release finds it taken
        # and does not mark it offline; in this process the hub tells it at once.
        superseded = {"type": "device.superseded", "channel": self.channel_name}
        await publish([(device_group(device.pk), superseded), *connected.messages])
        ensure_sweeper()
        await self._send_claimed(deliveries)

    async def recovered(self) -> None:
        # A command stored while the layer was away sent its nudge to nobody.
        if self.device_pk is not None and not self.closing:
            await self._deliver()

    async def _hello_deadline(self) -> None:
        await asyncio.sleep(protocol.HELLO_TIMEOUT_SECONDS)
        if self.device_pk is None and not self.closing:
            await self._send(
                {"type": protocol.ERROR, "code": "hello_timeout", "message": "no hello in time"}
            )
            await self._close(Close.HELLO_TIMEOUT)

    # --- after hello ----------------------------------------------------------------------

    async def _heartbeat(self, message: dict[str, Any]) -> None:
        """A beat is noted here and written with the process's others (sweeper); one that
        reports a new control state or news of Codex is recorded at once, for the person
        to see."""
        self.last_heartbeat = time.monotonic()
        state = message.get("state") or {}
        control, codex = state.get("controlState"), state.get("codex")
        if not isinstance(control, dict) or control == self.recorded_control:
            control = None
        if not isinstance(codex, dict) or codex == self.recorded_codex:
            codex = None
        if control is not None or codex is not None:
            await self._check_hold(control, codex)

    async def _check_hold(
        self, control: dict[str, Any] | None = None, codex: dict[str, Any] | None = None
    ) -> None:
        try:
            messages = await database_sync_to_async(presence.heartbeat)(
                self.device_pk, self.token_pk, self.channel_name, control, codex
            )
        except presence.Replaced:
            await self._close(Close.REPLACED, reason="replaced")
            return
        except presence.AccessEnded as ended:
            await self._end_access(ended.reason)
            return
        if control is not None:
            self.recorded_control = control
        if codex is not None:
            self.recorded_codex = codex
        await publish(messages)

    def beating(self) -> bool:
        """Whether this socket's heartbeats are coming, for the process's batch."""
        limit = presence.heartbeat_interval() * protocol.STALE_AFTER_INTERVALS
        return not self.closing and time.monotonic() - self.last_heartbeat <= limit

    async def _result(self, message: dict[str, Any]) -> None:
        self.in_flight.discard(message["commandId"])
        answered = await database_sync_to_async(commands.record_result)(self.device_pk, message)
        await publish(answered.messages)
        if self.backlog:
            await self._deliver()

    async def _deliver(self) -> None:
        deliveries = await database_sync_to_async(commands.claim_deliveries)(
            self.device_pk, set(self.in_flight), redeliver=False
        )
        await self._send_claimed(deliveries)

    async def _send_claimed(self, deliveries: commands.Deliveries) -> None:
        # Commands that expired unanswered no longer take a place.
        self.in_flight &= deliveries.still_open
        self.backlog = deliveries.more
        if deliveries.messages:
            await publish(deliveries.messages)
        for command in deliveries.claimed:
            self.in_flight.add(command.command_id)
            await self._send(commands.wire_message(command))

    # --- channel-layer messages -----------------------------------------------------------

    async def device_commands(self, message: dict[str, Any]) -> None:
        """A command was stored for this device. The nudge carries it, so unless others
        wait before it, claiming it is one conditional update; else the queue is read."""
        if self.device_pk is None:
            return
        wire = message.get("command")
        if (
            isinstance(wire, dict)
            and not self.backlog
            and len(self.in_flight) < commands.in_flight_limit()
            and protocol.json_problem(wire) is None
        ):
            if await database_sync_to_async(commands.claim)(self.device_pk, wire["commandId"]):
                self.in_flight.add(wire["commandId"])
                await self._send(wire)
            return
        await self._deliver()

    async def device_quiet(self, message: dict[str, Any]) -> None:
        # Its heartbeats stopped (seen by the process's sweep): the TCP connection may
        # hang for long, so the relay ends it.
        if not self.beating():
            await self._close(Close.HEARTBEAT_TIMEOUT, reason="heartbeat_timeout")

    async def device_check(self, message: dict[str, Any]) -> None:
        # The process's batch of heartbeats could not record this socket's: find out why.
        if self.device_pk is not None:
            await self._check_hold()

    async def device_superseded(self, message: dict[str, Any]) -> None:
        if message["channel"] != self.channel_name:
            await self._close(Close.REPLACED, reason="replaced")

    async def device_revoke(self, message: dict[str, Any]) -> None:
        token = message.get("tokenPk")
        if token is None or token == self.token_pk:
            code = REVOKE_CLOSE.get(message["reason"], Close.TOKEN_REVOKED)
            await self._close(code, reason=message["reason"])

    async def device_stale(self, message: dict[str, Any]) -> None:
        if message.get("channel") == self.channel_name:
            await self._close(Close.HEARTBEAT_TIMEOUT, reason="heartbeat_timeout")

    async def user_sessions_ended(self, message: dict[str, Any]) -> None:
        # The owner was disabled, regrouped or given a new password (IAM-9). If the
        # account is still enabled, the agent reconnects and says hello again.
        await self._close(Close.SESSIONS_ENDED, reason="sessions_ended")

    # --- closing --------------------------------------------------------------------------

    async def _end_access(self, reason: str) -> None:
        messages = {
            "token_revoked": "This device token was revoked.",
            "device_disabled": "This device has been disabled by an operator.",
            "owner_disabled": "The account owning this device is disabled.",
            "device_removed": "This device was removed.",
        }
        await self._send({"type": protocol.ERROR, "code": reason, "message": messages[reason]})
        code = {**REFUSAL_CLOSE, **REVOKE_CLOSE}[reason]
        await self._close(code, reason=reason)

    async def _send(self, message: dict[str, Any]) -> None:
        if not self.closing:
            await self.send(text_data=protocol.encode(message))

    async def _close(self, code: int, reason: str = "closed") -> None:
        if self.closing:
            return
        self.closing = True
        # Offline first, so whoever reacts to the close already sees the device offline.
        await self._release(reason)
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self.closing = True
        # An agent that says it is stopping is not coming back by itself; any other end
        # of the connection is a drop the agent retries.
        await self._release("agent_stopped" if code == Close.AGENT_STOPPED else "disconnected")

    async def _release(self, reason: str) -> None:
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        self.tasks = []
        if self.device_pk is None:
            return
        await self._events_stored_before_release(current)
        device_pk, self.device_pk = self.device_pk, None
        self._drop_held()
        await self.unfollow_all()
        messages = await database_sync_to_async(presence.disconnect)(
            device_pk, self.channel_name, reason
        )
        await publish(messages)
