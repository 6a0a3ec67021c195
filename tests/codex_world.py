"""A whole deployment on loopback: a Daphne relay, a paired device driven by the real agent
runtime on the real `codex app-server` (codex-cli 0.169.0), and the fake Responses server
standing in for the model. Shared by the agent's end-to-end tests and the console's
browser tests."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.protocol import device_wss_url
from agent.runtime.host import HostRuntime, RuntimeSettings

from .conftest import require
from .fakes.responses_server import FakeResponses, write_codex_home
from .live import Browser, Relay, sqlite_relay

ROOT = Path(__file__).resolve().parent.parent
CODEX = Path(os.environ.get("CODEXPANEL_TEST_CODEX", ROOT / ".tools/codex/node_modules/.bin/codex"))
CODEX_INSTALL = "scripts/install-codex"
# The newest release on npm, which the *_newest test modules run the same tests on.
NEWEST_CODEX = ROOT / ".tools/codex-newest/node_modules/.bin/codex"


def codex_path() -> str:
    require(CODEX.exists(), f"the Codex CLI at {CODEX} ({CODEX_INSTALL})")
    return str(CODEX)


def on_the_newest_codex(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CODEX", NEWEST_CODEX)
    monkeypatch.setattr(sys.modules[__name__], "CODEX_INSTALL", "scripts/install-codex newest")


@dataclass
class World:
    tmp: Path
    workspace: Path
    relay: Relay
    host: str
    runtime: HostRuntime
    browser: Browser
    device_id: str
    fake: FakeResponses


def history(browser: Browser, device: str) -> list[dict[str, Any]]:
    """The device's whole event log, page by page."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = browser.call("GET", f"/api/devices/{device}/events?after={after}")
        events += page["events"]
        if not page["events"]:
            return events
        after = page["position"]


def wait_online(browser: Browser, device_id: str, online: bool = True) -> None:
    deadline = time.monotonic() + 30
    while browser.call("GET", f"/api/devices/{device_id}")["online"] != online:
        assert time.monotonic() < deadline, f"the device never went {'on' if online else 'off'}line"
        time.sleep(0.2)


def agent_runtime(
    host: str, token: str, workspace: Path, state_root: Path, codex_home: Path
) -> HostRuntime:
    """The real agent's host runtime for a paired device, on the pinned Codex CLI with a
    CODEX_HOME that points at the fake model."""
    return HostRuntime(
        RuntimeSettings(
            relay_url=f"http://{host}",
            device_wss_url=device_wss_url(f"http://{host}"),
            device_token=token,
            workspace=str(workspace),
            codex_path=codex_path(),
            state_dir=state_root / "agent-state",
            codex_env={"CODEX_HOME": str(codex_home)},
            codex_args=["--strict-config"],
            log_dir=state_root / "logs",
        )
    )


@contextmanager
def codex_world(
    tmp_path: Path,
    relay_env: dict[str, str] | None = None,
    *,
    deployment: AbstractContextManager[Relay] | None = None,
    route: Callable[[str], str] = lambda host: host,
    mcp: bool = False,
) -> Iterator[World]:
    """deployment: the relay to use instead of a fresh SQLite one; route: the address the
    agent dials for a relay host (a link the test can cut, say); mcp: Codex also runs the
    local MCP server whose tools elicit (tests/fakes/mcp_server.py)."""
    codex_path()  # skips (or, in CI, fails) at once when the CLI is missing
    with FakeResponses() as fake, deployment or sqlite_relay(tmp_path, relay_env) as relay:
        paired = relay.paired_device()
        host = relay.start()
        agent_host = route(host)
        home = tmp_path / "codex-home"
        write_codex_home(home, fake.base_url, mcp=mcp)
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        runtime = agent_runtime(agent_host, paired["token"], workspace, tmp_path, home)
        runtime.start()
        try:
            browser = Browser(host)
            wait_online(browser, paired["deviceId"])
            yield World(
                tmp_path, workspace, relay, host, runtime, browser, paired["deviceId"], fake
            )
        finally:
            runtime.stop()


AGENT_PROCESS = """
import json, sys, threading
from pathlib import Path
import pytest

from agent.runtime.host import HostRuntime, RuntimeSettings
raw = json.loads(sys.argv[1])
for key in ("state_dir", "log_dir"):
    raw[key] = Path(raw[key]) if raw[key] else None
HostRuntime(RuntimeSettings(**raw)).start()
threading.Event().wait()
"""


def agent_process(settings: RuntimeSettings) -> subprocess.Popen[bytes]:
    """The same agent as a process of its own, which a test may kill -9."""
    raw = {
        key: str(value) if isinstance(value, Path) else value
        for key, value in dataclasses.asdict(settings).items()
    }
    return subprocess.Popen(
        [sys.executable, "-c", AGENT_PROCESS, json.dumps(raw)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
