"""An MCP server's elicitation is answered with what it asked for (SPEC CON-6): a form's
content is checked against its requested schema, a page to open takes no content, and a
tool-call approval lasts only as long as Codex offered — before anything reaches Codex."""

from __future__ import annotations

from typing import Any

import pytest

from agent.protocol import ProtocolError, validate_command_params
from codexpanel import clock
from codexpanel.errors import ActionError
from devices.models import Command, Device, Event
from devices.push_sender import message_for
from devices.realtime.commands import issue_command

from .fakes.mcp_server import FORM_MESSAGE, FORM_SCHEMA, LINK, LINK_MESSAGE
from .realtime import make_device
from .test_attention import Agent

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = {
    **FORM_SCHEMA,
    "properties": {
        **FORM_SCHEMA["properties"],
        "email": {"type": "string", "format": "email"},
        "when": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 2},
        "size": {"type": "string", "oneOf": [{"const": "s", "title": "Small"}]},
    },
}
TOOL_APPROVAL = {
    "codex_approval_kind": "mcp_tool_call",
    "persist": ["session", "always"],
    "tool_name": "fill_form",
}
REQUESTS = {
    "form": {"mode": "form", "message": FORM_MESSAGE, "requestedSchema": SCHEMA},
    "url": {"mode": "url", "message": LINK_MESSAGE, "url": LINK, "elicitationId": "e-1"},
    "tool": {
        "mode": "form",
        "message": "Allow the release MCP server to run tool fill_form?",
        "requestedSchema": {"type": "object", "properties": {}},
        "_meta": TOOL_APPROVAL,
    },
    "verify": {"mode": "openai/userVerification", "message": "Prove it is you"},
    "odd": {
        "mode": "form",
        "message": "A schema as an MCP server might get wrong",
        "requestedSchema": {
            "type": "object",
            "properties": {"n": {"type": "integer"}},
            "required": 5,
        },
    },
}


@pytest.fixture
def desk(ada: Any) -> Device:
    device, _token = make_device(ada)
    Device.objects.filter(pk=device.pk).update(online=True, last_heartbeat_at=clock.now())
    agent = Agent(Device.objects.get(pk=device.pk))
    for name, params in REQUESTS.items():
        agent.report(
            "mcpServer/elicitation/request",
            {
                "requestId": f"inst:1:{name}",
                "method": "mcpServer/elicitation/request",
                "params": {"threadId": "thr_1", "serverName": "release", **params},
            },
            "thr_1",
            "turn_1",
        )
    return Device.objects.get(pk=device.pk)


def answer(user: Any, device: Device, request: str, **said: Any) -> Command:
    return issue_command(
        user, device, "resolveApproval", {"requestId": f"inst:1:{request}", **said}
    )


def refused(user: Any, device: Device, request: str, **said: Any) -> ActionError:
    with pytest.raises(ActionError) as error:
        answer(user, device, request, **said)
    assert not Command.objects.exists()
    return error.value


FILLED = {"channel": "beta", "replicas": 3, "ratio": 0.5, "notify": False, "note": "ship it"}


def test_a_filled_in_form_is_sent_with_its_content(ada, desk):
    command = answer(ada, desk, "form", action="accept", content=FILLED)
    assert command.params["content"] == FILLED


def test_only_the_required_fields_need_filling_in(ada, desk):
    content = {"channel": "stable", "replicas": 1}
    assert answer(ada, desk, "form", action="accept", content=content).params["content"]


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"replicas": 3}, "channel"),  # a required field left out
        ({**FILLED, "channel": "nightly"}, "channel"),  # not one of its options
        ({**FILLED, "replicas": 12}, "replicas"),  # above its maximum
        ({**FILLED, "replicas": 2.5}, "replicas"),  # not a whole number
        ({**FILLED, "replicas": "3"}, "replicas"),  # text for a number
        ({**FILLED, "ratio": True}, "ratio"),  # yes/no for a number
        ({**FILLED, "notify": "yes"}, "notify"),  # text for yes/no
        ({**FILLED, "note": "x" * 201}, "note"),  # longer than its maxLength
        ({**FILLED, "email": "not an address"}, "email"),
        ({**FILLED, "when": "tomorrow"}, "when"),
        ({**FILLED, "tags": ["a", "d"]}, "tags"),  # not among its options
        ({**FILLED, "tags": ["a", "b", "c"]}, "tags"),  # more than maxItems
        ({**FILLED, "size": "xl"}, "size"),  # not one of its titled options
        ({**FILLED, "admin": True}, "admin"),  # a field the form does not have
    ],
)
def test_a_form_answer_that_breaks_its_schema_is_refused_naming_the_field(
    ada, desk, content, field
):
    error = refused(ada, desk, "form", action="accept", content=content)
    assert (error.code, error.status) == ("answer_not_offered", 400)
    assert error.details == {"field": field}


