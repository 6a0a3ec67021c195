"""What Codex asks besides approvals, answered from the phone (SPEC CON-6): questions (in plan
mode, through request_user_input) with their options and free text; a request for more
permissions (request_permissions), granted in part and for a chosen time; and an MCP
server's elicitations (a form from its schema, a page to open) with Codex's own question
whether the tool may run. Driven in a phone's Chromium against a real agent on the real
Codex; the fake model and the local MCP server record what they got."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import accessibility_problems, screenshot, sign_in, small_touch_targets, watched_page
from .codex_world import World, codex_world
from .console_kit import open_new_session, send
from .fakes.mcp_server import FORM_MESSAGE, LINK, LINK_MESSAGE
from .test_console_matrix_browser import overflow

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]


def test_a_person_answers_codexs_questions_with_an_option_and_their_own_words(page, world):
    world.browser.command(world.device_id, "setControlState", workMode="plan")
    sign_in(page)
    open_new_session(page, world)
    send(page, "[ask]")
    card = page.locator(".approval")
    card.get_by_role("heading", name="Codex has a question for you").wait_for()
    waiting = "Codex is waiting for your answer: Which colour should the button be?"
    page.get_by_text(waiting).wait_for()
    colour = card.get_by_role("group", name="Colour")
    colour.get_by_text("stands out").wait_for()
    screenshot(page, "questions")

    # Sending before every question is answered says which one is left.
    colour.get_by_text("Red", exact=True).tap()
    card.get_by_role("button", name="Send answers").tap()
    card.get_by_text("Answer “Name” first.").wait_for()

    card.get_by_label("Another answer to “Name”").fill("Keep it")
    card.get_by_role("button", name="Send answers").tap()
    page.get_by_text("Turn completed").wait_for()
    assert page.locator(".approval").count() == 0

    sent = world.fake.requests[-1]["input"][-1]
    assert sent["type"] == "function_call_output"
    assert json.loads(sent["output"]) == {
        "answers": {"colour": {"answers": ["Red"]}, "name": {"answers": ["Keep it"]}}
    }


def tool_output(world: World) -> str:
    """The text the MCP tool returned to the model, as the model's next request carries it."""
    sent = world.fake.requests[-1]["input"][-1]
    assert sent["type"] == "function_call_output"
    output = sent["output"]
    parts = output if isinstance(output, list) else [{"text": output}]
    return "".join(part.get("text", "") for part in parts)


def elicited(page: Any, world: World, calls: int) -> dict[str, Any]:
    """What the MCP server's calls-th tool call got back, once the model has been told."""
    for _tick in range(200):
        outputs = [
            item
            for request in world.fake.requests
            for item in request["input"]
            if item.get("type") == "function_call_output" and "elicited " in str(item)
        ]
        unique = {item["call_id"]: item for item in outputs}
        if len(unique) >= calls:
            text = "".join(
                part.get("text", "") for part in list(unique.values())[calls - 1]["output"]
            )
            return json.loads(text.split("elicited ", 1)[1])
        page.wait_for_timeout(100)
    raise AssertionError(f"the MCP server's call {calls} never reached the model")


def test_a_person_grants_part_of_what_codex_asks_for_and_approves_a_network_rule(page, world):
    sign_in(page)
    open_new_session(page, world)
    send(page, "[permissions]")
    card = page.locator(".approval", has_text="Codex asks for more permissions")
    card.wait_for()
    assert card.get_by_label("Read /srv/data/in").is_checked()
    assert card.get_by_label("Write /srv/data/out").count() == 1  # listed once, not twice
    card.get_by_label("Write /srv/data/tmp").tap()  # not that one
    card.get_by_label("Use the network").tap()  # nor the network
    card.get_by_label("The rest of this session").tap()
    screenshot(page, "permissions")
    card.get_by_role("button", name="Grant the ticked ones").tap()
    page.get_by_text("Turn completed").wait_for()
    assert json.loads(tool_output(world)) == {
        "permissions": {
            "network": None,
            "file_system": {"read": ["/srv/data/in"], "write": ["/srv/data/out"]},
        },
        "scope": "session",
    }

    # Codex offers network rules only behind its managed network proxy, which this offline
    # machine cannot run: such a request is put in the log as the agent reports it, and
    # what the page sends is read back from the relay (the agent finds it no longer waits).
    page.locator("a.brand").tap()
    world.relay.python(OFFER_NETWORK_RULE % world.device_id)
    card = page.locator(".approval", has_text="pip download requests")
    card.locator(".rule", has_text="allow connections to pypi.org").wait_for()
    assert card.locator("button").all_inner_texts() == [
        "Approve",
        "Approve and change the network rule",
        "Decline",
        "Cancel turn",
    ]
    card.get_by_role("button", name="Approve and change the network rule").tap()
    for _tick in range(100):
        sent = json.loads(world.relay.python(SENT))
        if sent:
            break
        page.wait_for_timeout(100)
    assert sent == [
        {
            "requestId": "inst:1:88",
            "decision": {
                "applyNetworkPolicyAmendment": {
                    "network_policy_amendment": {"host": "pypi.org", "action": "allow"}
                }
            },
        }
    ]


