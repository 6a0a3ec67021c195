"""What the console does to Codex through the relay and the agent, as reusable scenarios:
run against an agent started in-process and against one the CLI installed."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .live import Browser


def turn_done(event: dict[str, Any]) -> bool:
    return event["eventType"] == "turn/completed"


def of_type(kind: str):
    return lambda event: event["eventType"] == kind


@contextmanager
def outside_folder() -> Iterator[Path]:
    """A folder outside the workspace and outside the temporary folder (which the sandbox
    lets Codex write to), so writing there needs the person's approval."""
    folder = Path.home() / ".cache" / "codexpanel-e2e" / uuid.uuid4().hex
    assert not folder.is_relative_to(tempfile.gettempdir()), "HOME must be outside /tmp"
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def turn_and_command_approvals(browser: Browser, device: str, workspace: Path) -> None:
    """startThread, a streamed turn, listSessions, a command approval accepted (it runs)
    and one declined (it does not), readSession: all seen on /events."""
    stream = browser.stream()

    started = browser.command(device, "startThread")
    assert started["status"] == "done", started
    thread_id = started["result"]["thread"]["id"]
    assert started["result"]["modelProvider"] == "fake"
    turn = browser.command(device, "startTurn", threadId=thread_id, input="say hi")
    assert turn["status"] == "done", turn
    seen = stream.until(turn_done)
    text = "".join(
        e["payload"]["delta"] for e in seen if e["eventType"] == "item/agentMessage/delta"
    )
    assert text == "Hello from the fake model."
    # A thread is listed once it has a turn.
    listed = browser.command(device, "listSessions")
    assert thread_id in [thread["id"] for thread in listed["result"]["data"]]
    assert all(e["threadId"] == thread_id for e in seen if e["source"] == "agent" and e["threadId"])

    # A command approval, accepted: the command runs.
    browser.command(device, "startTurn", threadId=thread_id, input="[shell:mkdir -p approved_dir]")
    asked = stream.until(of_type("item/commandExecution/requestApproval"))[-1]
    assert "approved_dir" in asked["payload"]["params"]["command"]
    resolved = browser.command(
        device, "resolveApproval", requestId=asked["payload"]["requestId"], decision="accept"
    )
    assert resolved["status"] == "done", resolved
    stream.until(turn_done)
    assert (workspace / "approved_dir").is_dir()

    # Another, declined: it does not run.
    browser.command(device, "startTurn", threadId=thread_id, input="[shell:mkdir -p declined_dir]")
    asked = stream.until(of_type("item/commandExecution/requestApproval"))[-1]
    browser.command(
        device, "resolveApproval", requestId=asked["payload"]["requestId"], decision="decline"
    )
    seen = stream.until(turn_done)
    assert not (workspace / "declined_dir").exists()
    statuses = [
        e["payload"]["item"]["status"]
        for e in seen
        if e["eventType"] == "item/completed" and e["payload"]["item"]["type"] == "commandExecution"
    ]
    assert statuses == ["declined"]

    history = browser.command(device, "readSession", threadId=thread_id)
    assert history["status"] == "done"
    assert len(history["result"]["thread"]["turns"]) == 3
    # Nothing the agent asked of Codex on the way was in a deprecated form.
    assert browser.call("GET", f"/api/devices/{device}")["codex"]["notices"] == []


def file_change_approval(browser: Browser, device: str, outside: Path) -> None:
    stream = browser.stream()
    thread_id = browser.command(device, "startThread")["result"]["thread"]["id"]
    target = outside / "hello.txt"
    browser.command(device, "startTurn", threadId=thread_id, input=f"[patch:{target}:hi there]")
    asked = stream.until(of_type("item/fileChange/requestApproval"))
    change = next(
        e
        for e in asked
        if e["eventType"] == "item/started" and e["payload"]["item"]["type"] == "fileChange"
    )
    assert change["payload"]["item"]["changes"][0]["path"] == str(target)
    browser.command(
        device, "resolveApproval", requestId=asked[-1]["payload"]["requestId"], decision="accept"
    )
    stream.until(turn_done)
    assert target.read_text() == "hi there\n"


def steer_and_interrupt(browser: Browser, device: str) -> None:
    stream = browser.stream()
    thread_id = browser.command(device, "startThread")["result"]["thread"]["id"]
    browser.command(device, "startTurn", threadId=thread_id, input="[slow]")
    stream.until(of_type("item/agentMessage/delta"))
    # The steered request streams slowly too, so the turn is still running when interrupted.
    steered = browser.command(device, "steerTurn", threadId=thread_id, input="[slow] and this")
    assert steered["status"] == "done", steered
    interrupted = browser.command(device, "interruptTurn", threadId=thread_id)
    assert interrupted["status"] == "done", interrupted["error"]
    completed = stream.until(turn_done)[-1]
    assert completed["payload"]["turn"]["status"] == "interrupted"
    nothing_running = browser.command(device, "interruptTurn", threadId=thread_id)
    assert nothing_running["status"] == "failed"
    assert nothing_running["error"]["code"] == "no_active_turn"
