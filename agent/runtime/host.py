"""HostRuntime (SPEC AGT-5): the relay socket, the `codex app-server` child, and between
them the event outbox, the command handlers and the pending approvals.

Everything app-server says becomes an event: notifications as they are (streaming deltas
merged within short windows, so a fast turn costs few frames), approval requests with the
id the console answers with. A crashed app-server is restarted with backoff, and the
restart is itself an event.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import __version__, protocol
from ..local import update
from . import control
from .appserver import AppServer, AppServerError
from .codex_status import CodexStatus
from .events import COALESCE_WINDOW, MAX_EVENT_BYTES, EventWriter
from .handlers import CommandFailed, handle_command
from .outbox import Outbox
from .settings import RuntimeSettings
from .wss import DeviceWssClient

log = logging.getLogger(__name__)

RESTART_WAIT_SECONDS = 30

RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


class HostRuntime:
    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self.control_state = control.updated(settings.control_state, {})
        self.outbox = Outbox(settings.state_dir / "outbox.sqlite3")
        self.client = DeviceWssClient(
            settings.device_wss_url,
            settings.device_token,
            self.outbox,
            on_command=self._on_command,
            hello_info=self._hello_info,
            heartbeat_state=self._heartbeat_state,
            on_welcome=self._on_welcome,
        )
        self.events = EventWriter(self.outbox, self.client.events_ready)
        self.workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="command")
        self.lock = threading.RLock()
        self.approvals: dict[str, tuple[int, Any, str]] = {}
        self.active_turns: dict[str, str] = {}
        self.thread_models: dict[str, str | None] = {}
        self.codex: AppServer | None = None
        self.generation = 0
        # Approval ids carry this process's own random instance (96 bits) as well as the
        # app-server generation and Codex's request id, which both start again in every
        # process: an answer to a request that died with an earlier process can never
        # name one of this process's requests.
        self.instance = secrets.token_urlsafe(12)
        self.codex_status = CodexStatus()
        # Cleared while a requested restart of Codex is under way.
        self.codex_settled = threading.Event()
        self.codex_settled.set()
        self.stopping = threading.Event()
        self.restarts = 0
        self.on_control_change: list[Any] = []
        self.updating = threading.Lock()
        # Commands this agent was running when it last stopped will never finish: answer
        # them as failed, so a re-delivery gets that answer instead of silence.
        for command_id in self.outbox.unfinished_commands():
            self.outbox.finish_command(
                command_id,
                _failure(command_id, "agent_restarted", "the agent restarted while running it"),
            )

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        # The relay socket first: a computer whose Codex will not start is still online,
        # and the console and panel can say why.
        threading.Thread(target=self.client.run, name="device-wss", daemon=True).start()
        try:
            self.start_codex()
        except (OSError, AppServerError):
            threading.Thread(target=self._revive, args=(self.generation,), daemon=True).start()
        threading.Thread(target=self._flush_deltas, name="coalescer", daemon=True).start()
        if self.settings.app_dir is not None:
            threading.Thread(target=self._update_every, name="updater", daemon=True).start()

    # --- self-update (AGT-7) --------------------------------------------------------------

    def _update_every(self) -> None:
        reason = "start"
        while not self.stopping.is_set():
            self.check_update(reason)
            reason = "schedule"
            if self.stopping.wait(update.EVERY_SECONDS):
                return

    def _on_welcome(self, welcome: dict[str, Any]) -> None:
        if self.settings.app_dir is not None and update.is_newer(welcome.get("agentVersion", "")):
            threading.Thread(target=self.check_update, args=("welcome",), daemon=True).start()

    def check_update(self, reason: str) -> update.Outcome | None:
        """Apply a newer release from the relay, then restart into it; on any failure,
        say so and keep running this version."""
        app_dir = self.settings.app_dir
        if app_dir is None or not self.updating.acquire(blocking=False):
            return None
        try:
            outcome = update.update(self.settings.relay_url, app_dir)
        except Exception as exc:
            self.emit("agent.update.failed", {"reason": reason, "message": str(exc)})
            return None
        finally:
            self.updating.release()
        if outcome.updated:
            self.emit(
                "agent.update.applied",
                {"reason": reason, "from": __version__, "to": outcome.version},
            )
            self.soon(self.reexec)
        return outcome

    def reexec(self) -> None:
        """Replace this process with a fresh `python -m agent run` (restartAgent, update)."""
        self.stop(leaving=False)
        if self.settings.app_dir is not None:
            os.environ["PYTHONPATH"] = str(self.settings.app_dir)
        os.execv(sys.executable, [sys.executable, "-m", "agent", "run"])  # noqa: S606

    def stop(self, *, leaving: bool = True) -> None:
        self.stopping.set()
        self.client.stop(leaving=leaving)
        if self.codex is not None:
            self.codex.stop()
        self.workers.shutdown(wait=False, cancel_futures=True)

    def start_codex(self) -> None:
        with self.lock:
            self.generation += 1
            generation = self.generation
            self.approvals.clear()
            self.active_turns.clear()
            log_path = (
                self.settings.log_dir / "codex-app-server.log" if self.settings.log_dir else None
            )
            self.codex = AppServer(
                self.settings.codex_path,
                cwd=self.settings.workspace,
                env=self.settings.codex_env,
                extra_args=self.settings.codex_args,
                on_notification=self._on_notification,
                on_request=lambda rid, method, params: self._on_server_request(
                    generation, rid, method, params
                ),
                on_exit=lambda code: self._on_codex_exit(generation, code),
                stderr_path=log_path,
                # Plan mode (a turn's collaboration mode) is behind the experimental API.
                experimental=True,
            )
            self.codex_status.starting()
        try:
            started = self.codex.start()
        except (OSError, AppServerError) as exc:
            self.codex_status.failed(f"cannot start codex app-server: {exc}")
            self.emit("agent.codex.failed", {"message": self.codex_status.error})
            raise
        note = self.codex_status.started(started)
        self.emit(
            protocol.CODEX_STARTED,
            {"generation": generation, "version": self.codex_status.version, "versionNote": note},
        )
        # The relay hears the version (and the computer page shows it) now, not a beat later.
        self.client.heartbeat_now()

    def restart_codex_soon(self, reason: str) -> None:
        """Restart Codex once the answer to whoever asked is on its way. Commands that
        arrive meanwhile wait for the new app-server instead of failing."""
        self.codex_settled.clear()
        self.soon(lambda: self.restart_codex(reason))

    def restart_codex(self, reason: str) -> None:
        self.codex_settled.clear()
        try:
            with self.lock:
                old = self.codex
                self.generation += 1  # the old process's exit is no longer news
            if old is not None:
                old.stop()
            self.emit("agent.codex.restarting", {"reason": reason})
            self.start_codex()
        finally:
            self.codex_settled.set()

    def _on_codex_exit(self, generation: int, code: int | None) -> None:
        if generation != self.generation or self.stopping.is_set():
            return
        self.codex_status.failed(f"codex app-server exited with code {code}", "crashed")
        self.emit("agent.codex.exited", {"exitCode": code})
        threading.Thread(target=self._revive, args=(generation,), daemon=True).start()

    def _revive(self, generation: int) -> None:
        for attempt, delay in enumerate(RESTART_BACKOFF, start=1):
            if self.stopping.wait(delay) or generation != self.generation:
                return
            try:
                self.start_codex()
                self.restarts += 1
                self.emit("agent.codex.restarted", {"attempt": attempt})
                return
            except (OSError, AppServerError) as exc:
                log.warning("restarting codex app-server failed: %s", exc)
        self.emit(
            "agent.error",
            {"message": "codex app-server keeps failing; run `python -m agent status`"},
        )

    # --- events ---------------------------------------------------------------------------

    def emit(
        self,
        event_type: str,
        payload: dict[str, Any],
        thread_id: str | None = None,
        turn_id: str | None = None,
    ) -> None:
        self.events.emit(event_type, payload, thread_id, turn_id)

    def _on_notification(self, method: str, params: dict[str, Any]) -> None:
        if method == protocol.DEPRECATION_NOTICE:
            # Said again on every request that uses the old form: logged and reported once.
            if self.codex_status.deprecation(params):
                self.client.heartbeat_now()
            return
        if method == protocol.APPROVAL_RESOLVED:
            # Name the request as its approval event did, and forget it.
            key = self._approval_key(self.generation, params.get("requestId"))
            self.approvals.pop(key, None)
            params = {**params, "requestId": key}
        thread_id = params.get("threadId") or (params.get("thread") or {}).get("id")
        turn_id = params.get("turnId") or (params.get("turn") or {}).get("id")
        if method == "turn/started" and thread_id and turn_id:
            self.active_turns[thread_id] = turn_id
        elif method == "turn/completed" and thread_id:
            self.active_turns.pop(thread_id, None)
        self.events.notification(method, params, thread_id, turn_id)

    def _flush_deltas(self) -> None:
        while not self.stopping.wait(COALESCE_WINDOW / 2):
            self.events.flush_due()

    # --- approvals ------------------------------------------------------------------------

    def _on_server_request(
        self, generation: int, request_id: Any, method: str, params: dict[str, Any]
    ) -> None:
        if method in protocol.CLIENT_REQUESTS:
            # Addressed to the program, not the person: nothing here can honour them.
            message = f"{method} is not available through codexpanel"
            if self.codex is not None:
                self.codex.respond_error(request_id, -32601, message)
            self.emit(
                protocol.CLIENT_REQUEST_REFUSED,
                {"method": method, "message": message},
                params.get("threadId"),
                params.get("turnId"),
            )
            return
        event_type = method if method in protocol.APPROVAL_METHODS else protocol.UNKNOWN_REQUEST
        key = self._approval_key(generation, request_id)
        self.approvals[key] = (generation, request_id, event_type)
        self.emit(
            event_type,
            {"requestId": key, "method": method, "params": params},
            params.get("threadId"),
            params.get("turnId"),
        )

    def _approval_key(self, generation: int, request_id: Any) -> str:
        """The id an approval travels under (see self.instance)."""
        return f"{self.instance}:{generation}:{request_id}"

    def resolve_approval(self, request_key: str, answer: dict[str, Any]) -> None:
        """Answer a pending request: a decision for an approval, answers for questions,
        and a declined request of an unknown kind as a JSON-RPC error."""
        pending = self.approvals.pop(str(request_key), None)
        if pending is None or pending[0] != self.generation or self.codex is None:
            raise CommandFailed("approval_not_found", "no such pending approval")
        if pending[2] == protocol.UNKNOWN_REQUEST:
            self.codex.respond_error(pending[1], -32601, "declined by the person")
        elif "action" in answer:
            reply: dict[str, Any] = {"action": answer["action"], "content": answer.get("content")}
            if answer.get("persist"):
                reply["_meta"] = {"persist": answer["persist"]}
            self.codex.respond(pending[1], reply)
        elif "answers" in answer:
            self.codex.respond(pending[1], {"answers": answer["answers"]})
        elif "permissions" in answer:
            granted = {"permissions": answer["permissions"], "scope": answer.get("scope", "turn")}
            self.codex.respond(pending[1], granted)
        elif pending[2] in protocol.LEGACY_APPROVALS:
            decision = protocol.LEGACY_DECISIONS.get(
                protocol.decision_name(answer["decision"]) or "", "denied"
            )
            self.codex.respond(pending[1], {"decision": decision})
        else:
            self.codex.respond(pending[1], {"decision": answer["decision"]})

    # --- commands -------------------------------------------------------------------------

    def _on_command(self, message: dict[str, Any]) -> None:
        command_id = message["commandId"]
        first, stored = self.outbox.claim_command(command_id)
        if not first:
            # Delivered again (a reconnect): answer with the stored result, never rerun.
            if stored is not None:
                self.client.send(stored)
            return
        self.workers.submit(self._run_command, message)

    def _run_command(self, message: dict[str, Any]) -> None:
        command_id = message["commandId"]
        try:
            result = handle_command(self, message["name"], message.get("params") or {})
            answer: dict[str, Any] = {
                "type": protocol.COMMAND_RESULT,
                "commandId": command_id,
                "ok": True,
                "result": result,
            }
        except CommandFailed as failed:
            answer = _failure(command_id, failed.code, failed.message)
        except AppServerError as error:
            answer = _failure(command_id, f"codex_{error.code}", error.message)
        except Exception as exc:
            log.exception("command %s failed", message.get("name"))
            answer = _failure(command_id, "agent_error", str(exc))
        answer = protocol.repaired(answer)
        if len(protocol.encode(answer)) > MAX_EVENT_BYTES:
            answer = _failure(
                command_id, "result_too_large", f"the result is larger than {MAX_EVENT_BYTES} bytes"
            )
        self.outbox.finish_command(command_id, answer)
        self.client.send(answer)

    def soon(self, action: Any) -> None:
        """Run action shortly, once the current command's result is on its way (for
        commands that reconnect or restart what carries that result)."""
        timer = threading.Timer(0.5, action)
        timer.daemon = True
        timer.start()

    # --- state reported to the relay ------------------------------------------------------

    def set_control_state(self, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            state = control.updated(self.control_state, changes)
        except control.ControlError as error:
            raise CommandFailed("invalid_params", str(error)) from error
        self.control_state = state
        for listener in self.on_control_change:
            listener(state)
        self.client.heartbeat_now()
        return state

    def _hello_info(self) -> dict[str, Any]:
        return {
            "agentVersion": __version__,
            "provider": {
                "name": "codex",
                "transport": "stdio://",
                **({"version": self.codex_status.version} if self.codex_status.version else {}),
            },
            "capabilities": {
                "approvals": True,
                "steering": True,
                "commands": sorted(protocol.COMMANDS),
            },
        }

    def _heartbeat_state(self) -> dict[str, Any]:
        return {
            "controlState": self.control_state,
            "codex": self.codex_status.report(),
        }

    def codex_client(self) -> AppServer:
        # Commands run on worker threads: one that comes during a requested restart waits.
        self.codex_settled.wait(RESTART_WAIT_SECONDS)
        if self.codex is None or not self.codex.running:
            raise CommandFailed("codex_unavailable", "codex app-server is not running")
        return self.codex


def _failure(command_id: str, code: str, message: str) -> dict[str, Any]:
    return {
        "type": protocol.COMMAND_RESULT,
        "commandId": command_id,
        "ok": False,
        "error": {"code": code, "message": message},
    }
