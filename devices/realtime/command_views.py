"""Commands and event history over HTTP (SPEC DEV-3, DEV-5): thin views over
devices.realtime.commands and devices.realtime.eventlog."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.serializers import ErrorSerializer
from codexpanel.access import session_required
from codexpanel.errors import ActionError, error_response
from codexpanel.jsonbody import parse_body, too_large
from codexpanel.query import whole_number

from ..access import Use, authorize_device, operates_any_device
from ..models import Command
from ..views import SignedInView
from . import commands
from .eventlog import REPLAY_PAGE, StreamScope
from .groups import command_group, run_then_publish
from .hub import hub

log = logging.getLogger(__name__)

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409)}


class CommandRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    params = serializers.JSONField(required=False, default=dict)
    # startTurn/steerTurn only: wait for an offline device instead of failing.
    queue = serializers.BooleanField(required=False, default=False)

    def validate_params(self, value: object) -> object:
        if len(str(value)) > 256 * 1024:
            raise serializers.ValidationError(_("Command parameters are limited to 256 KiB."))
        return value


class CommandSerializer(serializers.Serializer):
    commandId = serializers.CharField()
    deviceId = serializers.CharField()
    name = serializers.CharField()
    params = serializers.JSONField()
    status = serializers.ChoiceField(Command.Status.values)
    createdAt = serializers.DateTimeField()
    expiresAt = serializers.DateTimeField()
    sentAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)
    result = serializers.JSONField(allow_null=True)
    error = serializers.JSONField(allow_null=True)


class EventListSerializer(serializers.Serializer):
    events = serializers.ListField(child=serializers.JSONField())
    position = serializers.IntegerField()


class CommandListView(SignedInView):
    @extend_schema(
        request=CommandRequestSerializer,
        parameters=[
            OpenApiParameter(
                "wait",
                float,
                description="seconds to hold the answer until the command has finished "
                "(at most CODEXPANEL_COMMAND_WAIT_MAX_SECONDS): one request instead of two",
            )
        ],
        responses={200: CommandSerializer, 202: CommandSerializer, **ERRORS},
        summary="Send a command to a device (DEV-3); 202 while its result is still to come",
    )
    def post(self, request: Request, device_id: str) -> Response:
        device = authorize_device(request.user, device_id, Use.OPERATE)
        data = CommandRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        command = commands.issue_command(
            request.user,
            device,
            data.validated_data["name"],
            data.validated_data["params"],
            queue=data.validated_data["queue"],
        )
        return Response(commands.serialize(command), status=202)


class EventHistoryView(SignedInView):
    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="position to read after"),
            OpenApiParameter("thread", str),
            OpenApiParameter("limit", int),
        ],
        responses={200: EventListSerializer, **ERRORS},
        summary="A device's event history, readable while it is offline (DEV-5)",
    )
    def get(self, request: Request, device_id: str) -> Response:
        device = authorize_device(request.user, device_id, Use.READ)
        after = whole_number(request, "after") or 0
        requested = whole_number(request, "limit")
        limit = min(REPLAY_PAGE, REPLAY_PAGE if requested is None else requested)
        scope = StreamScope(
            user_pk=request.user.pk,
            device_pk=device.pk,
            all_owners=operates_any_device(request.user),
            thread_id=request.query_params.get("thread", "")[:256],
        )
        events = scope.after(max(0, after))[: max(1, limit)]
        position = events[-1]["streamSeq"] if events else after
        return Response({"events": events, "position": position})


# Waiters leaving the hub after their answer went out: asyncio keeps a task only weakly,
# so each is held here until it has left.
_leaving: set[asyncio.Future[None]] = set()


def _command_for(user: object, device_id: str, command_id: str) -> Command:
    device = authorize_device(user, device_id, Use.READ)
    return commands.find_command(device, command_id)


class _Waiter:
    """Listens for one command's news from before it is issued, so the result comes
    with the news and nothing is read again; a check of the database every second
    covers a dropped message. A member of the process's hub: when the device's socket
    is in this process, its news arrives without a round trip through the layer."""

    def __init__(self, command_id: str) -> None:
        self.command_id = command_id
        self.group = command_group(command_id)
        self.news: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.hub = hub()

    def hand(self, message: dict[str, Any]) -> None:
        self.news.put_nowait(message)

    async def __aenter__(self) -> _Waiter:
        try:
            await self.hub.join(self.group, self)
        except Exception:
            # The layer is away: the command is still stored and delivered (the socket
            # hears it in the process, or the sweep finds it), and the once-a-second
            # read below learns the result.
            log.warning("could not listen for command %s; reading instead", self.command_id)
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Leaving may cost a round trip to the layer: the answer does not wait for it.
        leaving = asyncio.ensure_future(self.hub.leave(self.group, self))
        _leaving.add(leaving)
        leaving.add_done_callback(_left)

    async def outcome(
        self, user: object, device_id: str, seconds: float
    ) -> tuple[dict[str, Any], bool]:
        """The command once finished, or as it stands when time ran out; and whether it
        finished."""
        deadline = time.monotonic() + seconds
        command = None
        while (remaining := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                news = await asyncio.wait_for(self.news.get(), timeout=min(1.0, remaining))
                if news.get("command", {}).get("commandId") == self.command_id:
                    return news["command"], True
            command = await database_sync_to_async(_command_for)(user, device_id, self.command_id)
            if command.finished:
                return commands.serialize(command), True
        if command is None:  # not read since it was issued: say whether it was delivered
            command = await database_sync_to_async(_command_for)(user, device_id, self.command_id)
        return commands.serialize(command), command.finished


def _left(leaving: asyncio.Future[None]) -> None:
    _leaving.discard(leaving)
    if not leaving.cancelled() and leaving.exception() is not None:
        log.warning("a command's waiter could not leave its group", exc_info=leaving.exception())


async def _wait_until_finished(
    user: object, device_id: str, command: Command, seconds: float
) -> tuple[dict[str, Any], bool]:
    """The command once finished, or as it stands when time runs out; and whether it
    finished."""
    async with _Waiter(command.command_id) as waiter:
        # Read again now that we listen: a result that landed between the caller's read
        # and the subscription sent its news to nobody, and would cost a whole poll.
        command = await database_sync_to_async(_command_for)(user, device_id, command.command_id)
        if command.finished:
            return commands.serialize(command), True
        return await waiter.outcome(user, device_id, seconds)


def _wait_seconds(request: HttpRequest) -> float | None:
    """?wait=N as seconds, or None when it is not a number in the allowed range."""
    try:
        wait = float(request.GET.get("wait", "0"))
    except ValueError:
        return None
    return wait if 0 <= wait <= settings.CODEXPANEL_COMMAND_WAIT_MAX_SECONDS else None


def _wait_refused() -> JsonResponse:
    return error_response(
        "invalid_request",
        _("wait is a number of seconds from 0 to %(max)d.")
        % {"max": settings.CODEXPANEL_COMMAND_WAIT_MAX_SECONDS},
        400,
    )


def _issue(user: object, device_id: str, raw: bytes, command_id: str) -> Command:
    device = authorize_device(user, device_id, Use.OPERATE)
    data = CommandRequestSerializer(data=parse_body(raw))
    if not data.is_valid():
        name, problems = next(iter(data.errors.items()))
        raise ActionError("invalid_request", f"{name}: {problems[0]}", details=data.errors)
    return commands.issue_command(
        user,
        device,
        data.validated_data["name"],
        data.validated_data["params"],
        queue=data.validated_data["queue"],
        command_id=command_id,
    )


def _signed_in_issue(
    request: HttpRequest, device_id: str, raw: bytes, command_id: str, refused: Any
) -> tuple[Any, Command | JsonResponse]:
    """Sign the request in and store its command in one trip to the database thread: the
    session, the user and the command are read and written one after another there, not
    each after a hop from the loop. A refusal found on the loop answers only a signed-in
    caller; everyone else is told to sign in first."""
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return user, error_response("not_authenticated", _("Sign in first."), 401)
    if refused is not None:
        return user, refused
    try:
        return user, _issue(user, device_id, raw, command_id)
    except ActionError as error:
        return user, error_response(
            error.code,
            error.message,
            error.status,
            retry_after=error.retry_after,
            details=error.details,
        )


def _refusal_before_signing_in(
    request: HttpRequest,
) -> tuple[bytes, float, JsonResponse | None]:
    """The request's body, its wait in seconds, and what is wrong with the request apart
    from who sent it."""
    if request.content_type != "application/json":
        return (
            b"",
            0.0,
            error_response(
                "unsupported_media_type", _("Send the command as application/json."), 415
            ),
        )
    try:
        # Read before the CSRF check, which may look at the form data.
        raw = request.body
    except RequestDataTooBig:
        return b"", 0.0, error_response(too_large().code, too_large().message, 413)
    # The same CSRF check the API's session authentication makes.
    refused = CsrfViewMiddleware(lambda _request: None).process_view(request, None, (), {})
    if refused is not None:
        return raw, 0.0, refused
    wait = _wait_seconds(request)
    if wait is None:
        return raw, 0.0, _wait_refused()
    return raw, wait, None


async def _issue_and_wait(request: HttpRequest, device_id: str) -> JsonResponse:
    """POST …/commands?wait=N: the command and its result in one request, waiting on the
    event loop rather than holding one of the threads database work runs on."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        # No session to read: nobody to sign in, and nothing to listen for.
        return error_response("not_authenticated", _("Sign in first."), 401)
    raw, wait, refused = _refusal_before_signing_in(request)
    command_id = commands.new_command_id()
    async with _Waiter(command_id) as waiter:
        user, issued = await run_then_publish(
            _signed_in_issue, request, device_id, raw, command_id, refused
        )
        if isinstance(issued, JsonResponse):
            return issued
        command = issued
        answer, finished = commands.serialize(command), command.finished
        if wait and not finished and command.command_id == command_id:
            answer, finished = await waiter.outcome(user, device_id, wait)
    if wait and not finished and command.command_id != command_id:
        # A repeated answer to an approval: the command it repeats is the one to wait for.
        answer, finished = await _wait_until_finished(user, device_id, command, wait)
    return JsonResponse(
        answer, status=200 if finished else 202, json_dumps_params={"ensure_ascii": False}
    )


