"""Reading query-string parameters the same way on every API view."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.request import Request

from .errors import ActionError


def whole_number(request: Request, name: str) -> int | None:
    """The parameter as an int, None when absent; anything else is a clear 400."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as error:
        message = _("%(name)s must be a whole number.") % {"name": name}
        raise ActionError("invalid_request", message, 400) from error


def text(request: Request, name: str, max_length: int) -> str:
    """The parameter as printable text of at most max_length characters, "" when absent.
    NUL and other control characters are refused here rather than by the database."""
    raw = request.query_params.get(name, "")
    if len(raw) > max_length:
        message = _("%(name)s is longer than %(max)s characters.") % {
            "name": name,
            "max": max_length,
        }
        raise ActionError("invalid_request", message, 400)
    if not raw.isprintable():
        message = _("%(name)s holds characters that are not printable.") % {"name": name}
        raise ActionError("invalid_request", message, 400)
    return raw.strip()
