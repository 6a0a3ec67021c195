"""What a person is told by Web Push, and sending it (SPEC CON-6) without ever slowing
what records events: recording only hands the new events' positions to a bounded queue
after its transaction commits; one thread per relay process builds the notifications and
sends them, with timeouts and retries, and forgets subscriptions the push service says
are gone. Each event is recorded by exactly one process, so it is pushed once."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any

import requests
from django.conf import settings
from django.db import close_old_connections
from django.db.models import Max
from django.utils.translation import gettext as _
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from agent import protocol
from codexpanel import clock

from .models import Event, PushSubscription
from .push import mint_action, vapid_keys
from .threads import TURN_ENDERS, USER_MESSAGE

log = logging.getLogger(__name__)

PUSHED = protocol.APPROVAL_METHODS | {"turn/completed", "device.offline"}
ANSWERABLE = {"item/commandExecution/requestApproval", "item/fileChange/requestApproval"}
QUEUE_SIZE = 1000
TIMEOUT_SECONDS = 5
RETRY_DELAYS = (1, 2, 4)
TTL_SECONDS = 3600

_queue: queue.Queue[tuple[int, int]] = queue.Queue(maxsize=QUEUE_SIZE)
_started = threading.Lock()
_worker: threading.Thread | None = None


def events_recorded(events: list[tuple[int, int, str]]) -> None:
    """(device pk, stream position, event type) of events just committed. Returns at once."""
    for device_pk, stream_seq, event_type in events:
        if event_type not in PUSHED:
            continue
        try:
            _queue.put_nowait((device_pk, stream_seq))
        except queue.Full:
            log.warning("push queue full; a notification for device %s was dropped", device_pk)
            return
        _ensure_worker()


def _ensure_worker() -> None:
    global _worker
    with _started:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, name="web-push", daemon=True)
            _worker.start()


def _work() -> None:
    while True:
        device_pk, stream_seq = _queue.get()
        try:
            notify(device_pk, stream_seq)
        except Exception:
            log.exception("building or sending a notification failed")
        finally:
            close_old_connections()
            _queue.task_done()


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _session_name(event: Event) -> str:
    if not event.thread_id:
        return ""
    first = (
        Event.objects.filter(
            device_id=event.device_id, user_id=event.user_id, thread_id=event.thread_id
        )
        .filter(**USER_MESSAGE)
        .order_by("stream_seq")
        .values_list("payload", flat=True)
        .first()
    )
    content = ((first or {}).get("item") or {}).get("content") or []
    words = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return _shorten(words, 60) or _("a session")


def _turn_was_running(event: Event) -> bool:
    before = Event.objects.filter(device_id=event.device_id, stream_seq__lt=event.stream_seq)
    started = before.filter(event_type="turn/started").aggregate(last=Max("stream_seq"))["last"]
    done = before.filter(event_type="turn/completed").aggregate(last=Max("stream_seq"))["last"]
    ended = before.filter(event_type__in=TURN_ENDERS).aggregate(last=Max("stream_seq"))["last"]
    return bool(started) and started > (done or 0) and started > (ended or 0)


def _elicitation_asked(params: dict[str, Any]) -> str:
    meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
    server = _shorten(str(params.get("serverName", "")), 40)
    if meta.get("codex_approval_kind") == "mcp_tool_call":
        tool = _shorten(str(meta.get("tool_title") or meta.get("tool_name") or ""), 40)
        return _("wants to use %(tool)s from %(server)s") % {"tool": tool, "server": server}
    if params.get("mode") == "url":
        return _("%(server)s asks you to open a page") % {"server": server}
    return _("%(server)s asks: %(message)s") % {
        "server": server,
        "message": _shorten(str(params.get("message", ""))),
    }


def _asked(event: Event) -> str:
    params = (event.payload or {}).get("params") or {}
    if event.event_type == protocol.QUESTION_METHOD:
        questions = params.get("questions") or [{}]
        return _("asks: %(question)s") % {"question": _shorten(questions[0].get("question", ""))}
    if "fileChange" in event.event_type or event.event_type == "applyPatchApproval":
        return _("wants to change files")
    if event.event_type == protocol.PERMISSIONS_METHOD:
        return _("asks for more permissions")
    if event.event_type == protocol.ELICITATION_METHOD:
        return _elicitation_asked(params)
    if event.event_type == protocol.UNKNOWN_REQUEST:
        return _("asks something (%(method)s)") % {"method": event.payload.get("method", "?")}
    command = params.get("command") or ""
    if isinstance(command, list):
        command = " ".join(command)
    return _("wants to run: %(command)s") % {"command": _shorten(str(command))}


def message_for(event: Event) -> tuple[str, dict[str, Any]] | None:
    """(kind, notification) for an event worth telling the person about, else None."""
    device = event.device
    where = device.name or device.device_id
    session = _session_name(event)
    url = f"/console/#/d/{device.device_id}"
    if event.thread_id:
        url += f"/s/{event.thread_id}"
    base = {"url": url, "deviceId": device.device_id, "threadId": event.thread_id}
    if event.event_type in protocol.APPROVAL_METHODS:
        request_id = (event.payload or {}).get("requestId", "")
        notice = {
            **base,
            "title": _("Codex is waiting for you on %(device)s") % {"device": where},
            "body": f"{session} — {_asked(event)}" if session else _asked(event),
            "tag": f"request-{device.device_id}-{request_id}",
            "requestId": request_id,
        }
        if event.event_type in ANSWERABLE:
            notice["answered"] = {
                "approve": _("Approved"),
                "decline": _("Declined"),
                "failed": _("Your answer was not taken"),
                "unreachable": _("The relay cannot be reached. Open the console to answer."),
            }
            notice["actions"] = [
                {
                    "action": "approve",
                    "title": _("Approve"),
                    "token": mint_action(event.user, device, request_id, "accept"),
                },
                {
                    "action": "decline",
                    "title": _("Decline"),
                    "token": mint_action(event.user, device, request_id, "decline"),
                },
            ]
        return "waiting", notice
    if event.event_type == "turn/completed":
        status = ((event.payload or {}).get("turn") or {}).get("status")
        if status not in ("completed", "failed"):
            return None
        title = (
            _("Codex finished on %(device)s")
            if status == "completed"
            else _("A turn failed on %(device)s")
        ) % {"device": where}
        return "turnEnded", {**base, "title": title, "body": session, "tag": f"turn-{url}"}
    if event.event_type == "device.offline" and _turn_was_running(event):
        return "offline", {
            **base,
            "title": _("%(device)s went offline during a turn") % {"device": where},
            "body": _("The turn ended. Send a message to start again when it is back."),
            "tag": f"offline-{device.device_id}",
        }
    return None


def notify(device_pk: int, stream_seq: int) -> None:
    event = (
        Event.objects.select_related("device", "user")
        .filter(device_id=device_pk, stream_seq=stream_seq)
        .first()
    )
    if event is None or not event.user.is_active:
        return
    subscriptions = list(PushSubscription.objects.filter(user=event.user))
    if not subscriptions:
        return
    built = message_for(event)
    if built is None:
        return
    kind, notice = built
    notice["kind"] = kind
    private_pem, _public = vapid_keys()
    key = Vapid02.from_pem(private_pem.encode())
    for subscription in subscriptions:
        if kind in subscription.kinds:
            deliver(subscription, notice, key)


def deliver(subscription: PushSubscription, notice: dict[str, Any], key: Vapid02) -> bool:
    """Send one notification, signed with key; True once the push service took it."""
    info = {
        "endpoint": subscription.endpoint,
        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
    }
    for attempt, delay in enumerate((0, *RETRY_DELAYS)):
        time.sleep(delay)
        try:
            webpush(
                info,
                data=json.dumps(notice),
                vapid_private_key=key,
                vapid_claims={"sub": settings.CODEXPANEL_VAPID_SUBJECT},
                timeout=TIMEOUT_SECONDS,
                ttl=TTL_SECONDS,
            )
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            if status in (404, 410):
                log.info("push subscription %s is gone; forgetting it", subscription.pk)
                subscription.delete()
                return False
            if status is not None and status < 500 and status != 429:
                log.warning("push service refused a notification: %s", status)
                return False
            log.warning("push attempt %s failed (%s); retrying", attempt + 1, status or error)
        except requests.Timeout:
            # A service that does not answer in time is not asked again: one slow
            # endpoint must not hold up everyone's notifications behind it.
            log.warning("push service did not answer in %s s; giving up", TIMEOUT_SECONDS)
            return False
        except Exception as error:  # a refused or broken connection: retried
            log.warning("push attempt %s failed (%s); retrying", attempt + 1, error)
        else:
            PushSubscription.objects.filter(pk=subscription.pk).update(last_sent_at=clock.now())
            return True
    log.warning("giving up on a notification for subscription %s", subscription.pk)
    return False
