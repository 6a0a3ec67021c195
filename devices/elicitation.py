"""Checking an answer to an MCP elicitation against what it asked (SPEC CON-6): a form's
content against its requested schema, a page to open (no content), and how long an MCP
tool-call approval may last against what Codex offered. The shapes are the ones codex
app-server's generated schema gives for McpServerElicitationRequestParams."""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.utils.translation import gettext as _

from agent import protocol
from codexpanel.errors import ActionError

from .models import Event

FORM_MODES = ("form", "openai/form", "openaiForm")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def request_params(request: Event) -> dict[str, Any]:
    params = request.payload.get("params") if isinstance(request.payload, dict) else None
    return params if isinstance(params, dict) else {}


def persist_offered(params: dict[str, Any]) -> list[str]:
    """How long an approval of an MCP tool call may last, as Codex lists it."""
    meta = params.get("_meta")
    offered = meta.get("persist") if isinstance(meta, dict) else None
    if isinstance(offered, str):
        offered = [offered]
    if not isinstance(offered, list):
        return []
    return [value for value in offered if value in protocol.ELICITATION_PERSIST]


def form_fields(params: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(fields by name, required names) of a form elicitation's schema."""
    schema = params.get("requestedSchema")
    fields = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(fields, dict):
        return {}, []
    fields = {name: field for name, field in fields.items() if isinstance(field, dict)}
    required = schema.get("required") if isinstance(schema, dict) else None
    if not isinstance(required, list):
        return fields, []
    return fields, [name for name in required if isinstance(name, str) and name in fields]


def check_elicitation(request: Event, answer: dict[str, Any]) -> None:
    params = request_params(request)
    action, content, persist = answer["action"], answer.get("content"), answer.get("persist")
    if action != "accept":
        return  # declining or cancelling is always open to the person
    if persist is not None and persist not in persist_offered(params):
        raise ActionError(
            "decision_not_offered",
            _("This request does not offer that answer."),
            400,
            details={"offered": persist_offered(params)},
        )
    mode = params.get("mode")
    if mode == "url":
        if content is not None:
            raise _refused(_("Opening a page is answered without content."))
        return
    if mode not in FORM_MODES:
        raise ActionError(
            "decision_not_offered",
            _("A request of a kind the console does not know can only be declined."),
            400,
            details={"offered": ["decline", "cancel"]},
        )
    fields, required = form_fields(params)
    content = content or {}
    unknown = sorted(set(content) - set(fields))
    if unknown:
        raise _refused(_("The form has no field “%(field)s”.") % {"field": unknown[0]}, unknown[0])
    for name in required:
        if content.get(name) in (None, "", []):
            raise _refused(_("Fill in “%(field)s”.") % {"field": _label(fields, name)}, name)
    for name, value in content.items():
        problem = field_problem(fields[name], value)
        if problem:
            raise _refused(f"{_label(fields, name)}: {problem}", name)


def _label(fields: dict[str, dict[str, Any]], name: str) -> str:
    title = fields[name].get("title")
    return title if isinstance(title, str) and title else name


def _refused(message: str, field: str | None = None) -> ActionError:
    return ActionError(
        "answer_not_offered", message, 400, details={"field": field} if field else None
    )


def choices(field: dict[str, Any]) -> list[str] | None:
    """The values a single- or multi-select field allows, or None for free input."""
    if field.get("type") == "array":
        items = field.get("items") if isinstance(field.get("items"), dict) else {}
        field = {"enum": items.get("enum"), "oneOf": items.get("anyOf")}
    if isinstance(field.get("enum"), list):
        return [value for value in field["enum"] if isinstance(value, str)]
    if isinstance(field.get("oneOf"), list):
        return [o.get("const") for o in field["oneOf"] if isinstance(o, dict)]
    return None


def field_problem(field: dict[str, Any], value: Any) -> str | None:
    """What is wrong with one field's value, in words, or None."""
    kind = field.get("type")
    allowed = choices(field)
    if kind == "array":
        if not isinstance(value, list) or any(item not in (allowed or []) for item in value):
            return _("choose among its options")
        low, high = field.get("minItems"), field.get("maxItems")
        if (isinstance(low, int) and len(value) < low) or (
            isinstance(high, int) and len(value) > high
        ):
            return _("choose between %(low)s and %(high)s") % {
                "low": low or 0,
                "high": high if high is not None else len(allowed or []),
            }
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else _("yes or no")
    if kind in ("number", "integer"):
        return _number_problem(field, value)
    if kind != "string" or not isinstance(value, str):
        return _("text expected")
    if allowed is not None:
        return None if value in allowed else _("choose one of its options")
    return _text_problem(field, value)


def _number_problem(field: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _("a number expected")
    if field.get("type") == "integer" and isinstance(value, float) and not value.is_integer():
        return _("a whole number expected")
    low, high = field.get("minimum"), field.get("maximum")
    if (isinstance(low, int | float) and value < low) or (
        isinstance(high, int | float) and value > high
    ):
        return _("between %(low)s and %(high)s") % {
            "low": low if low is not None else "…",
            "high": high if high is not None else "…",
        }
    return None


def _text_problem(field: dict[str, Any], value: str) -> str | None:
    low, high = field.get("minLength"), field.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        return _("at least %(count)s characters") % {"count": low}
    if isinstance(high, int) and len(value) > high:
        return _("at most %(count)s characters") % {"count": high}
    shape = field.get("format")
    if shape == "email" and not EMAIL.fullmatch(value):
        return _("an email address expected")
    if shape == "uri" and not URI.fullmatch(value):
        return _("a web address expected")
    if shape in ("date", "date-time"):
        parse = datetime.date.fromisoformat if shape == "date" else datetime.datetime.fromisoformat
        try:
            parse(value)
        except ValueError:
            return _("a date expected") if shape == "date" else _("a date and time expected")
    return None
