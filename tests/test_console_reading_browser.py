"""Reading a turn on a phone (SPEC §6, CON-4): Codex's Markdown rendered safely, command
output that follows its tail, file changes numbered and shown once, and a session view
that follows the newest output without the composer covering anything. Driven in a
phone's Chromium against a real agent on the real Codex."""

from __future__ import annotations

from typing import Any

import pytest

from .browser import screenshot, sign_in, watched_page
from .console_kit import open_new_session, send

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.own_deployment]


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
        # The changes are shown once, in the session, and the card points to them.
        change = page.locator(".item.files details.change")
        change.locator("tr.add", has_text="hello from the phone").wait_for()
        assert change.locator(".counts").inner_text() == "+1 −0"
        assert change.locator("tr.add td.ln").nth(1).inner_text() == "1"
        assert card.locator("details.change").count() == 0
        card.get_by_role("button", name="Show the changes").tap()
        screenshot(page, "file-change-approval")
        change.locator("summary").tap()
        assert change.get_attribute("open") is None
        card.get_by_role("button", name="Approve", exact=True).click()
        page.get_by_text("Turn completed").wait_for()
        assert target.read_text() == "hello from the phone\n"


def test_codex_markdown_is_rendered_safely_with_highlighted_code(page, world):
    sign_in(page)
    open_new_session(page, world)
    send(page, "[markdown]")
    message = page.locator(".item.agent .markdown")
    message.locator("strong", has_text="Looking at").wait_for()
    assert message.locator("code", has_text="src").count() == 1
    assert message.locator("pre code .hljs-keyword", has_text="def").count() == 1
    assert message.locator("li").all_inner_texts() == ["one", "two"]
    link = message.get_by_role("link", name="the docs")
    assert link.get_attribute("href") == "https://example.com/docs"
    assert link.get_attribute("rel") == "noopener noreferrer"
    # Raw HTML from the model is shown as text, never made into elements or run.
    assert message.locator("img, b").count() == 0
    # Links only go to the web: no script or inline document behind a tap.
    assert [a.get_attribute("href") for a in message.locator("a").all()] == [
        "https://example.com/docs"
    ]
    assert "<b>raw</b>" in message.inner_text()
    assert page.evaluate("window.injected") is None
    screenshot(page, "markdown")


def test_command_output_follows_its_tail_opens_full_screen_and_copies(page, world):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page)
    open_new_session(page, world)
    send(page, "[shell:for i in $(seq 1 80); do echo line $i; sleep 0.02; done]")
    page.locator(".approval").get_by_role("button", name="Approve", exact=True).tap()
    page.get_by_text("Turn completed").wait_for()
    box = page.locator(".item.command pre.output")
    box.get_by_text("line 80").wait_for()
    # The box shows the newest lines, not the head.
    gap = box.evaluate("(node) => node.scrollHeight - node.scrollTop - node.clientHeight")
    assert gap < 24, gap
    assert box.evaluate("(node) => node.scrollHeight > node.clientHeight")

    page.locator(".item.command").get_by_role("button", name="Full screen").tap()
    viewer = page.get_by_role("dialog", name="Output")
    viewer.get_by_text("line 1\n", exact=False).wait_for()
    viewer.get_by_role("button", name="Copy").tap()
    viewer.get_by_role("button", name="Copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.splitlines()[0] == "line 1" and copied.splitlines()[-1] == "line 80"
    screenshot(page, "output-full-screen")
    viewer.get_by_role("button", name="Close").tap()
    viewer.wait_for(state="detached")


def covered_controls(page: Any, scope: str) -> list[str]:
    """Controls inside `scope` that are on screen but not what a tap at their centre hits."""
    return page.evaluate(
        """(scope) => [...document.querySelectorAll(`${scope} button, ${scope} a[href]`)]
            .filter((node) => {
                const box = node.getBoundingClientRect();
                if (!box.width || box.bottom < 0 || box.top > innerHeight) return false;
                const x = box.x + box.width / 2;
                const hit = document.elementFromPoint(x, box.y + box.height / 2);
                return !(hit && (hit === node || node.contains(hit)));
            })
            .map((node) => node.textContent.trim())""",
        scope,
    )


def test_the_session_follows_the_newest_output_and_the_composer_covers_nothing(page, world):
    sign_in(page)
    open_new_session(page, world)
    for n in range(4):
        send(page, f"[markdown] {n}")
        page.get_by_text("Turn completed").nth(n).wait_for()
    # What was sent last and the answer to it are in view.
    page.locator(".item.user").last.wait_for()
    assert page.locator(".item.agent").last.is_visible()
    assert page.evaluate("innerHeight + scrollY >= document.documentElement.scrollHeight - 80")

    # Scrolled up to read, the view stays put and offers a way back.
    page.evaluate("window.scrollTo(0, 0)")
    thread = page.url.rsplit("/", 1)[1]
    world.browser.command(world.device_id, "startTurn", threadId=thread, input="say hi")
    jump = page.get_by_role("button", name="Jump to latest")
    jump.wait_for()
    assert page.evaluate("scrollY") < 200
    jump.tap()
    page.get_by_text("Hello from the fake model.").last.wait_for()
    assert jump.is_hidden()

    # A question from Codex is scrolled into view above the composer, every answer tappable.
    send(page, "[shell:mkdir -p covered_dir]")
    page.locator(".approval").get_by_role("button", name="Cancel turn").wait_for()
    page.wait_for_timeout(300)  # the smooth scroll settles
    assert covered_controls(page, ".approval") == []
    screenshot(page, "approval-above-composer")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, static_root: dict[str, str]) -> Any:
    from .live import sqlite_relay

    with sqlite_relay(tmp_path_factory.mktemp("reading"), static_root) as relay:
        yield relay.start()


UPDATE = """--- a/notes.md
+++ b/notes.md
@@ -3,4 +3,3 @@ intro
 kept
----
+***
--- a comment that was removed
 tail
"""


def test_a_diff_numbers_its_lines_and_counts_removed_lines_that_look_like_headers(chromium, site):
    with watched_page(chromium, site) as page:
        page.goto("/console/")
        rows = page.evaluate(
            """async (diff) => {
                const { diffRows, diffCounts } = await import("/static/console/diffs.js");
                const rows = diffRows(diff, "update");
                return { rows, counts: diffCounts(rows) };
            }""",
            UPDATE,
        )
    assert rows["counts"] == {"added": 1, "removed": 2}
    assert [row[:3] for row in rows["rows"]] == [
        ["", "", "hunk"],
        [3, 3, ""],
        [4, "", "del"],
        ["", 4, "add"],
        [5, "", "del"],
        [6, 5, ""],
    ]
