"""Online and offline (SPEC DEV-2): which socket holds a device, its heartbeats, and the
sweep that declares silent devices offline from any relay process.

A device is online while a socket holds it and its heartbeats keep coming. The socket
notes each beat in memory; the process holding it writes the beats of all its sockets to
the database once a heartbeat interval, in a few queries (record_beats), and a beat that
reports a new control state at once. Any process may find a device whose beats stopped
being recorded (its process died, or the connection hangs) and mark it offline. Each change of
state is logged once as an event, because each is a conditional update under the device
row's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import User
from agent.protocol import STALE_AFTER_INTERVALS
from codexpanel import clock

from ..models import Device, DeviceToken
from .eventlog import live_messages, record_relay_event_locked
from .groups import Message, device_group


def heartbeat_interval() -> int:
    return settings.CODEXPANEL_HEARTBEAT_INTERVAL_SECONDS


def stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=heartbeat_interval() * STALE_AFTER_INTERVALS)


# Agents retry a lost connection within seconds (1, 2, 4 … s): for this long after a drop
# the person is told the computer is reconnecting rather than gone.
RECONNECT_WINDOW = timedelta(minutes=2)
# Reasons a socket ends that the agent retries by itself. Revocation, removal and a
# disabled device or owner end the connection for good.
DROPPED = frozenset(
    {"disconnected", "closed", "heartbeat_timeout", "internal_error", "sessions_ended"}
)


def reconnecting_until(device: Device, now: datetime | None = None) -> datetime | None:
    """Until when an offline device is expected back, or None when it is not."""
    if device.online or device.offline_reason not in DROPPED or device.offline_at is None:
        return None
    until = device.offline_at + RECONNECT_WINDOW
    return until if until > (now or clock.now()) else None


def is_online(device: Device, now: datetime | None = None) -> bool:
    """Online as people should see it: held by a socket and heard from recently."""
    now = now or clock.now()
    return bool(
        device.online
        and device.last_heartbeat_at is not None
        and device.last_heartbeat_at > stale_before(now)
    )


class AccessEnded(Exception):
    """The socket's token, device or owner stopped being valid; `reason` names which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_access(device: Device, token_pk: int) -> None:
    """Re-check, under the device lock, what the hello checked: a revocation that raced
    the hello, or whose news the channel layer dropped, still ends the socket. One query
    while access holds (hellos come in storms after a relay restart, all through the one
    thread Channels gives the database); the reason is looked for only when it does not.
    Its own statement after the lock, not conditions on the lock's query: on PostgreSQL
    those would judge the token and the owner as they were before the lock's wait, and
    miss a revocation committed meanwhile."""
    if DeviceToken.objects.filter(
        pk=token_pk,
        device=device,
        revoked_at__isnull=True,
        device__enabled=True,
        device__owner__is_active=True,
    ).exists():
        return
    if not DeviceToken.objects.filter(pk=token_pk, device=device, revoked_at__isnull=True).exists():
        raise AccessEnded("token_revoked")
    if not device.enabled:
        raise AccessEnded("device_disabled")
    if not User.objects.filter(pk=device.owner_id, is_active=True).exists():
        raise AccessEnded("owner_disabled")


@dataclass(frozen=True)
class Connected:
    device: Device
    messages: list[Message]


@transaction.atomic
def connect(device_pk: int, token_pk: int, channel: str, hello: dict[str, Any]) -> Connected:
    """A socket said hello for this device: it now holds the device."""
    now = clock.now()
    device = Device.objects.select_for_update().get(pk=device_pk)
    _check_access(device, token_pk)
    was_online = device.online
    device.online = True
    device.connection = channel
    device.connected_at = now
    device.last_heartbeat_at = now
    device.last_seen_at = now
    device.last_error = ""
    if hello.get("agentVersion"):
        device.agent_version = hello["agentVersion"]
    device.capabilities = {
        "provider": hello.get("provider") or {},
        "capabilities": hello.get("capabilities") or {},
    }
    device.save(
        update_fields=[
            "online",
            "connection",
            "connected_at",
            "last_heartbeat_at",
            "last_seen_at",
            "last_error",
            "agent_version",
            "capabilities",
        ]
    )
    messages: list[Message] = []
    if not was_online:
        event = record_relay_event_locked(device, "device.online", {"online": True})
        messages = live_messages(device, [event])
    return Connected(device, messages)


class Replaced(Exception):
    """Another socket holds the device now."""


# Rows a batch of heartbeats reads and writes per query: well under SQLite's limit on
# query parameters.
BEATS_PER_QUERY = 500


