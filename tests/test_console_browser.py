"""The console in a phone's browser (SPEC §6), against a live relay and a computer driven by
the real agent on the real `codex app-server` with the fake model: what a person does
from the sofa, checked on screen."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .browser import phone, screenshot, sign_in
from .codex_world import wait_online
from .console_kit import open_new_session, send

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]


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
    # While Codex waits, everything about the session says so, not "working".
    page.get_by_text("Codex is waiting for your answer: mkdir -p approved_dir").wait_for()
    page.locator(".turn-end[data-status=waiting]").get_by_text(
        "Waiting for your answer: mkdir -p approved_dir"
    ).wait_for()
    page.locator(".item.command .pill", has_text="waiting for you").wait_for()
    assert page.title() == "(1) codexpanel"
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


def test_the_console_speaks_chinese_to_a_chinese_browser(chromium, world):
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


def test_the_installed_console_opens_offline_with_the_last_known_computers_read_only(page, world):
    sign_in(page)
    scope = page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope.endswith("/console/")
    page.reload()  # now under the service worker's control
    page.get_by_role("heading", name="Your computers").wait_for()
    page.get_by_role("link", name=re.compile("desk")).tap()
    page.locator("[data-thread], .list .empty", has_text=re.compile(".")).first.wait_for()
    page.context.set_offline(True)
    page.reload()
    page.get_by_text("You are offline.").wait_for()
    page.get_by_text("The relay cannot be reached.").wait_for()
    # Not live data: nothing to tap, and marked as this phone's last copy.
    assert page.locator("[data-device]").count() == 0
    known = page.locator('[data-known-device="live-desk-000001"]')
    known.get_by_text("desk").wait_for()
    known.get_by_text("Was online").wait_for()
    page.get_by_text(re.compile("Read-only, as this phone last saw it")).wait_for()
    assert known.locator("a, button").count() == 0
    screenshot(page, "offline-last-known")
    page.context.set_offline(False)  # back on the network, it comes up by itself
    page.get_by_role("heading", name="desk").wait_for(timeout=10_000)  # where it was left

    # Signing out forgets the copy.
    page.locator("details.menu summary").tap()
    page.get_by_role("button", name="Sign out").tap()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.context.set_offline(True)
    page.reload()
    page.get_by_text("The relay cannot be reached.").wait_for()
    assert page.locator("[data-known-device]").count() == 0
    page.context.set_offline(False)


def test_device_actions_reach_the_computer(page, world):
    sign_in(page)
    page.get_by_role("link", name=re.compile("desk")).click()
    page.get_by_role("button", name="Restart Codex").click()
    page.get_by_text("Restart Codex: done.").wait_for()
    welcomed_before = world.runtime.client.welcomed_at
    page.get_by_role("button", name="Reconnect").click()
    page.get_by_text("Reconnect: done.").wait_for()
    # "done" is the answer before the agent drops its socket: the device may still show
    # online on the old one, and a command sent in between would find it offline.
    deadline = time.monotonic() + 30
    while world.runtime.client.welcomed_at == welcomed_before:
        assert time.monotonic() < deadline, "the agent never connected again"
        time.sleep(0.05)
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
def site(tmp_path: Path, static_root: dict[str, str]) -> Iterator[str]:
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
    chromium,
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


def test_a_person_buys_a_monthly_card_from_their_balance(chromium, tmp_path, static_root):
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


def test_approving_with_the_offered_rule_shows_the_rule_and_codex_runs_the_command(page, world):
    sign_in(page)
    open_new_session(page, world)
    send(page, "[shell:mkdir -p ruled_dir]")
    card = page.locator(".approval")
    card.get_by_text("mkdir -p ruled_dir").first.wait_for()
    rule = card.locator(".rule")
    assert "mkdir -p ruled_dir" in rule.inner_text()
    screenshot(page, "approval-with-rule")
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    card.get_by_role("button", name="Approve and allow from now on").tap()
    page.locator(".item.command .pill", has_text="completed").first.wait_for()
    page.get_by_text("Turn completed").wait_for()
    assert (world.workspace / "ruled_dir").is_dir()
    # The answer and its result in one request: on a phone, one round trip over the air.
    commands = [line for line in sent if "/commands" in line]
    assert len(commands) == 1 and commands[0].startswith("POST "), commands
    assert commands[0].endswith("/commands?wait=25"), commands
    sent = world.relay.python(
        "import django; django.setup()\n"
        "from devices.models import Command\n"
        "print(*Command.objects.get(name='resolveApproval').params['decision'])"
    )
    assert sent.split() == ["acceptWithExecpolicyAmendment"]
