"""The README's relay command serves the API through Daphne in a real process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_dev_relay_starts_migrates_bootstraps_and_answers(tmp_path):
    port = _free_port()
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
            [sys.executable, "-m", "agent", "--dry-run", "--server", "local"],
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
