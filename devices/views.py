"""Device API (SPEC DEV-1, DEV-6, SET-7) and the agent release files (DEV-7)."""

from __future__ import annotations

import mimetypes

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import ErrorSerializer, MessageSerializer
from codexpanel.access import public
from codexpanel.errors import error_response

from . import actions
from .access import Use, authorize_device, visible_devices
from .authentication import DeviceTokenAuthentication
from .releases import current_release
from .serializers import DeviceListSerializer, DeviceSerializer, RenameDeviceSerializer

ERRORS = {code: ErrorSerializer for code in (401, 403, 404)}


class SignedInView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]


class DeviceListView(SignedInView):
    @extend_schema(
        responses={200: DeviceListSerializer, **ERRORS},
        summary="My devices",
        operation_id="devices_list",
    )
    def get(self, request: Request) -> Response:
        devices = visible_devices(request.user).order_by("name", "device_id")
        return Response({"devices": DeviceSerializer(devices, many=True).data})


class DeviceDetailView(SignedInView):
    @extend_schema(responses={200: DeviceSerializer, **ERRORS}, summary="One device")
    def get(self, request: Request, device_id: str) -> Response:
        device = authorize_device(request.user, device_id, Use.READ)
        return Response(DeviceSerializer(device).data)

    @extend_schema(
        request=RenameDeviceSerializer,
        responses={200: DeviceSerializer, **ERRORS},
        summary="Rename a device",
    )
    def patch(self, request: Request, device_id: str) -> Response:
        device = authorize_device(request.user, device_id, Use.OPERATE)
        data = RenameDeviceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        renamed = actions.rename_device(device, data.validated_data["name"], request.user)
        return Response(DeviceSerializer(renamed).data)

    @extend_schema(
        responses={200: MessageSerializer, **ERRORS},
        summary="Remove a device (frees its place in the quota)",
    )
    def delete(self, request: Request, device_id: str) -> Response:
        device = authorize_device(request.user, device_id, Use.OPERATE)
        actions.remove_device(device)
        return Response({"message": _("Device removed.")})


class RevokeTokenView(SignedInView):
    @extend_schema(
        request=None,
        responses={200: MessageSerializer, **ERRORS},
        summary="Revoke the device's token; its agent must pair again",
    )
    def post(self, request: Request, device_id: str) -> Response:
        device = authorize_device(request.user, device_id, Use.OPERATE)
        actions.revoke_device_token(device, request.user)
        return Response({"message": _("The device's token was revoked.")})


class AgentDeviceView(APIView):
    """The installer asks, with the new device token, whether the relay sees it (SET-7)."""

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: DeviceSerializer, **ERRORS}, summary="This agent's device")
    def get(self, request: Request) -> Response:
        return Response(DeviceSerializer(request.auth).data)


@public
@require_safe
def agent_manifest(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(current_release().manifest())
    response["Cache-Control"] = "no-cache"
    return response


@public
@require_safe
def agent_file(request: HttpRequest, path: str) -> HttpResponse:
    release_file = current_release().files.get(path)
    if release_file is None:
        return error_response("not_found", _("No such agent file."), 404)
    content_type, _encoding = mimetypes.guess_type(path)
    if content_type is None or content_type.startswith("text/") or path.endswith(".py"):
        content_type = f"{content_type or 'text/plain'}; charset=utf-8"
    response = HttpResponse(release_file.content, content_type=content_type)
    response["ETag"] = f'"{release_file.sha256}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-cache"
    return response
