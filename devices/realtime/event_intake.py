"""The device socket's intake of agent events (SPEC DEV-4): frames are stored by one task,
each batch of them in one transaction. Whatever arrives while a batch is written waits for
the next, so a device sending one event a frame costs a transaction per write, not per
frame, and each frame is still judged and acknowledged as if it came alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async

from agent import protocol

from .eventlog import live_messages, record_agent_frames
from .groups import publish

log = logging.getLogger("devices.realtime.device_socket")

# Event frames a socket holds unstored before it stops reading the agent.
QUEUED_FRAMES = 64


class EventIntake:
    """Mixin for the device socket, which provides `_send`, `_fail` and `device_pk`."""

    device_pk: int | None
    # Event frames received and not yet stored, and the task storing them.
    event_frames: list[list[dict[str, Any]]] = []
    writer: asyncio.Task[None] | None = None
    _send: Callable[[dict[str, Any]], Awaitable[None]]
    _fail: Callable[[], Awaitable[None]]

    async def _events(self, message: dict[str, Any]) -> None:
        """Queue a frame for the writer. Past QUEUED_FRAMES the socket stops reading until
        the queue is stored, and the agent's own window holds the rest."""
        self.event_frames.append(message["events"])
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._store_events())
        if len(self.event_frames) >= QUEUED_FRAMES:
            await self._events_stored()

    async def _events_stored(self) -> None:
        writer = self.writer
        if writer is not None and not writer.done():
            # Shielded: whoever waits may be cancelled; the writer still answers and
            # announces what it stored.
            await asyncio.shield(writer)

    async def _store_events(self) -> None:
        try:
            while self.event_frames:
                frames, self.event_frames = self.event_frames, []
                recorded = await database_sync_to_async(record_agent_frames)(self.device_pk, frames)
                for frame in recorded:
                    if frame.expected_seq is not None:
                        await self._send(
                            {
                                "type": protocol.ERROR,
                                "code": "seq_gap",
                                "message": f"expected seq {frame.expected_seq}",
                                "expectedSeq": frame.expected_seq,
                            }
                        )
                    await self._send({"type": protocol.EVENT_ACK, "seq": frame.acked_seq})
                stored = [event for frame in recorded for event in frame.events]
                await publish(live_messages(recorded[0].device, stored))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("device socket %s could not store events; closing it", self.device_pk)
            await self._fail()

    async def _events_stored_before_release(self, current: asyncio.Task[Any] | None) -> None:
        """What the agent sent before the end is stored, as when it came alone; its
        acknowledgements go nowhere, and the agent's re-send is skipped by seq."""
        writer = self.writer
        if writer is not None and writer is not current and not writer.cancelled():
            with contextlib.suppress(Exception):
                await asyncio.shield(writer)
