"""`python -m agent login --token-login` against a real relay, typed into as a person would
(SPEC AGT-1, AGT-2, AGT-3, SET-6), then the installed agent serving the console with the
real codex app-server."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .codex_world import codex_path
from .conftest import port_open
from .console_scenarios import (
    file_change_approval,
    outside_folder,
    steer_and_interrupt,
    turn_and_command_approvals,
)
from .fakes.responses_server import FakeResponses, write_codex_home
from .live import ROOT, Browser, free_port, sqlite_relay

# The installer against relays of its own (SQLite), or no relay at all.
pytestmark = pytest.mark.own_deployment


def read_until(process: subprocess.Popen[str], pattern: str, timeout: float = 60) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match.group(0)
    raise AssertionError(f"never printed {pattern!r}:\n{''.join(seen)}")


def interactive(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """An installer we answer through its stdin. Its own session has no terminal, so
    install.sh keeps reading our pipe instead of /dev/tty."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def type_terminal_token(
    installer: subprocess.Popen[str], host: str, timeout: float = 60
) -> Browser:
    """What a person does: open the printed link signed in as ada, press "Generate
    one-time terminal token", and type the token into the installer."""
    link = read_until(installer, r"http://\S+/desktop/setup\?flowId=\S+", timeout=timeout)
    flow_id, code = re.search(r"flowId=([^&]+)&code=(\w+)", link).groups()
    browser = Browser(host)
    token = browser.call(
        "POST", "/api/iam/desktop/setup/terminal-token", {"flowId": flow_id, "code": code}
    )["token"]
    installer.stdin.write(token + "\n")
    installer.stdin.flush()
    return browser


def test_the_cli_pairs_with_a_terminal_token_and_the_agent_does_all_the_console_asks(
    tmp_path: Path,
):
    codex = codex_path()
    with FakeResponses() as fake, sqlite_relay(tmp_path) as relay:
        relay.user("ada")
        host = relay.start()
        codex_home = tmp_path / "codex-home"
        write_codex_home(codex_home, fake.base_url)
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "CODEX_HOME": str(codex_home),
            "PYTHONPATH": str(ROOT),
        }
        cli = interactive(
            [
                sys.executable,
                "-m",
                "agent",
                "login",
                "--token-login",
                "--server",
                f"http://{host}",
                "--no-autostart",
                "--workspace",
                str(workspace),
                "--codex-path",
                codex,
            ],
            tmp_path,
            env,
        )
        config_file = tmp_path / "data" / "CodexPanelAgent" / "agent-runtime.json"
        try:
            browser = type_terminal_token(cli, host)
            output, _ = cli.communicate(timeout=120)
            assert cli.returncode == 0, output
            assert "Binding succeeded / 绑定成功" in output
            assert "This computer is online in the console" in output

            assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
            devices = browser.call("GET", "/api/devices")["devices"]
            assert len(devices) == 1 and devices[0]["online"]
            device = devices[0]["deviceId"]
            # The agent the CLI installed does everything the console asks of Codex.
            turn_and_command_approvals(browser, device, workspace)
            with outside_folder() as outside:
                file_change_approval(browser, device, outside)
            steer_and_interrupt(browser, device)
            reinstall_stop_start_and_status(tmp_path, env, host, codex, browser, config_file)
        finally:
            if cli.poll() is None:
                cli.kill()
            pid_file = config_file.parent / "agent.pid"
            deadline = time.monotonic() + 10
            while not pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), signal.SIGTERM)


def reinstall_stop_start_and_status(
    tmp_path: Path, env: dict[str, str], host: str, codex: str, browser: Browser, config_file: Path
) -> None:
    """A person changes the workspace by installing again, then stops and starts the agent,
    reading `status` between."""

    def agent(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "agent", *args],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def online() -> bool:
        return browser.call("GET", "/api/devices")["devices"][0]["online"]

    def until(wanted: bool) -> None:
        deadline = time.monotonic() + 30
        while online() != wanted:
            assert time.monotonic() < deadline, f"the device never went online={wanted}"
            time.sleep(0.3)

    paired = json.loads(config_file.read_text())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = agent(
        "install",
        *("--server", f"http://{host}", "--workspace", str(elsewhere), "--codex-path", codex),
        "--no-autostart",
        "--no-browser",
    )
    assert "Already paired: the settings are updated and the pairing kept" in again.stdout
    assert "/desktop/setup" not in again.stdout  # no link: nothing to approve
    assert "`python -m agent stop` stops it" in again.stdout
    saved = json.loads(config_file.read_text())
    assert saved["workspace"] == str(elsewhere.resolve())
    assert saved["deviceToken"] == paired["deviceToken"]
    assert saved["deviceName"] == paired["deviceName"]  # not given again: kept
    assert saved["panel"]["token"] == paired["panel"]["token"]
    until(True)
    assert len(browser.call("GET", "/api/devices")["devices"]) == 1

    running = agent("status").stdout
    assert re.search(r"Agent: running \(pid \d+\)", running), running
    assert re.search(r"Codex: \d+\.\d+\.\d+ \(running\)", running), running
    assert "Relay connection: connected" in running and "Last error: none" in running
    assert f"Workspace: {elsewhere.resolve()}" in running

    assert "Stopped the agent" in agent("stop").stdout
    until(False)
    assert "Agent: not running" in agent("status").stdout
    assert "The agent is not running" in agent("stop").stdout
    assert "The agent runs in the background" in agent("start").stdout
    until(True)


