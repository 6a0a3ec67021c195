"""What Codex asks of the person, answered by tapping (tests/test_console_questions_browser.py),
again on the newest Codex on npm (scripts/install-codex newest)."""

from __future__ import annotations

import pytest

from .codex_world import on_the_newest_codex
from .test_console_questions_browser import *  # noqa: F403 - the same tests, collected again


@pytest.fixture(autouse=True)
def _newest_codex(monkeypatch: pytest.MonkeyPatch) -> None:
    on_the_newest_codex(monkeypatch)
