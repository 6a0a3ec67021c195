"""An answer reaches the request it answers, once (SPEC CON-6): the relay checks it
against the request in the event log before anything is sent to the computer."""

from __future__ import annotations

from typing import Any

import pytest

from codexpanel import clock
from codexpanel.errors import ActionError
from devices.models import Command, Device
from devices.realtime.commands import issue_command

from .realtime import make_device
from .test_attention import Agent
from .test_setup_concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)

AMENDMENT = {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["mkdir", "-p", "x"]}}
NETWORK = {
    "applyNetworkPolicyAmendment": {
        "network_policy_amendment": {"host": "pypi.org", "action": "allow"}
    }
}
OFFERED = ["accept", AMENDMENT, NETWORK, "cancel"]


@pytest.fixture
def desk(ada: Any) -> tuple[Device, Agent]:
    device, _token = make_device(ada)
    Device.objects.filter(pk=device.pk).update(online=True, last_heartbeat_at=clock.now())
    agent = Agent(Device.objects.get(pk=device.pk))
    params = {"threadId": "thr_1", "turnId": "turn_1", "itemId": "call-1", "command": "mkdir x"}
    agent.report(
        "item/commandExecution/requestApproval",
        {"requestId": "inst:1:0", "params": {**params, "availableDecisions": OFFERED}},
        "thr_1",
        "turn_1",
    )
    return Device.objects.get(pk=device.pk), agent


def answer(user: Any, device: Device, decision: Any, request_id: str = "inst:1:0") -> Command:
    return issue_command(
        user, device, "resolveApproval", {"requestId": request_id, "decision": decision}
    )


def refusal(work) -> ActionError:
    with pytest.raises(ActionError) as refused:
        work()
    return refused.value


def test_an_answer_to_a_request_codex_never_made_is_refused_and_not_sent(ada, desk):
    device, _agent = desk
    refused = refusal(lambda: answer(ada, device, "accept", "other:1:0"))
    assert (refused.code, refused.status) == ("approval_not_found", 404)
    assert not Command.objects.exists()


def test_an_answer_to_a_request_that_died_with_its_codex_is_refused(ada, desk):
    device, agent = desk
    agent.report("agent.codex.started", {"generation": 2})
    refused = refusal(lambda: answer(ada, device, "accept"))
    assert refused.code == "approval_not_found"
    assert "no longer waiting" in refused.message
    assert not Command.objects.exists()


@pytest.mark.parametrize("decision", ["accept", AMENDMENT, NETWORK, "cancel", "decline"])
def test_each_offered_decision_is_taken(ada, desk, decision):
    device, _agent = desk
    command = answer(ada, device, decision)
    assert command.params["decision"] == decision


@pytest.mark.parametrize(
    "decision",
    [
        "acceptForSession",
        {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["rm", "-rf", "/"]}},
        {
            "applyNetworkPolicyAmendment": {
                "network_policy_amendment": {"host": "evil.example", "action": "allow"}
            }
        },
    ],
)
def test_a_decision_the_request_did_not_offer_is_refused(ada, desk, decision):
    device, _agent = desk
    refused = refusal(lambda: answer(ada, device, decision))
    assert (refused.code, refused.status) == ("decision_not_offered", 400)
    assert refused.details == {"offered": [*OFFERED, "decline"]}
    assert not Command.objects.exists()


def test_a_second_answer_is_told_who_answered_what(ada, desk, make_user):
    device, _agent = desk
    answer(ada, device, "accept")
    refused = refusal(lambda: answer(ada, device, "cancel"))
    assert (refused.code, refused.status) == ("approval_already_answered", 409)
    assert refused.details["answeredBy"] == "ada"
    assert refused.details["decision"] == "accept"
    assert refused.message == "ada already answered this request: accept."
    assert Command.objects.count() == 1


