"""The background sweep each relay process runs while it holds sockets or streams, once a
heartbeat interval: records the beats of the devices its own sockets hold and hands them
commands that wait in the database (a nudge the channel layer dropped), marks silent
devices offline whichever process held them, expires overdue commands, and prunes old
events. Every step is a conditional update, so any number of processes may sweep at once."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from channels.db import database_sync_to_async
from django.conf import settings

from ..attachments import prune_attachments
from ..push import prune_actions
from . import commands, presence
from .eventlog import prune_events
from .groups import Message, publish
from .hub import hub

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600
_sweepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def sweep_once() -> list[Message]:
    return presence.sweep_stale() + commands.expire_commands()


async def record_held() -> None:
    """This process's share: one batch for all its sockets' beats, one look for commands
    waiting for any of them, and an end to sockets whose beats stopped."""
    held = {}
    for pk, socket in hub().held.items():
        if socket.beating():
            held[pk] = socket
        else:
            socket.hand({"type": "device.quiet"})
    if not held:
        return
    pks = list(held)
    # One trip to the database thread per chunk, not one for all: with thousands of
    # sockets a single trip would hold that thread for a second, and hellos arriving
    # meanwhile (a reconnect storm meets heartbeat traffic) would wait it out.
    for start in range(0, len(pks), presence.BEATS_PER_QUERY):
        chunk = pks[start : start + presence.BEATS_PER_QUERY]
        beats = {pk: (held[pk].token_pk, held[pk].channel_name) for pk in chunk}
        for pk in await database_sync_to_async(presence.record_beats)(beats):
            held[pk].hand({"type": "device.check"})
        for pk in await database_sync_to_async(commands.devices_with_queued)(chunk):
            held[pk].hand({"type": "device.commands"})


async def _run() -> None:
    last_prune = 0.0
    while True:
        await asyncio.sleep(presence.heartbeat_interval())
        try:
            await record_held()
            await publish(await database_sync_to_async(sweep_once)())
            await hub().renew_if_due()
            if time.monotonic() - last_prune > PRUNE_EVERY_SECONDS:
                await database_sync_to_async(prune_events)()
                await database_sync_to_async(prune_attachments)()
                await database_sync_to_async(prune_actions)()
                last_prune = time.monotonic()
        except Exception:
            log.exception("presence sweep failed; retrying next interval")


def ensure_sweeper() -> None:
    """Start this process's sweep on the running loop, once."""
    if not settings.CODEXPANEL_BACKGROUND_SWEEP:
        return
    loop = asyncio.get_running_loop()
    task = _sweepers.get(loop)
    if task is None or task.done():
        _sweepers[loop] = loop.create_task(_run())
