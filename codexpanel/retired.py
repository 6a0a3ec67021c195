"""Routes of the original product that no longer exist (SPEC DEV-9): 410 Gone, naming
what replaced them, so an old installer or bookmark fails with a clear next step."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from .access import public
from .errors import error_response

INSTALLER = "/agent/install.sh, /agent/install.ps1 (python -m agent install)"
DEVICE_GATEWAY = "/device-wss"

# (path regex, replacement)
RETIRED_ROUTES: list[tuple[str, str]] = [
    (r"^api/auth/", "/api/iam/auth/"),
    (r"^api/device/(register|update|ping|offline)/?$", DEVICE_GATEWAY),
    (r"^api/events/?$", "/events"),
    (r"^api/agent/pull-control/?$", DEVICE_GATEWAY),
    (r"^api/domain-lease/", DEVICE_GATEWAY),
    (r"^api/desktop/setup/terminal-token/?$", "/api/iam/desktop/setup/terminal-token"),
    (r"^api/desktop/setup/login-token/?$", "/api/iam/desktop/setup/login-token"),
    (r"^agent/desktop-agent\.js$", INSTALLER),
    (r"^agent/app-server-connector\.js$", INSTALLER),
]


def retired_view(replacement: str):
    @csrf_exempt
    def view(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
        response = error_response(
            "retired",
            _("This endpoint has been retired. Use %(replacement)s instead.")
            % {"replacement": replacement},
            410,
            details={"replacement": replacement},
        )
        return response

    return public(view)


urlpatterns: list[URLPattern] = [
    re_path(pattern, retired_view(replacement)) for pattern, replacement in RETIRED_ROUTES
]
