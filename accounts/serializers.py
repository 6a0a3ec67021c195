from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import User


class UserSerializer(serializers.Serializer):
    userId = serializers.CharField(source="user_id")
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    scopes = serializers.ListField(child=serializers.CharField())
    isAdmin = serializers.BooleanField(source="is_staff")


class AuthStatusSerializer(serializers.Serializer):
    authenticated = serializers.BooleanField()
    user = UserSerializer(allow_null=True)
    registrationEnabled = serializers.BooleanField()
    csrfToken = serializers.CharField()


class SignedInSerializer(serializers.Serializer):
    user = UserSerializer()
    csrfToken = serializers.CharField()


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=True)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class EmailCodeRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()


class EmailCodeVerifySerializer(serializers.Serializer):
    email = serializers.EmailField()
    code = serializers.RegexField(
        r"^\d{6}$", error_messages={"invalid": _("The code is six digits.")}
    )


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.JSONField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def user_payload(user: User) -> dict[str, Any]:
    return UserSerializer(user).data
