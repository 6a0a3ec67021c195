"""Consumers that come back by themselves when the channel layer does (SPEC §9).

When Redis restarts, the restarted server has forgotten every group membership, and the
consumer waiting on the process's receive loop at that moment sees an error; the others
see nothing and would stay deaf, their sockets and streams open. So the first failure a
consumer of this process sees starts one recovery for all of them: once the layer answers
again, each joins its groups anew and catches up on what it missed (recovered()). The
consumer that saw the failure waits a moment and listens again."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

RETRY_START, RETRY_MAX = 0.1, 1.0
# Every consumer of this process that listens on the layer, the recovery under way, and
# whether the layer failed again while it ran (then it starts over with everyone).
_listening: weakref.WeakSet[RecoversFromLayerFailure] = weakref.WeakSet()
_recovery: asyncio.Task[None] | None = None
_failed_again = False


class RecoversFromLayerFailure:
    """Mixin for a Channels consumer: keep the names of the groups joined in
    `groups_joined` (emptied when it ends) and override `recovered()`."""

    groups_joined: list[str]
    channel_layer: Any
    channel_name: str

    async def recovered(self) -> None:
        """Called once the layer answers again after a failure, in the consumer's own
        task (as a message on its channel), so it never races the consumer's work."""

    async def layer_recovered(self, message: dict[str, Any]) -> None:
        await self.recovered()

    # AsyncConsumer.__call__ assigns channel_receive before its message loop starts; the
    # property wraps what it assigns.
    @property
    def channel_receive(self) -> Callable[[], Awaitable[dict[str, Any]]]:
        return self._resilient_receive

    @channel_receive.setter
    def channel_receive(self, receive: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        _listening.add(self)

        async def resilient() -> dict[str, Any]:
            delay = RETRY_START
            while True:
                try:
                    return await receive()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    start_recovery(error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)

        self._resilient_receive = resilient

    async def rejoin(self) -> bool:
        """Join this consumer's groups again; False while the layer is still away."""
        try:
            for group in list(getattr(self, "groups_joined", [])):
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception:
            return False
        return True


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
    waiting = list(_listening)
    while True:
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX)
        if _failed_again:
            # Whoever joined in an earlier round may have lost its groups again.
            _failed_again, waiting = False, list(_listening)
        # One at a time, stopping at the first that cannot: while the layer is still away
        # a round costs one failed call, not one per consumer.
        while waiting and await waiting[0].rejoin():
            consumer = waiting[0]
            try:
                await consumer.channel_layer.send(
                    consumer.channel_name, {"type": "layer.recovered"}
                )
            except Exception:
                break  # away again: this consumer's turn comes in the next round
            waiting.pop(0)
        if not waiting and not _failed_again:
            break
    log.warning("channel layer back; every consumer of this process joined its groups again")
