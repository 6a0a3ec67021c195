"""The sessions the event log knows (SPEC CON-3): per device and across all of a person's
devices, searchable by what was asked, each with the state a person scans a list for.

Read from the event log and the command queue only, so the list is the same on every
relay process and while the computer is off.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Max, Q, QuerySet

from accounts.models import User
from agent import protocol

from .access import visible_devices
from .attention import pending_approvals
from .models import Command, Device, Event

THREAD_PAGE = 25
# Longer queries find nothing a shorter one would not; the bound keeps LIKE patterns cheap.
SEARCH_MAX = 200

# A thread's state, as its row shows it.
RUNNING, WAITING, QUEUED, DONE, FAILED, IDLE = (
    "running",
    "waiting",
    "queued",
    "done",
    "failed",
    "idle",
)
# Device-wide events after which no turn of that device still runs.
TURN_ENDERS = ("device.offline", protocol.CODEX_STARTED)
USER_MESSAGE = {"event_type": "item/completed", "payload__item__type": "userMessage"}


def _first_words(events: Iterable[Event]) -> dict[tuple[int, str], str]:
    """Each thread's first user message, as the preview the session list shows."""
    previews: dict[tuple[int, str], str] = {}
    for event in events:
        key = (event.device_id, event.thread_id)
        if key in previews:
            continue
        item = event.payload.get("item") if isinstance(event.payload, dict) else None
        content = item.get("content") if isinstance(item, dict) else None
        texts = [
            part.get("text", "")
            for part in content or []
            if isinstance(part, dict) and part.get("type") == "text"
        ]
        previews[key] = " ".join(texts)[:200]
    return previews


def _states(
    rows: list[dict[str, Any]], user: User, devices: dict[int, Device]
) -> dict[tuple[int, str], str]:
    """running, waiting (for the person), queued, done, failed or idle, per listed thread
    (devices: the listed threads' devices by pk)."""
    if not rows:
        return {}
    keys = {(row["device"], row["thread_id"]) for row in rows}
    device_pks = {device for device, _thread in keys}
    ended = dict(
        Event.objects.filter(device_id__in=device_pks, event_type__in=TURN_ENDERS)
        .values("device")
        .annotate(last=Max("stream_seq"))
        .values_list("device", "last")
    )
    completed = {
        (event["device"], event["stream_seq"]): event["payload__turn__status"]
        for event in Event.objects.filter(
            device_id__in=device_pks,
            event_type="turn/completed",
            stream_seq__in={row["completed"] for row in rows if row["completed"]},
        ).values("device", "stream_seq", "payload__turn__status")
    }
    waiting = {
        (event["deviceId"], event["threadId"])
        for event in pending_approvals(user)
        if event.get("threadId")
    }
    queued = {
        (command["device"], command["params__threadId"])
        for command in Command.objects.filter(
            device_id__in=device_pks, name="startTurn", status=Command.Status.QUEUED
        ).values("device", "params__threadId")
    }
    states: dict[tuple[int, str], str] = {}
    for row in rows:
        key = (row["device"], row["thread_id"])
        started, finished = row["started"] or 0, row["completed"] or 0
        if (devices[row["device"]].device_id, row["thread_id"]) in waiting:
            states[key] = WAITING
        elif started > finished and started > ended.get(row["device"], 0):
            states[key] = RUNNING
        elif key in queued:
            states[key] = QUEUED
        elif finished:
            failed = completed.get((row["device"], finished)) == "failed"
            states[key] = FAILED if failed else DONE
        else:
            states[key] = IDLE
    return states


def _page(
    events: QuerySet[Event], user: User, order: str, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of the threads in `events` (already limited to what the caller may see;
    previews are read from the same events)."""
    threads = (
        events.values("device", "thread_id")
        .annotate(
            last=Max(order),
            at=Max("occurred_at"),
            started=Max("stream_seq", filter=Q(event_type="turn/started")),
            completed=Max("stream_seq", filter=Q(event_type="turn/completed")),
        )
        .order_by("-last")
    )
    if before is not None:
        threads = threads.filter(last__lt=before)
    page = list(threads[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    openings = events.filter(
        device_id__in={row["device"] for row in page},
        thread_id__in={row["thread_id"] for row in page},
        **USER_MESSAGE,
    ).order_by("stream_seq")
    previews = _first_words(openings)
    devices = {
        device.pk: device for device in Device.objects.filter(pk__in={r["device"] for r in page})
    }
    states = _states(page, user, devices)
    listed = [
        {
            "deviceId": devices[row["device"]].device_id,
            "deviceName": devices[row["device"]].name,
            "threadId": row["thread_id"],
            "preview": previews.get((row["device"], row["thread_id"]), ""),
            "lastEventAt": row["at"].isoformat(),
            "position": row["last"],
            "state": states[(row["device"], row["thread_id"])],
        }
        for row in page
    ]
    return listed, (page[-1]["last"] if more else None)


def logged_threads(
    device: Device, user: User, all_owners: bool, before: int | None, limit: int = THREAD_PAGE
) -> tuple[list[dict[str, Any]], int | None]:
    """The threads the event log holds for a device, most recently active first, paged by
    the stream position of their last event; and the `before` of the next page."""
    events = Event.objects.filter(device=device).exclude(thread_id="")
    if not all_owners:
        events = events.filter(user=user)
    return _page(events, user, "stream_seq", before, limit)


def search_threads(
    user: User, query: str, before: int | None, limit: int = THREAD_PAGE
) -> tuple[list[dict[str, Any]], int | None]:
    """The person's sessions on all their computers, most recently active first, paged by
    their position in the person's own stream. With a query, only the sessions one of
    whose messages holds it (case-insensitively)."""
    events = Event.objects.filter(user=user, device__in=visible_devices(user)).exclude(thread_id="")
    if query:
        matching = (
            events.filter(**USER_MESSAGE)
            .filter(payload__item__content__0__text__icontains=query[:SEARCH_MAX])
            .values("thread_id")
        )
        events = events.filter(thread_id__in=matching)
    return _page(events, user, "user_seq", before, limit)
