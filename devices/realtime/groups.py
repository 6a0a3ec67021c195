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

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

Message = tuple[str, dict[str, Any]]


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
    layer = get_channel_layer()
    for group, message in messages:
        try:
            # Each process hears a group once and hands the message on by its name.
            await layer.group_send(group, {**message, "group": group})
        except Exception:
            log.warning("could not announce %s to %s", message.get("type"), group, exc_info=True)


def publish_now(messages: list[Message]) -> None:
    if messages:
        async_to_sync(publish)(messages)


def publish_after_commit(messages: list[Message]) -> None:
    if messages:
        transaction.on_commit(lambda: publish_now(messages))
