"""What the console's browser tests share: a whole deployment with a real agent on the
real Codex, a phone's page on it that fails the test on any script error, and the moves a
person makes in a session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import watched_page
from .codex_world import World, codex_world


@pytest.fixture
def world(tmp_path: Path, static_root: dict[str, str]) -> Iterator[World]:
    with codex_world(tmp_path, static_root) as space:
        yield space


@pytest.fixture
def page(chromium: Any, world: World) -> Iterator[Any]:
    with watched_page(chromium, world.host) as opened:
        yield opened


def open_new_session(page: Any, world: World) -> None:
    page.get_by_role("link", name=re.compile("desk")).click()
    page.get_by_role("heading", name="desk").wait_for()
    page.get_by_role("button", name="Start a session").click()
    page.get_by_role("heading", name="New session").wait_for()


def send(page: Any, text: str) -> None:
    page.get_by_label("Message to Codex").fill(text)
    page.locator(".composer").get_by_role("button", name=re.compile("^(Send|Steer)$")).click()


def start_slow_turn_on_screen(page: Any, world: World) -> None:
    from .browser import sign_in

    sign_in(page)
    open_new_session(page, world)
    send(page, "[slow]")
    page.locator(".item.agent").get_by_text("chunk 3", exact=False).wait_for()
    page.get_by_role("button", name="Interrupt").wait_for()