def waits_for_results(drf_view: Callable[..., Any]) -> Callable[..., Any]:
    """The commands endpoint: `POST ?wait=N` answers on the event loop; everything else
    is the DRF view. The DRF view's class stays attached for the schema and the access
    audit (tests/test_openapi.py)."""

    async def view(request: HttpRequest, device_id: str) -> Any:
        if request.method == "POST" and "wait" in request.GET:
            return await _issue_and_wait(request, device_id)
        return await sync_to_async(drf_view)(request, device_id=device_id)

    view.cls = drf_view.cls  # type: ignore[attr-defined]
    view.initkwargs = drf_view.initkwargs  # type: ignore[attr-defined]
    return csrf_exempt(view)  # the DRF view and _issue_and_wait each check CSRF


@session_required
@require_safe
async def command_detail(request: HttpRequest, device_id: str, command_id: str) -> JsonResponse:
    """GET a command; `?wait=N` holds the answer up to N seconds (at most
    CODEXPANEL_COMMAND_WAIT_MAX_SECONDS) until the command has finished."""
    user = await request.auser()
    if not user.is_authenticated:
        return error_response("not_authenticated", _("Sign in first."), 401)
    wait = _wait_seconds(request)
    if wait is None:
        return _wait_refused()
    try:
        command = await database_sync_to_async(_command_for)(user, device_id, command_id)
    except ActionError as error:
        return error_response(error.code, error.message, error.status)
    answer = commands.serialize(command)
    if wait and not command.finished:
        answer, _finished = await _wait_until_finished(user, device_id, command, wait)
    return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})
