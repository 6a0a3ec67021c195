"""The only writers of commands (SPEC DEV-3): issue, deliver, answer, expire.

A command is stored before anything is sent, so it survives any relay process: the process
holding the device's socket is nudged through the channel layer with the command itself,
and also picks up what waits for it when the device connects and, once a heartbeat
interval, for all its sockets at once (devices.realtime.sweeper), so a nudge the channel
layer dropped only delays a command. Delivery is at least once; the agent runs each command id
once and answers a repeat with the stored result.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from accounts.models import User
from agent import protocol
from codexpanel import clock
from codexpanel.errors import ActionError

from ..approvals import check_answer
from ..models import Command, Device
from . import presence
from .eventlog import live_messages, record_relay_event_locked
from .groups import Message, command_group, device_group, publish_after_commit
from .presence import is_online

ID_PREFIX = "cmd_"


def serialize(command: Command) -> dict[str, Any]:
    return {
        "commandId": command.command_id,
        "deviceId": command.device.device_id,
        "name": command.name,
        "params": command.params,
        "status": command.status,
        "createdAt": command.created_at.isoformat(),
        "expiresAt": command.expires_at.isoformat(),
        "sentAt": command.sent_at.isoformat() if command.sent_at else None,
        "finishedAt": command.finished_at.isoformat() if command.finished_at else None,
        "result": command.result,
        "error": command.error,
    }


def wire_message(command: Command) -> dict[str, Any]:
    return {
        "type": protocol.COMMAND,
        "commandId": command.command_id,
        "name": command.name,
        "params": command.params,
    }


def _ttl() -> timedelta:
    return timedelta(seconds=settings.CODEXPANEL_COMMAND_TTL_SECONDS)


def new_command_id() -> str:
    return ID_PREFIX + secrets.token_urlsafe(12)


@transaction.atomic
def issue_command(
    user: User,
    device: Device,
    name: str,
    params: Any,
    *,
    queue: bool = False,
    command_id: str | None = None,
) -> Command:
    """Store a command for a device the caller may operate (authorized by the caller).
    A caller that listens for the result before issuing names the id (new_command_id)."""
    name = protocol.LEGACY_COMMANDS.get(name, name)
    try:
        protocol.validate_command_params(name, params)
    except protocol.ProtocolError as error:
        details = {"field": error.field} if error.field else None
        raise ActionError(error.code, error.message, 400, details=details) from error
    if name == "resolveApproval":
        again = check_answer(user, device, params)
        if again is not None:
            return again
    waits_for_device = queue and name in protocol.QUEUEABLE_COMMANDS
    if not waits_for_device and not is_online(device):
        raise ActionError(
            "device_offline", _("This computer is offline. The command was not sent."), 409
        )
    now = clock.now()
    command = Command.objects.create(
        command_id=command_id or new_command_id(),
        device=device,
        issued_by=user,
        name=name,
        params=params,
        created_at=now,
        expires_at=now + _ttl(),
    )
    nudge = {"type": "device.commands", "command": wire_message(command)}
    publish_after_commit([(device_group(device.pk), nudge)])
    return command


def in_flight_limit() -> int:
    return settings.CODEXPANEL_COMMANDS_IN_FLIGHT


def claim(device_pk: int, command_id: str) -> bool:
    """Mark one queued command sent, if no socket claimed it yet and it has not expired."""
    return bool(
        Command.objects.filter(
            device_id=device_pk,
            command_id=command_id,
            status=Command.Status.QUEUED,
            expires_at__gt=clock.now(),
        ).update(status=Command.Status.SENT, sent_at=clock.now(), deliveries=F("deliveries") + 1)
    )


def devices_with_queued(device_pks: list[int]) -> set[int]:
    """Which of these devices have commands waiting to be sent."""
    found: set[int] = set()
    for start in range(0, len(device_pks), 500):
        found |= set(
            Command.objects.filter(
                device_id__in=device_pks[start : start + 500],
                status=Command.Status.QUEUED,
                expires_at__gt=clock.now(),
            ).values_list("device_id", flat=True)
        )
    return found


@dataclass(frozen=True)
class Deliveries:
    still_open: set[str]
    claimed: list[Command]
    messages: list[Message]  # what to publish for commands failed as undeliverable
    more: bool = False  # whether more may wait than there was room for


def claim_deliveries(device_pk: int, in_flight: set[str], redeliver: bool) -> Deliveries:
    """What the device's socket should send now.

    Returns which of the socket's unanswered commands are still open (the others finished
    or expired, and free their place) and the commands claimed for sending: what is
    queued and, just after a hello, what was sent before but never answered, oldest
    first, as many as the socket may have unanswered. Each is marked sent as claimed. A
    command that cannot go on the wire (stored before its text was checked) is failed as
    undeliverable instead of being offered again on every reconnect."""
    now = clock.now()
    still_open = set(
        Command.objects.filter(
            device_id=device_pk,
            command_id__in=in_flight,
            status=Command.Status.SENT,
            expires_at__gt=now,
        ).values_list("command_id", flat=True)
    )
    room = in_flight_limit() - len(still_open)
    if room <= 0:
        return Deliveries(still_open, [], [], more=True)
    waiting = Q(status=Command.Status.QUEUED)
    if redeliver:
        waiting |= Q(status=Command.Status.SENT)
    candidates = list(
        Command.objects.filter(waiting, device_id=device_pk, expires_at__gt=now)
        .exclude(command_id__in=still_open)
        .select_related("device")
        .order_by("created_at", "pk")[:room]
    )
    claimed, messages = [], []
    for command in candidates:
        if protocol.json_problem(wire_message(command)) is not None:
            messages += _undeliverable(command)
            continue
        # Conditional on the status just read, so two sockets never both claim a command.
        sent = Command.objects.filter(pk=command.pk, status=command.status).update(
            status=Command.Status.SENT, sent_at=now, deliveries=F("deliveries") + 1
        )
        if sent:
            claimed.append(command)
    return Deliveries(still_open, claimed, messages, more=len(candidates) == room)


def hold_and_claim(
    device_pk: int, token_pk: int, channel: str, hello: dict[str, Any]
) -> tuple[presence.Connected, Deliveries]:
    """A hello's database work in one trip to the database thread: the socket holds the
    device, then claims what waits for it, queued or sent before and never answered.
    Raises presence.AccessEnded if the token, device or owner stopped being valid."""
    connected = presence.connect(device_pk, token_pk, channel, hello)
    return connected, claim_deliveries(device_pk, set(), redeliver=True)


@transaction.atomic
def _undeliverable(command: Command) -> list[Message]:
    failed = Command.objects.filter(pk=command.pk, status=command.status).update(
        status=Command.Status.FAILED,
        finished_at=clock.now(),
        error={
            "code": "undeliverable",
            "message": "The command holds text that cannot be sent to the computer.",
        },
    )
    if not failed:
        return []
    return _finished_messages(Command.objects.select_related("device").get(pk=command.pk))


@dataclass(frozen=True)
class Answered:
    command: Command | None
    messages: list[Message]


@transaction.atomic
def record_result(device_pk: int, message: dict[str, Any]) -> Answered:
    """Store a command.result from the device's socket; a repeat is ignored."""
    ok = message["ok"]
    now = clock.now()
    answered = Command.objects.filter(
        device_id=device_pk,
        command_id=message["commandId"],
        status__in=[Command.Status.QUEUED, Command.Status.SENT],
    ).update(
        status=Command.Status.DONE if ok else Command.Status.FAILED,
        finished_at=now,
        result=message.get("result") if ok else None,
        error=None if ok else message.get("error"),
    )
    if not answered:
        return Answered(None, [])
    # The command and its device in one read, the device locked for the event log.
    command = (
        Command.objects.select_related("device")
        .select_for_update(of=("device",))
        .get(device_id=device_pk, command_id=message["commandId"])
    )
    return Answered(command, _finished_messages(command, locked=command.device))


