"""The API's JSON bodies, read strictly (SPEC §7): bounded in size and depth, an object,
and free of text no database stores alike (NUL, lone surrogates) — refused with the API's
error shape before any view sees them, identically on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from rest_framework.parsers import JSONParser

from agent import protocol
from agent.jsontext import finite_float, not_a_constant
from codexpanel.errors import ActionError


def too_large() -> ActionError:
    limit = settings.CODEXPANEL_MAX_JSON_BODY
    return ActionError(
        "body_too_large",
        _("The request body is larger than %(size)s KiB.") % {"size": limit // 1024},
        413,
    )


def parse_body(raw: bytes) -> dict[str, Any]:
    if len(raw) > settings.CODEXPANEL_MAX_JSON_BODY:
        raise too_large()
    try:
        data = json.loads(raw, parse_constant=not_a_constant, parse_float=finite_float)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ActionError(
            "malformed_request", _("The body is not valid JSON: %(error)s") % {"error": error}
        ) from None
    if not isinstance(data, dict):
        raise ActionError("invalid_body", _("The body must be a JSON object."))
    problem = protocol.json_problem(data)
    if problem is not None:
        code, where = problem
        if code == "too_deep":
            raise _too_deep()
        raise ActionError(
            "invalid_text",
            _("%(field)s holds a NUL character or half of a character pair.") % {"field": where},
            details={"field": where},
        )
    return data


def _too_deep() -> ActionError:
    return ActionError(
        "too_deep",
        _("The body nests deeper than %(depth)s levels.") % {"depth": protocol.MAX_JSON_DEPTH},
    )


class StrictJSONParser(JSONParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> dict[str, Any]:
        limit = settings.CODEXPANEL_MAX_JSON_BODY
        try:
            # One byte past the limit tells a body that is too large without reading it all.
            raw = stream.read(limit + 1) if stream is not None else b""
        except RequestDataTooBig:
            raise too_large() from None
        return parse_body(raw)
