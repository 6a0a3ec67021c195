"""The sign-in API (SPEC IAM-4, IAM-5, IAM-7) under /api/iam/auth/.

Every write checks CSRF even for anonymous callers: DRF's session authentication only
checks it for signed-in users, which would leave login and registration open to
cross-site requests."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login, logout
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from codexpanel.net import client_network

from . import actions
from . import ratelimit as policies
from .serializers import (
    AuthStatusSerializer,
    EmailCodeRequestSerializer,
    EmailCodeVerifySerializer,
    ErrorSerializer,
    LoginSerializer,
    MessageSerializer,
    RegisterSerializer,
    SignedInSerializer,
    user_payload,
)

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


class PublicAuthView(APIView):
    """Open to anonymous callers; the session cookie is read by Django's middleware."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]


def _signed_in(request: Request, user: object, status: int = 200) -> Response:
    # login() rotates the session key, so a session fixed before sign-in is useless.
    login(request._request, user, backend="accounts.backends.GroupScopeBackend")
    # login() rotates the CSRF token too: the answer carries the new one, so the page's
    # next write needs no extra round trip to learn it.
    return Response(
        {"user": user_payload(user), "csrfToken": get_token(request._request)}, status=status
    )


@method_decorator(ensure_csrf_cookie, name="dispatch")
class AuthStatusView(PublicAuthView):
    @extend_schema(responses={200: AuthStatusSerializer}, summary="Who is signed in")
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "authenticated": user.is_authenticated,
                "user": user_payload(user) if user.is_authenticated else None,
                "registrationEnabled": settings.CODEXPANEL_REGISTRATION_ENABLED,
                "csrfToken": get_token(request._request),
            }
        )


@method_decorator(csrf_protect, name="dispatch")
class LoginView(PublicAuthView):
    @extend_schema(
        request=LoginSerializer,
        responses={200: SignedInSerializer, **ERRORS},
        summary="Sign in with username and password",
    )
    def post(self, request: Request) -> Response:
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = actions.authenticate_with_limits(
            request._request, data.validated_data["username"], data.validated_data["password"]
        )
        return _signed_in(request, user)


@method_decorator(csrf_protect, name="dispatch")
class LogoutView(PublicAuthView):
    @extend_schema(request=None, responses={200: MessageSerializer}, summary="Sign out")
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response({"message": _("Signed out.")})


def _register_key(group: str, request: Request) -> str:
    return client_network(request)


@method_decorator(csrf_protect, name="dispatch")
class RegisterView(PublicAuthView):
    @extend_schema(
        request=RegisterSerializer,
        responses={201: SignedInSerializer, 409: ErrorSerializer, **ERRORS},
        summary="Create an account (when registration is open) and sign in",
    )
    @method_decorator(
        ratelimit(group="register_by_ip", key=_register_key, rate=policies.register_by_ip_rate)
    )
    def post(self, request: Request) -> Response:
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = actions.register_user(**data.validated_data)
        return _signed_in(request, user, status=201)


@method_decorator(csrf_protect, name="dispatch")
class EmailCodeRequestView(PublicAuthView):
    @extend_schema(
        request=EmailCodeRequestSerializer,
        responses={202: MessageSerializer, **ERRORS},
        summary="Mail a six-digit sign-in code",
    )
    def post(self, request: Request) -> Response:
        data = EmailCodeRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.request_email_code(request._request, data.validated_data["email"])
        return Response(
            {"message": _("If an account uses this address, a sign-in code is on its way.")},
            status=202,
        )


@method_decorator(csrf_protect, name="dispatch")
class EmailCodeVerifyView(PublicAuthView):
    @extend_schema(
        request=EmailCodeVerifySerializer,
        responses={200: SignedInSerializer, **ERRORS},
        summary="Sign in with a mailed code",
    )
    def post(self, request: Request) -> Response:
        data = EmailCodeVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = actions.verify_email_code(
            request._request, data.validated_data["email"], data.validated_data["code"]
        )
        return _signed_in(request, user)