def _finished_messages(command: Command, locked: Device | None = None) -> list[Message]:
    device = locked or Device.objects.select_for_update().get(pk=command.device_id)
    event = record_relay_event_locked(
        device,
        "command.updated",
        {
            "commandId": command.command_id,
            "name": command.name,
            "status": command.status,
            "error": command.error,
        },
        thread_id=str(command.params.get("threadId") or "")[:256],
    )
    return [
        # The finished command itself: whoever waits answers with it, reading nothing.
        (
            command_group(command.command_id),
            {"type": "command.finished", "command": serialize(command)},
        ),
        *live_messages(device, [event]),
    ]


def expire_commands() -> list[Message]:
    """Expire commands that were not delivered and answered in time (DEV-3's bounded
    TTL), each once, whichever process finds it first."""
    now = clock.now()
    messages: list[Message] = []
    overdue = Command.objects.filter(
        status__in=[Command.Status.QUEUED, Command.Status.SENT], expires_at__lte=now
    ).values_list("pk", flat=True)
    for pk in list(overdue[:1000]):
        with transaction.atomic():
            expired = Command.objects.filter(
                pk=pk, status__in=[Command.Status.QUEUED, Command.Status.SENT]
            ).update(
                status=Command.Status.EXPIRED,
                finished_at=now,
                error={"code": "expired", "message": "The command was not answered in time."},
            )
            if expired:
                messages += _finished_messages(Command.objects.get(pk=pk))
    return messages


def find_command(device: Device, command_id: str) -> Command:
    command = (
        Command.objects.select_related("device")
        .filter(device=device, command_id=command_id)
        .first()
    )
    if command is None:
        raise ActionError("command_not_found", _("No such command."), 404)
    return command