@pytest.fixture
def mcp_world(tmp_path: Path, static_root: dict[str, str]) -> Iterator[World]:
    with codex_world(tmp_path, static_root, mcp=True) as space:
        yield space


@pytest.fixture
def mcp_page(chromium: Any, mcp_world: World) -> Iterator[Any]:
    with watched_page(chromium, mcp_world.host) as opened:
        yield opened


def test_a_person_answers_an_mcp_servers_form_and_page_from_the_phone(mcp_page, mcp_world):
    page, world = mcp_page, mcp_world
    sign_in(page)
    open_new_session(page, world)

    # Codex first asks whether the tool may run at all; for the session, here.
    send(page, "[mcp:release:fill_form]")
    tool = page.locator(".approval", has_text="Codex wants to use a tool")
    tool.get_by_text("fill_form", exact=True).wait_for()
    page.get_by_text("Codex is waiting for your answer: use fill_form").wait_for()
    tool.get_by_role("button", name="Allow for this session").tap()

    form = page.locator(".approval", has_text="A tool asks for details")
    form.get_by_text(FORM_MESSAGE).wait_for()
    assert form.get_by_label("Tell the team").is_checked()  # the schema's default
    page.set_viewport_size({"width": 360, "height": 780})
    assert overflow(page) == [] and small_touch_targets(page) == []
    assert accessibility_problems(page) == []
    screenshot(page, "elicitation-form-360")
    form.get_by_role("button", name="Send").tap()
    form.get_by_text("Choose one for “Channel”.").wait_for()  # required, so asked for first
    form.get_by_role("group", name="Channel").get_by_text("Beta").tap()
    form.get_by_label("Replicas").fill("12")
    form.get_by_role("button", name="Send").tap()
    form.get_by_text(re.compile("^Replicas: ")).wait_for()  # above its maximum of 9
    form.get_by_label("Replicas").fill("3")
    form.get_by_label("Release note").fill("ship it")
    form.get_by_label("Tell the team").tap()
    form.get_by_role("button", name="Send").tap()
    assert elicited(page, world, 1) == {
        "action": "accept",
        "content": {"channel": "beta", "replicas": 3, "note": "ship it", "notify": False},
    }

    # Each turn ends before the next is sent (sent during a turn, a message steers it).
    page.get_by_text("Turn completed").nth(0).wait_for()

    # A page to open, from another tool of that server: its own approval, once this time.
    send(page, "[mcp:release:open_link]")
    tool.get_by_text("open_link", exact=True).wait_for()
    tool.get_by_role("button", name="Allow once").tap()
    link_card = page.locator(".approval", has_text="A tool asks you to open a page")
    link_card.get_by_text(LINK_MESSAGE).wait_for()
    opened = link_card.get_by_role("link", name="Open example.com")
    assert opened.get_attribute("href") == LINK
    assert opened.get_attribute("rel") == "noopener noreferrer"
    screenshot(page, "elicitation-link-360")
    link_card.get_by_role("button", name="I have finished there").tap()
    opened_page = elicited(page, world, 2)  # Codex hands the server an empty content
    assert opened_page["action"] == "accept" and not opened_page["content"]

    page.get_by_text("Turn completed").nth(1).wait_for()

    # fill_form was allowed for the session: Codex asks only the server's own form now.
    send(page, "[mcp:release:fill_form]")
    form.get_by_text(FORM_MESSAGE).wait_for()
    assert tool.count() == 0
    form.get_by_role("button", name="Decline").tap()
    declined = elicited(page, world, 3)
    assert declined["action"] == "decline" and not declined.get("content")
    page.locator(".approval").first.wait_for(state="detached")


OFFER_NETWORK_RULE = """
import django; django.setup()
from django.db import transaction
from devices.realtime.eventlog import record_relay_event_locked
from devices.models import Device
rule = {"applyNetworkPolicyAmendment": {"network_policy_amendment":
    {"host": "pypi.org", "action": "allow"}}}
params = {"threadId": "thr_n", "turnId": "turn_n", "itemId": "call-n",
    "command": "pip download requests", "networkApprovalContext": {"host": "pypi.org",
    "protocol": "https"}, "availableDecisions": ["accept", rule, "cancel"]}
with transaction.atomic():
    device = Device.objects.select_for_update().get(device_id=%r)
    record_relay_event_locked(device, "item/commandExecution/requestApproval",
        {"requestId": "inst:1:88", "method": "item/commandExecution/requestApproval",
         "params": params}, thread_id="thr_n")
"""

SENT = """
import django, json; django.setup()
from devices.models import Command
print(json.dumps([c.params for c in Command.objects.filter(params__requestId="inst:1:88")]))
"""
