"""Every console screen on the phones people use (SPEC §6): 360 and 390 px wide, light and
dark, English and Chinese. Each screen is reached by tapping, as a person would, and must
fit the width, pass axe's WCAG 2.1 A/AA rules, offer only controls a finger can hit and
log no errors. Driven in Chromium against a real agent on the real Codex."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from .browser import accessibility_problems, phone, screenshot, small_touch_targets
from .conftest import PASSWORD

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]

PHONES = {"360": {"width": 360, "height": 740}, "390": {"width": 390, "height": 844}}
LANGUAGES = {"en": "en-US", "zh": "zh-CN"}
SCHEMES = ("light", "dark")
# Every width with every language, every width with every scheme and every language with
# every scheme, in four walks instead of all eight: what breaks a screen comes from two of
# these meeting (long Chinese labels on the narrow phone, a dark colour on one width).
PAIRWISE = [
    ("360", "en", "light"),
    ("360", "zh", "dark"),
    ("390", "en", "dark"),
    ("390", "zh", "light"),
]


def overflow(page: Any) -> list[str]:
    """What sticks out past the right edge of the screen (the page would scroll sideways)."""
    return page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const found = [];
            if (document.documentElement.scrollWidth > width + 1) {
                found.push(`page ${document.documentElement.scrollWidth}px wide`);
            }
            for (const node of document.querySelectorAll("body *")) {
                if (node.closest("pre, .diff, .output, [hidden]")) continue;  // scroll inside
                const box = node.getBoundingClientRect();
                if (box.width && box.right > width + 1) {
                    const name = node.className || node.tagName.toLowerCase();
                    found.push(`${name} ends at ${Math.round(box.right)}px`);
                }
            }
            return found.slice(0, 5);
        }"""
    )


OFFLINE_REQUEST = "net::ERR_INTERNET_DISCONNECTED"


class Walk:
    """One phone set-up: checks each screen it is shown and keeps what was wrong."""

    def __init__(self, page: Any, label: str) -> None:
        self.page = page
        self.label = label
        self.problems: dict[str, list[str]] = {}
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda message: self.errors.append(message.text) if message.type == "error" else None,
        )

    def check(self, screen: str, network: bool = True) -> None:
        if network:
            self.page.wait_for_load_state("networkidle")
        found = [f"overflow: {item}" for item in overflow(self.page)]
        found += [f"small: {item}" for item in small_touch_targets(self.page)]
        found += [f"axe: {item}" for item in accessibility_problems(self.page)]
        # Off the network, the browser logs each request the page tries and cannot make;
        # anything else logged as an error is a problem.
        errors = [e for e in self.errors if network or OFFLINE_REQUEST not in e]
        found += [f"error: {item}" for item in errors]
        self.errors.clear()
        if found:
            self.problems[f"{self.label} {screen}"] = found
        screenshot(self.page, f"matrix-{self.label}-{screen}")


def walk(page: Any, walker: Walk, device_id: str, thread_id: str) -> None:
    page.goto("/console/")
    page.locator("input[name=username]").wait_for()
    walker.check("sign-in")
    page.locator("input[name=username]").fill("ada")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit].primary").tap()
    approval = page.locator(".approval").first
    approval.wait_for()
    page.locator(f'.sessions .row[data-thread="{thread_id}"]').wait_for()
    walker.check("home")

    page.locator("details.menu summary").tap()
    page.locator(".menu-panel").wait_for()
    walker.check("menu")
    page.locator('.menu-panel a[href="#/account"]').tap()
    page.locator("h1").first.wait_for()
    page.wait_for_function("() => location.hash === '#/account'")
    assert page.locator("details.menu").get_attribute("open") is None  # closed by going
    walker.check("account")

    page.locator("a.brand").tap()
    page.locator('a[href="#/add"]').tap()
    page.locator("[data-testid=install-unix]").wait_for()
    walker.check("add")
    page.locator("a.back").tap()

    page.locator("input[type=search]").fill("shell")
    page.locator(f'.sessions .row[data-thread="{thread_id}"]').wait_for()
    walker.check("search")

    page.locator(f'a.row[data-device="{device_id}"]').tap()
    restart = page.locator("button[data-action=restartAgent]")
    page.locator(f'a.row[data-thread="{thread_id}"]').wait_for()
    walker.check("device")
    restart.tap()
    page.locator("dialog.confirm").wait_for()
    walker.check("confirm")
    page.locator("dialog.confirm button").first.tap()  # Cancel, the safe answer
    page.locator("dialog.confirm").wait_for(state="hidden")

    page.locator(f'a.row[data-thread="{thread_id}"]').tap()
    page.locator(".approval").wait_for()
    page.locator(".item.command").wait_for()
    walker.check("session")
    page.locator(".turn-options > summary").tap()
    page.locator(".turn-options select[name=model] option").nth(1).wait_for(state="attached")
    walker.check("turn-options")

    # Off the network, the installed console shows what it last saw, read-only.
    page.evaluate("navigator.serviceWorker.ready")
    page.context.set_offline(True)
    page.reload()
    page.locator(f'[data-known-device="{device_id}"]').wait_for()
    walker.errors.clear()  # the requests the reload could not make
    walker.check("offline", network=False)
    page.context.set_offline(False)


def test_every_screen_fits_reads_and_taps_on_each_phone_theme_and_language(chromium, world):
    assert {pair for w, lang, s in PAIRWISE for pair in ((w, lang), (w, s), (lang, s))} == {
        *itertools.product(PHONES, LANGUAGES),
        *itertools.product(PHONES, SCHEMES),
        *itertools.product(LANGUAGES, SCHEMES),
    }
    thread = world.browser.command(world.device_id, "startThread")["result"]["thread"]["id"]
    world.browser.command(world.device_id, "startTurn", threadId=thread, input="[shell:ls]")
    problems: dict[str, list[str]] = {}
    for width, language, scheme in PAIRWISE:
        viewport, locale = PHONES[width], LANGUAGES[language]
        context = phone(chromium, world.host, viewport=viewport, locale=locale, color_scheme=scheme)
        page = context.new_page()
        walker = Walk(page, f"{width}-{language}-{scheme}")
        try:
            walk(page, walker, world.device_id, thread)
        finally:
            context.close()
        problems.update(walker.problems)
    assert problems == {}
