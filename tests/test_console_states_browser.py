"""The console says what is true of the computer and of the relay (SPEC §6): a turn
whose computer went away is shown ended, cards of an offline computer wait, an answer
never sticks, and the console comes back on its own after the relay or the network was
lost. Driven in a phone's Chromium against a real agent on the real Codex."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import phone, screenshot, sign_in
from .codex_world import World, codex_world, wait_online
from .console_kit import open_new_session, send, start_slow_turn_on_screen

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]


def test_the_console_recovers_on_its_own_from_a_relay_restart_and_a_network_drop(page, world):
    sign_in(page)
    device = page.locator(f'[data-device="{world.device_id}"]')
    device.get_by_text("Online").wait_for()
    top_bar = page.locator("header.topbar")
    height = top_bar.bounding_box()["height"]
    banner = page.locator("#banner")

    port = int(world.host.rsplit(":", 1)[1])
    world.relay.kill(world.host)
    banner.get_by_text(re.compile(r"Reconnecting in \d+ s")).wait_for()
    assert top_bar.bounding_box()["height"] == height
    screenshot(page, "reconnecting")

    world.relay.start(port)
    # Within 10 s of the relay's return the console is back, with no reload.
    banner.wait_for(state="hidden", timeout=10_000)
    device.get_by_text("Online").wait_for(timeout=60_000)
    wait_online(world.browser, world.device_id)

    # What happens while the phone is off the network arrives when it is back.
    page.context.set_offline(True)
    banner.get_by_text("You are offline.", exact=False).wait_for()
    thread_id = world.browser.command(world.device_id, "startThread")["result"]["thread"]["id"]
    world.browser.command(world.device_id, "startTurn", threadId=thread_id, input="[shell:ls]")
    page.context.set_offline(False)
    attention = page.get_by_role("region", name="Needs attention (1)")
    attention.get_by_text("/bin/bash -lc ls").wait_for(timeout=10_000)
    banner.wait_for(state="hidden")


def test_a_console_opened_while_the_relay_is_down_comes_up_when_it_returns(page, world):
    port = int(world.host.rsplit(":", 1)[1])
    sign_in(page)
    world.relay.kill(world.host)
    page.reload()
    page.get_by_text("The relay cannot be reached.").wait_for()
    page.get_by_text(re.compile(r"Reconnecting in \d+ s")).wait_for()
    screenshot(page, "relay-down")
    # Until the console waits long between attempts: started earlier, the relay would be
    # found by the next attempt before the tap, and the button gone from under it.
    page.get_by_text(re.compile(r"Reconnecting in [6-8] s")).wait_for(timeout=20_000)
    world.relay.start(port)
    page.get_by_role("button", name="Retry now").tap()
    page.get_by_role("heading", name="Your computers").wait_for(timeout=10_000)
    page.locator(f'[data-device="{world.device_id}"]').wait_for()


def test_a_turn_whose_computer_went_offline_is_shown_ended_and_a_new_message_is_queued(page, world):
    start_slow_turn_on_screen(page, world)
    world.runtime.stop()
    page.get_by_text("Ended: the computer went offline").wait_for()
    composer = page.locator(".composer")
    assert composer.get_by_role("button", name="Interrupt").is_hidden()
    assert composer.get_by_role("button", name="Send").is_visible()
    assert page.get_by_text("Working…").count() == 0
    screenshot(page, "turn-ended-offline")

    send(page, "carry on when you are back")
    composer.get_by_text(re.compile("^Queued")).wait_for()
    queued = world.relay.python(
        "import django; django.setup()\n"
        "from devices.models import Command\n"
        "c = Command.objects.filter(name__in=['startTurn', 'steerTurn']).latest('pk')\n"
        "print(c.name, c.status)"
    )
    assert queued.split() == ["startTurn", "queued"]


def test_the_header_tells_a_dropped_computer_from_a_stopped_one(page, world):
    from agent.runtime.host import HostRuntime

    sign_in(page)
    open_new_session(page, world)
    state = page.locator(".toolbar [data-presence]")
    assert state.inner_text() == "Online"

    # The agent's connection ends without a goodbye, as in a crash or a network drop.
    world.runtime.stop(leaving=False)
    page.locator('.toolbar [data-presence="reconnecting"]').wait_for()
    assert state.inner_text() == "Reconnecting…"
    page.get_by_text("The computer is reconnecting", exact=False).wait_for()
    assert page.locator("#banner").is_hidden()  # the console's own connection is fine
    screenshot(page, "computer-reconnecting")

    back = HostRuntime(world.runtime.settings)
    back.start()
    try:
        page.locator('.toolbar [data-presence="online"]').wait_for(timeout=30_000)
    finally:
        back.stop()  # an agent that stops for good says so
    page.locator('.toolbar [data-presence="offline"]').wait_for()
    page.get_by_text("The computer is offline; what you send waits", exact=False).wait_for()


def test_a_turn_is_shown_ended_when_codex_restarts_under_it(page, world):
    start_slow_turn_on_screen(page, world)
    assert world.browser.command(world.device_id, "restartCodex")["status"] == "done"
    page.get_by_text("Ended: Codex restarted").wait_for()
    assert page.locator(".composer").get_by_role("button", name="Interrupt").is_hidden()


@pytest.fixture
def linked_world(tmp_path: Path, static_root: dict[str, str]) -> Iterator[tuple[World, Any]]:
    from .services import Link

    links: list[Link] = []

    def route(host: str) -> str:
        links.append(Link(host))
        return links[-1].address

    with codex_world(tmp_path, static_root, route=route) as space:
        yield space, links[0]
    for link in links:
        link.close()


def test_an_answer_the_computer_never_confirms_offers_retry_and_stop_waiting(
    chromium,
    linked_world,
):
    world, link = linked_world
    context = phone(chromium, world.host)
    # The page's own clock, so the ten seconds it waits for a confirmation pass at once.
    context.clock.install()
    page = context.new_page()
    try:
        sign_in(page)
        thread = world.browser.command(world.device_id, "startThread")["result"]["thread"]["id"]
        world.browser.command(world.device_id, "startTurn", threadId=thread, input="[shell:ls]")
        card = page.locator(".approval")
        card.get_by_text("/bin/bash -lc ls").wait_for()

        link.freeze()  # the computer stops answering and nobody is told
        approve = card.get_by_role("button", name="Approve", exact=True)
        approve.tap()
        card.get_by_text("Sending your answer…").first.wait_for()
        page.clock.fast_forward(10_000)
        card.get_by_text("The computer has not confirmed your answer yet.").wait_for()
        assert card.get_by_role("button", name="Retry").is_visible()
        screenshot(page, "answer-unconfirmed")
        card.get_by_role("button", name="Stop waiting").tap()
        assert approve.is_enabled()
        assert card.get_by_role("button", name="Retry").count() == 0

        # Once the relay knows the computer is gone, its cards say so and take no answer.
        world.runtime.stop()
        link.cut()
        card.get_by_text("The computer is offline. Answer when it is back.").wait_for()
        assert card.get_by_role("button", name="Approve", exact=True).is_disabled()
        screenshot(page, "approval-offline")
    finally:
        context.close()
