"""Looking after computers and sessions from the phone (SPEC §6, CON-2, CON-8): rename and
remove a computer, archive a session, copy the install command, and see a newly paired
computer arrive without a reload. Driven in a phone's Chromium against a real agent on
the real Codex."""

from __future__ import annotations

import json
import re
import time

import pytest
import websocket

from .browser import screenshot, sign_in
from .console_kit import open_new_session, send
from .console_scenarios import turn_done
from .realtime import hello

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]

SECOND_DESK = """
import django; django.setup()
from accounts.models import User
from devices.actions import bind_device, mint_device_token
ada = User.objects.get(username="ada")
minted = mint_device_token()
bind_device(owner=ada, device_id="second-desk-0001", name="laptop", platform="linux",
    agent_version="0.2.0", workspace="/l", token_hash=minted.digest,
    token_hint=minted.plaintext[:12], bound_by=ada, allow_rebind=True)
print(minted.plaintext)
"""


def test_a_person_renames_a_computer_and_removes_it_after_confirming(page, world):
    sign_in(page)
    page.get_by_role("link", name=re.compile("desk")).tap()
    name = page.get_by_label("Name", exact=True)
    name.fill("Studio Mac")
    page.get_by_role("button", name="Rename").tap()
    page.get_by_role("heading", name="Studio Mac").wait_for()
    assert world.browser.call("GET", f"/api/devices/{world.device_id}")["name"] == "Studio Mac"

    remove = page.get_by_role("button", name="Remove this computer")
    remove.tap()
    dialog = page.get_by_role("dialog", name="Remove Studio Mac?")
    dialog.get_by_role("button", name="Cancel").tap()
    assert [d["deviceId"] for d in world.browser.call("GET", "/api/devices")["devices"]] == [
        world.device_id
    ]
    remove.tap()
    dialog.get_by_role("button", name="Remove computer").tap()
    page.get_by_role("heading", name="Your computers").wait_for()
    page.get_by_text("Studio Mac was removed.").wait_for()
    assert page.locator("[data-device]").count() == 0
    assert world.browser.call("GET", "/api/devices")["devices"] == []


def test_the_computer_page_names_the_codex_and_what_it_said_is_deprecated(page, world):
    # A deprecated request, as an older agent made on every read: Codex announces it.
    stream = world.browser.stream()
    thread_id = world.browser.command(world.device_id, "startThread")["result"]["thread"]["id"]
    world.browser.command(world.device_id, "startTurn", threadId=thread_id, input="say hi")
    stream.until(turn_done)
    world.runtime.codex_client().request(
        "thread/read", {"threadId": thread_id, "includeTurns": True}
    )
    world.runtime.client.heartbeat_now()
    deadline = time.monotonic() + 15
    while not world.browser.call("GET", f"/api/devices/{world.device_id}")["codex"]["notices"]:
        assert time.monotonic() < deadline, "the notice never reached the relay"
        time.sleep(0.2)
    sign_in(page)
    page.locator(f"[data-device='{world.device_id}']").tap()
    page.get_by_role("heading", name="desk").wait_for()
    version = world.runtime.codex_status.version
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert page.locator("[data-codex-version]").inner_text() == version
    notices = page.locator("[data-codex-notices] li")
    assert notices.count() == 1 and "includeTurns" in notices.inner_text()
    # A Codex newer than the agent was tested with is said so, on the page too.
    world.runtime.codex_status.version = "9.0.0"
    world.runtime.client.heartbeat_now()
    deadline = time.monotonic() + 15
    while not world.browser.call("GET", f"/api/devices/{world.device_id}")["codex"]["versionNote"]:
        assert time.monotonic() < deadline, "the version note never reached the relay"
        time.sleep(0.2)
    page.reload()
    page.get_by_text("Codex 9.0.0 is newer than this agent was tested with").wait_for()
    page.locator("[data-codex-notices]").scroll_into_view_if_needed()
    for width in (360, 390):
        page.set_viewport_size({"width": width, "height": 844})
        screenshot(page, f"computer-codex-{width}")


def test_a_session_is_archived_from_the_phone(page, world):
    sign_in(page)
    open_new_session(page, world)
    send(page, "say hi")
    page.get_by_text("Turn completed").wait_for()
    thread = page.url.rsplit("/", 1)[1]
    page.get_by_role("button", name="Archive session").tap()
    page.get_by_text("Session archived.").wait_for()
    page.get_by_role("heading", name="desk").wait_for()
    listed = world.browser.command(world.device_id, "listSessions")["result"]["data"]
    assert thread not in [session["id"] for session in listed]


def test_session_rows_show_their_state_and_search_finds_a_session(page, world):
    sign_in(page)
    open_new_session(page, world)
    send(page, "[shell:mkdir -p rows_dir]")
    page.locator(".approval").get_by_text("mkdir -p rows_dir").first.wait_for()
    session_url = page.url

    page.get_by_role("link", name="1 waiting for you").tap()
    sessions = page.get_by_role("region", name="Sessions")
    row = sessions.locator(".row", has_text="[shell:mkdir -p rows_dir]")
    row.get_by_text("Waiting for you").wait_for()
    assert "desk" in row.locator(".meta").inner_text()
    screenshot(page, "session-rows")

    attention = page.get_by_role("region", name="Needs attention (1)")
    attention.get_by_role("button", name="Approve", exact=True).tap()
    row.get_by_text("Done").wait_for(timeout=20_000)  # repainted live, no reload

    # The computer's own page shows the same state beside what Codex lists.
    page.get_by_role("link", name=re.compile("desk")).first.tap()
    page.get_by_role("heading", name="desk").wait_for()
    listed = page.locator(".card", has=page.get_by_role("heading", name="Sessions"))
    listed.locator(".row", has_text="rows_dir").get_by_text("Done").wait_for()

    page.get_by_role("link", name="← Your computers").tap()
    search = page.get_by_role("searchbox", name="Search sessions")
    search.tap()
    search.type("nothing like this")
    sessions.get_by_text("No session mentions “nothing like this”.").wait_for()
    search.fill("")
    search.type("ROWS_DIR")
    found = sessions.locator(".row")
    found.first.get_by_text("[shell:mkdir -p rows_dir]").wait_for()
    assert found.count() == 1
    screenshot(page, "session-search")
    found.first.tap()
    page.wait_for_url(session_url)
    page.get_by_text("Turn completed").wait_for()


def test_the_install_command_is_shown_whole_and_copied(page, world):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page)
    page.get_by_role("link", name="Add a computer").tap()
    command = page.get_by_test_id("install-unix")
    box = command.bounding_box()
    assert command.evaluate("(node) => node.scrollWidth <= node.clientWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.locator(".card", has=command).get_by_role("button", name="Copy").tap()
    page.get_by_text("Copied. Paste it into a terminal on that computer.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == command.inner_text()
    screenshot(page, "add-computer")


def test_a_newly_paired_computer_appears_without_a_reload(page, world):
    sign_in(page)
    page.locator(f'[data-device="{world.device_id}"]').wait_for()
    token = world.relay.python(SECOND_DESK).strip()
    agent = websocket.create_connection(f"ws://{world.host}/device-wss", timeout=10)
    try:
        agent.send(json.dumps(hello(token)))
        assert json.loads(agent.recv())["type"] == "server.welcome"
        # Within 10 s, well before the list's own 30 s refresh.
        row = page.locator('[data-device="second-desk-0001"]')
        row.get_by_text("Online").wait_for(timeout=10_000)
        assert row.get_by_text("laptop").is_visible()
    finally:
        agent.close()
