from __future__ import annotations

from rest_framework import serializers


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
    online = serializers.BooleanField()
    lastHeartbeatAt = serializers.DateTimeField(source="last_heartbeat_at", allow_null=True)
    lastSeenAt = serializers.DateTimeField(source="last_seen_at", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    createdAt = serializers.DateTimeField(source="created_at")
    boundAt = serializers.DateTimeField(source="bound_at")


class DeviceListSerializer(serializers.Serializer):
    devices = DeviceSerializer(many=True)
