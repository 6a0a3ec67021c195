"""GET /events: the browsers' live event stream, as Server-Sent Events (SPEC DEV-5).

A stream counts positions contiguously (see devices.realtime.eventlog.StreamScope). It joins its
channel-layer groups before reading the log, so nothing published meanwhile is missed: the
channel layer holds it until the replay is sent, and anything at or below the last position
sent is skipped. A live event more than one past that position means the channel layer
dropped something (it does, silently, when a channel is full): the stream reads the gap
from the log before going on. Either way, no event is lost or sent twice.

The channel layer can also lose a stream's groups outright (a restarted Redis comes back
empty), and then nothing live arrives at all. So at every keep-alive the stream joins its
groups again and sends whatever the log holds past its position.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.http import AsyncHttpConsumer
from django.conf import settings
from django.utils.translation import gettext as _

from codexpanel.errors import ActionError, error_body
from codexpanel.retired import DEVICE_GATEWAY

from ..access import Use, authorize_device, operates_any_device
from .eventlog import StreamScope, load_event
from .groups import device_events_group, user_events_group, user_group
from .hub import hub
from .listening import Listener
from .sweeper import ensure_sweeper

log = logging.getLogger(__name__)

RETRY_MS = 2000


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Browsers send Origin on cross-origin requests: it must be this relay's own origin
    or a trusted one. Same-origin EventSource requests carry none."""
    if _header(scope, b"sec-fetch-site") == "cross-site":
        return False
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    host = _header(scope, b"host") or ""
    parsed = urlsplit(origin)
    return parsed.netloc == host or origin in settings.CSRF_TRUSTED_ORIGINS


def _scope_for(user: Any, device_id: str, thread_id: str) -> StreamScope:
    if not device_id:
        return StreamScope(user_pk=user.pk, thread_id=thread_id)
    device = authorize_device(user, device_id, Use.READ)
    return StreamScope(
        user_pk=user.pk,
        device_pk=device.pk,
        all_owners=operates_any_device(user),
        thread_id=thread_id,
    )


# Positions are bigint row numbers: no valid Last-Event-ID is longer or larger.
MAX_POSITION = 2**63 - 1
MAX_DEVICE_ID = 128
MAX_THREAD_ID = 256


@dataclass(frozen=True)
class StreamRequest:
    device_id: str
    thread_id: str
    resume: int | None


def _one(query: dict[str, list[str]], name: str, limit: int) -> str:
    values = query.get(name, [""])
    value = values[0]
    if len(values) > 1 or len(value) > limit or not value.isprintable():
        raise ActionError(
            "invalid_request",
            _("%(name)s must be given once, in at most %(limit)d printable characters.")
            % {"name": name, "limit": limit},
            400,
            details={"field": name},
        )
    return value


def parse_stream_request(scope: dict[str, Any], query: dict[str, list[str]]) -> StreamRequest:
    """Everything the stream reads from the request, checked before the response starts:
    past that point an error can no longer be answered."""
    # An empty header is no position, as browsers and the spec treat it.
    resume = _header(scope, b"last-event-id") or _one(query, "lastEventId", 19) or None
    if resume is not None and not (
        resume.isascii() and resume.isdigit() and len(resume) <= 19 and int(resume) <= MAX_POSITION
    ):
        raise ActionError(
            "invalid_request",
            _("Last-Event-ID must be a stream position: a whole number from 0 to 2^63-1."),
            400,
            details={"field": "Last-Event-ID"},
        )
    return StreamRequest(
        device_id=_one(query, "device", MAX_DEVICE_ID),
        thread_id=_one(query, "thread", MAX_THREAD_ID),
        resume=int(resume) if resume is not None else None,
    )


# Where an event's text is kept once written: the hub hands one message to every stream of
# the process following it, and each writes the same text (only its position differs).
ENCODED = "\x00sse"


