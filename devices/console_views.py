"""Read models the console asks the relay for directly (SPEC CON-3, CON-6): the approvals
waiting across all devices, the sessions a device's event log holds, and the person's
sessions on all their computers, searchable."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.serializers import ErrorSerializer
from codexpanel.query import text, whole_number

from .access import Use, authorize_device, operates_any_device
from .attention import pending_approvals
from .threads import SEARCH_MAX, THREAD_PAGE, logged_threads, search_threads
from .views import SignedInView

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404)}


class AttentionSerializer(serializers.Serializer):
    approvals = serializers.ListField(child=serializers.JSONField())


class LoggedThreadSerializer(serializers.Serializer):
    deviceId = serializers.CharField()
    deviceName = serializers.CharField()
    threadId = serializers.CharField()
    preview = serializers.CharField()
    lastEventAt = serializers.DateTimeField()
    position = serializers.IntegerField()
    state = serializers.ChoiceField(
        choices=["running", "waiting", "queued", "done", "failed", "idle"],
        help_text="waiting: Codex waits for the person's answer; idle: no turn yet",
    )


class LoggedThreadListSerializer(serializers.Serializer):
    threads = LoggedThreadSerializer(many=True)
    before = serializers.IntegerField(allow_null=True)


class AttentionView(SignedInView):
    @extend_schema(
        responses={200: AttentionSerializer, **ERRORS},
        summary="Approvals Codex is waiting on, across all my devices (CON-6)",
    )
    def get(self, request: Request) -> Response:
        return Response({"approvals": pending_approvals(request.user)})


class LoggedThreadListView(SignedInView):
    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, description="the `before` of the previous page"),
            OpenApiParameter("limit", int),
        ],
        responses={200: LoggedThreadListSerializer, **ERRORS},
        summary="A device's sessions as its event log knows them, readable offline (CON-3)",
    )
    def get(self, request: Request, device_id: str) -> Response:
        device = authorize_device(request.user, device_id, Use.READ)
        threads, before = logged_threads(
            device,
            request.user,
            operates_any_device(request.user),
            whole_number(request, "before"),
            _limit(request),
        )
        return Response({"threads": threads, "before": before})


def _limit(request: Request) -> int:
    return min(THREAD_PAGE * 4, max(1, whole_number(request, "limit") or THREAD_PAGE))


class SessionSearchView(SignedInView):
    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="words from one of the session's messages"),
            OpenApiParameter("before", int, description="the `before` of the previous page"),
            OpenApiParameter("limit", int),
        ],
        responses={200: LoggedThreadListSerializer, **ERRORS},
        summary="My sessions on all my computers, newest first, optionally searched (CON-3)",
    )
    def get(self, request: Request) -> Response:
        query = text(request, "q", SEARCH_MAX)
        before = whole_number(request, "before")
        threads, before = search_threads(request.user, query, before, _limit(request))
        return Response({"threads": threads, "before": before})