def record_beats(held: dict[int, tuple[int, str]]) -> set[int]:
    """Record at once the heartbeats of the devices one process's sockets hold: `held`
    maps each device pk to the socket's token pk and channel. A few queries whatever the
    number, instead of one per beat. Returns the devices whose socket no longer holds
    them or whose access ended: each finds out why with `heartbeat` and closes."""
    now = clock.now()
    refused: set[int] = set()
    pks = list(held)
    for start in range(0, len(pks), BEATS_PER_QUERY):
        chunk = pks[start : start + BEATS_PER_QUERY]
        # One row per device whose owner and device are enabled, for each of its live
        # tokens: the socket holds it if one row names the socket's token and channel.
        holding = Device.objects.filter(
            pk__in=chunk, enabled=True, owner__is_active=True, tokens__revoked_at__isnull=True
        ).values_list("pk", "connection", "tokens__pk")
        beating = {pk for pk, connection, token in holding if held[pk] == (token, connection)}
        # Conditional again: a release or another process's sweep may have taken the
        # device from its socket since the read, and must not be undone.
        Device.objects.filter(
            pk__in=beating,
            connection__in=[held[pk][1] for pk in beating],
            enabled=True,
            owner__is_active=True,
        ).update(last_heartbeat_at=now, last_seen_at=now, online=True)
        refused |= set(chunk) - beating
    return refused


def heartbeat(
    device_pk: int,
    token_pk: int,
    channel: str,
    control: dict[str, Any] | None = None,
    codex: dict[str, Any] | None = None,
) -> list[Message]:
    """Record one socket's heartbeat now, with the control state (SPEC §6) and the word on
    Codex (agent/protocol.py CODEX_REPORT) it reports when they changed. Raises Replaced or
    AccessEnded when the socket should close."""
    return _locked_heartbeat(device_pk, token_pk, channel, control, codex)


@transaction.atomic
def _locked_heartbeat(
    device_pk: int,
    token_pk: int,
    channel: str,
    control: dict[str, Any] | None,
    codex: dict[str, Any] | None,
) -> list[Message]:
    now = clock.now()
    # Lock, then write: an update followed by a lock of the same row can deadlock on
    # PostgreSQL with a concurrent insert that references the device.
    device = Device.objects.select_for_update().filter(pk=device_pk).first()
    if device is None:
        raise AccessEnded("device_removed")
    if device.connection != channel:
        raise Replaced
    _check_access(device, token_pk)
    device.last_heartbeat_at = now
    device.last_seen_at = now
    device.online = True
    fields = ["last_heartbeat_at", "last_seen_at", "online"]
    changed = isinstance(control, dict) and device.control_state != control
    if changed:
        device.control_state = control
        fields.append("control_state")
    if isinstance(codex, dict) and device.codex != codex:
        # Shown on the computer page; not an event, so a notice is never logged twice.
        device.codex = codex
        fields.append("codex")
    device.save(update_fields=fields)
    if not changed:
        return []
    event = record_relay_event_locked(device, "device.controlState", {"controlState": control})
    return live_messages(device, [event])


def _mark_offline(device: Device, reason: str) -> list[Message]:
    device.online = False
    device.connection = ""
    device.offline_reason = reason
    device.offline_at = clock.now()
    device.save(update_fields=["online", "connection", "offline_reason", "offline_at"])
    until = reconnecting_until(device)
    payload = {
        "online": False,
        "reason": reason,
        "reconnectingUntil": until.isoformat().replace("+00:00", "Z") if until else None,
    }
    event = record_relay_event_locked(device, "device.offline", payload)
    return live_messages(device, [event])


@transaction.atomic
def disconnect(device_pk: int, channel: str, reason: str) -> list[Message]:
    """The socket closed: if it still held the device, the device is offline at once."""
    device = Device.objects.select_for_update().filter(pk=device_pk).first()
    if device is None or device.connection != channel:
        return []  # removed, or a newer socket holds it
    return _mark_offline(device, reason)


def sweep_stale() -> list[Message]:
    """Mark offline every device whose heartbeats stopped, whichever process held it, and
    tell that socket (if its process still lives) to close."""
    now = clock.now()
    messages: list[Message] = []
    candidates = Device.objects.filter(
        online=True, last_heartbeat_at__lt=stale_before(now)
    ).values_list("pk", flat=True)
    for device_pk in list(candidates[:1000]):
        with transaction.atomic():
            device = Device.objects.select_for_update().get(pk=device_pk)
            if not device.online or device.last_heartbeat_at >= stale_before(now):
                continue
            channel = device.connection
            messages += _mark_offline(device, "heartbeat_timeout")
            messages.append((device_group(device.pk), {"type": "device.stale", "channel": channel}))
    return messages