async def _encoded(event: dict[str, Any]) -> str:
    data = event.get(ENCODED)
    if data is None:
        whole = event
        if event.get("payloadOmitted"):
            whole = await database_sync_to_async(load_event)(event["id"]) or event
        data = json.dumps(
            {key: value for key, value in whole.items() if key not in ("ownerPk", ENCODED)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        event[ENCODED] = data
    return data


class EventStreamConsumer(Listener, AsyncHttpConsumer):
    finished = False
    headers_sent = False
    keepalive: asyncio.Task[None] | None = None
    groups_joined: list[str] = []

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Any failure once the stream is open ends this stream alone, logged once: the
        browser reconnects with Last-Event-ID and resumes where it stopped."""
        try:
            await super().dispatch(message)
        except (StopConsumer, asyncio.CancelledError):
            raise
        except Exception:
            if not self.headers_sent:
                raise  # answered as a JSON 500 by codexpanel.asgi_guard
            log.exception("event stream failed; ending it")
            await self._end()

    async def http_request(self, message: dict[str, Any]) -> None:
        # Unlike the base class, the consumer lives on after handle(): the stream stays
        # open and channel-layer messages keep arriving until either side ends it.
        if message.get("more_body"):
            return
        self.finished = False
        await self.handle(b"")
        if self.finished:
            await self.disconnect()
            raise StopConsumer()

    async def _refuse(self, code: str, message: str, status: int, **details: Any) -> None:
        body = json.dumps(error_body(code, message, details or None), ensure_ascii=False)
        await self.send_response(
            status, body.encode(), headers=[(b"Content-Type", b"application/json")]
        )
        self.finished = True

    async def handle(self, body: bytes) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if query.get("role") == ["agent"]:
            await self._refuse(
                "retired",
                _("This endpoint has been retired. Use %(replacement)s instead.")
                % {"replacement": DEVICE_GATEWAY},
                410,
                replacement=DEVICE_GATEWAY,
            )
            return
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self._refuse("not_authenticated", _("Sign in first."), 401)
            return
        if not origin_allowed(self.scope):
            await self._refuse("bad_origin", _("This origin may not read the stream."), 403)
            return
        try:
            wanted = parse_stream_request(self.scope, query)
            self.stream = await database_sync_to_async(_scope_for)(
                user, wanted.device_id, wanted.thread_id
            )
        except ActionError as error:
            await self._refuse(error.code, error.message, error.status, **(error.details or {}))
            return

        groups = [user_group(user.pk)]
        if self.stream.device_pk is None:
            groups.append(user_events_group(user.pk))
        else:
            groups.append(device_events_group(self.stream.device_pk))
        await self.follow(groups)

        self.sent_bytes = 0
        # The keep-alive's resync and channel-layer messages both send from the log; one at
        # a time, so neither sends what the other just did.
        self.sending = asyncio.Lock()
        await self.send_headers(
            headers=[
                (b"Content-Type", b"text/event-stream; charset=utf-8"),
                (b"Cache-Control", b"no-cache, no-store"),
                (b"X-Accel-Buffering", b"no"),
            ]
        )
        self.headers_sent = True
        await self._write(f"retry: {RETRY_MS}\n\n")
        if wanted.resume is None:
            self.position = await database_sync_to_async(self.stream.tail)()
        else:
            self.position = wanted.resume
            await self._catch_up(until=None)
        self.keepalive = asyncio.create_task(self._keep_alive())
        ensure_sweeper()

    # --- writing --------------------------------------------------------------------------

    async def _write(self, text: str) -> None:
        if self.finished:
            return
        data = text.encode()
        self.sent_bytes += len(data)
        await self.send_body(data, more_body=True)

    async def _send_events(self, events: list[dict[str, Any]]) -> None:
        """Write consecutive events in one body message: with fifty tabs following a
        streaming turn, each write is a trip through the server, not each event."""
        texts: list[str] = []
        size = self.sent_bytes
        for event in events:
            position = self.stream.position(event)
            if self.stream.matches(event):
                text = f"id: {position}\ndata: {await _encoded(event)}\n\n"
                texts.append(text)
                size += len(text.encode())
            self.position = position
            if size >= settings.CODEXPANEL_STREAM_MAX_BYTES:
                break
        if texts:
            await self._write("".join(texts))
        if self.sent_bytes >= settings.CODEXPANEL_STREAM_MAX_BYTES:
            # The browser reconnects with Last-Event-ID and resumes exactly here.
            await self._end()

    async def _catch_up(self, until: int | None) -> None:
        """Send what the log holds past our position (up to `until`), page by page."""
        while not self.finished:
            page = await database_sync_to_async(self.stream.after)(self.position, until)
            await self._send_events(page)
            if len(page) == 0 or (until is not None and self.position >= until):
                return

    async def _keep_alive(self) -> None:
        while not self.finished:
            await asyncio.sleep(settings.CODEXPANEL_STREAM_KEEPALIVE_SECONDS)
            await self._write(": keep-alive\n\n")
            try:
                await self._resync()
            except StopConsumer:
                return  # the stream ended; the server reports the finished response
            except Exception:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Cancelled mid-call, and the library reported it as an error of its own.
                    raise
                log.warning("event stream resync failed; retrying next keep-alive", exc_info=True)

    async def recovered(self) -> None:
        # Whatever was published while the layer was away is in the log.
        if self.headers_sent and not self.finished:
            async with self.sending:
                await self._catch_up(until=None)

    async def _resync(self) -> None:
        await hub().resubscribe(self.groups_joined)
        async with self.sending:
            await self._catch_up(until=None)

    async def _end(self) -> None:
        if self.finished:
            return
        self.finished = True
        await self.send_body(b"", more_body=False)
        await self.disconnect()
        raise StopConsumer()

    # --- channel-layer messages -----------------------------------------------------------

    async def stream_events(self, message: dict[str, Any]) -> None:
        # Behind, the stream writes what waits in one go: fewer, larger writes, which is
        # where a busy process spends its time.
        events = [
            event
            for more in [message, *self.take_queued(message["type"])]
            for event in more["events"]
        ]
        async with self.sending:
            run: list[dict[str, Any]] = []  # consecutive events past our position
            for event in events:
                position = self.stream.position(event)
                last = self.stream.position(run[-1]) if run else self.position
                if position <= last:
                    continue  # already sent by the replay or a resync
                if position > last + 1:
                    await self._send_events(run)
                    run = []
                    await self._catch_up(until=position - 1)
                # Past the gap (or over events pruned from the log meanwhile) either way.
                if position > self.position:
                    run.append(event)
            await self._send_events(run)

    async def user_sessions_ended(self, message: dict[str, Any]) -> None:
        await self._end()

    async def disconnect(self) -> None:
        self.finished = True
        if self.keepalive is not None and self.keepalive is not asyncio.current_task():
            self.keepalive.cancel()
        await self.unfollow_all()
