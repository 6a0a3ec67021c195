"""Request and response shapes of the setup API (SPEC §2)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from devices.models import DEVICE_ID_VALIDATOR

from .models import CODE_LENGTH, normalize_code


class ProfileSerializer(serializers.Serializer):
    deviceId = serializers.CharField(max_length=128, validators=[DEVICE_ID_VALIDATOR])
    deviceName = serializers.CharField(max_length=200)
    workspace = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    platform = serializers.CharField(max_length=64, required=False, allow_blank=True)
    agentVersion = serializers.CharField(max_length=32, required=False, allow_blank=True)
    # The token of the existing install on this computer, if there is one.
    deviceToken = serializers.CharField(max_length=128, required=False, allow_blank=True)


class CodeField(serializers.CharField):
    """The 8-character code, typed with or without its dash, in any case."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=32, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = normalize_code(super().to_internal_value(data))
        if len(code) != CODE_LENGTH:
            raise serializers.ValidationError(_("The code has 8 characters."))
        return code


def _secret(max_length: int = 128) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, trim_whitespace=True)


class FlowIdField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=40, **kwargs)


class PollSerializer(serializers.Serializer):
    """Either the installer's variant (flowSecret) or the browser's (code)."""

    flowId = FlowIdField()
    flowSecret = _secret()
    code = CodeField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["flowSecret"].required = False
        self.fields["code"].required = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("flowSecret" in attrs) == ("code" in attrs):
            raise serializers.ValidationError(
                _("Send either flowSecret (installer) or code (browser), not both.")
            )
        return attrs


class FlowCodeSerializer(serializers.Serializer):
    flowId = FlowIdField()
    code = CodeField()


class ApproveSerializer(FlowCodeSerializer):
    confirmRebind = serializers.BooleanField(default=False)


class LoginTokenSerializer(serializers.Serializer):
    flowId = FlowIdField()
    flowSecret = _secret()
    token = _secret(64)
    confirmRebind = serializers.BooleanField(default=False)


class SetupTokenSerializer(serializers.Serializer):
    setupToken = _secret()


class CompleteSerializer(SetupTokenSerializer):
    workspace = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    platform = serializers.CharField(max_length=64, required=False, allow_blank=True)
    agentVersion = serializers.CharField(max_length=32, required=False, allow_blank=True)


# --- responses (for the schema) ----------------------------------------------------------


class StartedSerializer(serializers.Serializer):
    flowId = serializers.CharField()
    flowSecret = serializers.CharField()
    oneTimeCode = serializers.CharField()
    verificationUrl = serializers.CharField()
    expiresIn = serializers.IntegerField()
    interval = serializers.IntegerField()


class PollResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(["pending", "approved", "completed", "expired", "denied"])
    interval = serializers.IntegerField(required=False)
    expiresIn = serializers.IntegerField(required=False)
    deviceToken = serializers.CharField(required=False)
    setupToken = serializers.CharField(required=False)
    userId = serializers.CharField(required=False)
    deviceId = serializers.CharField(required=False)
    rebind = serializers.BooleanField(required=False)
    tokensCollected = serializers.BooleanField(required=False)


class FlowDeviceSerializer(serializers.Serializer):
    deviceId = serializers.CharField()
    name = serializers.CharField()
    platform = serializers.CharField()
    workspace = serializers.CharField()
    agentVersion = serializers.CharField()


class BrowserFlowSerializer(serializers.Serializer):
    status = serializers.CharField()
    code = serializers.CharField()
    expiresIn = serializers.IntegerField()
    device = FlowDeviceSerializer()
    rebindRequired = serializers.BooleanField(required=False)
    approvedBy = serializers.CharField(required=False)


class TerminalTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiresIn = serializers.IntegerField()


class InstallContextSerializer(serializers.Serializer):
    relayUrl = serializers.CharField()
    userId = serializers.CharField()
    deviceId = serializers.CharField()
    deviceName = serializers.CharField()
    workspace = serializers.CharField()
    agentVersion = serializers.CharField()
    deviceWssUrl = serializers.CharField()
    heartbeatIntervalSeconds = serializers.IntegerField()


class CompletedSerializer(serializers.Serializer):
    status = serializers.CharField()
    deviceId = serializers.CharField()
    mode = serializers.CharField()
