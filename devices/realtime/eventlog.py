"""The only writer and reader of the event log (SPEC DEV-4, DEV-5).

Writes lock the device row, then the owner's counter row (always in that order), hand out
the next positions in both streams, and insert the batch in one statement. So one frame of
a streaming turn costs one transaction, however many browsers watch; the browsers get the
batch through the channel layer after commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from codexpanel import clock

from ..models import Device, Event, UserEventCounter
from .groups import Message, device_events_group, user_events_group

# Larger payloads travel through the channel layer as a reference the stream loads.
LIVE_PAYLOAD_LIMIT = 64 * 1024
REPLAY_PAGE = 500
# PostgreSQL and SQLite (3.35+) alike; the table is UserEventCounter's.
ADVANCE_COUNTER = (
    'INSERT INTO "devices_usereventcounter" (user_id, last_seq) VALUES (%s, %s) '
    'ON CONFLICT (user_id) DO UPDATE SET last_seq = "devices_usereventcounter".last_seq '
    "+ excluded.last_seq RETURNING last_seq"
)


@dataclass(frozen=True)
class Recorded:
    """What storing a frame of agent events did."""

    acked_seq: int
    events: list[Event]
    device: Device
    # Set when the frame skipped ahead: the seq the relay needs next.
    expected_seq: int | None = None


def serialize(event: Event, device_id: str) -> dict[str, Any]:
    return {
        "id": event.pk,
        "userSeq": event.user_seq,
        "streamSeq": event.stream_seq,
        "deviceId": device_id,
        "agentSeq": event.agent_seq,
        "source": event.source,
        "eventType": event.event_type,
        "threadId": event.thread_id,
        "turnId": event.turn_id,
        "at": event.occurred_at.isoformat(),
        "payload": event.payload,
    }


def _occurred(raw: Any, now: datetime) -> datetime:
    try:
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:  # well-formed but impossible, like February 30th
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return now
    return parsed


def _claim_positions(device: Device, count: int) -> tuple[int, int]:
    """Reserve `count` positions in the device's and the owner's streams; the device row
    must already be locked. Returns the first position of each."""
    # One statement for the owner's counter: created at the first event, advanced in place
    # after, and locked by the write until commit. The ORM would take three or five.
    with connection.cursor() as cursor:
        cursor.execute(ADVANCE_COUNTER, [device.owner_id, count])
        (last_user,) = cursor.fetchone()
    first_stream = device.stream_seq + 1
    device.stream_seq += count
    return last_user - count + 1, first_stream


def _locked_device(device_pk: int) -> Device:
    return Device.objects.select_for_update().get(pk=device_pk)


def _push_after_commit(events: list[Event]) -> None:
    """Hand the events to Web Push once they are stored for good; nothing waits on it."""
    from ..push_sender import events_recorded

    positions = [(event.device_id, event.stream_seq, event.event_type) for event in events]
    transaction.on_commit(lambda: events_recorded(positions))


def record_agent_events(device_pk: int, events: list[dict[str, Any]]) -> Recorded:
    """Store one frame of consecutive agent events (see record_agent_frames)."""
    return record_agent_frames(device_pk, [events])[0]


@transaction.atomic
def record_agent_frames(device_pk: int, frames: list[list[dict[str, Any]]]) -> list[Recorded]:
    """Store frames of consecutive agent events in one transaction, each judged as if it
    came alone and in order: events at or below the acknowledged seq are re-sends and are
    skipped; a frame that starts beyond the next expected seq is refused whole, so the
    stored seqs never have a gap. One Recorded per frame, each holding the rows that frame
    added; a device streaming one event a frame thus costs a transaction per batch of
    frames the socket gathered while the last one was written, not one per frame."""
    device = _locked_device(device_pk)
    acked = device.last_acked_seq
    taken: list[list[dict[str, Any]]] = []
    verdicts: list[tuple[int, int | None]] = []
    for events in frames:
        fresh = [event for event in events if event["seq"] > acked]
        if fresh and fresh[0]["seq"] != acked + 1:
            verdicts.append((acked, acked + 1))
            fresh = []
        elif fresh:
            acked = fresh[-1]["seq"]
            verdicts.append((acked, None))
        else:
            verdicts.append((acked, None))
        taken.append(fresh)
    count = sum(len(fresh) for fresh in taken)
    if not count:
        return [Recorded(seq, [], device, expected) for seq, expected in verdicts]
    now = clock.now()
    first_user, first_stream = _claim_positions(device, count)
    rows: list[Event] = []
    per_frame: list[list[Event]] = []
    for fresh in taken:
        frame_rows = [
            Event(
                device_id=device.pk,
                user_id=device.owner_id,
                user_seq=first_user + len(rows) + offset,
                stream_seq=first_stream + len(rows) + offset,
                agent_seq=event["seq"],
                source=Event.Source.AGENT,
                event_type=event["eventType"],
                thread_id=event.get("threadId") or "",
                turn_id=event.get("turnId") or "",
                occurred_at=_occurred(event.get("at"), now),
                created_at=now,
                payload=event["payload"],
            )
            for offset, event in enumerate(fresh)
        ]
        rows.extend(frame_rows)
        per_frame.append(frame_rows)
    Event.objects.bulk_create(rows)
    Device.objects.filter(pk=device.pk).update(
        last_acked_seq=acked, stream_seq=device.stream_seq, last_seen_at=now
    )
    _push_after_commit(rows)
    return [
        Recorded(seq, frame_rows, device, expected)
        for (seq, expected), frame_rows in zip(verdicts, per_frame, strict=True)
    ]


def record_relay_event_locked(
    device: Device, event_type: str, payload: dict[str, Any], *, thread_id: str = ""
) -> Event:
    """Log something the relay itself saw about a locked device (presence, commands)."""
    now = clock.now()
    first_user, first_stream = _claim_positions(device, 1)
    event = Event.objects.create(
        device_id=device.pk,
        user_id=device.owner_id,
        user_seq=first_user,
        stream_seq=first_stream,
        source=Event.Source.RELAY,
        event_type=event_type,
        thread_id=thread_id,
        occurred_at=now,
        created_at=now,
        payload=payload,
    )
    Device.objects.filter(pk=device.pk).update(stream_seq=device.stream_seq)
    _push_after_commit([event])
    return event


def live_messages(device: Device, events: list[Event]) -> list[Message]:
    """The channel-layer messages announcing stored events to the browsers watching."""
    if not events:
        return []
    items = []
    for event in events:
        item = serialize(event, device.device_id)
        # Streams of one device show only its owner's events (unless an operator
        # watches): a device that moved accounts must not show the old owner its new life.
        item["ownerPk"] = event.user_id
        if len(str(event.payload)) > LIVE_PAYLOAD_LIMIT:
            item["payload"] = None
            item["payloadOmitted"] = True
        items.append(item)
    message = {"type": "stream.events", "events": items}
    owners = {event.user_id for event in events}
    return [(user_events_group(owner), message) for owner in owners] + [
        (device_events_group(device.pk), message)
    ]


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamScope:
    """Which events one browser stream shows and how it counts positions: the user's own
    events across their devices (by user_seq), or one device's (by stream_seq)."""

    user_pk: int
    device_pk: int | None = None
    # Operators watching a device see every owner's events on it; owners only their own.
    all_owners: bool = False
    thread_id: str = ""

    @property
    def cursor_field(self) -> str:
        return "userSeq" if self.device_pk is None else "streamSeq"

    def _queryset(self) -> QuerySet[Event]:
        if self.device_pk is None:
            events = Event.objects.filter(user_id=self.user_pk)
        else:
            events = Event.objects.filter(device_id=self.device_pk)
            if not self.all_owners:
                events = events.filter(user_id=self.user_pk)
        if self.thread_id:
            events = events.filter(thread_id=self.thread_id)
        return events.select_related("device")

    def position(self, event: dict[str, Any]) -> int:
        return event[self.cursor_field]

    def matches(self, event: dict[str, Any]) -> bool:
        owner = event.get("ownerPk", self.user_pk)
        if not self.all_owners and owner != self.user_pk:
            return False
        return not self.thread_id or event["threadId"] == self.thread_id

    def after(self, position: int, until: int | None = None) -> list[dict[str, Any]]:
        """Events past `position` (up to `until`), oldest first, at most one page."""
        field = "user_seq" if self.device_pk is None else "stream_seq"
        events = self._queryset().filter(**{f"{field}__gt": position})
        if until is not None:
            events = events.filter(**{f"{field}__lte": until})
        page = events.order_by(field)[:REPLAY_PAGE]
        return [serialize(event, event.device.device_id) for event in page]

    def tail(self) -> int:
        """The stream's current end: where a stream without Last-Event-ID starts."""
        if self.device_pk is None:
            counter = UserEventCounter.objects.filter(user_id=self.user_pk).first()
            return counter.last_seq if counter else 0
        return Device.objects.filter(pk=self.device_pk).values_list("stream_seq", flat=True)[0]


def load_event(event_id: int) -> dict[str, Any] | None:
    event = Event.objects.select_related("device").filter(pk=event_id).first()
    return serialize(event, event.device.device_id) if event else None


def prune_events(now: datetime | None = None) -> int:
    """Delete events older than the retention period; returns how many went."""
    now = now or clock.now()
    cutoff = now - timedelta(days=settings.CODEXPANEL_EVENT_RETENTION_DAYS)
    deleted, _by_model = Event.objects.filter(created_at__lt=cutoff).delete()
    return deleted
