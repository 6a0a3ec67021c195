"""The console in a phone's browser (SPEC §6), against a live relay and a computer driven by
the real agent on the real `codex app-server` with the fake model: what a person does
from the sofa, checked on screen."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import chromium, phone, screenshot, sign_in, static_root  # noqa: F401
from .codex_world import World, codex_world, wait_online

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def world(tmp_path: Path, static_root: dict[str, str]) -> Iterator[World]:  # noqa: F811
    with codex_world(tmp_path, static_root) as space:
        yield space


@pytest.fixture
def page(chromium: Any, world: World) -> Iterator[Any]:  # noqa: F811
    context = phone(chromium, world.host)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert problems == [], problems


def open_new_session(page: Any, world: World) -> None:
    page.get_by_role("link", name=re.compile("desk")).click()
    page.get_by_role("heading", name="desk").wait_for()
    page.get_by_role("button", name="Start a session").click()
    page.get_by_role("heading", name="New session").wait_for()


def send(page: Any, text: str) -> None:
    page.get_by_label("Message to Codex").fill(text)
    page.locator(".composer").get_by_role("button", name=re.compile("^(Send|Steer)$")).click()


def test_a_person_follows_a_turn_and_answers_codex_from_a_phone(page, world):
    sign_in(page)
    device = page.locator(f'[data-device="{world.device_id}"]')
    device.get_by_text("Online").wait_for()
    screenshot(page, "devices")
    open_new_session(page, world)

    send(page, "say hi")
    page.locator(".item.agent").get_by_text("Hello from the fake model.").wait_for()
    page.get_by_text("Turn completed").wait_for()
    screenshot(page, "session")

    send(page, "[shell:mkdir -p approved_dir]")
    card = page.locator(".approval")
    card.get_by_text("mkdir -p approved_dir").first.wait_for()
    screenshot(page, "approval")
    card.get_by_role("button", name="Approve", exact=True).click()
    page.locator(".item.command .pill", has_text="completed").wait_for()
    page.get_by_text("Turn completed").nth(1).wait_for()
    assert (world.workspace / "approved_dir").is_dir()
    assert page.locator(".approval").count() == 0

    # The next one is answered from the list of everything waiting, across devices.
    session_url = page.url
    send(page, "[shell:mkdir -p declined_dir]")
    page.locator(".approval").wait_for()
    page.get_by_role("link", name="1 waiting for you").click()
    attention = page.get_by_role("region", name="Needs attention (1)")
    attention.get_by_text("mkdir -p declined_dir").first.wait_for()
    attention.get_by_text("on desk").wait_for()
    screenshot(page, "attention")
    attention.get_by_role("button", name="Decline").click()
    page.get_by_role("region", name=re.compile("Needs attention")).wait_for(state="hidden")
    page.goto(session_url)
    page.locator(".item.command .pill", has_text="declined").wait_for()
    page.get_by_text("Turn completed").nth(2).wait_for()
    assert not (world.workspace / "declined_dir").exists()


def test_a_running_turn_is_steered_and_interrupted_from_the_composer(page, world):
    sign_in(page)
    open_new_session(page, world)
    send(page, "[slow]")
    page.get_by_role("button", name="Interrupt").wait_for()
    page.locator(".item.agent", has_text="chunk").first.wait_for()
    send(page, "[slow] and this")
    page.locator(".item.user", has_text="and this").wait_for()
    page.get_by_role("button", name="Interrupt").click()
    page.get_by_text("Turn interrupted").wait_for()
    assert page.get_by_role("button", name="Interrupt").is_hidden()
    assert page.locator(".composer").get_by_role("button", name="Send").is_visible()


def test_the_permission_preset_changes_and_the_console_shows_what_the_device_reports(page, world):
    sign_in(page)
    page.get_by_role("link", name=re.compile("desk")).click()
    page.get_by_text("The computer reports: Ask for approval · Default").wait_for()
    screenshot(page, "device")
    page.get_by_label(re.compile("^Full access")).tap()
    page.get_by_role("button", name="Apply").tap()
    # Full access is asked about first, and the safe answer changes nothing.
    dialog = page.get_by_role("dialog", name="Give Codex full access?")
    dialog.get_by_role("button", name="Cancel").tap()
    dialog.wait_for(state="detached")
    page.wait_for_timeout(500)
    assert (
        world.browser.call("GET", f"/api/devices/{world.device_id}")["controlState"][
            "permissionPreset"
        ]
        == "ask"
    )
    page.get_by_role("button", name="Apply").tap()
    dialog.get_by_role("button", name="Give full access").tap()
    page.get_by_text("The computer reports: Full access · Default").wait_for()
    reported = world.browser.call("GET", f"/api/devices/{world.device_id}")["controlState"]
    assert reported["permissionPreset"] == "full" and reported["sandbox"] == "danger-full-access"


def test_the_console_says_when_the_computer_goes_offline_and_still_reads_its_history(page, world):
    thread_id = world.browser.command(world.device_id, "startThread")["result"]["thread"]["id"]
    stream = world.browser.stream()
    world.browser.command(world.device_id, "startTurn", threadId=thread_id, input="say hi")
    stream.until(lambda event: event["eventType"] == "turn/completed")
    stream.close()
    sign_in(page)
    device = page.locator(f'[data-device="{world.device_id}"]')
    device.get_by_text("Online").wait_for()
    world.runtime.stop()
    wait_online(world.browser, world.device_id, online=False)
    device.get_by_text("Offline").wait_for()
    device.click()
    page.get_by_text(re.compile("This computer is offline")).wait_for()
    page.get_by_text("These sessions come from the relay's history.", exact=False).wait_for()
    assert page.get_by_role("button", name="Apply").is_disabled()
    assert page.get_by_role("button", name="Start a session").count() == 0
    screenshot(page, "device-offline")

    # History comes from the relay's log; what is sent now waits for the computer.
    page.locator(f'[data-thread="{thread_id}"]').click()
    page.locator(".item.agent").get_by_text("Hello from the fake model.").wait_for()
    send(page, "when you are back, run the tests")
    page.get_by_text("Queued until the computer is back").wait_for()
    queued = world.relay.python(
        "import django; django.setup()\n"
        "from devices.models import Command\n"
        "print(list(Command.objects.filter(name='startTurn').values_list('status', flat=True)))"
    )
    assert "queued" in queued


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
    world.relay.start(port)
    page.get_by_role("button", name="Retry now").tap()
    page.get_by_role("heading", name="Your computers").wait_for(timeout=10_000)
    page.locator(f'[data-device="{world.device_id}"]').wait_for()


def test_every_main_screen_passes_the_accessibility_rules(page, world):
    from .browser import accessibility_problems

    page.goto("/console/")
    page.get_by_role("heading", name="Sign in").wait_for()
    screenshot(page, "sign-in")
    problems = {"sign-in": accessibility_problems(page)}
    sign_in(page)
    problems["devices"] = accessibility_problems(page)
    page.get_by_role("link", name="Add a computer").click()
    page.get_by_role("heading", name="Add a computer").wait_for()
    screenshot(page, "add-computer")
    problems["add-computer"] = accessibility_problems(page)
    page.goto("/console/#/")
    open_new_session(page, world)
    send(page, "[shell:mkdir -p checked_dir]")
    page.locator(".approval").wait_for()
    problems["session"] = accessibility_problems(page)
    page.get_by_role("link", name=re.compile("← desk")).click()
    page.get_by_role("heading", name="desk").wait_for()
    problems["device"] = accessibility_problems(page)
    page.emulate_media(color_scheme="dark")
    problems["device, dark"] = accessibility_problems(page)
    page.go_back()
    page.locator(".approval").wait_for()
    page.locator(".item.command").wait_for()
    screenshot(page, "session-dark")
    problems["session, dark"] = accessibility_problems(page)
    assert {screen: found for screen, found in problems.items() if found} == {}


def test_keyboard_focus_moves_through_sign_in_in_reading_order(page, world):
    page.goto("/console/")
    page.get_by_role("heading", name="Sign in").wait_for()
    names = []
    for _ in range(8):
        page.keyboard.press("Tab")
        names.append(
            page.evaluate(
                """() => {
                    const el = document.activeElement;
                    const label = el.labels && el.labels[0];
                    return (el.getAttribute("aria-label") || (label && label.textContent)
                        || el.textContent || "").trim();
                }"""
            )
        )
    assert names == [
        "Skip to content",
        "codexpanel",
        "Menu",
        "Password",
        "Email code",
        "Username",
        "Password",
        "Sign in",
    ]


def test_the_console_speaks_chinese_to_a_chinese_browser(chromium, world):  # noqa: F811
    context = phone(
        chromium, world.host, locale="zh-CN", extra_http_headers={"Accept-Language": "zh-Hans"}
    )
    page = context.new_page()
    try:
        page.goto("/console/")
        page.get_by_role("heading", name="登录").wait_for()
        assert page.get_by_role("button", name="登录").is_visible()
        screenshot(page, "sign-in-zh")
    finally:
        context.close()


def test_the_installed_console_opens_offline_without_showing_stale_data(page, world):
    sign_in(page)
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope.endswith("/console/")
    page.reload()  # now under the service worker's control
    page.get_by_role("heading", name="Your computers").wait_for()
    page.context.set_offline(True)
    page.reload()
    page.get_by_text("You are offline.").wait_for()
    page.get_by_text("The relay cannot be reached.").wait_for()
    assert page.locator("[data-device]").count() == 0
    page.context.set_offline(False)


def test_a_file_change_approval_shows_the_path_and_diff_before_codex_writes(page, world):
    from .console_scenarios import outside_folder

    with outside_folder() as outside:
        target = outside / "notes.txt"
        sign_in(page)
        open_new_session(page, world)
        send(page, f"[patch:{target}:hello from the phone]")
        card = page.locator(".approval")
        card.get_by_text("Codex wants to change files").wait_for()
        card.get_by_text(str(target)).wait_for()
        card.locator("pre.diff").get_by_text("hello from the phone").wait_for()
        screenshot(page, "file-change-approval")
        card.get_by_role("button", name="Approve", exact=True).click()
        page.get_by_text("Turn completed").wait_for()
        assert target.read_text() == "hello from the phone\n"


def test_device_actions_reach_the_computer(page, world):
    sign_in(page)
    page.get_by_role("link", name=re.compile("desk")).click()
    page.get_by_role("button", name="Restart Codex").click()
    page.get_by_text("Restart Codex: done.").wait_for()
    page.get_by_role("button", name="Reconnect").click()
    page.get_by_text("Reconnect: done.").wait_for()
    wait_online(world.browser, world.device_id)
    assert world.browser.command(world.device_id, "listSessions")["status"] == "done"

    # Restarting the agent is asked about first; Cancel sends nothing.
    page.get_by_role("button", name="Restart the agent").tap()
    dialog = page.get_by_role("dialog", name="Restart the agent?")
    dialog.get_by_role("button", name="Cancel").tap()
    dialog.wait_for(state="detached")
    sent = world.relay.python(
        "import django; django.setup()\n"
        "from devices.models import Command\n"
        "print(Command.objects.filter(name='restartAgent').count())"
    )
    assert sent.strip() == "0"


@pytest.fixture
def site(tmp_path: Path, static_root: dict[str, str]) -> Iterator[str]:  # noqa: F811
    from .live import sqlite_relay

    with sqlite_relay(tmp_path, static_root) as relay:
        yield relay.start()


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/project.html", "codexpanel"),
        ("/device.html", "Add a computer"),
        ("/desktop/setup", None),
    ],
)
def test_the_site_pages_share_the_look_and_pass_the_accessibility_rules(
    chromium,  # noqa: F811
    site,
    path,
    heading,
):
    from .browser import accessibility_problems

    context = phone(chromium, site)
    page = context.new_page()
    try:
        page.goto(path)
        if heading:
            page.get_by_role("heading", name=heading, exact=True).wait_for()
        assert page.locator("link[href='/static/codexpanel/site.css']").count() == 1
        assert (
            page.get_by_role("link", name="Console", exact=True).get_attribute("href")
            == "/console/"
        )
        screenshot(page, path.strip("/").replace("/", "-").replace(".html", ""))
        assert accessibility_problems(page) == []
    finally:
        context.close()


SHOP = """
import django; django.setup()
from accounts.models import User
from wallet import actions
from wallet.models import CardPlan
CardPlan.objects.create(code="pro", name="Pro", price=3000, duration_days=30, device_quota=5)
actions.adjust(User.objects.get(username="ada"), kind="recharge", amount=4550,
    reason="first payment", idempotency_key="setup")