def test_the_relay_served_install_script_sets_up_its_own_environment_and_pairs(tmp_path: Path):
    codex = codex_path()
    with sqlite_relay(tmp_path) as relay:
        relay.user("ada")
        host = relay.start()
        script = Browser(host).opener.open(f"http://{host}/agent/install.sh").read()
        (tmp_path / "install.sh").write_bytes(script)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path / "home"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
        }
        installer = interactive(
            [
                "sh",
                str(tmp_path / "install.sh"),
                "--server",
                f"http://{host}",
                "--token-login",
                "--no-autostart",
                "--no-start",
                "--workspace",
                str(tmp_path),
                "--codex-path",
                codex,
            ],
            tmp_path,
            env,
        )
        try:
            browser = type_terminal_token(installer, host, timeout=240)
            output, _ = installer.communicate(timeout=120)
        finally:
            if installer.poll() is None:
                installer.kill()
        assert installer.returncode == 0, output
        assert "Binding succeeded / 绑定成功" in output
        home_dir = tmp_path / "data" / "CodexPanelAgent"
        assert (home_dir / "venv" / "bin" / "python").exists()
        assert (home_dir / "app" / "agent" / "protocol.py").exists()
        assert (home_dir / "agent-runtime.json").exists()
        assert len(browser.call("GET", "/api/devices")["devices"]) == 1


def test_the_install_script_refuses_a_file_that_does_not_match_the_manifest(tmp_path: Path):
    # A "relay" whose file differs from what its manifest promises: tampering in transit.
    site = tmp_path / "site" / "agent"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("tampered = True\n")
    manifest = {
        "agentVersion": "9.9.9",
        "files": [{"path": "__init__.py", "sha256": "0" * 64, "size": 16}],
    }
    (site / "version").write_text(json.dumps(manifest))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path / "site",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", port):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        done = subprocess.run(
            ["sh", str(ROOT / "agent" / "install.sh"), "--server", f"http://127.0.0.1:{port}"],
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode != 0
    assert "__init__.py does not match its sha256" in done.stderr
    assert not (tmp_path / "CodexPanelAgent" / "bootstrap").exists()


def test_the_windows_install_script_does_what_the_unix_one_does():
    """No PowerShell on this machine: the script is checked for shape and for each step
    the Unix script takes (and parsed for real where pwsh exists)."""
    script = (ROOT / "agent" / "install.ps1").read_text(encoding="utf-8")
    code = re.sub(r"'[^']*'|\"[^\"]*\"|#[^\n]*", "", script)
    for opening, closing in ("{}", "()", "[]"):
        assert code.count(opening) == code.count(closing), opening
    for step in [
        "param(",
        "$ErrorActionPreference = 'Stop'",
        "-m venv",
        "$Server/agent/version",
        "Get-FileHash -Algorithm SHA256",
        "does not match its sha256",
        "-m pip install",
        "requirements.txt",
        "-m agent install --server $Server @AgentArgs",
        "LOCALAPPDATA",
    ]:
        assert step in script, step
    assert not re.search(r"\$home\b", script, re.IGNORECASE), "$HOME is PowerShell's own"
    pwsh = shutil.which("pwsh")
    if pwsh:
        parsed = subprocess.run(
            [
                pwsh,
                "-NoProfile",
                "-Command",
                "$e=$null; [System.Management.Automation.Language.Parser]::ParseFile("
                f"'{ROOT / 'agent' / 'install.ps1'}', [ref]$null, [ref]$e) | Out-Null; "
                "exit $e.Count",
            ],
            capture_output=True,
            timeout=60,
        )
        assert parsed.returncode == 0, parsed.stdout
