"""The background agent's start and stop (SPEC AGT-3): the agent lock says whether one
runs, and stopping works whether the agent says goodbye (SIGTERM on Linux and macOS) or is
ended outright (os.kill on Windows, faked here: this machine is not Windows)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.local import lifecycle
from agent.terminal import Failure

# The agent has no Django: the relay's database and channel layer change nothing here.
pytestmark = pytest.mark.agent_alone

ROOT = Path(__file__).resolve().parent.parent

# A stand-in for `python -m agent run`: holds the lock, writes its pid, and removes the pid
# file when it hears SIGTERM, as the agent does.
HOLDER = """
import os, signal, sys, time
from pathlib import Path
from agent.local import config
directory = Path(sys.argv[1])
lock = config.single_instance(directory / "agent.lock")
(directory / "agent.pid").write_text(str(os.getpid()))
def leave(*_):
    (directory / "agent.pid").unlink()
    sys.exit(0)
signal.signal(signal.SIGTERM, leave)
while True:
    time.sleep(0.1)
"""


def hold(directory: Path) -> subprocess.Popen[bytes]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    # Started once it holds the lock and has written its own pid: in between, a pid file
    # left by an agent killed outright still names that one.
    deadline = time.monotonic() + 10
    while lifecycle.running_pid(directory) != holder.pid:
        assert time.monotonic() < deadline, "the stand-in agent did not start"
        time.sleep(0.05)
    return holder


def test_no_agent_runs_until_one_holds_the_lock_even_with_a_stale_pid_file(tmp_path):
    (tmp_path / "agent.pid").write_text("424242")  # left by an agent killed outright
    assert lifecycle.running_pid(tmp_path) is None
    holder = hold(tmp_path)  # which waits until it names the new holder
    try:
        assert lifecycle.running_pid(tmp_path) == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_stop_asks_the_agent_to_leave_and_waits_until_it_has(tmp_path):
    holder = hold(tmp_path)
    assert lifecycle.stop(tmp_path) == holder.pid
    assert holder.wait(timeout=5) == 0  # it left by itself, on SIGTERM
    assert lifecycle.running_pid(tmp_path) is None
    assert lifecycle.stop(tmp_path) is None  # nothing left to stop


def test_stop_on_windows_ends_the_process_outright_and_clears_its_pid_file(tmp_path):
    holder = hold(tmp_path)
    ended = []

    def terminate_process(pid: int, sig: int) -> None:
        # What os.kill does on Windows: TerminateProcess, no handler runs.
        ended.append((pid, sig))
        holder.kill()
        holder.wait()

    assert lifecycle.stop(tmp_path, kill=terminate_process) == holder.pid
    assert ended == [(holder.pid, signal.SIGTERM)]
    assert not (tmp_path / "agent.pid").exists()


def test_an_agent_that_will_not_stop_is_reported_not_waited_for_forever(tmp_path):
    holder = hold(tmp_path)
    try:
        with pytest.raises(Failure, match=f"The agent \\(pid {holder.pid}\\) did not stop"):
            lifecycle.stop(tmp_path, kill=lambda pid, sig: None, timeout=0.5)
    finally:
        holder.kill()
        holder.wait()


def test_a_started_agent_follows_its_saved_config_not_the_installing_shells_variables(
    tmp_path, monkeypatch
):
    started = {}

    class Recorded:
        pid = 4242

        def __init__(self, command, **options):
            started.update(command=command, **options)

    monkeypatch.setattr(lifecycle.subprocess, "Popen", Recorded)
    monkeypatch.setenv("CODEXPANEL_WORKSPACE", "/somewhere/else")
    monkeypatch.setenv("CODEXPANEL_CODEX_PATH", "/another/codex")
    (tmp_path / "agent.pid").write_text("1")  # left by an agent ended outright
    config_file = tmp_path / "agent-runtime.json"
    assert lifecycle.start(config_file, tmp_path / "app", tmp_path / "logs" / "agent.log") == 4242
    assert started["command"][1:] == ["-m", "agent", "run"]
    assert started["env"]["CODEXPANEL_AGENT_CONFIG"] == str(config_file)
    assert "CODEXPANEL_WORKSPACE" not in started["env"]
    assert "CODEXPANEL_CODEX_PATH" not in started["env"]
    assert started["start_new_session"] and started["stdin"] == subprocess.DEVNULL
    assert not (tmp_path / "agent.pid").exists()