"""


def test_a_person_buys_a_monthly_card_from_their_balance(chromium, tmp_path, static_root):  # noqa: F811
    from .browser import accessibility_problems
    from .live import sqlite_relay

    with sqlite_relay(tmp_path, static_root) as relay:
        relay.paired_device()
        relay.python(SHOP)
        context = phone(chromium, relay.start())
        page = context.new_page()
        try:
            sign_in(page)
            page.get_by_text("Menu").click()
            page.get_by_role("link", name="Account").click()
            page.get_by_role("heading", name="Account").wait_for()
            page.get_by_test_id("balance").get_by_text("45.50").wait_for()
            page.get_by_text("1 of 1 computers in use").wait_for()
            page.locator(".row", has_text="Recharge").get_by_text("first payment").wait_for()
            assert accessibility_problems(page) == []
            page.get_by_role("button", name=re.compile("^Buy for")).tap()
            dialog = page.get_by_role("dialog", name=re.compile("^Buy Pro for"))
            dialog.get_by_text("is taken from your balance now").wait_for()
            dialog.get_by_role("button", name=re.compile("^Buy for")).tap()
            page.get_by_text("Pro is yours.").wait_for()
            page.get_by_test_id("balance").get_by_text("15.50").wait_for()
            page.get_by_text("1 of 5 computers in use").wait_for()
            page.locator(".row", has_text="Card purchase").wait_for()
            assert page.get_by_role("button", name=re.compile("^Buy for")).is_disabled()
            screenshot(page, "account")
        finally:
            context.close()
        audit = relay.python(
            "import django; django.setup()\n"
            "from django.core.management import call_command\n"
            "call_command('audit_wallets')"
        )
        assert "every balance matches its ledger" in audit


SMALL_PHONE = {"width": 360, "height": 740}


def test_every_control_on_every_console_screen_is_big_enough_to_tap(chromium, world):  # noqa: F811
    from .browser import small_touch_targets

    context = phone(chromium, world.host, viewport=SMALL_PHONE)
    page = context.new_page()
    small: dict[str, list[str]] = {}

    def measure(screen: str) -> None:
        found = small_touch_targets(page)
        if found:
            small[screen] = found
        screenshot(page, f"touch-{screen}")

    try:
        page.goto("/console/")
        page.get_by_role("heading", name="Sign in").wait_for()
        measure("sign-in")
        sign_in(page)
        thread = world.browser.command(world.device_id, "startThread")["result"]["thread"]["id"]
        world.browser.command(world.device_id, "startTurn", threadId=thread, input="[shell:ls]")
        page.get_by_role("region", name="Needs attention (1)").wait_for()
        measure("home")
        page.locator("details.menu summary").tap()
        measure("menu")
        page.locator(".menu-panel").get_by_role("link", name="Account").tap()
        page.get_by_role("heading", name="Account").wait_for()
        assert page.locator("details.menu").get_attribute("open") is None  # closed by going
        measure("account")
        page.goto("/console/#/add")
        page.get_by_role("heading", name="Add a computer").wait_for()
        measure("add")
        page.goto(f"/console/#/d/{world.device_id}")
        page.get_by_role("button", name="Restart the agent").wait_for()
        measure("device")
        page.get_by_role("button", name="Restart the agent").tap()
        page.get_by_role("dialog").wait_for()
        measure("confirm")
        page.get_by_role("dialog").get_by_role("button", name="Cancel").tap()
        page.goto(f"/console/#/d/{world.device_id}/s/{thread}")
        page.locator(".approval").get_by_role("button", name="Approve", exact=True).wait_for()
        measure("session")
    finally:
        context.close()
    assert small == {}, small


def test_messages_stay_clear_of_controls_and_the_menu_closes_on_sign_out(page, world):
    sign_in(page)
    page.get_by_role("link", name=re.compile("desk")).tap()
    reconnect = page.get_by_role("button", name="Reconnect")
    reconnect.tap()
    page.get_by_text("Reconnect: done.").wait_for()
    # The button just tapped is still what a finger there reaches, not the message.
    box = reconnect.bounding_box()
    on_top = page.evaluate(
        "([x, y]) => document.elementFromPoint(x, y)?.textContent",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert on_top == "Reconnect"
    page.locator(".back").tap()
    page.get_by_role("heading", name="Your computers").wait_for()
    assert page.locator(".toast").count() == 0  # nothing carried over

    page.locator("details.menu summary").tap()
    page.get_by_role("button", name="Sign out").tap()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.locator("details.menu").get_attribute("open") is None


def start_slow_turn_on_screen(page: Any, world: World) -> None:
    sign_in(page)
    open_new_session(page, world)
    send(page, "[slow]")
    page.locator(".item.agent").get_by_text("chunk 3", exact=False).wait_for()
    page.get_by_role("button", name="Interrupt").wait_for()


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


def test_a_turn_is_shown_ended_when_codex_restarts_under_it(page, world):
    start_slow_turn_on_screen(page, world)
    assert world.browser.command(world.device_id, "restartCodex")["status"] == "done"
    page.get_by_text("Ended: Codex restarted").wait_for()
    assert page.locator(".composer").get_by_role("button", name="Interrupt").is_hidden()


@pytest.fixture
def linked_world(tmp_path: Path, static_root: dict[str, str]) -> Iterator[tuple[World, Any]]:  # noqa: F811
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
    chromium,  # noqa: F811
    linked_world,
):
    world, link = linked_world
    context = phone(chromium, world.host)
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
        card.get_by_text("The computer has not confirmed your answer yet.").wait_for(timeout=20_000)
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
