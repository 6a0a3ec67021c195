"""Commands and event history over HTTP (SPEC DEV-3, DEV-5): thin views over
devices.commands and devices.eventlog."""

from __future__ import annotations

import asyncio
import contextlib
import time

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.serializers import ErrorSerializer
from codexpanel.access import session_required
from codexpanel.errors import ActionError, error_response
from codexpanel.query import whole_number

from . import commands
from .access import Use, authorize_device, operates_any_device
from .eventlog import REPLAY_PAGE, StreamScope
from .groups import command_group
from .models import Command
from .views import SignedInView

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
        responses={202: CommandSerializer, **ERRORS},
        summary="Send a command to a device (DEV-3); its result arrives later",
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


def _command_for(user: object, device_id: str, command_id: str) -> Command:
    device = authorize_device(user, device_id, Use.READ)
    return commands.find_command(device, command_id)


async def _wait_until_finished(
    user: object, device_id: str, command: Command, seconds: float
) -> Command:
    """Block until the command finishes or time runs out. The channel layer brings the
    news at once; a check of the database every second covers a dropped message."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = command_group(command.command_id)
    await layer.group_add(group, channel)
    deadline = time.monotonic() + seconds
    try:
        # Read again now that we listen: a result that landed between the caller's read
        # and the subscription sent its news to nobody, and would cost a whole poll.
        command = await database_sync_to_async(_command_for)(user, device_id, command.command_id)
        while not command.finished:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(layer.receive(channel), timeout=min(1.0, remaining))
            command = await database_sync_to_async(_command_for)(
                user, device_id, command.command_id
            )
    finally:
        await layer.group_discard(group, channel)
    return command


@session_required
@require_safe
async def command_detail(request: HttpRequest, device_id: str, command_id: str) -> JsonResponse:
    """GET a command; `?wait=N` holds the answer up to N seconds (at most
    CODEXPANEL_COMMAND_WAIT_MAX_SECONDS) until the command has finished."""
    user = await request.auser()
    if not user.is_authenticated:
        return error_response("not_authenticated", _("Sign in first."), 401)
    try:
        wait = float(request.GET.get("wait", "0"))
    except ValueError:
        wait = -1
    if not 0 <= wait <= settings.CODEXPANEL_COMMAND_WAIT_MAX_SECONDS:
        return error_response(
            "invalid_request",
            _("wait is a number of seconds from 0 to %(max)d.")
            % {"max": settings.CODEXPANEL_COMMAND_WAIT_MAX_SECONDS},
            400,
        )
    try:
        command = await database_sync_to_async(_command_for)(user, device_id, command_id)
    except ActionError as error:
        return error_response(error.code, error.message, error.status)
    if wait and not command.finished:
        command = await _wait_until_finished(user, device_id, command, wait)
    return JsonResponse(commands.serialize(command), json_dumps_params={"ensure_ascii": False})
