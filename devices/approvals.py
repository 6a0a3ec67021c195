"""Checking an answer against the request it answers (SPEC CON-6), before anything is sent
to the computer: the request must still wait, the decision must be one it offered, and
only one answer counts, whichever phone sends it first."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import User
from agent import protocol
from agent.protocol import decision_name
from codexpanel.errors import ActionError

from .attention import still_waiting
from .elicitation import check_elicitation
from .models import Command, Device, Event

# What a request offers when it does not list its decisions.
DEFAULT_DECISIONS = ("accept", "acceptForSession", "decline", "cancel")


def offered(request: Event) -> list[Any]:
    """The decisions the request takes. Declining is always among them: app-server takes
    it for every approval (the turn goes on without the action), even where its list of
    decisions leaves it out."""
    params = request.payload.get("params") if isinstance(request.payload, dict) else None
    listed = params.get("availableDecisions") if isinstance(params, dict) else None
    choices = list(listed) if isinstance(listed, list) else list(DEFAULT_DECISIONS)
    if "decline" not in choices:
        choices.append("decline")
    return choices


def check_answer(user: User, device: Device, params: dict[str, Any]) -> Command | None:
    """Refuse an answer that must not reach Codex. Called inside the transaction that
    stores the answer, so two answers to one request are decided one after the other.
    Returns the person's own answer still on its way when they send it again (Retry), so
    that it is not sent twice."""
    # Taking the device row's write lock (PostgreSQL row lock, SQLite database lock)
    # before reading makes concurrent answers queue here; the first stored one wins.
    Device.objects.filter(pk=device.pk).update(stream_seq=F("stream_seq"))
    request_id = params["requestId"]
    request = (
        Event.objects.filter(
            device=device,
            event_type__in=protocol.APPROVAL_METHODS,
            payload__requestId=request_id,
        )
        .order_by("-stream_seq")
        .first()
    )
    if request is None:
        raise ActionError("approval_not_found", _("No request of Codex has that id."), 404)
    answered = (
        Command.objects.filter(device=device, name="resolveApproval", params__requestId=request_id)
        .exclude(status__in=(Command.Status.FAILED, Command.Status.EXPIRED))
        .select_related("issued_by")
        .order_by("pk")
        .first()
    )
    if answered is not None:
        kinds = (*protocol.ANSWER_KINDS, "scope", "content", "persist")
        given = {key: answered.params.get(key) for key in kinds}
        if (
            answered.issued_by_id == user.pk
            and given == {key: params.get(key) for key in kinds}
            and answered.status not in Command.FINISHED
        ):
            return answered
        who = answered.issued_by.username if answered.issued_by else ""
        what = decision_name(given["decision"]) or given["action"] or _("answers")
        raise ActionError(
            "approval_already_answered",
            _("%(who)s already answered this request: %(decision)s.")
            % {"who": who or _("Someone"), "decision": what},
            409,
            details={
                "answeredBy": who,
                # What was decided; never the answers given (a question may be secret).
                **({"decision": given["decision"]} if given["decision"] else {}),
                **({"action": given["action"]} if given["action"] else {}),
                "answeredAt": answered.created_at.isoformat(),
            },
        )
    if not still_waiting(request):
        raise ActionError(
            "approval_not_found",
            _("This request is no longer waiting: Codex restarted or the turn ended."),
            404,
        )
    if request.event_type == protocol.QUESTION_METHOD:
        _check_answers(request, params)
        return None
    if request.event_type == protocol.PERMISSIONS_METHOD:
        _check_grant(request, params)
        return None
    if request.event_type == protocol.ELICITATION_METHOD:
        if "action" not in params:
            raise ActionError(
                "decision_not_offered",
                _("An MCP server's request takes accept, decline or cancel."),
                400,
                details={"offered": list(protocol.ELICITATION_ACTIONS)},
            )
        check_elicitation(request, params)
        return None
    if "action" in params:
        raise ActionError(
            "decision_not_offered", _("Only an MCP server's request takes an action."), 400
        )
    if "permissions" in params:
        raise ActionError(
            "decision_not_offered", _("Only a request for permissions takes permissions."), 400
        )
    if "decision" not in params:
        raise ActionError(
            "decision_not_offered", _("This request takes a decision, not answers."), 400
        )
    if request.event_type == protocol.UNKNOWN_REQUEST and params["decision"] != "decline":
        raise ActionError(
            "decision_not_offered",
            _("A request of a kind the console does not know can only be declined."),
            400,
            details={"offered": ["decline"]},
        )
    if params["decision"] not in offered(request):
        raise ActionError(
            "decision_not_offered",
            _("This request does not offer that answer."),
            400,
            details={"offered": offered(request)},
        )
    return None


def _check_answers(request: Event, params: dict[str, Any]) -> None:
    """Every question answered, and with one of its options unless it takes free text."""
    answers = params.get("answers")
    payload = request.payload.get("params") if isinstance(request.payload, dict) else None
    questions = payload.get("questions") if isinstance(payload, dict) else None
    questions = [q for q in questions or [] if isinstance(q, dict) and "id" in q]
    if not isinstance(answers, dict) or set(answers) != {q["id"] for q in questions}:
        raise ActionError(
            "answer_not_offered",
            _("Answer each of Codex's questions, and only those."),
            400,
            details={"questions": [q["id"] for q in questions]},
        )
    for question in questions:
        labels = [option.get("label") for option in question.get("options") or []]
        if question.get("isOther") or not labels:
            continue
        chosen = answers[question["id"]]["answers"]
        if any(text not in labels for text in chosen):
            raise ActionError(
                "answer_not_offered",
                _("“%(question)s” takes one of its options.") % {"question": question["id"]},
                400,
                details={"question": question["id"], "options": labels},
            )


def _check_grant(request: Event, params: dict[str, Any]) -> None:
    """What is granted must be part of what Codex asked for: each path, each entry, and
    the network only if it asked for it."""
    granted = params.get("permissions")
    payload = request.payload.get("params") if isinstance(request.payload, dict) else None
    asked = (payload or {}).get("permissions") or {}
    refused = ActionError("answer_not_offered", _("Grant only permissions Codex asked for."), 400)
    if not isinstance(granted, dict) or set(granted) - {"fileSystem", "network"}:
        raise refused
    files, wanted_files = granted.get("fileSystem") or {}, asked.get("fileSystem") or {}
    if not isinstance(files, dict) or set(files) - {"read", "write", "entries"}:
        raise refused
    for key, values in files.items():
        wanted = wanted_files.get(key) or []
        if not isinstance(values, list) or any(value not in wanted for value in values):
            raise refused
    network = granted.get("network") or {}
    if not isinstance(network, dict) or set(network) - {"enabled"}:
        raise refused
    if network.get("enabled") and not (asked.get("network") or {}).get("enabled"):
        raise refused
