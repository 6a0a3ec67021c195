"""What one relay process shares among its connections (SPEC §9).

The process listens on the channel layer once: a single channel joins each group that any
of its sockets or streams follows, once however many follow it, and hands each message to
those members in the process. Fifty tabs of one person cost one channel-layer message per
event, not fifty; and a message published in the process reaches its members there at
once, without waiting for the layer, which carries it to the other processes. The hub
also knows which devices this process's sockets hold, so that heartbeats are recorded
and queued commands looked for once per process, not once per socket (see
devices.realtime.sweeper).

Members are consumers mixing in `Listener` (devices.realtime.listening), where a message
handed to one is handled in the consumer's own task, in order, like one from the layer,
and the requests waiting for a command's result (devices.realtime.command_views).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.layers import get_channel_layer


class Member(Protocol):
    """What the hub asks of a member: take a message, to handle in its own time."""

    def hand(self, message: dict[str, Any]) -> None: ...


log = logging.getLogger(__name__)

# Redis forgets a group's members a day after they joined (channels_redis' group_expiry);
# a socket can live longer than that, so every membership is renewed well before.
RENEW_EVERY_SECONDS = 3600


@dataclass(eq=False)
class _Group:
    members: set[Member] = field(default_factory=set)
    subscribed: bool = False
    # Joining and leaving one group are ordered, so a leave's discard never lands after
    # the next join's add.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel = ""
        self.groups: dict[str, _Group] = {}
        # The device each socket of this process holds, by device pk.
        self.held: dict[int, Any] = {}
        self._listening: asyncio.Task[None] | None = None
        self._renewed = time.monotonic()

    async def _ensure_listening(self) -> None:
        if not self.channel:
            self.channel = await self.layer.new_channel()
        if self._listening is None or self._listening.done():
            self._listening = asyncio.get_running_loop().create_task(self._listen())

    async def join(self, group: str, member: Member) -> None:
        entry = self.groups.get(group)
        if entry is None:
            entry = self.groups[group] = _Group()
        entry.members.add(member)
        try:
            await self._ensure_listening()
            async with entry.lock:
                if not entry.subscribed:
                    await self.layer.group_add(group, self.channel)
                    entry.subscribed = True
        except BaseException:
            await self.leave(group, member)
            raise

    async def leave(self, group: str, member: Member) -> None:
        entry = self.groups.get(group)
        if entry is None:
            return
        entry.members.discard(member)
        async with entry.lock:
            if entry.members:
                return
            if entry.subscribed:
                entry.subscribed = False
                with contextlib.suppress(Exception):  # it expires in Redis by itself
                    await self.layer.group_discard(group, self.channel)
            if not entry.members and self.groups.get(group) is entry:
                del self.groups[group]
        if not self.groups and self._listening is not None:
            # Nothing left to hear: a process with no connections does not read the layer.
            listening, self._listening = self._listening, None
            # A fresh channel next time: the layer may still hold messages for this one.
            self.channel = ""
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listening

    async def resubscribe(self, groups: list[str]) -> None:
        """Join these groups again in the layer, which may have forgotten them."""
        for group in groups:
            entry = self.groups.get(group)
            if entry is not None and entry.subscribed:
                await self.layer.group_add(group, self.channel)

    async def rejoin_all(self) -> bool:
        """After the layer failed: join every group again; False while it is still away."""
        try:
            await self.resubscribe(list(self.groups))
        except Exception:
            return False
        return True

    def hand_here(self, group: str, message: dict[str, Any]) -> bool:
        """Hand a message published in this process to the group's members here at once,
        instead of after a round trip through the layer; False when it did not.
        The layer's copy then carries `handedBy` = this hub's channel and is skipped when
        it comes back, so nothing is heard twice; if the layer had not added this
        process to the group yet, no copy comes. A member joining after this does not
        hear the message: every member reads what it needs from the database once it
        has joined."""
        entry = self.groups.get(group)
        if entry is None or not entry.members or not self.channel:
            return False  # before the hub has a channel, its copy could not be told apart
        for member in list(entry.members):
            member.hand(message)
        return True

    async def _listen(self) -> None:
        from .listening import receive_resiliently

        channel = self.channel
        while True:
            message = await receive_resiliently(lambda: self.layer.receive(channel))
            if message.get("handedBy") == channel:
                continue  # published here, and handed to the members here already
            entry = self.groups.get(message.get("group", ""))
            for member in list(entry.members) if entry else ():
                member.hand(message)

    async def renew_if_due(self) -> None:
        if time.monotonic() - self._renewed < RENEW_EVERY_SECONDS:
            return
        self._renewed = time.monotonic()
        if not await self.rejoin_all():
            log.warning("could not renew this process's channel-layer groups; trying again")
            self._renewed -= RENEW_EVERY_SECONDS


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This process's hub, for the running event loop and the current channel layer."""
    loop = asyncio.get_running_loop()
    layer = get_channel_layer()
    current = _hubs.get(loop)
    if current is None or current.layer is not layer:
        current = _hubs[loop] = Hub(layer)
    return current
