"""The agent against the real `codex app-server` (tests/test_agent_codex.py), again on the
newest Codex on npm (scripts/install-codex newest): what the agent asks of app-server and
what app-server sends back must hold on the release people install today, too."""

from __future__ import annotations

import pytest

from .codex_world import on_the_newest_codex
from .test_agent_codex import *  # noqa: F403 - the same tests, collected again here


@pytest.fixture(autouse=True)
def _newest_codex(monkeypatch: pytest.MonkeyPatch) -> None:
    on_the_newest_codex(monkeypatch)
