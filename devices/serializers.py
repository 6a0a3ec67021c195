from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Device
from .realtime.presence import reconnecting_until


class CodexSerializer(serializers.Serializer):
    """What the device's agent last said of its Codex (agent/protocol.py CODEX_REPORT)."""

    state = serializers.CharField(allow_null=True, default=None)
    error = serializers.CharField(allow_null=True, default=None)
    version = serializers.CharField(allow_null=True, default=None)
    versionNote = serializers.CharField(
        allow_null=True, default=None, help_text="Set when the version is outside the tested."
    )
    notices = serializers.ListField(
        child=serializers.CharField(), default=list, help_text="Deprecations Codex announced."
    )

    def to_representation(self, instance: dict) -> dict:
        return {
            "state": instance.get("state"),
            "error": instance.get("error"),
            "version": instance.get("version"),
            "versionNote": instance.get("versionNote"),
            "notices": list(instance.get("notices") or []),
        }


class DeviceSerializer(serializers.Serializer):
    deviceId = serializers.CharField(source="device_id")
    name = serializers.CharField()
    ownerUserId = serializers.CharField(source="owner.user_id")
    enabled = serializers.BooleanField()
    mode = serializers.CharField()
    platform = serializers.CharField()
    agentVersion = serializers.CharField(source="agent_version")
    workspace = serializers.CharField()
    capabilities = serializers.JSONField()
    controlState = serializers.JSONField(source="control_state")
    codex = CodexSerializer()
    online = serializers.BooleanField()
    lastHeartbeatAt = serializers.DateTimeField(source="last_heartbeat_at", allow_null=True)
    lastSeenAt = serializers.DateTimeField(source="last_seen_at", allow_null=True)
    reconnectingUntil = serializers.SerializerMethodField(
        help_text="While an offline device's agent is expected to reconnect, until when."
    )
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    boundAt = serializers.DateTimeField(source="bound_at")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_reconnectingUntil(self, device: Device) -> str | None:
        until = reconnecting_until(device)
        return serializers.DateTimeField().to_representation(until) if until else None


def _printable(value: str) -> str:
    # DRF's CharField already refuses NUL and lone surrogates; line breaks, tabs and other
    # control characters have no place in a name shown on one line of every screen.
    if not value.isprintable():
        raise serializers.ValidationError(_("A name holds printable characters only."))
    return value


class RenameDeviceSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, validators=[_printable])


class DeviceListSerializer(serializers.Serializer):
    devices = DeviceSerializer(many=True)
