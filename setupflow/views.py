"""The setup API (SPEC SET-1 … SET-7): thin views over setupflow's actions."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import ErrorSerializer
from codexpanel import clock
from codexpanel.errors import ActionError
from codexpanel.net import relay_url

from . import actions, installer
from . import serializers as s
from .lookup import flow_for_browser, rebind_required, status_of
from .models import SetupFlow, format_code

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409, 410, 429)}


class InstallerView(APIView):
    """Called by the installer, which holds no session: the flow's own secrets
    (flowSecret, terminal token, setupToken) authenticate each call."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class BrowserView(APIView):
    """Called by the setup page of a signed-in person; CSRF is checked on every write."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]


def _valid(serializer_class: type, request: Request) -> dict[str, Any]:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _seconds_left(flow: SetupFlow) -> int:
    return max(0, math.ceil((flow.expires_at - clock.now()).total_seconds()))


def verification_url(base: str, flow: SetupFlow, code: str) -> str:
    return f"{base}/desktop/setup?{urlencode({'flowId': flow.flow_id, 'code': code})}"


def browser_payload(flow: SetupFlow, code: str, user: Any) -> dict[str, Any]:
    """What the setup page may know: the flow's state and the computer's details, never
    a token."""
    payload: dict[str, Any] = {
        "status": status_of(flow),
        "code": format_code(code),
        "expiresIn": _seconds_left(flow),
        "device": {
            "deviceId": flow.device_id,
            "name": flow.device_name,
            "platform": flow.platform,
            "workspace": flow.workspace,
            "agentVersion": flow.agent_version,
        },
    }
    if user.is_authenticated and flow.state == SetupFlow.State.PENDING:
        payload["rebindRequired"] = rebind_required(flow, user)
    if flow.approved_by is not None and user.is_authenticated:
        payload["approvedBy"] = flow.approved_by.username
    return payload


def _handoff_payload(handoff: installer.Handoff) -> dict[str, Any]:
    flow = handoff.flow
    return {
        "status": "approved",
        "deviceToken": handoff.device_token,
        "setupToken": handoff.setup_token,
        "userId": flow.approved_by.user_id,
        "deviceId": flow.device_id,
        "rebind": flow.rebind_confirmed,
    }


class StartView(InstallerView):
    @extend_schema(
        request=s.ProfileSerializer,
        responses={201: s.StartedSerializer, 503: ErrorSerializer, **ERRORS},
        summary="Start pairing a computer (SET-1)",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.ProfileSerializer, request)
        started = installer.start_flow(
            request._request,
            installer.Profile(
                device_id=data["deviceId"],
                device_name=data["deviceName"],
                workspace=data.get("workspace", ""),
                platform=data.get("platform", ""),
                agent_version=data.get("agentVersion", ""),
                device_token=data.get("deviceToken", ""),
            ),
        )
        flow = started.flow
        return Response(
            {
                "flowId": flow.flow_id,
                "flowSecret": started.flow_secret,
                "oneTimeCode": format_code(started.code),
                "verificationUrl": verification_url(
                    relay_url(request._request), flow, started.code
                ),
                "expiresIn": _seconds_left(flow),
                "interval": flow.interval,
            },
            status=201,
        )


class PollView(APIView):
    """Both variants share the route (SET-2, SET-5). The browser's reveals no token and
    changes nothing but the wrong-code count, which a forged request could bump directly,
    so it needs no CSRF token; a signed-in page sends one anyway."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]

    @extend_schema(
        request=s.PollSerializer,
        responses={200: s.PollResultSerializer, **ERRORS},
        summary="Where a setup flow stands (installer: flowSecret; browser: code)",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.PollSerializer, request)
        if "code" in data:
            flow = flow_for_browser(data["flowId"], data["code"])
            return Response(browser_payload(flow, data["code"], request.user))
        flow, handoff = installer.poll_flow(data["flowId"], data["flowSecret"])
        if handoff is not None:
            return Response(_handoff_payload(handoff))
        status = status_of(flow)
        body: dict[str, Any] = {"status": status}
        if status == "pending":
            body.update(interval=flow.interval, expiresIn=_seconds_left(flow))
        if status == "approved":
            body["tokensCollected"] = True
        return Response(body)


class ApproveView(BrowserView):
    @extend_schema(
        request=s.ApproveSerializer,
        responses={200: s.BrowserFlowSerializer, **ERRORS},
        summary="Approve pairing this computer with my account (SET-3, SET-4)",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.ApproveSerializer, request)
        flow = actions.approve_flow(
            request.user, data["flowId"], data["code"], confirm_rebind=data["confirmRebind"]
        )
        body = browser_payload(flow, data["code"], request.user)
        body["message"] = _(
            "Binding succeeded. You can close this browser or return to the installer."
        )
        return Response(body)


class DenyView(BrowserView):
    @extend_schema(
        request=s.FlowCodeSerializer,
        responses={200: s.BrowserFlowSerializer, **ERRORS},
        summary="Refuse pairing this computer",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.FlowCodeSerializer, request)
        flow = actions.deny_flow(request.user, data["flowId"], data["code"])
        return Response(browser_payload(flow, data["code"], request.user))


class TerminalTokenView(BrowserView):
    @extend_schema(
        request=s.FlowCodeSerializer,
        responses={201: s.TerminalTokenSerializer, **ERRORS},
        summary="Make a one-time token to type into the installer (SET-6)",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.FlowCodeSerializer, request)
        token, ttl = actions.issue_terminal_token(request.user, data["flowId"], data["code"])
        return Response(
            {"token": token, "expiresIn": ttl},
            status=201,
            headers={"Cache-Control": "no-store"},
        )


class LoginTokenView(InstallerView):
    @extend_schema(
        request=s.LoginTokenSerializer,
        responses={200: s.PollResultSerializer, **ERRORS},
        summary="Approve the installer's flow with a terminal token (SET-6)",
    )
    def post(self, request: Request) -> Response:
        if "username" in request.data or "password" in request.data:
            raise ActionError(
                "retired",
                _(
                    "Signing in with a username and password in the terminal has been "
                    "retired. Use browser sign-in or --token-login."
                ),
                410,
                details={"replacement": "--token-login"},
            )
        data = _valid(s.LoginTokenSerializer, request)
        handoff = installer.approve_with_terminal_token(
            data["flowId"],
            data["flowSecret"],
            data["token"],
            confirm_rebind=data["confirmRebind"],
        )
        return Response(_handoff_payload(handoff))


class ContextView(InstallerView):
    @extend_schema(
        request=s.SetupTokenSerializer,
        responses={200: s.InstallContextSerializer, **ERRORS},
        summary="The install context of an approved flow (SET-7)",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.SetupTokenSerializer, request)
        return Response(installer.install_context(data["setupToken"], relay_url(request._request)))


class CompleteView(InstallerView):
    @extend_schema(
        request=s.CompleteSerializer,
        responses={200: s.CompletedSerializer, **ERRORS},
        summary="Finish pairing: activate the device token (SET-7)",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.CompleteSerializer, request)
        setup_token = data.pop("setupToken")
        device = installer.complete_flow(setup_token, data)
        return Response({"status": "completed", "deviceId": device.device_id, "mode": device.mode})
