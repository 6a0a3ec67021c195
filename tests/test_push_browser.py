"""A notification on the phone (SPEC CON-6): the push the relay sent (caught and decrypted
by the fake push service) is delivered to the console's service worker in Chromium
through the DevTools protocol; the worker shows it unless that session is on screen, and
its Approve answers the approval end to end, on the real Codex. (Chromium cannot
subscribe to a real push service here, offline; the subscription is made through the API
with the fake service's keys.)"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import phone, sign_in
from .codex_world import World, codex_world
from .fakes.push_service import PushService

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]


@pytest.fixture
def pushing(tmp_path: Path, static_root: dict[str, str]) -> Iterator[tuple[World, PushService]]:
    service = PushService()
    env = {**static_root, "CODEXPANEL_PUSH_ALLOW_HTTP": "true"}
    try:
        with codex_world(tmp_path, env) as world:
            yield world, service
    finally:
        service.close()


def notifications(worker: Any) -> list[dict[str, Any]]:
    return worker.evaluate(
        """async () => (await self.registration.getNotifications()).map((n) => ({
            title: n.title, body: n.body, actions: n.actions.map((a) => a.action),
        }))"""
    )


def registration_id(page: Any, devtools: Any) -> str:
    registrations: list[dict[str, Any]] = []
    devtools.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    devtools.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not registrations:
        assert time.monotonic() < deadline, "no service worker registration"
        page.wait_for_timeout(50)  # lets Playwright hand over the DevTools events
    return registrations[0]["registrationId"]


def deliver(page: Any, devtools: Any, registration: str, notice: dict[str, Any]) -> None:
    devtools.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": page.evaluate("location.origin"),
            "registrationId": registration,
            "data": json.dumps(notice),
        },
    )


def test_a_pushed_approval_is_shown_and_approved_from_the_notification(chromium, pushing):
    world, service = pushing
    browser = service.browser("phone")
    world.browser.call("POST", "/api/push/subscription", {"subscription": browser.subscription()})
    context = phone(chromium, world.host)
    context.grant_permissions(["notifications"])  # the person allowed them
    page = context.new_page()
    try:
        sign_in(page)
        page.evaluate("navigator.serviceWorker.ready")
        worker = context.service_workers[0]
        devtools = context.new_cdp_session(page)
        registration = registration_id(page, devtools)

        thread = world.browser.command(world.device_id, "startThread")["result"]["thread"]["id"]
        world.browser.command(
            world.device_id, "startTurn", threadId=thread, input="[shell:mkdir -p pushed_dir]"
        )
        notice = service.wait_for(1)[0]["notice"]
        assert re.search("mkdir -p pushed_dir", notice["body"])

        # On the session's own screen, in a visible tab, nothing is shown.
        page.goto(f"/console/#/d/{world.device_id}/s/{thread}")
        page.locator(".approval").wait_for()
        deliver(page, devtools, registration, notice)
        page.wait_for_timeout(1000)
        assert notifications(worker) == []

        page.goto("/console/#/add")
        page.get_by_role("heading", name="Add a computer").wait_for()
        deliver(page, devtools, registration, notice)
        deadline = time.monotonic() + 10
        while not notifications(worker):
            assert time.monotonic() < deadline, "the notification never showed"
            page.wait_for_timeout(100)
        shown = notifications(worker)[0]
        assert shown["title"] == "Codex is waiting for you on desk"
        assert shown["actions"] == ["approve", "decline"]

        # Tapping Approve on the notification: the worker answers with its token alone.
        worker.evaluate(
            """async () => {
                const [shown] = await self.registration.getNotifications();
                self.dispatchEvent(new NotificationEvent("notificationclick",
                    { notification: shown, action: "approve" }));
            }"""
        )
        deadline = time.monotonic() + 30
        while not (world.workspace / "pushed_dir").is_dir():
            assert time.monotonic() < deadline, "the approval never reached Codex"
            page.wait_for_timeout(200)
        deadline = time.monotonic() + 10
        while [n["title"] for n in notifications(worker)] != ["Approved"]:
            assert time.monotonic() < deadline, notifications(worker)
            page.wait_for_timeout(100)
    finally:
        context.close()
