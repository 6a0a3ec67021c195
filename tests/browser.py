"""A phone's browser for the console tests: Debian's Chromium driven by Playwright at
390×844, a relay that serves collected static files like production, screenshots saved
as artifacts, and axe-core's accessibility rules."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD, require

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / ".tools/axe/node_modules/axe-core/axe.min.js"
SCREENS = ROOT / "artifacts" / "screens"
PHONE = {"width": 390, "height": 844}


# Module scope, not session: Playwright's sync API keeps an event loop running in this
# thread until it stops, and tests elsewhere use async_to_sync, which refuses to run then.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    require(CHROMIUM.exists(), "Debian's Chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        require(False, "playwright (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Static files collected once, as a production relay serves them."""
    target = tmp_path_factory.mktemp("static")
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "codexpanel.settings",
        "DEBUG": "false",
        "CODEXPANEL_SESSION_SECRET": "collect-" + "x" * 60,
        "DATABASE_URL": "sqlite:///:memory:",
        "STATIC_ROOT": str(target),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return {"STATIC_ROOT": str(target)}


def phone(chromium: Any, host: str, **options: Any) -> Any:
    options.setdefault("viewport", PHONE)
    context = chromium.new_context(
        is_mobile=True,
        has_touch=True,
        base_url=f"http://{host}",
        **options,
    )
    context.set_default_timeout(30_000)
    return context


def csp_refusal(message: Any, problems: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        problems.append(message.text)


@contextmanager
def watched_page(chromium: Any, host: str, **options: Any) -> Iterator[Any]:
    """A phone's page on host; the test fails if any script on it threw or anything on it
    broke the Content-Security-Policy (Chromium reports each refusal on the console)."""
    context = phone(chromium, host, **options)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: csp_refusal(message, problems))
    try:
        yield page
    finally:
        context.close()
    assert problems == [], problems


def screenshot(page: Any, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in(page: Any, username: str = "ada") -> None:
    page.goto("/console/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your computers").wait_for()


def accessibility_problems(page: Any) -> list[str]:
    """axe-core's WCAG 2 A/AA rules on the current screen: each violation with where."""
    require(AXE.exists(), "axe-core (scripts/install-axe)")
    # Evaluated through DevTools rather than added as a <script>: the page's CSP allows no
    # script but the relay's own, and a test must not loosen it to look.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact,
                targets: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
            }));
        }"""
    )
    return [json.dumps(problem, ensure_ascii=False) for problem in found]


TOUCH_TARGET_PX = 44


def small_touch_targets(page: Any) -> list[str]:
    """Every visible control on the screen smaller than 44×44 CSS px, described. A radio
    or checkbox is measured by the label that holds it, which is what a finger taps."""
    return page.evaluate(
        """(minimum) => {
            const selector = "a[href], button, input, select, textarea, summary, "
                + "[tabindex]:not([tabindex='-1'])";
            const found = [];
            for (const node of document.querySelectorAll(selector)) {
                if (node.type === "hidden" || node.closest("[hidden], [inert]")) continue;
                const folded = node.closest("details:not([open])");
                if (folded && node.parentElement !== folded) continue;  // inside a closed menu
                const style = getComputedStyle(node);
                if (style.visibility === "hidden" || style.display === "none") continue;
                let target = node;
                if ((node.type === "radio" || node.type === "checkbox") && node.closest("label")) {
                    target = node.closest("label");
                }
                const box = target.getBoundingClientRect();
                if (box.width === 0 && box.height === 0) continue;
                if (box.right <= 0 || box.bottom <= 0) continue;  // moved off screen (skip link)
                if (box.width + 0.5 < minimum || box.height + 0.5 < minimum) {
                    const name = (node.getAttribute("aria-label") || node.textContent
                        || node.name || "").trim().slice(0, 40);
                    const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
                    found.push(`${node.tagName.toLowerCase()} "${name}" ${size}`);
                }
            }
            return found;
        }""",
        TOUCH_TARGET_PX,
    )
