"""The one error shape of the API (SPEC IAM-8): {"error": {"code", "message"}}.

Actions raise ActionError; DRF views turn it (and DRF's own exceptions) into that shape
through api_exception_handler; plain Django views call error_response directly.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.response import Response

log = logging.getLogger(__name__)

UNAVAILABLE_RETRY_SECONDS = 5


class ActionError(Exception):
    """A refused state change: a stable code, a human message, an HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        retry_after: float | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = str(message)
        self.status = status
        self.retry_after = retry_after
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": str(message)}
    if details is not None:
        error["details"] = details
    return {"error": error}


def _retry_headers(retry_after: float | None) -> dict[str, str]:
    if retry_after is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(retry_after)))}


def error_response(
    code: str,
    message: str,
    status: int,
    *,
    retry_after: float | None = None,
    details: Any = None,
) -> JsonResponse:
    response = JsonResponse(
        error_body(code, message, details), status=status, json_dumps_params={"ensure_ascii": False}
    )
    for name, value in _retry_headers(retry_after).items():
        response[name] = value
    return response


def rate_limited(retry_after: float | None = None) -> ActionError:
    return ActionError(
        "rate_limited",
        _("Too many attempts. Try again later."),
        429,
        retry_after=retry_after,
    )


def _first_message(detail: Any) -> str:
    """The first human message inside a DRF ValidationError's nested detail."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _first_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _drf_code(exc: drf.APIException) -> tuple[str, int]:
    if isinstance(exc, drf.ValidationError):
        return "invalid_request", 400
    if isinstance(exc, drf.ParseError):
        return "malformed_request", 400
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return "not_authenticated", 401
    if isinstance(exc, drf.PermissionDenied):
        if str(exc.detail).startswith("CSRF Failed"):
            return "csrf_failed", 403
        return "permission_denied", 403
    if isinstance(exc, drf.NotFound):
        return "not_found", 404
    if isinstance(exc, drf.MethodNotAllowed):
        return "method_not_allowed", 405
    if isinstance(exc, drf.NotAcceptable):
        return "not_acceptable", 406
    if isinstance(exc, drf.UnsupportedMediaType):
        return "unsupported_media_type", 415
    if isinstance(exc, drf.Throttled):
        return "rate_limited", 429
    return "server_error", exc.status_code


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ActionError):
        return Response(
            error_body(exc.code, exc.message, exc.details),
            status=exc.status,
            headers=_retry_headers(exc.retry_after),
        )
    if isinstance(exc, RequestDataTooBig):
        from .jsonbody import too_large

        return api_exception_handler(too_large(), context)
    if isinstance(exc, Ratelimited):
        return Response(
            error_body("rate_limited", _("Too many attempts. Try again later.")), status=429
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is restarting or out of reach: nothing was changed, and the same
        # request will work again shortly.
        log.warning("database unavailable: %s", exc)
        return Response(
            error_body("unavailable", _("The relay cannot reach its database. Try again shortly.")),
            status=503,
            headers=_retry_headers(UNAVAILABLE_RETRY_SECONDS),
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if not isinstance(exc, drf.APIException):
        return None  # a real bug: let Django log it and answer 500
    code, status = _drf_code(exc)
    if isinstance(exc, drf.ValidationError):
        body = error_body(code, _first_message(exc.detail), exc.detail)
    else:
        body = error_body(code, str(exc.detail))
    wait = getattr(exc, "wait", None)
    return Response(body, status=status, headers=_retry_headers(wait))


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if _wants_json(request):
        return error_response(
            "csrf_failed",
            _("CSRF verification failed. Reload the page and try again."),
            403,
        )
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason=reason)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        return error_response("not_found", _("Not found."), 404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _wants_json(request):
        if isinstance(exception, RequestDataTooBig):
            return error_response(
                "body_too_large", _("The request body is larger than the relay reads."), 413
            )
        return error_response("bad_request", _("The request could not be read."), 400)
    return defaults.bad_request(request, exception)


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any /api/ path no view answers, DEBUG on or off (DEBUG skips handler404)."""
    return error_response("not_found", _("No API endpoint has that path."), 404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return error_response("server_error", _("Something went wrong on the server."), 500)
    return defaults.server_error(request)
