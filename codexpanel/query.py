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