def test_sending_the_same_answer_again_reuses_the_first_instead_of_sending_twice(ada, desk):
    device, _agent = desk
    first = answer(ada, device, "accept")
    again = answer(ada, device, "accept")
    assert again.pk == first.pk
    assert Command.objects.count() == 1


def test_a_failed_answer_may_be_given_again(ada, desk):
    device, _agent = desk
    first = answer(ada, device, "accept")
    Command.objects.filter(pk=first.pk).update(status=Command.Status.FAILED)
    assert answer(ada, device, "cancel").pk != first.pk


def test_answers_racing_from_several_phones_send_exactly_one(ada, desk):
    device, _agent = desk
    decisions = iter(["accept", "cancel", "decline", AMENDMENT, "accept", "cancel"])
    outcomes = race(lambda: answer(ada, Device.objects.get(pk=device.pk), next(decisions)))
    sent = [outcome for outcome in outcomes if isinstance(outcome, Command)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ActionError)]
    assert Command.objects.filter(name="resolveApproval").count() == 1
    # The winner, and any phone that sent the very same answer, hold the one command.
    assert {command.pk for command in sent} == {Command.objects.get().pk}
    assert {error.code for error in refused} <= {"approval_already_answered"}
    assert len(sent) + len(refused) == len(outcomes)


QUESTIONS = [
    {
        "id": "colour",
        "header": "Colour",
        "question": "Which colour?",
        "isOther": False,
        "options": [{"label": "Blue", "description": ""}, {"label": "Red", "description": ""}],
    },
    {"id": "name", "header": "Name", "question": "Say what?", "isOther": True, "options": []},
]


@pytest.fixture
def asked(desk: tuple[Device, Agent]) -> Device:
    device, agent = desk
    agent.report(
        "item/tool/requestUserInput",
        {"requestId": "inst:1:1", "params": {"questions": QUESTIONS, "itemId": "call-2"}},
        "thr_1",
        "turn_1",
    )
    agent.report(
        "agent.request.unknown",
        {"requestId": "inst:1:2", "method": "item/future/request", "params": {}},
        "thr_1",
        "turn_1",
    )
    return device


def answer_questions(user: Any, device: Device, answers: Any) -> Command:
    return issue_command(
        user, device, "resolveApproval", {"requestId": "inst:1:1", "answers": answers}
    )


def test_questions_take_an_offered_option_or_free_text_where_allowed(ada, asked):
    answers = {"colour": {"answers": ["Red"]}, "name": {"answers": ["anything at all"]}}
    assert answer_questions(ada, asked, answers).params["answers"] == answers


@pytest.mark.parametrize(
    "answers",
    [
        {"colour": {"answers": ["Green"]}, "name": {"answers": ["x"]}},
        {"colour": {"answers": ["Red"]}},
        {"colour": {"answers": ["Red"]}, "name": {"answers": ["x"]}, "extra": {"answers": ["y"]}},
    ],
)
def test_answers_that_skip_a_question_or_invent_an_option_are_refused(ada, asked, answers):
    refused = refusal(lambda: answer_questions(ada, asked, answers))
    assert (refused.code, refused.status) == ("answer_not_offered", 400)
    assert not Command.objects.exists()


def test_a_question_takes_answers_not_a_decision_and_an_approval_the_reverse(ada, asked):
    refused = refusal(lambda: answer(ada, asked, "accept", "inst:1:1"))
    assert refused.code == "answer_not_offered"
    refused = refusal(
        lambda: issue_command(
            ada,
            asked,
            "resolveApproval",
            {"requestId": "inst:1:0", "answers": {"colour": {"answers": ["Red"]}}},
        )
    )
    assert refused.code == "decision_not_offered"


def test_a_request_of_an_unknown_kind_can_only_be_declined(ada, asked):
    refused = refusal(lambda: answer(ada, asked, "accept", "inst:1:2"))
    assert refused.code == "decision_not_offered"
    assert refused.details == {"offered": ["decline"]}
    assert answer(ada, asked, "decline", "inst:1:2").params["decision"] == "decline"


