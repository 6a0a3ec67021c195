"""Web Push API (SPEC CON-6): the key a browser subscribes with, a browser's subscription
and what it wants to be told, and the answer a notification's button gives."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ratelimit import Policy
from accounts.serializers import ErrorSerializer
from codexpanel.errors import ActionError, rate_limited
from codexpanel.net import client_network
from codexpanel.query import text

from . import push
from .access import Use, authorize_device
from .models import PUSH_KINDS
from .realtime import commands
from .views import SignedInView

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409, 429)}


class PushConfigSerializer(serializers.Serializer):
    publicKey = serializers.CharField(help_text="the applicationServerKey to subscribe with")
    kinds = serializers.ListField(child=serializers.CharField())


class SubscriptionSerializer(serializers.Serializer):
    subscription = serializers.JSONField(help_text="PushSubscription.toJSON() of the browser")
    kinds = serializers.ListField(child=serializers.CharField(), required=False)


class SubscribedSerializer(serializers.Serializer):
    endpoint = serializers.CharField()
    kinds = serializers.ListField(child=serializers.CharField())


class EndpointSerializer(serializers.Serializer):
    endpoint = serializers.CharField(max_length=1000)
    kinds = serializers.ListField(child=serializers.CharField(), required=False)


class PushAnswerSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=64)


class PushConfigView(SignedInView):
    @extend_schema(responses={200: PushConfigSerializer, **ERRORS}, summary="Web Push key")
    def get(self, request: Request) -> Response:
        _private, public = push.vapid_keys()
        return Response({"publicKey": public, "kinds": list(PUSH_KINDS)})


class SubscriptionView(SignedInView):
    @extend_schema(
        parameters=[OpenApiParameter("endpoint", str, required=True)],
        responses={200: SubscribedSerializer, **ERRORS},
        summary="What this browser is told about, if it is subscribed",
    )
    def get(self, request: Request) -> Response:
        endpoint = text(request, "endpoint", 1000)
        kept = push.subscription_of(request.user, endpoint)
        return Response({"endpoint": kept.endpoint, "kinds": kept.kinds})

    @extend_schema(
        request=SubscriptionSerializer,
        responses={201: SubscribedSerializer, **ERRORS},
        summary="Turn notifications on for this browser (or change what it is told)",
    )
    def post(self, request: Request) -> Response:
        data = SubscriptionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = data.validated_data["subscription"]
        if not isinstance(subscription, dict):
            raise ActionError("invalid_subscription", "subscription must be an object")
        kept = push.subscribe(
            request.user,
            subscription,
            data.validated_data.get("kinds", list(PUSH_KINDS)),
            request.headers.get("User-Agent", ""),
            request.session.session_key or "",
        )
        return Response({"endpoint": kept.endpoint, "kinds": kept.kinds}, status=201)

    @extend_schema(
        request=EndpointSerializer,
        responses={200: SubscribedSerializer, **ERRORS},
        summary="Choose what this browser is told about",
    )
    def patch(self, request: Request) -> Response:
        data = EndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kept = push.subscription_of(request.user, data.validated_data["endpoint"])
        kept.kinds = push.clean_kinds(data.validated_data.get("kinds", []))
        kept.save(update_fields=["kinds"])
        return Response({"endpoint": kept.endpoint, "kinds": kept.kinds})

    @extend_schema(
        request=EndpointSerializer,
        responses={204: None, **ERRORS},
        summary="Turn notifications off for this browser",
    )
    def delete(self, request: Request) -> Response:
        data = EndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        push.subscription_of(request.user, data.validated_data["endpoint"]).delete()
        return Response(status=204)


def answer_policy() -> Policy:
    """Answers from notifications per source address: each token is 192 random bits, so
    this only bounds the work a client can make the relay do."""
    return Policy(
        "push_answer_by_ip",
        limit=settings.CODEXPANEL_PUSH_ANSWERS_PER_MINUTE,
        window=timedelta(minutes=1),
        lockout=None,
        max_buckets=settings.CODEXPANEL_LOGIN_MAX_BUCKETS,
    )


class PushAnswerView(APIView):
    """A notification's Approve or Decline, sent by the service worker, which holds no
    cookie or CSRF token: the single-use token is the whole authority, and it answers
    only the request, with the decision, as the person it was made for."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=PushAnswerSerializer,
        responses={202: SubscribedSerializer, **ERRORS},
        summary="Answer an approval from its notification",
    )
    def post(self, request: Request) -> Response:
        locked = answer_policy().hit(client_network(request))
        if locked is not None:
            raise rate_limited(locked)
        data = PushAnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # One transaction: a refused answer leaves the token as it was.
        with transaction.atomic():
            action = push.redeem_action(data.validated_data["token"])
            try:
                # The person may have lost this computer since the notification was made.
                device = authorize_device(action.user, action.device.device_id, Use.OPERATE)
            except ActionError:
                raise push.action_refused() from None
            command = commands.issue_command(
                action.user,
                device,
                "resolveApproval",
                {"requestId": action.request_id, "decision": action.decision},
            )
        return Response(commands.serialize(command), status=202)
