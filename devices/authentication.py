"""`Authorization: Bearer <device token>` for the agent's HTTP calls (SET-7)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from codexpanel.errors import ActionError

from .actions import DeviceTokenRefused, authenticate_device_token

REFUSAL_STATUS = {"device_disabled": 403, "owner_disabled": 403}


class DeviceTokenAuthentication(BaseAuthentication):
    """request.user becomes the device's owner and request.auth the Device."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise ActionError("invalid_token", _("Send exactly one token after Bearer."), 401)
        try:
            device = authenticate_device_token(header[1].decode("latin-1"))
        except DeviceTokenRefused as refused:
            raise ActionError(
                refused.reason, refused.message, REFUSAL_STATUS.get(refused.reason, 401)
            ) from refused
        return device.owner, device

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="device"'


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = DeviceTokenAuthentication
    name = "deviceToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A device token (cpd_…)"}
