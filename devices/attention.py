"""The approvals Codex is waiting on across all of a person's devices (SPEC CON-6). Read
from the event log, so every relay process and every open tab agrees on them, and they
show while the computer is off."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.models import User
from agent import protocol

from .access import visible_devices
from .models import Event
from .realtime.eventlog import serialize

# How many recent approval requests one look considers: far more than a person leaves
# unanswered, and a bound on the work a single request does.
APPROVAL_SCAN = 200
ATTENTION_LIMIT = 50


def _still_waiting(ask: Event, closers: list[tuple[int, str, int, Any, str]]) -> bool:
    request_id = ask.payload.get("requestId") if isinstance(ask.payload, dict) else None
    for device_pk, kind, stream_seq, closed_request, turn_id in closers:
        if device_pk != ask.device_id or stream_seq <= ask.stream_seq:
            continue
        if kind == protocol.CODEX_STARTED:
            return False
        if kind == protocol.APPROVAL_RESOLVED and closed_request == request_id:
            return False
        if kind == "turn/completed" and ask.turn_id and turn_id == ask.turn_id:
            return False
    return True


def still_waiting(ask: Event) -> bool:
    """Whether one approval request still waits for its answer."""
    closers = (
        Event.objects.filter(device_id=ask.device_id, stream_seq__gt=ask.stream_seq)
        .filter(
            Q(event_type__in=(protocol.APPROVAL_RESOLVED, protocol.CODEX_STARTED))
            | Q(event_type="turn/completed", turn_id=ask.turn_id)
        )
        .values_list("device_id", "event_type", "stream_seq", "payload__requestId", "turn_id")
    )
    return _still_waiting(ask, list(closers))


def pending_approvals(user: User) -> list[dict[str, Any]]:
    """The user's unanswered approval requests, newest first, with their device's name."""
    asks = list(
        Event.objects.filter(
            user=user,
            event_type__in=protocol.APPROVAL_METHODS,
            device__in=visible_devices(user),
        )
        .select_related("device")
        .order_by("-user_seq")[:APPROVAL_SCAN]
    )
    if not asks:
        return []
    closers = list(
        Event.objects.filter(
            device_id__in={ask.device_id for ask in asks},
            user_seq__gt=min(ask.user_seq for ask in asks),
            user=user,
        )
        .filter(
            Q(event_type__in=(protocol.APPROVAL_RESOLVED, protocol.CODEX_STARTED))
            | Q(event_type="turn/completed", turn_id__in={ask.turn_id for ask in asks})
        )
        .values_list("device_id", "event_type", "stream_seq", "payload__requestId", "turn_id")
    )
    waiting = []
    for ask in asks:
        if _still_waiting(ask, closers):
            item = serialize(ask, ask.device.device_id)
            item["deviceName"] = ask.device.name
            item["item"] = _asked_about(ask)
            waiting.append(item)
    return waiting[:ATTENTION_LIMIT]


# The operators' overview looks at this many of the newest approval requests relay-wide.
RELAY_APPROVAL_SCAN = 1000


def waiting_approval_ids() -> list[int]:
    """The unanswered approval requests of every user, newest first, among the newest
    RELAY_APPROVAL_SCAN requests: what the operators' overview counts and lists."""
    asks = list(
        Event.objects.filter(event_type__in=protocol.APPROVAL_METHODS)
        .order_by("-created_at", "-id")
        .only("id", "device_id", "stream_seq", "turn_id", "payload")[:RELAY_APPROVAL_SCAN]
    )
    if not asks:
        return []
    # Positions are counted per device: look after each device's own oldest ask.
    oldest: dict[int, int] = {}
    for ask in asks:
        oldest[ask.device_id] = min(ask.stream_seq, oldest.get(ask.device_id, ask.stream_seq))
    after = Q()
    for device_pk, seq in oldest.items():
        after |= Q(device_id=device_pk, stream_seq__gt=seq)
    closers = list(
        Event.objects.filter(after)
        .filter(
            Q(event_type__in=(protocol.APPROVAL_RESOLVED, protocol.CODEX_STARTED))
            | Q(event_type="turn/completed", turn_id__in={ask.turn_id for ask in asks})
        )
        .values_list("device_id", "event_type", "stream_seq", "payload__requestId", "turn_id")
    )
    return [ask.pk for ask in asks if _still_waiting(ask, closers)]


def _asked_about(ask: Event) -> dict[str, Any] | None:
    """The item an approval is about (the command, or the file changes with their diffs),
    so the list can show what would happen without opening the session."""
    params = ask.payload.get("params") if isinstance(ask.payload, dict) else None
    item_id = params.get("itemId") if isinstance(params, dict) else None
    if not item_id:
        return None
    started = (
        Event.objects.filter(
            device_id=ask.device_id,
            thread_id=ask.thread_id,
            event_type="item/started",
            payload__item__id=item_id,
            stream_seq__lt=ask.stream_seq,
        )
        .order_by("-stream_seq")
        .values_list("payload", flat=True)
        .first()
    )
    return started.get("item") if isinstance(started, dict) else None