def test_declining_or_cancelling_any_elicitation_is_always_taken(ada, desk):
    assert answer(ada, desk, "form", action="decline").params["action"] == "decline"
    assert answer(ada, desk, "url", action="cancel").params["action"] == "cancel"
    assert answer(ada, desk, "verify", action="decline").params["action"] == "decline"


def test_a_page_to_open_is_accepted_without_content(ada, desk):
    error = refused(ada, desk, "url", action="accept", content={"token": "x"})
    assert error.code == "answer_not_offered"
    assert answer(ada, desk, "url", action="accept").params == {
        "requestId": "inst:1:url",
        "action": "accept",
    }


def test_a_tool_approval_lasts_only_as_long_as_codex_offered(ada, desk):
    error = refused(ada, desk, "form", action="accept", content=FILLED, persist="always")
    assert error.code == "decision_not_offered"
    command = answer(ada, desk, "tool", action="accept", persist="session")
    assert command.params["persist"] == "session"


def test_a_mode_the_console_cannot_show_can_only_be_declined_or_cancelled(ada, desk):
    error = refused(ada, desk, "verify", action="accept")
    assert error.code == "decision_not_offered"
    assert error.details == {"offered": ["decline", "cancel"]}


def test_an_elicitation_takes_an_action_and_an_approval_takes_none(ada, desk):
    error = refused(ada, desk, "form", decision="accept")
    assert error.code == "decision_not_offered"
    assert error.details == {"offered": ["accept", "decline", "cancel"]}


def test_a_second_answer_is_told_the_first_action_not_the_forms_content(ada, desk):
    answer(ada, desk, "form", action="accept", content={**FILLED, "note": "a secret"})
    with pytest.raises(ActionError) as error:
        answer(ada, desk, "form", action="decline")
    assert error.value.code == "approval_already_answered"
    assert error.value.details["action"] == "accept"
    assert "a secret" not in str(error.value.details)


@pytest.mark.parametrize(
    "said",
    [
        {"action": "approve"},
        {"action": "decline", "content": {"a": 1}},  # content only with accept
        {"action": "accept", "content": ["a"]},
        {"action": "accept", "content": {"a": {"nested": 1}}},
        {"action": "accept", "content": {"a": float("nan")}},
        {"action": "accept", "persist": "forever"},
        {"action": "decline", "persist": "session"},
        {"action": "accept", "decision": "accept"},  # two answers at once
    ],
)
def test_the_wire_shape_of_an_elicitation_answer_is_checked_by_the_protocol(said):
    with pytest.raises(ProtocolError) as error:
        validate_command_params("resolveApproval", {"requestId": "inst:1:form", **said})
    assert error.value.code == "invalid_params"


def test_a_notification_says_what_the_mcp_server_or_codex_asks(desk):
    bodies = {}
    for event in Event.objects.filter(device=desk, event_type="mcpServer/elicitation/request"):
        kind, notice = message_for(event)
        assert kind == "waiting" and "actions" not in notice  # answered in the console
        bodies[event.payload["requestId"].rsplit(":", 1)[1]] = notice["body"]
    assert bodies["tool"].endswith("wants to use fill_form from release")
    assert bodies["url"].endswith("release asks you to open a page")
    assert bodies["form"].endswith(f"release asks: {FORM_MESSAGE}")


def test_numbers_beyond_what_json_readers_take_and_odd_schemas_are_refused_cleanly(ada, desk):
    with pytest.raises(ProtocolError):
        validate_command_params(
            "resolveApproval",
            {"requestId": "inst:1:form", "action": "accept", "content": {"replicas": 10**400}},
        )
    error = refused(ada, desk, "form", action="accept", content={**FILLED, "replicas": 2**60})
    assert error.code == "invalid_params"
    # A "required" that is not a list of names asks for nothing.
    assert answer(ada, desk, "odd", action="accept", content={"n": 3}).params["content"]
