"""What goes with a message from the phone (SPEC CON-5): the model and reasoning effort
chosen from the models the computer's Codex lists, and a photo attached from the phone
that reaches Codex as an image. Driven in a phone's Chromium against a real agent on the
real Codex; the fake model records what Codex sent it."""

from __future__ import annotations

import base64
import re

import pytest

from .browser import screenshot, sign_in
from .console_kit import open_new_session
from .images import png

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]


def test_a_person_picks_model_and_effort_and_attaches_a_photo_to_a_turn(page, world):
    sign_in(page)
    open_new_session(page, world)
    composer = page.locator(".composer")

    composer.locator(".turn-options > summary").tap()
    model = composer.get_by_label("Model", exact=True)
    model.locator("option").nth(1).wait_for(state="attached")
    options = model.locator("option").all_inner_texts()
    assert options[0] == "Codex's default" and len(options) > 1
    picked = options[-1]
    model.select_option(label=picked)
    effort = composer.get_by_label("Reasoning effort")
    assert effort.locator("option").first.inner_text().startswith("The model's default (")
    effort.select_option("high")
    composer.locator(".chosen", has_text=f"{picked} · high").wait_for()

    # A file that is no image is refused on the phone, before it is sent anywhere.
    with page.expect_file_chooser() as chooser:
        composer.get_by_role("button", name="Attach a photo").tap()
    chooser.value.set_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
    page.get_by_text(re.compile("notes.txt is not an image Codex can read")).wait_for()
    tray = composer.get_by_role("list", name="Attached images")
    assert tray.locator("li").count() == 0

    image = png(12, 9, (30, 120, 200))
    with page.expect_file_chooser() as chooser:
        composer.get_by_role("button", name="Attach a photo").tap()
    chooser.value.set_files({"name": "screen.png", "mimeType": "image/png", "buffer": image})
    tray.get_by_text("Attached").wait_for()
    assert tray.get_by_role("img", name="screen.png").is_visible()
    screenshot(page, "compose-options")

    page.get_by_label("Message to Codex").fill("what is on my screen?")
    composer.get_by_role("button", name="Send").tap()
    page.get_by_text("Turn completed").wait_for()
    page.locator(".item.user", has_text="[image]").wait_for()
    assert tray.locator("li").count() == 0  # sent, so no longer waiting to be

    sent = world.fake.requests[-1]
    listed = world.browser.command(world.device_id, "listModels")["result"]["data"]
    assert sent["model"] == next(m["id"] for m in listed if m["displayName"] == picked)
    assert sent["reasoning"]["effort"] == "high"
    pictures = [
        part["image_url"]
        for item in sent["input"]
        if item.get("role") == "user"
        for part in item.get("content") or []
        if part.get("type") == "input_image"
    ]
    assert pictures == ["data:image/png;base64," + base64.b64encode(image).decode()]
