"""The host runtime on the real `codex app-server` (codex-cli 0.169.0), pointed at the local
fake Responses server, through a real Daphne relay (SPEC AGT-5): everything the console
does to Codex, seen on /events."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from .codex_world import World, agent_process, codex_path, codex_world, history, wait_online
from .console_scenarios import (
    file_change_approval,
    of_type,
    outside_folder,
    steer_and_interrupt,
    turn_and_command_approvals,
    turn_done,
)
from .images import png
from .live import Browser

pytestmark = pytest.mark.own_deployment


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with codex_world(tmp_path) as space:
        yield space


def test_a_turn_streams_text_and_approvals_reach_codex_from_the_console(world):
    turn_and_command_approvals(world.browser, world.device_id, world.workspace)


def test_a_file_change_approval_lets_codex_write_outside_the_workspace(world):
    with outside_folder() as outside:
        file_change_approval(world.browser, world.device_id, outside)


def test_a_running_turn_can_be_steered_and_interrupted(world):
    steer_and_interrupt(world.browser, world.device_id)


def test_the_permission_preset_reaches_codex_and_the_device_reports_it(world):
    browser, device = world.browser, world.device_id
    stream = browser.stream()
    changed = browser.command(device, "setControlState", permissionPreset="full")
    assert changed["result"]["controlState"]["sandbox"] == "danger-full-access"
    reported = stream.until(of_type("device.controlState"))[-1]
    assert reported["payload"]["controlState"]["permissionPreset"] == "full"
    assert browser.call("GET", f"/api/devices/{device}")["controlState"]["approvalPolicy"] == (
        "never"
    )
    started = browser.command(device, "startThread")["result"]
    assert started["sandbox"]["type"] == "dangerFullAccess"
    assert started["approvalPolicy"] == "never"
    # A preset that is not one is refused by the relay, before anything reaches the agent.
    with pytest.raises(urllib.error.HTTPError) as refused:
        browser.command(device, "setControlState", permissionPreset="yolo")
    assert refused.value.code == 400
    error = json.loads(refused.value.read())["error"]
    assert error["code"] == "invalid_params"
    assert error["details"] == {"field": "params.permissionPreset"}


def codex_version() -> str:
    printed = subprocess.run([codex_path(), "--version"], capture_output=True, text=True)
    return printed.stdout.split()[-1]


def test_a_session_is_read_page_by_page_and_codexs_notices_reach_the_computer_once(world, caplog):
    browser, device = world.browser, world.device_id
    stream = browser.stream()
    thread_id = browser.command(device, "startThread")["result"]["thread"]["id"]
    fresh = browser.command(device, "readSession", threadId=thread_id)
    assert fresh["status"] == "done" and fresh["result"]["thread"]["turns"] == []
    for text in ("say hi", "say hi again"):
        browser.command(device, "startTurn", threadId=thread_id, input=text)
        stream.until(turn_done)
    read = browser.command(device, "readSession", threadId=thread_id)["result"]
    asked = [turn["items"][0]["content"][0]["text"] for turn in read["thread"]["turns"]]
    assert asked == ["say hi", "say hi again"]
    assert read["olderTurnsOmitted"] is False
    reported = browser.call("GET", f"/api/devices/{device}")["codex"]
    assert reported["version"] == codex_version() and reported["state"] == "running"
    assert reported["notices"] == []

    # The deprecated full read, asked twice, as an older agent did on every readSession.
    codex = world.runtime.codex_client()
    for _ in range(2):
        codex.request("thread/read", {"threadId": thread_id, "includeTurns": True})
    deadline = time.monotonic() + 15
    while not (notices := browser.call("GET", f"/api/devices/{device}")["codex"]["notices"]):
        assert time.monotonic() < deadline, "the notice never reached the relay"
        time.sleep(0.2)
    assert len(notices) == 1 and "includeTurns" in notices[0]
    logged = [r.getMessage() for r in caplog.records if "includeTurns" in r.getMessage()]
    assert len(logged) == 1
    assert not [e for e in history(browser, device) if e["eventType"] == "deprecationNotice"]


def test_a_crashed_app_server_is_restarted_and_the_console_told(world):
    browser, device = world.browser, world.device_id
    stream = browser.stream()
    world.runtime.codex.process.kill()
    seen = stream.until(of_type("agent.codex.restarted"), timeout=60)
    kinds = [e["eventType"] for e in seen]
    assert kinds.index("agent.codex.exited") < kinds.index("agent.codex.restarted")
    assert browser.command(device, "startThread")["status"] == "done"


def test_a_relay_restart_mid_turn_loses_and_repeats_nothing(world):
    browser, device = world.browser, world.device_id
    thread_id = browser.command(device, "startThread")["result"]["thread"]["id"]
    stream = browser.stream()
    browser.command(device, "startTurn", threadId=thread_id, input="[slow:0.1]")
    stream.until(of_type("item/agentMessage/delta"))
    port = int(world.host.rsplit(":", 1)[1])
    world.relay.kill(world.host)
    time.sleep(1.5)  # the turn keeps streaming into the agent's outbox meanwhile
    world.relay.start(port)
    browser = Browser(world.host)
    deadline = time.monotonic() + 60
    while True:
        events = history(browser, device)
        if any(e["eventType"] == "turn/completed" for e in events):
            break
        assert time.monotonic() < deadline, "the turn never completed on the relay"
        time.sleep(0.5)
    time.sleep(1)  # anything still in flight lands
    events = history(browser, device)
    seqs = [e["agentSeq"] for e in events if e["source"] == "agent"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    text = "".join(
        e["payload"]["delta"]
        for e in events
        if e["eventType"] == "item/agentMessage/delta" and e["threadId"] == thread_id
    )
    assert text == "".join(f"chunk {n} " for n in range(60))
    # The agent that said hello again named the Codex it runs.
    provider = browser.call("GET", f"/api/devices/{device}")["capabilities"]["provider"]
    assert provider["version"] == codex_version()


def test_plan_mode_reaches_codex_as_the_turns_collaboration_mode(world):
    browser, device = world.browser, world.device_id
    stream = browser.stream()
    thread_id = browser.command(device, "startThread")["result"]["thread"]["id"]
    for _turn in range(2):  # the second request carries history, as the plan one will
        browser.command(device, "startTurn", threadId=thread_id, input="say hi")
        stream.until(turn_done)
    # Codex's own instructions mention plan mode; in plan mode it adds that mode's.
    default_mentions = json.dumps(world.fake.requests[-1]).lower().count("plan mode")
    browser.command(device, "setControlState", workMode="plan")
    turn = browser.command(device, "startTurn", threadId=thread_id, input="say hi")
    assert turn["status"] == "done", turn
    stream.until(turn_done)
    assert json.dumps(world.fake.requests[-1]).lower().count("plan mode") > default_mentions


def test_a_chosen_model_effort_and_attached_image_reach_codex(world):
    browser, device = world.browser, world.device_id
    models = browser.command(device, "listModels")["result"]["data"]
    assert models, "app-server lists its models"
    chosen = models[-1]
    efforts = [entry["reasoningEffort"] for entry in chosen["supportedReasoningEfforts"]]
    effort = next(e for e in efforts if e != chosen["defaultReasoningEffort"])

    image = png(8, 6)
    attached = browser.upload(f"/api/devices/{device}/attachments", "shot.png", image, "image/png")
    assert attached["contentType"] == "image/png" and attached["size"] == len(image)

    stream = browser.stream()
    thread_id = browser.command(device, "startThread")["result"]["thread"]["id"]
    turn = browser.command(
        device,
        "startTurn",
        threadId=thread_id,
        input=[
            {"type": "text", "text": "what is in this picture?"},
            {"type": "attachment", "attachmentId": attached["attachmentId"]},
        ],
        model=chosen["id"],
        effort=effort,
    )
    assert turn["status"] == "done", turn
    stream.until(turn_done)
    sent = world.fake.requests[-1]
    assert sent["model"] == chosen["id"]
    assert sent["reasoning"]["effort"] == effort
    parts = [
        part
        for item in sent["input"]
        if item.get("role") == "user"
        for part in item.get("content") or []
    ]
    pictures = [part for part in parts if part.get("type") == "input_image"]
    assert len(pictures) == 1
    header, encoded = pictures[0]["image_url"].split(",", 1)
    assert header == "data:image/png;base64"
    assert base64.b64decode(encoded) == image  # the very image the person attached
    # The user message in the log names a file on the computer, not the image's bytes.
    logged = [
        event
        for event in history(browser, device)
        if event["eventType"] == "item/completed"
        and event["payload"]["item"]["type"] == "userMessage"
    ]
    content = logged[-1]["payload"]["item"]["content"]
    assert [part["type"] for part in content] == ["text", "localImage"]
    assert len(json.dumps(content)) < 1000


def test_an_answer_to_a_request_that_died_with_a_killed_agent_reaches_nothing(world):
    browser, device = world.browser, world.device_id
    world.runtime.stop(leaving=False)
    agent = agent_process(world.runtime.settings)
    try:
        wait_online(browser, device)
        thread_id = browser.command(device, "startThread")["result"]["thread"]["id"]
        stream = browser.stream()
        browser.command(device, "startTurn", threadId=thread_id, input="[shell:echo dangling]")
        first = stream.until(of_type("item/commandExecution/requestApproval"))[-1]
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)
        # Until the relay notices the dead socket, the device still looks online.
        wait_online(browser, device, online=False)

        agent = agent_process(world.runtime.settings)
        wait_online(browser, device)
        browser.command(device, "resumeThread", threadId=thread_id)
        browser.command(
            device, "startTurn", threadId=thread_id, input="[shell:touch stale_answer_ran]"
        )
        second = stream.until(
            lambda event: (
                event["eventType"] == "item/commandExecution/requestApproval"
                and "stale_answer_ran" in json.dumps(event["payload"])
            )
        )[-1]
        stale, fresh = first["payload"]["requestId"], second["payload"]["requestId"]
        assert stale != fresh  # Codex's own ids start again; ours never do

        # The answer a stale card would send is refused before it reaches any Codex.
        refused = browser.call_status(
            "POST",
            f"/api/devices/{device}/commands",
            {"name": "resolveApproval", "params": {"requestId": stale, "decision": "accept"}},
        )
        assert refused[0] == 404 and refused[1]["error"]["code"] == "approval_not_found"
        waiting = browser.call("GET", "/api/attention")["approvals"]
        assert [event["payload"]["requestId"] for event in waiting] == [fresh]
        assert not (world.workspace / "stale_answer_ran").exists()

        answered = browser.command(device, "resolveApproval", requestId=fresh, decision="accept")
        assert answered["status"] == "done", answered
        stream.until(turn_done)
        assert (world.workspace / "stale_answer_ran").exists()
    finally:
        agent.kill()
        agent.wait(timeout=10)