def test_questions_and_unknown_requests_wait_on_the_person_like_approvals(person, asked):
    waiting = person.client.get("/api/attention").json()["approvals"]
    assert {event["eventType"] for event in waiting} == {
        "item/commandExecution/requestApproval",
        "item/tool/requestUserInput",
        "agent.request.unknown",
    }


def test_a_second_answer_to_questions_is_not_told_the_first_answers(ada, asked, make_user):
    answers = {"colour": {"answers": ["Red"]}, "name": {"answers": ["a secret"]}}
    answer_questions(ada, asked, answers)
    refused = refusal(lambda: answer_questions(ada, asked, {**answers, "name": {"answers": ["x"]}}))
    assert refused.code == "approval_already_answered"
    assert "answers" not in refused.details and "a secret" not in str(refused.details)


PERMISSIONS = {
    "fileSystem": {"read": ["/data/in"], "write": ["/data/out", "/tmp/x"]},
    "network": {"enabled": True},
}


@pytest.fixture
def wants_more(desk: tuple[Device, Agent]) -> Device:
    device, agent = desk
    params = {"permissions": PERMISSIONS, "reason": "to fetch the data", "itemId": "call-3"}
    agent.report(
        "item/permissions/requestApproval",
        {"requestId": "inst:1:3", "params": params},
        "thr_1",
        "turn_1",
    )
    return device


def grant(user: Any, device: Device, permissions: Any, scope: str = "turn") -> Command:
    return issue_command(
        user,
        device,
        "resolveApproval",
        {"requestId": "inst:1:3", "permissions": permissions, "scope": scope},
    )


@pytest.mark.parametrize(
    "permissions",
    [
        PERMISSIONS,
        {"fileSystem": {"write": ["/data/out"]}},
        {"network": {"enabled": True}},
        {},
    ],
)
def test_a_permissions_request_takes_any_part_of_what_it_asked_for(ada, wants_more, permissions):
    command = grant(ada, wants_more, permissions, "session")
    assert command.params["permissions"] == permissions
    assert command.params["scope"] == "session"


@pytest.mark.parametrize(
    "permissions",
    [
        {"fileSystem": {"write": ["/etc"]}},
        {"fileSystem": {"read": ["/data/out"]}},
        {"fileSystem": {"execute": ["/bin"]}},
        {"sandbox": "off"},
    ],
)
def test_granting_more_than_was_asked_is_refused(ada, wants_more, permissions):
    refused = refusal(lambda: grant(ada, wants_more, permissions))
    assert (refused.code, refused.status) == ("answer_not_offered", 400)
    assert not Command.objects.exists()


def test_the_network_is_granted_only_when_asked_for(ada, desk):
    device, agent = desk
    agent.report(
        "item/permissions/requestApproval",
        {"requestId": "inst:1:4", "params": {"permissions": {"fileSystem": {"read": ["/a"]}}}},
        "thr_1",
        "turn_1",
    )
    params = {"requestId": "inst:1:4", "permissions": {"network": {"enabled": True}}}
    refused = refusal(lambda: issue_command(ada, device, "resolveApproval", params))
    assert refused.code == "answer_not_offered"


def test_permissions_answer_only_a_permissions_request_and_take_no_decision(ada, wants_more):
    refused = refusal(lambda: answer(ada, wants_more, "accept", "inst:1:3"))
    assert refused.code == "answer_not_offered"  # it takes permissions, as a question answers
    params = {"requestId": "inst:1:0", "permissions": {}}
    refused = refusal(lambda: issue_command(ada, wants_more, "resolveApproval", params))
    assert refused.code == "decision_not_offered"
    bad_scope = {"requestId": "inst:1:3", "permissions": {}, "scope": "forever"}
    refused = refusal(lambda: issue_command(ada, wants_more, "resolveApproval", bad_scope))
    assert refused.code == "invalid_params"
