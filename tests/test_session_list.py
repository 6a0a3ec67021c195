"""The session lists (SPEC CON-3): each row's state, read from the event log and the
command queue, and the search across all of a person's computers."""

from __future__ import annotations

import pytest

from devices.realtime.commands import issue_command
from devices.realtime.presence import disconnect

from .realtime import make_device
from .test_attention import Agent

pytestmark = pytest.mark.django_db


def states(person, device) -> dict[str, str]:
    answer = person.client.get(f"/api/devices/{device.device_id}/threads")
    assert answer.status_code == 200
    return {row["threadId"]: row["state"] for row in answer.json()["threads"]}


def turn(agent: Agent, thread: str, turn_id: str, status: str | None) -> None:
    agent.report("turn/started", {"turn": {"id": turn_id, "status": "inProgress"}}, thread, turn_id)
    if status:
        done = {"turn": {"id": turn_id, "status": status}}
        agent.report("turn/completed", done, thread, turn_id)


def test_each_session_row_says_whether_it_runs_waits_is_done_or_failed(person, paired):
    device = paired[0]
    agent = Agent(device)
    for thread in ("thr_new", "thr_run", "thr_wait", "thr_done", "thr_fail", "thr_stop"):
        agent.say(thread, f"work on {thread}")
    turn(agent, "thr_run", "u1", None)
    turn(agent, "thr_wait", "u2", None)
    agent.ask("1:7", thread="thr_wait", turn="u2")
    turn(agent, "thr_done", "u3", "completed")
    turn(agent, "thr_fail", "u4", "failed")
    turn(agent, "thr_stop", "u5", "interrupted")
    assert states(person, device) == {
        "thr_new": "idle",
        "thr_run": "running",
        "thr_wait": "waiting",
        "thr_done": "done",
        "thr_fail": "failed",
        "thr_stop": "done",
    }


def test_a_later_turn_decides_the_state_and_an_answered_request_stops_waiting(person, paired):
    device = paired[0]
    agent = Agent(device)
    agent.say("thr_1", "first")
    turn(agent, "thr_1", "u1", "failed")
    turn(agent, "thr_1", "u2", None)
    agent.ask("1:1", thread="thr_1", turn="u2")
    assert states(person, device) == {"thr_1": "waiting"}
    agent.report("serverRequest/resolved", {"requestId": "1:1"}, "thr_1", "u2")
    assert states(person, device) == {"thr_1": "running"}
    agent.report("turn/completed", {"turn": {"id": "u2", "status": "completed"}}, "thr_1", "u2")
    assert states(person, device) == {"thr_1": "done"}


def test_a_turn_of_a_computer_that_went_offline_is_not_shown_running(person, paired, ada):
    device = paired[0]
    agent = Agent(device)
    agent.say("thr_1", "long job")
    turn(agent, "thr_1", "u1", None)
    type(device).objects.filter(pk=device.pk).update(connection="chan", online=True)
    disconnect(device.pk, "chan", "disconnected")
    assert states(person, device) == {"thr_1": "idle"}


def test_a_message_waiting_for_the_computer_shows_the_session_queued(person, paired, ada):
    device = paired[0]
    agent = Agent(device)
    agent.say("thr_1", "first")
    turn(agent, "thr_1", "u1", "completed")
    issue_command(ada, device, "startTurn", {"threadId": "thr_1", "input": "next"}, queue=True)
    assert states(person, device) == {"thr_1": "queued"}


def test_search_finds_sessions_on_every_computer_by_what_was_asked(person, paired, ada):
    desk = paired[0]
    laptop, _token = make_device(ada, "laptop-0002-abcdef")
    laptop.name = "laptop"
    laptop.save()
    desk_agent, laptop_agent = Agent(desk), Agent(laptop)
    desk_agent.say("thr_desk", "Fix the flaky LOGIN test")
    laptop_agent.say("thr_laptop", "write the docs")
    laptop_agent.say("thr_laptop", "then the login page")
    desk_agent.say("thr_other", "tidy the changelog")

    every = person.client.get("/api/sessions").json()["threads"]
    assert [row["threadId"] for row in every] == ["thr_other", "thr_laptop", "thr_desk"]
    assert every[1]["deviceId"] == laptop.device_id and every[1]["deviceName"] == "laptop"

    found = person.client.get("/api/sessions", {"q": "login"}).json()["threads"]
    assert [(row["threadId"], row["preview"]) for row in found] == [
        ("thr_laptop", "write the docs"),
        ("thr_desk", "Fix the flaky LOGIN test"),
    ]
    assert person.client.get("/api/sessions", {"q": "nothing like it"}).json()["threads"] == []


def test_search_pages_through_many_sessions(person, paired):
    agent = Agent(paired[0])
    for n in range(5):
        agent.say(f"thr_{n}", f"task {n}")
    first = person.client.get("/api/sessions?limit=3").json()
    assert [row["threadId"] for row in first["threads"]] == ["thr_4", "thr_3", "thr_2"]
    rest = person.client.get(f"/api/sessions?limit=3&before={first['before']}").json()
    assert [row["threadId"] for row in rest["threads"]] == ["thr_1", "thr_0"]
    assert rest["before"] is None


def test_search_never_shows_another_persons_sessions(person, make_user):
    other, _token = make_device(make_user("bob"), "bobs-desk-0001")
    Agent(other).say("thr_bob", "secret plans")
    assert person.client.get("/api/sessions").json()["threads"] == []
    assert person.client.get("/api/sessions", {"q": "secret"}).json()["threads"] == []


@pytest.mark.parametrize(
    "query, message",
    [
        ("x" * 201, "q is longer than 200 characters."),
        ("nul \x00 byte", "q holds characters that are not printable."),
    ],
)
def test_a_search_that_cannot_be_run_is_refused_clearly(person, query, message):
    answer = person.client.get("/api/sessions", {"q": query})
    assert answer.status_code == 400
    assert answer.json()["error"] == {"code": "invalid_request", "message": message}


def test_search_needs_a_signed_in_person(client):
    answer = client.get("/api/sessions")
    assert answer.status_code in (401, 403)
    assert "error" in answer.json()


def test_a_computer_moved_to_another_person_shows_them_none_of_the_last_owners_words(
    person, make_user, ada
):
    bob = make_user("bob")
    device, _token = make_device(bob, "moved-desk-0001")
    agent = Agent(device)
    agent.say("thr_1", "bob's private plan")
    type(device).objects.filter(pk=device.pk).update(owner=ada)
    agent.device = type(device).objects.get(pk=device.pk)
    agent.say("thr_1", "ada carries on")
    rows = person.client.get(f"/api/devices/{device.device_id}/threads").json()["threads"]
    assert [row["preview"] for row in rows] == ["ada carries on"]
    found = person.client.get("/api/sessions").json()["threads"]
    assert [row["preview"] for row in found] == ["ada carries on"]
