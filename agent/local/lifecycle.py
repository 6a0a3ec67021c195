"""The agent running in the background (SPEC AGT-3): whether it runs, starting it, stopping
it — the same on Linux, macOS and Windows.

`python -m agent run` holds agent.lock for as long as it runs and writes its pid to
agent.pid. The lock, not the pid file, says whether an agent runs: a pid file outlives an
agent killed outright, and its number may belong to another program by then."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..terminal import Failure
from . import config

STOP_TIMEOUT = 10
START_TIMEOUT = 15


def lock_file(directory: Path) -> Path:
    return directory / "agent.lock"


def pid_file(directory: Path) -> Path:
    return directory / "agent.pid"


def running_pid(directory: Path) -> int | None:
    """The background agent's pid, or None when none runs."""
    held = config.single_instance(lock_file(directory))
    if held is not None:
        held.close()  # type: ignore[attr-defined]
        return None
    try:
        return int(pid_file(directory).read_text().strip())
    except (OSError, ValueError):
        return 0  # running, but it has not written its pid yet


def start(config_file: Path, app_dir: Path, log_file: Path) -> int:
    """Start `python -m agent run` in the background from the installed release (no agent
    may be running: callers check or stop it first)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # Left by an agent ended outright; the new one writes its own once it holds the lock.
    pid_file(config_file.parent).unlink(missing_ok=True)
    # The saved config says which Codex and workspace: not whatever the shell that ran the
    # installer happened to export.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CODEXPANEL_WORKSPACE", "CODEXPANEL_CODEX_PATH")
    }
    env["CODEXPANEL_AGENT_CONFIG"] = str(config_file)
    if app_dir.is_dir():
        env["PYTHONPATH"] = str(app_dir)
    # On Windows, a process of its own with no console: it outlives the window it was
    # started from, as a new session does elsewhere.
    windows = subprocess.DETACHED_PROCESS | subprocess.CREATE_NO_WINDOW if os.name == "nt" else 0
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent", "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            creationflags=windows,
            # Not the release folder: Windows cannot rename a process's working folder,
            # and updates replace the release by renaming.
            cwd=str(app_dir.parent),
        )
    return process.pid


def wait_started(directory: Path, timeout: float = START_TIMEOUT) -> int | None:
    """Wait for a starting agent's pid file. It writes the file once it holds the lock, so
    this does not take the lock itself: a starting agent that met that would leave."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return int(pid_file(directory).read_text().strip())
        except (OSError, ValueError):
            time.sleep(0.2)
    return None


def stop(
    directory: Path,
    kill: Callable[[int, int], None] = os.kill,
    timeout: float = STOP_TIMEOUT,
) -> int | None:
    """Stop the background agent; returns the pid it stopped, or None if none ran.

    On Linux and macOS the agent hears SIGTERM, finishes what it holds and says goodbye
    to the relay; on Windows os.kill ends the process outright, and the relay sees the
    connection drop. Either way the start at logon is untouched (a stopped agent starts
    again at the next logon, or with `python -m agent start`)."""
    pid = running_pid(directory)
    if pid == 0:  # running, about to write its pid
        pid = wait_started(directory, timeout=5)
    if not pid:
        return None
    with contextlib.suppress(OSError):
        kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(directory) and time.monotonic() < deadline:
        time.sleep(0.2)
    if running_pid(directory):
        raise Failure(
            f"The agent (pid {pid}) did not stop within {timeout:g} s",
            "agent 未能停止",
            "Stop it from the system's task manager, then try again.",
        )
    pid_file(directory).unlink(missing_ok=True)  # left behind by an agent ended outright
    return pid
