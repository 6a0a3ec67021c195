"""The agent's command line (SPEC AGT-1, AGT-2, AGT-8): options, retired flags, dry runs,
Codex discovery, clean-up of the Node-era install, and failures that say where to look."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import __version__
from agent.local import codex_discovery
from agent.setup import installer, pairing
from agent.terminal import Failure

from .live import sqlite_relay

ROOT = Path(__file__).resolve().parent.parent


def agent(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "PYTHONPATH": str(ROOT),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("flag", "reason"),
    [
        ("--terminal-login", "Use browser sign-in or --token-login"),
        ("--legacy-tunnel", "device traffic uses the server WSS gateway"),
        ("--no-tunnel", "device traffic uses the server WSS gateway"),
    ],
)
def test_retired_flags_are_refused_with_their_reason(tmp_path, flag, reason):
    done = agent("install", flag, tmp_path=tmp_path)
    assert done.returncode == 2
    assert reason in done.stderr


def test_an_unknown_option_is_a_clear_error(tmp_path):
    done = agent("--frobnicate", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "No such option '--frobnicate'" in done.stderr


def fake_codex(tmp_path: Path) -> Path:
    codex = tmp_path / "codex"
    codex.write_text("#!/bin/sh\n")
    codex.chmod(0o755)
    return codex


@pytest.fixture(scope="module")
def relay_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sqlite_relay(tmp_path_factory.mktemp("relay")) as relay:
        yield relay.start()


@pytest.mark.own_deployment
def test_a_dry_run_checks_the_relay_and_codex_and_touches_nothing(tmp_path, relay_host):
    done = agent(
        "--dry-run",
        "--server",
        f"http://{relay_host}",
        "--device-name",
        "desk",
        "--codex-path",
        str(fake_codex(tmp_path)),
        tmp_path=tmp_path,
        CODEXPANEL_WORKSPACE="/srv/code",
    )
    assert done.returncode == 0, done.stderr
    assert f"http://{relay_host}" in done.stdout
    assert f"Agent release: {__version__} (" in done.stdout
    assert "Device name: desk" in done.stdout
    assert "Workspace: /srv/code" in done.stdout
    assert f"Device socket: ws://{relay_host}/device-wss" in done.stdout
    assert "Dry run: nothing was installed / 仅预览,未安装" in done.stdout
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "install"])
def test_a_dry_run_fails_exactly_as_the_install_would(tmp_path, dry_run):
    flags = ["--dry-run"] if dry_run else ["--no-browser"]
    unreachable = agent(
        *flags,
        "--server",
        "http://127.0.0.1:9",
        "--codex-path",
        str(fake_codex(tmp_path)),
        tmp_path=tmp_path,
    )
    assert unreachable.returncode == 1
    assert "Cannot reach the relay at http://127.0.0.1:9" in unreachable.stderr
    no_codex = agent(
        *flags,
        "--server",
        "http://127.0.0.1:9",
        "--codex-path",
        "/nonexistent/codex",
        tmp_path=tmp_path,
    )
    assert no_codex.returncode == 1
    assert "No Codex CLI at /nonexistent/codex" in no_codex.stderr
    assert not (tmp_path / "data").exists()


def test_print_command_prints_this_relays_installers_and_pairs_nothing(tmp_path):
    done = agent("--print-command", "--server", "https://relay.example", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        "macOS / Linux: curl -fsSL https://relay.example/agent/install.sh | sh -s -- "
        "--server https://relay.example"
    ) in done.stdout
    assert "Windows (PowerShell): powershell -NoProfile" in done.stdout
    assert "https://relay.example/agent/install.ps1" in done.stdout
    assert not (tmp_path / "data").exists()


def test_the_waiting_line_counts_down_in_both_languages():
    assert pairing.waiting_line(581) == "Waiting for approval… 9:41 left / 等待批准… 剩余 9:41"
    assert pairing.waiting_line(-3) == "Waiting for approval… 0:00 left / 等待批准… 剩余 0:00"


class _Flow:
    """The relay's answers to the installer's polls."""

    def __init__(self, *answers: dict) -> None:
        self.answers = list(answers)

    def post(self, path: str, body: dict) -> dict:
        assert path == "/api/desktop/setup/poll"
        return self.answers.pop(0)


@pytest.mark.parametrize(
    ("status", "said"),
    [("denied", "The pairing was denied in the browser"), ("expired", "The pairing link expired")],
)
def test_a_denied_or_expired_pairing_is_said_at_once(status, said, capsys):
    started = {"flowId": "sf_1", "flowSecret": "s", "interval": 0.01, "expiresIn": 600}
    with pytest.raises(Failure, match=said):
        pairing.poll(_Flow({"status": "pending"}, {"status": status}), started)


def test_the_codex_version_comes_from_app_servers_answer_and_is_checked_against_the_tested():
    agent_line = "codexpanel_agent/0.171.0 (Debian 12.0.0; x86_64) xterm (codexpanel_agent; 1)"
    assert codex_discovery.version_from_user_agent(agent_line) == "0.171.0"
    assert codex_discovery.version_from_user_agent("nonsense") is None
    assert codex_discovery.version_note("0.169.0") is None
    assert codex_discovery.version_note("0.171.0") is None
    older = codex_discovery.version_note("0.150.2")
    assert older and "older than this agent was tested with (0.169.0–0.171.0)" in older
    newer = codex_discovery.version_note("0.200.0-alpha.1")
    assert newer and "newer" in newer


def test_an_unreachable_relay_fails_with_the_folder_the_log_and_the_reason(tmp_path):
    done = agent(
        "--server",
        "http://127.0.0.1:9",
        "--codex-path",
        str(fake_codex(tmp_path)),
        "--no-browser",
        tmp_path=tmp_path,
    )
    assert done.returncode == 1
    assert "Cannot reach the relay at http://127.0.0.1:9" in done.stderr
    assert "无法连接服务器" in done.stderr
    assert "Install directory / 安装目录:" in done.stderr
    assert "Log / 日志:" in done.stderr


def test_a_server_that_is_not_a_url_is_refused(tmp_path):
    done = agent(
        "--dry-run",
        "--server",
        "ftp://relay",
        "--codex-path",
        str(fake_codex(tmp_path)),
        tmp_path=tmp_path,
    )
    assert done.returncode == 1
    assert "Not a relay address" in done.stderr


def test_codex_is_found_in_the_documented_order(tmp_path, monkeypatch):
    explicit = tmp_path / "explicit" / "codex"
    explicit.parent.mkdir()
    explicit.write_text("")
    assert codex_discovery.find_codex(str(explicit)) == str(explicit.resolve())
    monkeypatch.setenv("CODEXPANEL_CODEX_PATH", str(explicit))
    assert codex_discovery.find_codex() == str(explicit.resolve())
    monkeypatch.delenv("CODEXPANEL_CODEX_PATH")

    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "codex").write_text("#!/bin/sh\n")
    (on_path / "codex").chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path))
    assert codex_discovery.find_codex() == str(on_path / "codex")

    (on_path / "codex").unlink()
    prefix = tmp_path / "npm-global"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "codex").write_text("")
    (on_path / "npm").write_text(f"#!/bin/sh\necho {prefix}\n")
    (on_path / "npm").chmod(0o755)
    monkeypatch.setattr(codex_discovery, "_well_known", lambda: [])
    assert codex_discovery.find_codex() == str(prefix / "bin" / "codex")

    (on_path / "npm").unlink()
    with pytest.raises(Failure, match="npm i -g @openai/codex"):
        codex_discovery.find_codex()


def test_the_node_era_install_is_cleaned_up(tmp_path):
    for name in ("desktop-agent.js", "app-server-connector.js", "cloudflared"):
        (tmp_path / name).write_text("old")
    (tmp_path / "runtime").mkdir()
    (tmp_path / "runtime" / "host.cjs").write_text("old")
    (tmp_path / "agent-runtime.json").write_text("{}")
    installer._clean_node_era(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent-runtime.json"]


def test_the_default_device_name_and_id_are_stable(tmp_path):
    from agent.setup import profile

    assert profile.device_id() == profile.device_id()
    assert profile.device_id().startswith("cp-")
    assert profile.default_device_name().endswith("Codex Desktop Agent")
    assert os.path.sep not in profile.device_id()
