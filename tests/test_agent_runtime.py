"""The host runtime against a small fake app-server (SPEC AGT-5): events, coalescing,
approvals, command de-duplication and the control state, without a relay."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent.runtime import control
from agent.runtime.appserver import AppServer, AppServerError
from agent.runtime.host import HostRuntime, RuntimeSettings

# The agent has no Django: the relay's database and channel layer change nothing here.
pytestmark = pytest.mark.agent_alone

FAKE = Path(__file__).parent / "fakes" / "fake_app_server.py"


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    launcher = tmp_path / "codex"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    launcher.chmod(0o755)
    host = HostRuntime(
        RuntimeSettings(
            relay_url="http://127.0.0.1:9",
            device_wss_url="ws://127.0.0.1:9/device-wss",
            device_token="cpd_unused",
            workspace=str(tmp_path),
            codex_path=str(launcher),
            state_dir=tmp_path / "state",
        )
    )
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(host.client, "send", sent.append)
    host.sent = sent
    host.start_codex()
    yield host
    host.stop()


def events_of(runtime: HostRuntime, kind: str) -> list[dict[str, Any]]:
    return [e for e in runtime.outbox.pending(limit=10_000) if e["eventType"] == kind]


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def command(runtime: HostRuntime, name: str, command_id: str = "cmd_1", **params: Any):
    runtime._on_command({"commandId": command_id, "name": name, "params": params})
    wait_for(lambda: any(s["commandId"] == command_id for s in runtime.sent))
    return next(s for s in runtime.sent if s["commandId"] == command_id)


def test_a_burst_of_deltas_travels_as_few_events_and_loses_no_text(runtime):
    answer = command(runtime, "startTurn", threadId="thr-1", input="go")
    assert answer["ok"] is True
    wait_for(lambda: events_of(runtime, "turn/completed"))
    deltas = events_of(runtime, "item/agentMessage/delta")
    assert "".join(e["payload"]["delta"] for e in deltas) == "".join(f"{n}," for n in range(100))
    assert len(deltas) < 20
    seqs = [e["seq"] for e in runtime.outbox.pending(limit=10_000)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    order = [e["eventType"] for e in runtime.outbox.pending(limit=10_000)]
    assert order.index("turn/started") < order.index("item/agentMessage/delta")
    assert order.index("item/agentMessage/delta") < order.index("turn/completed")


def test_a_command_delivered_twice_runs_once_and_answers_the_same(runtime):
    first = command(runtime, "startThread", command_id="cmd_twice")
    runtime._on_command({"commandId": "cmd_twice", "name": "startThread", "params": {}})
    wait_for(lambda: len(runtime.sent) == 2)
    assert runtime.sent[1] == first
    assert len(events_of(runtime, "thread/started")) == 0  # the fake sends none; no rerun
    assert runtime.outbox.claim_command("cmd_twice") == (False, first)


def test_an_approval_becomes_an_event_and_the_consoles_answer_reaches_app_server(runtime):
    command(runtime, "startTurn", threadId="thr-1", input="approve")
    wait_for(lambda: events_of(runtime, "item/commandExecution/requestApproval"))
    asked = events_of(runtime, "item/commandExecution/requestApproval")[0]
    request_id = asked["payload"]["requestId"]
    assert asked["payload"]["params"]["command"] == "ls"
    answer = command(runtime, "resolveApproval", "cmd_2", requestId=request_id, decision="accept")
    assert answer["ok"] is True
    wait_for(lambda: events_of(runtime, "fake/answered"))
    assert events_of(runtime, "fake/answered")[0]["payload"]["result"] == {"decision": "accept"}
    again = command(runtime, "resolveApproval", "cmd_3", requestId=request_id, decision="accept")
    assert again["ok"] is False and again["error"]["code"] == "approval_not_found"


def test_the_control_state_is_applied_to_new_threads_and_turns(runtime):
    changed = command(runtime, "setControlState", permissionPreset="auto", workMode="plan")
    assert changed["result"]["controlState"]["approvalsReviewer"] == "auto_review"
    started = command(runtime, "startThread", "cmd_2")
    assert started["result"]["params"]["approvalsReviewer"] == "auto_review"
    assert started["result"]["params"]["sandbox"] == "workspace-write"
    refused = command(runtime, "setControlState", "cmd_3", workMode="chaos")
    assert refused["ok"] is False and refused["error"]["code"] == "invalid_params"


def test_app_server_errors_and_unknown_commands_fail_the_command_not_the_agent(runtime):
    failed = command(runtime, "archiveThread", threadId="thr-1")
    assert failed["ok"] is False and failed["error"]["code"] == "codex_-32600"
    unknown = command(runtime, "formatDisk", "cmd_2")
    assert unknown["error"]["code"] == "unknown_command"
    missing = command(runtime, "readSession", "cmd_3")
    assert missing["error"]["code"] == "invalid_params"


def test_a_crashed_app_server_fails_what_waits_on_it_and_is_restarted(runtime):
    with pytest.raises(AppServerError):
        runtime.codex.request("crash", {}, timeout=10)
    wait_for(lambda: events_of(runtime, "agent.codex.restarted"), timeout=15)
    assert events_of(runtime, "agent.codex.exited")[0]["payload"]["exitCode"] == 3
    assert command(runtime, "startThread")["ok"] is True


def test_presets_map_onto_codex_settings():
    full = control.control_state("default", "full")
    assert control.thread_params(full) == {
        "approvalPolicy": "never",
        "approvalsReviewer": "user",
        "sandbox": "danger-full-access",
    }
    assert control.turn_params(full, "/w")["sandboxPolicy"] == {"type": "dangerFullAccess"}
    ask = control.turn_params(control.DEFAULT, "/w")["sandboxPolicy"]
    assert ask == {"type": "workspaceWrite", "writableRoots": ["/w"], "networkAccess": False}


def test_an_app_server_that_is_not_there_is_a_clear_error(tmp_path):
    with pytest.raises((OSError, AppServerError)):
        AppServer(str(tmp_path / "no-codex")).start(timeout=2)


def test_the_local_panel_shows_state_and_runs_fixed_actions_for_its_token_only(runtime):
    import json
    import urllib.error
    import urllib.request

    from agent.local.panel import Panel

    panel = Panel(runtime, "secret-token", {"log": "/tmp/agent.log"})
    panel.start()
    base = f"http://127.0.0.1:{panel.port}"

    def call(path, token="secret-token", host=None, body=None):
        headers = {"X-Panel-Token": token}
        if host:
            headers["Host"] = host
        request = urllib.request.Request(
            base + path, data=json.dumps(body).encode() if body else None, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    try:
        code, body = call("/api/status")
        assert code == 200
        status = json.loads(body)
        assert status["codex"]["stdioBridge"] == "running"
        assert status["workMode"] == "default"
        assert status["permissions"]["permissionPreset"] == "ask"
        assert status["wss"]["state"] == "starting"
        assert status["logPath"] == "/tmp/agent.log"
        assert status["nextStep"]
        assert call("/api/status", token="wrong")[0] == 401
        assert call("/api/status", host="evil.example")[0] == 403
        code, body = call("/api/action", body={"action": "reconnect"})
        assert code == 200 and "Reconnecting" in json.loads(body)["message"]
        assert call("/api/action", body={"action": "rm -rf"})[0] == 400
        code, page = call("/?token=secret-token", token="")
        assert code == 200 and "Restart Codex / 重启 Codex" in page
    finally:
        panel.stop()


def test_reconnect_restart_and_update_commands_act_after_their_answer(runtime, monkeypatch):
    done: list[str] = []
    monkeypatch.setattr(runtime, "soon", lambda action: done.append(action.__name__))
    assert command(runtime, "reconnect")["ok"] is True
    assert command(runtime, "restartAgent", "cmd_2")["result"] == {"restarting": "agent"}
    assert command(runtime, "restartCodex", "cmd_3")["ok"] is True
    assert done == ["reconnect", "reexec", "<lambda>"]


def test_a_welcome_naming_a_newer_version_starts_an_update(runtime, monkeypatch, tmp_path):
    checked: list[str] = []
    runtime.settings.app_dir = tmp_path / "app"
    monkeypatch.setattr(runtime, "check_update", lambda reason: checked.append(reason))
    runtime._on_welcome({"agentVersion": "0.0.1"})
    runtime._on_welcome({"agentVersion": "99.0.0"})
    wait_for(lambda: checked == ["welcome"])


def test_a_failed_update_is_reported_and_the_agent_keeps_running(runtime, tmp_path):
    runtime.settings.app_dir = tmp_path / "app"
    assert runtime.check_update("schedule") is None  # the relay at 127.0.0.1:9 is not there
    failed = events_of(runtime, "agent.update.failed")
    assert failed and "Cannot reach the relay" in failed[0]["payload"]["message"]
    assert command(runtime, "startThread")["ok"] is True


def test_control_state_changes_are_handed_to_whoever_persists_them(runtime):
    remembered: list[dict] = []
    runtime.on_control_change.append(remembered.append)
    command(runtime, "setControlState", permissionPreset="full")
    assert remembered[-1]["sandbox"] == "danger-full-access"


def test_an_agent_whose_codex_cannot_start_still_connects_and_says_why(tmp_path):
    started: list[str] = []
    host = HostRuntime(
        RuntimeSettings(
            relay_url="http://127.0.0.1:9",
            device_wss_url="ws://127.0.0.1:9/device-wss",
            device_token="cpd_unused",
            workspace=str(tmp_path),
            codex_path=str(tmp_path / "no-codex"),
            state_dir=tmp_path / "state",
        )
    )
    host.client.run = lambda: started.append("socket")
    try:
        host.start()
        assert started == ["socket"]
        assert host.codex_status.state == "failed"
        assert events_of(host, "agent.codex.failed")
    finally:
        host.stop()


def test_a_command_cut_short_by_a_restart_is_answered_as_failed(tmp_path):
    settings = RuntimeSettings(
        relay_url="http://127.0.0.1:9",
        device_wss_url="ws://127.0.0.1:9/device-wss",
        device_token="cpd_unused",
        workspace=str(tmp_path),
        codex_path="codex",
        state_dir=tmp_path / "state",
    )
    first = HostRuntime(settings)
    assert first.outbox.claim_command("cmd_cut") == (True, None)  # then the agent dies
    first.outbox.close()
    again = HostRuntime(settings)
    first_time, stored = again.outbox.claim_command("cmd_cut")
    assert not first_time
    assert stored["ok"] is False and stored["error"]["code"] == "agent_restarted"
    again.outbox.close()


def test_a_question_from_codex_waits_for_the_person_and_their_answers_reach_it(runtime):
    command(runtime, "startTurn", threadId="thr-1", input="ask:item/tool/requestUserInput")
    wait_for(lambda: events_of(runtime, "item/tool/requestUserInput"))
    asked = events_of(runtime, "item/tool/requestUserInput")[0]["payload"]
    assert events_of(runtime, "fake/answered") == []
    answers = {"colour": {"answers": ["Red"]}}
    answer = command(
        runtime, "resolveApproval", "cmd_2", requestId=asked["requestId"], answers=answers
    )
    assert answer["ok"] is True
    wait_for(lambda: events_of(runtime, "fake/answered"))
    assert events_of(runtime, "fake/answered")[0]["payload"]["result"] == {"answers": answers}


@pytest.mark.parametrize(
    ("said", "received"),
    [
        (
            {"action": "accept", "content": {"channel": "beta"}},
            {"action": "accept", "content": {"channel": "beta"}},
        ),
        (
            {"action": "accept", "persist": "session"},
            {"action": "accept", "content": None, "_meta": {"persist": "session"}},
        ),
        ({"action": "cancel"}, {"action": "cancel", "content": None}),
    ],
)
def test_an_mcp_elicitation_is_answered_with_the_persons_action(runtime, said, received):
    command(runtime, "startTurn", threadId="thr-1", input="ask:mcpServer/elicitation/request")
    wait_for(lambda: events_of(runtime, "mcpServer/elicitation/request"))
    asked = events_of(runtime, "mcpServer/elicitation/request")[0]["payload"]
    answer = command(runtime, "resolveApproval", "cmd_2", requestId=asked["requestId"], **said)
    assert answer["ok"] is True
    assert "content" not in answer["result"]  # what was typed stays out of the result
    wait_for(lambda: events_of(runtime, "fake/answered"))
    assert events_of(runtime, "fake/answered")[0]["payload"]["result"] == received


def test_only_one_agent_runs_per_install(tmp_path):
    from agent.local import config

    held = config.single_instance(tmp_path / "agent.lock")
    assert held is not None
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]); from pathlib import Path;"
        "from agent.local.config import single_instance;"
        "sys.exit(0 if single_instance(Path(sys.argv[1])) is None else 1)"
    )
    import subprocess

    root = str(Path(__file__).resolve().parent.parent)
    second = subprocess.run([sys.executable, "-c", code, str(tmp_path / "agent.lock"), root])
    assert second.returncode == 0  # refused while the first holds it
    held.close()
    third = subprocess.run([sys.executable, "-c", code, str(tmp_path / "agent.lock"), root])
    assert third.returncode == 1


@pytest.mark.parametrize(
    "method", ["item/tool/call", "account/chatgptAuthTokens/refresh", "attestation/generate"]
)
def test_a_request_for_the_program_is_refused_by_the_agent_and_recorded(runtime, method):
    command(runtime, "startTurn", threadId="thr-1", input=f"ask:{method}")
    wait_for(lambda: events_of(runtime, "fake/answered"))
    answered = events_of(runtime, "fake/answered")[0]["payload"]
    assert answered["error"]["code"] == -32601
    assert answered["result"] is None
    refused = events_of(runtime, "agent.request.refused")
    assert refused[0]["payload"] == {
        "method": method,
        "message": f"{method} is not available through codexpanel",
    }
    assert refused[0]["threadId"] == "thr-1"


def test_a_request_of_an_unknown_kind_waits_for_the_person_and_declining_answers_an_error(
    runtime,
):
    command(runtime, "startTurn", threadId="thr-1", input="ask:item/future/request")
    wait_for(lambda: events_of(runtime, "agent.request.unknown"))
    asked = events_of(runtime, "agent.request.unknown")[0]["payload"]
    assert asked["method"] == "item/future/request"
    assert asked["params"]["detail"] == "from the fake"
    assert events_of(runtime, "fake/answered") == []  # nothing answered on the person's behalf
    answer = command(
        runtime, "resolveApproval", "cmd_2", requestId=asked["requestId"], decision="decline"
    )
    assert answer["ok"] is True
    wait_for(lambda: events_of(runtime, "fake/answered"))
    answered = events_of(runtime, "fake/answered")[0]["payload"]
    assert answered["error"] == {"code": -32601, "message": "declined by the person"}


def test_approval_ids_differ_between_agent_processes(runtime, tmp_path):
    other = HostRuntime(runtime.settings)
    assert other.instance != runtime.instance
    assert len(other.instance) >= 16  # 96 random bits, URL-safe


@pytest.mark.parametrize(
    "decision, review",
    [("accept", "approved"), ("acceptForSession", "approved_for_session"), ("decline", "denied")],
)
def test_a_legacy_approval_is_answered_with_the_review_decision_it_expects(
    runtime, decision, review
):
    command(runtime, "startTurn", threadId="thr-1", input="ask:execCommandApproval")
    wait_for(lambda: events_of(runtime, "execCommandApproval"))
    asked = events_of(runtime, "execCommandApproval")[0]["payload"]
    answer = command(
        runtime, "resolveApproval", "cmd_2", requestId=asked["requestId"], decision=decision
    )
    assert answer["ok"] is True
    wait_for(lambda: events_of(runtime, "fake/answered"))
    assert events_of(runtime, "fake/answered")[0]["payload"]["result"] == {"decision": review}


def test_granted_permissions_and_their_scope_reach_app_server(runtime):
    command(runtime, "startTurn", threadId="thr-1", input="ask:item/permissions/requestApproval")
    wait_for(lambda: events_of(runtime, "item/permissions/requestApproval"))
    asked = events_of(runtime, "item/permissions/requestApproval")[0]["payload"]
    granted = {"fileSystem": {"write": ["/data/out"]}}
    answer = command(
        runtime,
        "resolveApproval",
        "cmd_2",
        requestId=asked["requestId"],
        permissions=granted,
        scope="session",
    )
    assert answer["ok"] is True
    wait_for(lambda: events_of(runtime, "fake/answered"))
    result = events_of(runtime, "fake/answered")[0]["payload"]["result"]
    assert result == {"permissions": granted, "scope": "session"}


def test_the_agent_refuses_a_command_whose_parameters_break_their_shape(runtime):
    answer = command(runtime, "readSession", threadId={"$ne": ""})
    assert answer["ok"] is False
    assert answer["error"] == {"code": "invalid_params", "message": "params.threadId must be text"}


def test_a_command_during_a_requested_codex_restart_waits_for_the_new_app_server(runtime):
    first = runtime.codex
    assert command(runtime, "restartCodex")["ok"] is True
    # Asked before the restart has even begun, as a phone does right after "done".
    answer = command(runtime, "startThread", "cmd_2")
    assert answer["ok"] is True, answer
    assert runtime.codex is not first and runtime.codex.running


class PagedCodex:
    """thread/read and thread/turns/list as app-server answers them, over `count` turns."""

    def __init__(self, count: int) -> None:
        self.turns = [{"id": f"turn-{n}"} for n in range(count)]
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.asked.append((method, params))
        if method == "thread/read":
            return {"thread": {"id": params["threadId"], "turns": []}}
        newest_first = self.turns[::-1]
        start = int(params.get("cursor") or 0)
        page = newest_first[start : start + params["limit"]]
        more = start + len(page) < len(newest_first)
        return {"data": page, "nextCursor": str(start + len(page)) if more else None}


class PagedRuntime:
    def __init__(self, codex: PagedCodex) -> None:
        self.codex = codex

    def codex_client(self) -> PagedCodex:
        return self.codex


@pytest.mark.parametrize(("count", "omitted"), [(0, False), (120, False), (640, True)])
def test_a_session_is_read_without_the_deprecated_full_history_and_oldest_first(count, omitted):
    from agent.runtime import handlers

    codex = PagedCodex(count)
    result = handlers.read_session(PagedRuntime(codex), {"threadId": "thr-1"})
    shown = min(count, handlers.MAX_READ_TURNS)
    assert [turn["id"] for turn in result["thread"]["turns"]] == [
        f"turn-{n}" for n in range(count - shown, count)
    ]
    assert result["olderTurnsOmitted"] is omitted
    assert codex.asked[0] == ("thread/read", {"threadId": "thr-1"})
    assert all(params["itemsView"] == "full" for _m, params in codex.asked[1:])
