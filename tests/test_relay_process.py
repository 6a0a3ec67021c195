"""The README's relay command serves the API through Daphne in a real process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.own_deployment
def test_the_dev_relay_starts_migrates_bootstraps_and_answers(tmp_path):
    port = _free_port()
    codex = tmp_path / "codex"  # the dry run checks that Codex is there, not what it does
    codex.write_text("#!/bin/sh\n")
    codex.chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CODEXPANEL_", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS"))
    }
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'relay.sqlite3'}",
        CODEXPANEL_ADMIN_USERNAME="root",
        CODEXPANEL_ADMIN_PASSWORD="pw for the test run",
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    relay = subprocess.Popen(
        [sys.executable, "manage.py", "dev", "--noreload", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/iam/auth/status") as r:
                    status = json.load(r)
                break
            except OSError:
                assert relay.poll() is None, relay.stdout.read()
                assert time.monotonic() < deadline, "the relay did not answer within 60 s"
                time.sleep(0.2)
        assert status["authenticated"] is False
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/") as r:
            assert b"/api/iam/auth/login" in r.read()
        # The agent finds this relay by itself (AGT-1 --server local).
        found = subprocess.run(
            [
                sys.executable,
                "-m",
                "agent",
                "--dry-run",
                "--server",
                "local",
                "--codex-path",
                codex,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert found.returncode == 0, found.stderr
        assert f"  http://127.0.0.1:{port}\n" in found.stdout
    finally:
        relay.terminate()
        output = relay.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}/admin/" in output
    assert f"http://127.0.0.1:{port}/console/" in output
    assert "Created admin 'root'" in output
    assert "Daphne" in output
    # It starts without a warning, and each record is printed once (one handler each).
    assert [line for line in output.splitlines() if "warn" in line.lower()] == []
    schema_lines = [line for line in output.splitlines() if "GET /api/schema/" in line]
    assert len(schema_lines) == 1, output


@pytest.mark.own_deployment
def test_a_device_frame_over_the_limit_is_answered_with_close_1009(tmp_path):
    import websocket

    from agent.protocol import MAX_FRAME_BYTES, Close

    from .live import sqlite_relay

    with sqlite_relay(tmp_path) as relay:
        paired = relay.paired_device()
        host = relay.start()
        ws = websocket.create_connection(f"ws://{host}/device-wss", timeout=10)
        hello = {"type": "device.hello", "protocolVersion": 1, "token": paired["token"]}
        ws.send(json.dumps(hello))
        assert json.loads(ws.recv())["type"] == "server.welcome"
        ws.send(json.dumps({"type": "device.heartbeat", "state": {"x": "y" * MAX_FRAME_BYTES}}))
        refusal = json.loads(ws.recv())
        assert refusal["code"] == "frame_too_large"
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(data[:2], "big") == Close.MESSAGE_TOO_BIG == 1009
        ws.close()


@pytest.mark.own_deployment
def test_the_access_log_never_shows_a_setup_links_flow_or_code(tmp_path):
    from .live import sqlite_relay

    access = tmp_path / "access.log"
    with sqlite_relay(tmp_path) as relay:
        host = relay.start(None, "--access-log", str(access))
        link = f"http://{host}/desktop/setup?flowId=flw_secretflow&code=ABCD-2345"
        try:
            urllib.request.urlopen(link).close()
        except urllib.error.HTTPError as unknown:
            assert unknown.code == 404  # no such flow; the request is logged all the same
        deadline = time.monotonic() + 10
        while "/desktop/setup" not in (access.read_text() if access.exists() else ""):
            assert time.monotonic() < deadline, "the request was never logged"
            time.sleep(0.1)
    logged = access.read_text()
    assert '"GET /desktop/setup"' in logged
    assert "flw_secretflow" not in logged and "ABCD-2345" not in logged


def test_the_relay_server_adds_its_defaults_and_application_unless_given():
    from codexpanel.serve import APPLICATION, SERVER_MESSAGE_BYTES, arguments

    plain = arguments(["-b", "127.0.0.1", "-p", "8001"])
    assert plain[-1] == APPLICATION
    assert plain[plain.index("--websocket-max-message-size") + 1] == str(SERVER_MESSAGE_BYTES)
    # An endpoint string is not an application; an operator's own choices are kept.
    assert arguments(["-e", "tcp:8000"])[-1] == APPLICATION
    mine = arguments(["--websocket-max-message-size=9000000", "my.site:application"])
    assert mine.count(APPLICATION) == 0
    assert not any(arg == "--websocket-max-message-size" for arg in mine)
