"""The console's relay-side read models (SPEC CON-3, CON-6): approvals still waiting across
devices, and a device's sessions from its event log, both readable while it is offline."""

from __future__ import annotations

from typing import Any

import pytest

from devices.models import Event
from devices.realtime.eventlog import record_agent_events
from devices.realtime.presence import disconnect

from .realtime import make_device

pytestmark = pytest.mark.django_db

COMMAND_ASK = "item/commandExecution/requestApproval"


class Agent:
    """Reports events for one device the way the host runtime does."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.seq = 0

    def report(self, event_type: str, payload: dict[str, Any], thread: str = "", turn: str = ""):
        self.seq += 1
        record_agent_events(
            self.device.pk,
            [
                {
                    "seq": self.seq,
                    "eventType": event_type,
                    "threadId": thread,
                    "turnId": turn,
                    "payload": payload,
                }
            ],
        )

    def ask(self, request_id: str, thread: str = "thr_1", turn: str = "turn_1") -> None:
        params = {"command": "make test", "cwd": "/w", "threadId": thread, "turnId": turn}
        params["itemId"] = f"call-{request_id}"
        self.report(COMMAND_ASK, {"requestId": request_id, "params": params}, thread, turn)

    def say(self, thread: str, text: str) -> None:
        item = {"type": "userMessage", "content": [{"type": "text", "text": text}]}
        self.report("item/completed", {"item": item}, thread, "turn_1")


def waiting(person: Any) -> list[str]:
    answer = person.client.get("/api/attention")
    assert answer.status_code == 200
    return [item["payload"]["requestId"] for item in answer.json()["approvals"]]


def test_an_unanswered_approval_needs_attention_until_codex_says_it_was_resolved(person, paired):
    agent = Agent(paired[0])
    agent.ask("1:0")
    agent.ask("1:1", thread="thr_2", turn="turn_2")
    assert waiting(person) == ["1:1", "1:0"]
    item = person.client.get("/api/attention").json()["approvals"][0]
    assert item["deviceName"] == paired[0].name and item["threadId"] == "thr_2"
    agent.report("serverRequest/resolved", {"requestId": "1:0", "threadId": "thr_1"}, "thr_1")
    assert waiting(person) == ["1:1"]


def test_an_approval_dies_with_its_app_server_and_with_its_turn(person, paired):
    agent = Agent(paired[0])
    agent.ask("1:0")
    agent.report("agent.codex.started", {"generation": 2})
    agent.ask("2:0", turn="turn_2")
    assert waiting(person) == ["2:0"]
    agent.report(
        "turn/completed", {"turn": {"id": "turn_2", "status": "interrupted"}}, "thr_1", "turn_2"
    )
    assert waiting(person) == []


def test_a_request_id_reused_after_a_restart_is_a_new_approval(person, paired):
    agent = Agent(paired[0])
    agent.ask("1:0")
    agent.report("agent.codex.started", {"generation": 1})
    agent.ask("1:0", turn="turn_2")
    assert waiting(person) == ["1:0"]


def test_approvals_still_wait_while_the_computer_is_offline(person, paired):
    agent = Agent(paired[0])
    agent.ask("1:0")
    assert disconnect(paired[0].pk, paired[0].connection, "closed")
    assert Event.objects.filter(event_type="device.offline").exists()
    assert waiting(person) == ["1:0"]


def test_another_users_approvals_are_not_shown(person, paired, make_user):
    other, _token = make_device(make_user("bob"), "bobs-desk-0001")
    Agent(other).ask("1:0")
    assert waiting(person) == []


def test_the_event_log_lists_a_devices_sessions_newest_first_with_their_first_words(person, paired):
    agent = Agent(paired[0])
    agent.say("thr_old", "fix the build")
    agent.say("thr_new", "write the docs")
    agent.say("thr_new", "and the changelog")
    answer = person.client.get(f"/api/devices/{paired[0].device_id}/threads").json()
    assert [(t["threadId"], t["preview"]) for t in answer["threads"]] == [
        ("thr_new", "write the docs"),
        ("thr_old", "fix the build"),
    ]
    assert answer["before"] is None


def test_logged_sessions_page_by_their_last_activity(person, paired):
    agent = Agent(paired[0])
    for n in range(5):
        agent.say(f"thr_{n}", f"task {n}")
    url = f"/api/devices/{paired[0].device_id}/threads?limit=2"
    first = person.client.get(url).json()
    assert [t["threadId"] for t in first["threads"]] == ["thr_4", "thr_3"]
    second = person.client.get(f"{url}&before={first['before']}").json()
    third = person.client.get(f"{url}&before={second['before']}").json()
    assert [t["threadId"] for t in second["threads"] + third["threads"]] == [
        "thr_2",
        "thr_1",
        "thr_0",
    ]
    assert third["before"] is None


def test_another_users_device_sessions_answer_like_a_missing_device(person, make_user):
    other, _token = make_device(make_user("bob"), "bobs-desk-0001")
    Agent(other).say("thr_1", "secret plans")
    answer = person.client.get(f"/api/devices/{other.device_id}/threads")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "device_not_found"


def test_a_bad_page_position_is_refused_clearly(person, paired):
    answer = person.client.get(f"/api/devices/{paired[0].device_id}/threads?before=soon")
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "invalid_request",
        "message": "before must be a whole number.",
    }


def test_signed_out_visitors_see_neither_list(client, paired):
    assert client.get("/api/attention").status_code in (401, 403)
    assert client.get(f"/api/devices/{paired[0].device_id}/threads").status_code in (401, 403)


def test_a_waiting_approval_carries_the_file_changes_it_is_about(person, paired):
    agent = Agent(paired[0])
    change = {"path": "/w/notes.txt", "kind": {"type": "add"}, "diff": "hello\n"}
    item = {"type": "fileChange", "id": "call-7", "changes": [change], "status": "inProgress"}
    agent.report("item/started", {"item": item}, "thr_1", "turn_1")
    params = {"threadId": "thr_1", "turnId": "turn_1", "itemId": "call-7", "reason": None}
    payload = {"requestId": "1:0", "params": params}
    agent.report("item/fileChange/requestApproval", payload, "thr_1", "turn_1")
    waiting_item = person.client.get("/api/attention").json()["approvals"][0]["item"]
    assert waiting_item["changes"] == [change]
