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
