"""What the console shows without asking the computer (SPEC CON-3, CON-6): the approvals
Codex is waiting on across all of a person's devices, and the sessions a device's event
log knows. Both are read from the event log, so every relay process and every open tab
agrees on them, and both work while the computer is off."""

from __future__ import annotations

from typing import Any

from django.db.models import Max, Q

from accounts.models import User
from agent import protocol

from .access import visible_devices
from .eventlog import serialize
from .models import Device, Event

# How many recent approval requests one look considers: far more than a person leaves
# unanswered, and a bound on the work a single request does.
APPROVAL_SCAN = 200
ATTENTION_LIMIT = 50
THREAD_PAGE = 25


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


def _first_words(events: list[Event]) -> dict[str, str]:
    """Each thread's first user message, as the preview the session list shows."""
    previews: dict[str, str] = {}
    for event in events:
        if event.thread_id in previews:
            continue
        item = event.payload.get("item") if isinstance(event.payload, dict) else None
        content = item.get("content") if isinstance(item, dict) else None
        texts = [
            part.get("text", "")
            for part in content or []
            if isinstance(part, dict) and part.get("type") == "text"
        ]
        previews[event.thread_id] = " ".join(texts)[:200]
    return previews


def logged_threads(
    device: Device, user: User, all_owners: bool, before: int | None, limit: int = THREAD_PAGE
) -> tuple[list[dict[str, Any]], int | None]:
    """The threads the event log holds for a device, most recently active first, paged by
    the stream position of their last event; and the `before` of the next page."""
    events = Event.objects.filter(device=device).exclude(thread_id="")
    if not all_owners:
        events = events.filter(user=user)
    threads = (
        events.values("thread_id")
        .annotate(last=Max("stream_seq"), at=Max("occurred_at"))
        .order_by("-last")
    )
    if before is not None:
        threads = threads.filter(last__lt=before)
    page = list(threads[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    openings = events.filter(
        thread_id__in=[row["thread_id"] for row in page],
        event_type="item/completed",
        payload__item__type="userMessage",
    ).order_by("stream_seq")
    previews = _first_words(list(openings))
    listed = [
        {
            "threadId": row["thread_id"],
            "preview": previews.get(row["thread_id"], ""),
            "lastEventAt": row["at"].isoformat(),
            "position": row["last"],
        }
        for row in page
    ]
    return listed, (page[-1]["last"] if more else None)
