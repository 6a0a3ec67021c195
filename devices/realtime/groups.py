"""Channel-layer groups and how messages reach them.

A state change is committed first and announced after: the async socket code awaits
`publish` once its database work has returned, and sync code (views, actions, admin)
calls `publish_after_commit`, so no listener ever hears of a row that rolled back.

A message is only a nudge: every listener also finds what it needs in the database (the
process holding a device looks for its commands once a heartbeat interval, a stream
resyncs from the log at each keep-alive, a waiting caller reads again each second). So
when the channel layer is down, the change stands and the caller is told it succeeded; the
failure is logged, not raised.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from .hub import hub

log = logging.getLogger(__name__)

Message = tuple[str, dict[str, Any]]
T = TypeVar("T")


def device_group(device_pk: int) -> str:
    """The socket holding one device."""
    return f"device.{device_pk}"


def user_group(user_pk: int) -> str:
    """Every live connection of one user: browser streams and device sockets (IAM-9)."""
    return f"user.{user_pk}"


def user_events_group(user_pk: int) -> str:
    return f"events.user.{user_pk}"


def device_events_group(device_pk: int) -> str:
    return f"events.device.{device_pk}"


def command_group(command_id: str) -> str:
    """Whoever is waiting for one command's result."""
    return f"command.{command_id}"


async def publish(messages: list[Message]) -> None:
    """Announce messages, in order within each group; different groups at once, since a
    round trip to Redis per group would otherwise add up on every answer."""
    if not messages:
        return
    layer = get_channel_layer()
    here = hub()
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in messages:
        by_group.setdefault(group, []).append(message)

    async def send(group: str, queued: list[dict[str, Any]]) -> None:
        for message in queued:
            # Each process hears a group once and hands the message on by its name; the
            # members in this process have it before it leaves for the others.
            sent = {**message, "group": group}
            try:
                if here.hand_here(group, sent):
                    # The members here work on what they were handed (a stream keeps each
                    # event's encoded text in it); the layer encodes its copy only after
                    # a round trip to Redis, so it gets one of its own, taken before then.
                    sent = {**copy.deepcopy(sent), "handedBy": here.channel}
                await layer.group_send(group, sent)
            except Exception:
                log.warning(
                    "could not announce %s to %s", message.get("type"), group, exc_info=True
                )

    if len(by_group) == 1:
        await send(*next(iter(by_group.items())))
    else:
        await asyncio.gather(*(send(group, queued) for group, queued in by_group.items()))


def publish_now(messages: list[Message]) -> None:
    if messages:
        async_to_sync(publish)(messages)


# Set while sync code runs for an async caller that publishes what it announces itself.
_collecting: ContextVar[list[Message] | None] = ContextVar("announcements", default=None)


def _announce(messages: list[Message]) -> None:
    collected = _collecting.get()
    if collected is None:
        publish_now(messages)
    else:
        collected.extend(messages)


def publish_after_commit(messages: list[Message]) -> None:
    if messages:
        transaction.on_commit(lambda: _announce(messages))


def _collected(func: Callable[..., T], *args: Any) -> tuple[T, list[Message]]:
    collected: list[Message] = []
    token = _collecting.set(collected)
    try:
        result = func(*args)
    except BaseException:
        publish_now(collected)  # committed before the failure: it happened
        raise
    finally:
        _collecting.reset(token)
    return result, collected


async def run_then_publish(func: Callable[..., T], *args: Any) -> T:
    """Run sync database work on the database thread, then publish on the loop what it
    announced after commit: the thread is not held for a round trip to Redis, and the
    caller's answer does not wait for a hop back to the loop and out again."""
    result, collected = await database_sync_to_async(_collected)(func, *args)
    await publish(collected)
    return result
