"""Consumers that hear their groups through the process's hub and come back by themselves
when the channel layer does (SPEC §9).

A consumer's messages come from two places, merged in its own task in arrival order: the
channel layer (its own channel) and the hub, which hands it what its groups received.

When Redis restarts, the restarted server has forgotten every group membership, and
whoever waits on the layer at that moment sees an error. The first failure anyone in this
process sees starts one recovery: once the layer answers again, the hub joins all its
groups anew and every consumer catches up on what it missed (recovered()).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import get_handler_name

from .hub import hub

log = logging.getLogger(__name__)

RETRY_START, RETRY_MAX = 0.1, 1.0
# A consumer that falls this far behind its messages loses the oldest: each is a nudge
# whose content the log or the database also holds (see devices.realtime.groups).
INBOX_LIMIT = 1000
# Every consumer of this process that listens, the recovery under way, and whether the
# layer failed again while it ran (then it starts over).
_listening: weakref.WeakSet[Listener] = weakref.WeakSet()
_recovery: asyncio.Task[None] | None = None
_failed_again = False


class Listener:
    """Mixin for a Channels consumer: join groups with `follow()`, leave them all with
    `unfollow_all()`, and override `recovered()`."""

    channel_layer: Any
    channel_name: str
    groups_joined: list[str] = []

    async def follow(self, groups: list[str]) -> None:
        joined = list(self.groups_joined)
        self.groups_joined = joined
        for group in groups:
            await hub().join(group, self)
            joined.append(group)

    async def unfollow_all(self) -> None:
        groups, self.groups_joined = self.groups_joined, []
        for group in groups:
            await hub().leave(group, self)

    async def stopped_listening(self) -> None:
        """The consumer ended, cleanly or not: nothing of it stays in the process."""
        await self.unfollow_all()

    def hand(self, message: dict[str, Any]) -> None:
        """A message for this consumer from elsewhere in the process."""
        inbox = self.__dict__.get("_inbox")
        if inbox is None:
            return  # not listening yet, or any more
        if len(inbox) >= INBOX_LIMIT:
            inbox.popleft()
            log.warning("consumer %s fell behind; dropped its oldest message", self.channel_name)
        inbox.append(message)
        self._wake()

    def _wake(self, _done: object = None) -> None:
        """Let the merged receive return: a message was handed over or the layer answered."""
        waiter = self.__dict__.get("_waiter")
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take_queued(self, kind: str) -> list[dict[str, Any]]:
        """Messages of this type waiting at the head of the inbox, taken out of it: a
        consumer that fell behind handles a run of them at once."""
        inbox = self.__dict__.get("_inbox")
        taken = []
        while inbox and inbox[0].get("type") == kind:
            taken.append(inbox.popleft())
        return taken

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As Channels dispatches, without its hop to the database thread before every
        message (aclose_old_connections): this consumer's database work runs through
        database_sync_to_async, which closes stale connections around each call anyway,
        and a heartbeat — most of what a device sends — touches no database at all."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def recovered(self) -> None:
        """Called once the layer answers again after a failure, in the consumer's own
        task, so it never races the consumer's work."""

    async def layer_recovered(self, message: dict[str, Any]) -> None:
        await self.recovered()

    # AsyncConsumer.__call__ assigns channel_receive before its message loop starts; the
    # property wraps what it assigns.
    @property
    def channel_receive(self) -> Callable[[], Awaitable[dict[str, Any]]]:
        return self._merged_receive

    @channel_receive.setter
    def channel_receive(self, receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        _listening.add(self)
        self._inbox: collections.deque[dict[str, Any]] = collections.deque()
        # Resolved by hand() or by the layer's read, whichever comes first. A bare future
        # with a callback, not asyncio.wait: the wait is on every message of every stream.
        self._waiter: asyncio.Future[None] | None = None
        pending: asyncio.Future[dict[str, Any]] | None = None

        async def merged() -> dict[str, Any]:
            nonlocal pending
            try:
                while True:
                    if self._inbox:
                        return self._inbox.popleft()
                    if pending is None:
                        pending = asyncio.ensure_future(receive_resiliently(receive))
                        pending.add_done_callback(self._wake)
                    if not pending.done():
                        self._waiter = asyncio.get_running_loop().create_future()
                        try:
                            await self._waiter
                        finally:
                            self._waiter = None
                    if self._inbox:
                        return self._inbox.popleft()
                    if pending.done():
                        done, pending = pending, None
                        return done.result()
            except asyncio.CancelledError:
                # The consumer ends: nothing more is received for it. The layer's read is
                # waited for as Channels waits for its own, so none is left running.
                self.__dict__["_inbox"] = None
                if pending is not None:
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pending
                # A consumer that ended without leaving its groups (it failed, or was
                # cancelled) leaves them now; after a clean end there is nothing left.
                with contextlib.suppress(Exception):
                    await self.stopped_listening()
                raise

        self._merged_receive = merged


async def receive_resiliently(
    receive: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """The next message from the layer. A failure starts this process's recovery and the
    read is tried again, a little later each time, until the layer answers."""
    delay = RETRY_START
    while True:
        try:
            return await receive()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if cancelled():
                raise asyncio.CancelledError from error
            start_recovery(error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)


def cancelled() -> bool:
    """Whether the running task is being cancelled: the channel layer may report a
    cancelled read as an error of its own, which must not be retried."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def start_recovery(error: Exception) -> None:
    global _recovery, _failed_again
    if _recovery is not None and not _recovery.done():
        _failed_again = True
        return
    log.warning("channel layer failed (%r); listening again once it is back", error)
    _recovery = asyncio.get_running_loop().create_task(_recover_all())


async def _recover_all() -> None:
    global _failed_again
    delay = RETRY_START
    while True:
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX)
        _failed_again = False
        if not await hub().rejoin_all():
            continue
        if _failed_again:
            continue  # away again while joining: a group may have been lost meanwhile
        break
    for consumer in list(_listening):
        consumer.hand({"type": "layer.recovered"})
    log.warning("channel layer back; this process joined its groups again")
