"""Codex's questions answered from the phone (SPEC CON-6): in plan mode the real Codex asks
through request_user_input; the card shows each question with its options and a free-text
answer where Codex takes one, and the answers reach the model. Driven in a phone's
Chromium against a real agent on the real Codex; the fake model records what it got."""

from __future__ import annotations

import json

import pytest

from .browser import screenshot, sign_in
from .console_kit import open_new_session, send

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


ASK_PERMISSIONS = """
import django, json; django.setup()
from django.db import transaction
from devices.eventlog import record_relay_event_locked
from devices.models import Device
params = {"permissions": {"fileSystem": {"read": ["/data/in"], "write": ["/data/out", "/tmp/x"]},
    "network": {"enabled": True}}, "reason": "to fetch the data", "threadId": "thr_p"}
with transaction.atomic():
    device = Device.objects.select_for_update().get(device_id=%r)
    record_relay_event_locked(device, "item/permissions/requestApproval",
        {"requestId": "inst:1:77", "method": "item/permissions/requestApproval", "params": params},
        thread_id="thr_p")
"""

SENT = """
import django, json; django.setup()
from devices.models import Command
print(json.dumps(Command.objects.get(name="resolveApproval").params))
"""


def test_a_person_grants_part_of_what_codex_asks_for_and_for_how_long(page, world):
    # The real Codex asks for permissions only behind a feature this offline setup cannot
    # turn on, so the request is put in the log as the agent would report it; what the
    # page sends is read back from the relay.
    sign_in(page)
    world.relay.python(ASK_PERMISSIONS % world.device_id)
    card = page.locator(".approval", has_text="Codex asks for more permissions")
    card.get_by_text("to fetch the data").wait_for()
    assert card.get_by_label("Read /data/in").is_checked()
    card.get_by_label("Write /tmp/x").tap()  # not that one
    card.get_by_label("The rest of this session").tap()
    screenshot(page, "permissions")
    card.get_by_role("button", name="Grant the ticked ones").tap()
    card.get_by_text("Sending your answer…").first.wait_for()
    deadline = 50
    while "resolveApproval" not in world.relay.python(
        "import django; django.setup()\nfrom devices.models import Command\n"
        "print(*Command.objects.values_list('name', flat=True))"
    ):
        deadline -= 1
        assert deadline, "the answer never reached the relay"
        page.wait_for_timeout(100)
    assert json.loads(world.relay.python(SENT)) == {
        "requestId": "inst:1:77",
        "permissions": {
            "fileSystem": {"read": ["/data/in"], "write": ["/data/out"]},
            "network": {"enabled": True},
        },
        "scope": "session",
    }
